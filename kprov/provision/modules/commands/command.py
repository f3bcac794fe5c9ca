"""ansible.builtin.command and ansible.builtin.shell: run a command, report its output.

``command`` runs an argv (no shell features: each word is quoted), ``shell`` runs the text with
``/bin/sh`` (or ``executable``). ``creates``/``removes`` (globs allowed) are tested in the SAME
round trip as the command: the script prints a per-run random token and stops when the test
says "skip", so a skipped command costs one round trip too (none when the engine read the
same test ahead, with the host's other probes: ``ctx.peek``). Always ``changed`` when it runs
(use changed_when), failed when rc != 0. Check mode runs nothing: a command creates/removes
would skip "would not run"; one without them is ``skipped``, one with them that would run is
a change (ansible-core's partial check mode). With ``async`` the same script runs as a
host-side job (``detach``; execute.async_jobs).

A task that declares its command a query (``changed_when: false`` and ``check_mode: false``:
it changes nothing and must run even in check mode; ``ModuleContext.query``) sends it as a
probe: the engine reads it ahead with the host's other probes in one round trip, and the
task takes the result from the probe cache when no task changed the host since.

In the module contract's steps: ``decide`` (pure) gives a frozen ``CommandPlan`` from the
arguments and, when the engine read it ahead, the creates/removes test (a skip decided up
front). When that test is not known it is not read on its own: ``act`` sends it as the
guard of the command's script, in the same round trip (the peek the module docstring above
describes), so whether the command is skipped is then learnt from the script's output.
"""

from __future__ import annotations

import re
import secrets
import shlex
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from kprov.provision.connect.base import CommandResult
from kprov.provision.modules.args import Arg
from kprov.provision.modules.base import ModuleContext, ModuleFailed, ModuleResult, TaskView
from kprov.provision.modules.commands.detached import Detached
from kprov.provision.modules.contract import ModuleBase

__all__ = ["MODULE", "CommandModule", "CommandPlan"]

SPEC = {
    "_raw_params": Arg("raw"), "cmd": Arg(), "argv": Arg("list"), "chdir": Arg(), "creates": Arg(),
    "removes": Arg(), "executable": Arg(), "stdin": Arg(), "stdin_add_newline": Arg("bool", default=True),
    "strip_empty_ends": Arg("bool", default=True), "expand_argument_vars": Arg("bool", default=True),
    "warn": Arg("bool", default=False), "free_form": Arg(),
}


_VAR = re.compile(r"\$(\w+|\{[^}]*\})", re.ASCII)  # what os.path.expandvars replaces
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TILDE = re.compile(r"~[A-Za-z0-9._-]*(?=/|$)")


def _quote_expanding(word: str) -> str:
    """``word`` as one shell word that the host's shell turns into what Ansible's command
    passes: ``os.path.expanduser(os.path.expandvars(word))`` in the module's environment.

    expandvars replaces ``$name`` and ``${name}`` by a set variable's value and leaves a
    reference to an unset one as written (``awk '{print $1}'`` keeps its ``$1``), so a
    reference becomes ``"${name-\\$name}"``; one that no shell variable can be (``$1``,
    ``${a b}``) stays literal, as does everything else. A leading ``~`` or ``~user`` is left
    unquoted for the shell's tilde expansion (expanduser runs after expandvars; a reference
    that expands to a ``~`` is not expanded again, a corner left out)."""
    parts = []
    tilde = _TILDE.match(word)
    if tilde:
        parts.append(tilde.group())
        word = word[tilde.end():]
    at = 0
    for ref in _VAR.finditer(word):
        braced = ref.group(1).startswith("{")
        name = ref.group(1)[1:-1] if braced else ref.group(1)
        if not _IDENTIFIER.fullmatch(name):
            continue
        if ref.start() > at:
            parts.append(shlex.quote(word[at:ref.start()]))
        literal = "\\${" + name + "\\}" if braced else "\\$" + name
        parts.append(f'"${{{name}-{literal}}}"')
        at = ref.end()
    if at < len(word) or not parts:
        parts.append(shlex.quote(word[at:]))
    return "".join(parts)


def _exists_test(pattern: str) -> str:
    """True (exit 0) when any path matches the glob ``pattern``."""
    return f"(for f in {_glob_words(pattern)}; do [ -e \"$f\" ] || [ -L \"$f\" ] && exit 0; done; exit 1)"


def _skip_tests(p: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(``creates``/``removes``, a shell test true when that argument skips the command)."""
    tests = []
    if p["creates"]:
        tests.append(("creates", _exists_test(p["creates"])))
    if p["removes"]:
        tests.append(("removes", f"! {_exists_test(p['removes'])}"))
    return tests


def _glob_words(pattern: str) -> str:
    """Quote everything except glob characters, so the shell expands only the glob."""
    out, chunk = [], ""
    for char in pattern:
        if char in "*?[]":
            if chunk:
                out.append(shlex.quote(chunk))
                chunk = ""
            out.append(char)
        else:
            chunk += char
    if chunk:
        out.append(shlex.quote(chunk))
    return "".join(out)


def _chdir(p: Mapping[str, Any]) -> list[str]:
    return [f"cd -P {shlex.quote(p['chdir'])} || exit 1"] if p["chdir"] else []


def _skip_probe(p: Mapping[str, Any], tests: list[tuple[str, str]]) -> str:
    """The read-only test of ``creates``/``removes``: prints which one skips the command."""
    echoes = [f"{test} && echo {which}" for which, test in tests]
    return "\n".join([*_chdir(p), *echoes, "true"])


class CommandModule(ModuleBase):
    # Whether a command changed the host is for the task to say (changed_when): the module
    # always claims a change when it runs. The engine's probe cache goes by that verdict.
    changes_judged_by_task = True
    spec = SPEC

    def __init__(self, name: str, use_shell: bool) -> None:
        self.name = name
        self.use_shell = use_shell

    def params(self, args: Mapping[str, Any]) -> dict[str, Any]:
        # command's own option: refused by ansible-core's shell action
        if self.use_shell and "expand_argument_vars" in args:
            raise ModuleFailed(f"Unsupported parameters for ({self.name}) module: expand_argument_vars")
        return super().params(args)

    def probes(self, params: Mapping[str, Any], view: TaskView) -> list[str]:
        """``creates``/``removes``' test when given (the command runs live, guarded by it), else
        for a query (``view.query``) the command itself; otherwise nothing: the command acts."""
        line, _ = self._command_text(dict(params))
        tests = _skip_tests(dict(params))
        if tests:
            return [_skip_probe(params, tests)]
        if view.query and params["stdin"] is None and not view.check_mode:
            return ["\n".join([*_chdir(params), line])]
        return []

    def _command_text(self, p: dict[str, Any]) -> tuple[str, Any]:
        raw = p["cmd"] if p["cmd"] is not None else p["_raw_params"] or p["free_form"]
        if p["argv"]:
            if self.use_shell:
                raise ModuleFailed("shell: argument 'argv' is only for the command module")
            if raw:
                raise ModuleFailed("only command or argv can be given, not both", rc=256)
            quote_argv = _quote_expanding if p["expand_argument_vars"] else shlex.quote
            return " ".join(quote_argv(str(word)) for word in p["argv"]), p["argv"]
        if not raw or not str(raw).strip():
            raise ModuleFailed("no command given", rc=256)  # ansible-core's words and rc
        raw = str(raw)
        if self.use_shell:
            if p["executable"]:
                return f"{shlex.quote(p['executable'])} -c {shlex.quote(raw)}", raw
            return raw, raw
        try:
            words = shlex.split(raw)
        except ValueError as exc:
            raise ModuleFailed(f"command: cannot split {raw!r}: {exc}") from exc
        quote = _quote_expanding if p["expand_argument_vars"] else shlex.quote
        return " ".join(quote(w) for w in words), words  # Ansible's cmd: the words it ran

    def decide(self, params: Mapping[str, Any], observed: Mapping[str, CommandResult]) -> CommandPlan:
        """The command's plan from its arguments and, when the engine read them ahead, the
        ``creates``/``removes`` test (``observed``: only probes already known, never read live
        for this: unknown, the command's own script tests them in the same round trip)."""
        p = dict(params)
        line, shown = self._command_text(p)
        tests = _skip_tests(p)
        stdin = None
        if p["stdin"] is not None:
            stdin = (p["stdin"] + ("\n" if p["stdin_add_newline"] else "")).encode()
        skip = None
        known = observed.get(_skip_probe(p, tests)) if tests else None
        if known is not None and known.rc == 0:
            said = known.stdout.split()
            skip = "creates" if "creates" in said else "removes" if "removes" in said else None
        warnings: tuple[str, ...] = ()
        if not self.use_shell and p["executable"]:  # ansible-core's command ignores it, and says so
            warnings = ("As of Ansible 2.4, the parameter 'executable' is no longer supported with the "
                        f"'command' module. Not using '{p['executable']}'.",)
        return CommandPlan(shown=shown, line=line, chdir=_chdir(p), chdir_path=p["chdir"], tests=tests,
                           stdin=stdin, skip=skip,
                           creates=p["creates"], removes=p["removes"], strip_empty_ends=p["strip_empty_ends"],
                           warnings=warnings)

    def _peeked(self, ctx: ModuleContext, params: Mapping[str, Any]) -> dict[str, CommandResult]:
        """The declared creates/removes test's result, when the engine's probe cache holds it."""
        tests = _skip_tests(dict(params))
        known = ctx.peek(_skip_probe(params, tests)) if tests else None
        return {} if known is None else {_skip_probe(params, tests): known}

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> ModuleResult:
        params = self.params(args)
        plan = self.decide(params, self._peeked(ctx, params))
        if plan.skip is not None:
            return plan.skipped(check_mode=ctx.check_mode)
        return self.act(ctx, plan)

    def act(self, ctx: ModuleContext, plan: CommandPlan) -> ModuleResult:
        """Run the script (its guards test creates/removes in the same round trip; a query is
        read as a probe); check mode runs only the guards. The result comes from its output."""
        token = secrets.token_hex(8)
        query = ctx.query and not plan.tests and plan.stdin is None and not ctx.check_mode
        # (a query's script is its probe's text, read ahead: its chdir stays the plain one)
        script = plan.script(token, check_mode=ctx.check_mode, plain_chdir=query)
        started = datetime.now()
        clock = time.monotonic()
        if query:
            result = ctx.probe(script)  # a query: read ahead with the host's other probes
        else:
            result = ctx.run(script, stdin=plan.stdin if not ctx.check_mode else None)
        unentered = plan.chdir_failed(result.stdout, token)
        if unentered is not None:
            return unentered
        if result.stdout.startswith(f"{token}:"):
            return plan.skipped(result.stdout.strip().split(":", 1)[1], check_mode=ctx.check_mode)
        if ctx.check_mode:
            # ansible-core: a command with creates/removes that would run is a change, one
            # without them is skipped (the two are exclusive)
            guarded = plan.creates is not None or plan.removes is not None
            return ModuleResult(skipped=not guarded, changed=guarded,
                                msg="Command would have run if not in check mode",
                                data={"cmd": plan.shown, "rc": 0, "stdout": "", "stderr": "",
                                      "stdout_lines": [], "stderr_lines": []})
        return plan.finish(result, token, started, time.monotonic() - clock)

    def detach(self, ctx: ModuleContext, args: Mapping[str, Any]) -> ModuleResult | Detached:
        """The command as a host-side job (``async``); its start/end are when its result is read."""
        params = self.params(args)
        plan = self.decide(params, self._peeked(ctx, params))
        if plan.skip is not None:
            return plan.skipped()
        if plan.stdin is not None:
            raise ModuleFailed(f"{self.name}: 'stdin' cannot be given to an async task in kprov; "
                               "write the input to a file and redirect it in the command")
        token = secrets.token_hex(8)
        started = datetime.now()
        return Detached(plan.script(token, check_mode=ctx.check_mode),
                        lambda done: plan.finish(done, token, started,
                                                 (datetime.now() - started).total_seconds()))


@dataclass(frozen=True)
class CommandPlan:
    """A command decided: its line (and the words it shows as ``cmd``), the chdir and
    creates/removes guards its script starts with, its stdin, or a skip known already
    (``skip``: "creates"/"removes"); how its output becomes the module's result."""

    shown: Any
    line: str
    chdir: list[str] = field(default_factory=list)
    tests: list[tuple[str, str]] = field(default_factory=list)  # (creates/removes, its skip test)
    stdin: bytes | None = None
    skip: str | None = None
    creates: str | None = None
    removes: str | None = None
    strip_empty_ends: bool = True
    warnings: tuple[str, ...] = ()
    chdir_path: str | None = None

    def script(self, token: str, *, check_mode: bool, plain_chdir: bool = False) -> str:
        """The script sent: a guard that skips prints ``TOKEN:creates|removes`` (a per-run
        random token) and stops; in check mode the command itself is ``true``."""
        guards = [f"if {test}; then echo {token}:{which}; exit 0; fi" for which, test in self.tests]
        chdir = self.chdir
        if self.chdir_path and not plain_chdir:  # a folder it cannot enter: as ansible-core says
            where = shlex.quote(self.chdir_path)
            chdir = [f"cd -P {where} 2>/dev/null || {{ if [ -e {where} ]; then echo {token}:chdir:20; "
                     f"else echo {token}:chdir:2; fi; exit 0; }}"]
        return "\n".join([*chdir, *guards, "true" if check_mode else self.line])

    def chdir_failed(self, stdout: str, token: str) -> ModuleResult | None:
        """The failed result when the script could not enter ``chdir``, else None."""
        if not stdout.startswith(f"{token}:chdir:"):
            return None
        errno = stdout.strip().rsplit(":", 1)[1]
        why = "Not a directory" if errno == "20" else "No such file or directory"
        return ModuleResult(failed=True, msg="Unable to change directory before execution: "
                            f"[Errno {errno}] {why}: '{self.chdir_path}'",
                            data={"rc": None, "cmd": None, "stdout": "", "stderr": ""})

    def skipped(self, which: str | None = None, *, check_mode: bool = False) -> ModuleResult:
        which = which or self.skip
        target = self.creates if which == "creates" else self.removes
        verb = "exists" if which == "creates" else "does not exist"
        msg = f"{'Would' if check_mode else 'Did'} not run command since '{target}' {verb}"
        said = f"skipped, since {target} {verb}"  # Ansible's stdout here (msg says it better)
        return ModuleResult(changed=False, msg=msg, data={
            "cmd": self.shown, "rc": 0, "stdout": said, "stderr": "", "stdout_lines": [said],
            "stderr_lines": []})

    def finish(self, result: CommandResult, token: str, started: datetime, seconds: float) -> ModuleResult:
        unentered = self.chdir_failed(result.stdout, token)
        if unentered is not None:
            return unentered
        if result.stdout.startswith(f"{token}:"):
            return self.skipped(result.stdout.strip().split(":", 1)[1])
        stdout, stderr = result.stdout, result.stderr
        if self.strip_empty_ends:
            stdout, stderr = stdout.rstrip("\r\n"), stderr.rstrip("\r\n")
        ended = started + timedelta(seconds=seconds)
        data = {
            "cmd": self.shown, "rc": result.rc, "stdout": stdout, "stderr": stderr,
            "stdout_lines": stdout.splitlines(), "stderr_lines": stderr.splitlines(),
            "start": started.strftime("%Y-%m-%d %H:%M:%S.%f"), "end": ended.strftime("%Y-%m-%d %H:%M:%S.%f"),
            "delta": _delta(seconds),
        }
        if self.warnings:
            data["warnings"] = list(self.warnings)
        failed = result.rc != 0
        return ModuleResult(changed=True, failed=failed, msg="non-zero return code" if failed else "",
                            data=data)


def _delta(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}.{int((seconds - whole) * 1e6):06d}"


MODULE = CommandModule("command", use_shell=False)
