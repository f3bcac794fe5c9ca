"""ansible.builtin.command and ansible.builtin.shell: run a command, report its output.

``command`` runs an argv (no shell features: each word is quoted), ``shell`` runs the text with
``/bin/sh`` (or ``executable``). ``creates``/``removes`` (globs allowed) are tested in the SAME
round trip as the command: the script prints a per-run random token and stops when the test
says "skip", so a skipped command costs one round trip too (none when the engine read the
same test ahead, with the host's other probes: ``ctx.peek``). Always ``changed`` when it runs
(use changed_when), failed when rc != 0. Check mode runs nothing (unless creates/removes
would skip it anyway) and reports ``skipped``. With ``async`` the same script runs as a
host-side job (``detach``; execute.async_jobs).

A task that declares its command a query (``changed_when: false`` and ``check_mode: false``:
it changes nothing and must run even in check mode; ``ModuleContext.query``) sends it as a
probe: the engine reads it ahead with the host's other probes in one round trip, and the
task takes the result from the probe cache when no task changed the host since.
"""

from __future__ import annotations

import re
import secrets
import shlex
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from kprov.provision.connect.base import CommandResult
from kprov.provision.modules.args import Arg
from kprov.provision.modules.base import ModuleContext, ModuleFailed, ModuleResult, TaskView
from kprov.provision.modules.commands.detached import Detached
from kprov.provision.modules.contract import ModuleBase

__all__ = ["MODULE", "CommandModule"]

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


def _skip_tests(p: dict[str, Any]) -> list[tuple[str, str]]:
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
    return [f"cd {shlex.quote(p['chdir'])} || exit 1"] if p["chdir"] else []


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
                raise ModuleFailed("command: give either a command string or argv, not both")
            quote_argv = _quote_expanding if p["expand_argument_vars"] else shlex.quote
            return " ".join(quote_argv(str(word)) for word in p["argv"]), p["argv"]
        if not raw or not str(raw).strip():
            raise ModuleFailed(f"{self.name}: no command given (free form, 'cmd' or 'argv')")
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

    @staticmethod
    def _guarded_skip(ctx: ModuleContext, p: dict[str, Any], tests: list[tuple[str, str]]) -> str | None:
        """``creates``/``removes`` answered by the engine's probe cache, when it read them
        already ("creates"/"removes": skip; None: not known, the command's script tests)."""
        if not tests:
            return None
        known = ctx.peek(_skip_probe(p, tests))
        if known is None or known.rc != 0:
            return None
        said = known.stdout.split()
        return "creates" if "creates" in said else "removes" if "removes" in said else None

    def _prepare(self, ctx: ModuleContext, args: Mapping[str, Any]) -> _Prepared:
        p = self.params(args)
        line, shown = self._command_text(p)
        token = secrets.token_hex(8)
        tests = _skip_tests(p)
        guards = [f"if {test}; then echo {token}:{which}; exit 0; fi" for which, test in tests]
        stdin = None
        if p["stdin"] is not None:
            stdin = (p["stdin"] + ("\n" if p["stdin_add_newline"] else "")).encode()
        if ctx.check_mode:
            line = "true"
        skip = self._guarded_skip(ctx, p, tests)
        return _Prepared(p, shown, token, "\n".join([*_chdir(p), *guards, line]), stdin, bool(tests), skip)

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> ModuleResult:
        job = self._prepare(ctx, args)
        if job.skip is not None:
            return job.skipped()
        started = datetime.now()
        clock = time.monotonic()
        if ctx.query and not job.guarded and job.stdin is None and not ctx.check_mode:
            result = ctx.probe(job.script)  # a query: read ahead with the host's other probes
        else:
            result = ctx.run(job.script, stdin=job.stdin if not ctx.check_mode else None)
        if result.stdout.startswith(f"{job.token}:"):
            return job.skipped(result.stdout.strip().split(":", 1)[1])
        if ctx.check_mode:
            return ModuleResult(skipped=True, msg="Command would have run if not in check mode",
                                data={"cmd": job.shown, "rc": 0, "stdout": "", "stderr": "",
                                      "stdout_lines": [], "stderr_lines": []})
        return job.finish(result, started, time.monotonic() - clock)

    def detach(self, ctx: ModuleContext, args: Mapping[str, Any]) -> ModuleResult | Detached:
        """The command as a host-side job (``async``); its start/end are when its result is read."""
        job = self._prepare(ctx, args)
        if job.skip is not None:
            return job.skipped()
        if job.stdin is not None:
            raise ModuleFailed(f"{self.name}: 'stdin' cannot be given to an async task in kprov; "
                               "write the input to a file and redirect it in the command")
        started = datetime.now()
        return Detached(job.script,
                        lambda done: job.finish(done, started, (datetime.now() - started).total_seconds()))


@dataclass
class _Prepared:
    """A command ready to run: its script (chdir, creates/removes guards, the command line) and
    how its output becomes the module's result."""

    p: dict[str, Any]
    shown: Any
    token: str
    script: str
    stdin: bytes | None
    guarded: bool
    skip: str | None  # "creates"/"removes": known already to be skipped

    def skipped(self, which: str | None = None) -> ModuleResult:
        which = which or self.skip
        target = self.p["creates"] if which == "creates" else self.p["removes"]
        verb = "exists" if which == "creates" else "does not exist"
        msg = f"Did not run command since '{target}' {verb}"
        said = f"skipped, since {target} {verb}"  # Ansible's stdout here (msg says it better)
        return ModuleResult(changed=False, msg=msg, data={
            "cmd": self.shown, "rc": 0, "stdout": said, "stderr": "", "stdout_lines": [said],
            "stderr_lines": []})

    def finish(self, result: CommandResult, started: datetime, seconds: float) -> ModuleResult:
        if result.stdout.startswith(f"{self.token}:"):
            return self.skipped(result.stdout.strip().split(":", 1)[1])
        stdout, stderr = result.stdout, result.stderr
        if self.p["strip_empty_ends"]:
            stdout, stderr = stdout.rstrip("\r\n"), stderr.rstrip("\r\n")
        ended = started + timedelta(seconds=seconds)
        data = {
            "cmd": self.shown, "rc": result.rc, "stdout": stdout, "stderr": stderr,
            "stdout_lines": stdout.splitlines(), "stderr_lines": stderr.splitlines(),
            "start": started.strftime("%Y-%m-%d %H:%M:%S.%f"), "end": ended.strftime("%Y-%m-%d %H:%M:%S.%f"),
            "delta": _delta(seconds),
        }
        failed = result.rc != 0
        return ModuleResult(changed=True, failed=failed, msg="non-zero return code" if failed else "",
                            data=data)


def _delta(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}.{int((seconds - whole) * 1e6):06d}"


MODULE = CommandModule("command", use_shell=False)
