"""The task-module interface: what the executor hands a module and what it gets back.

A module is an object with ``run(ctx, args) -> ModuleResult``. It reads the host's actual
state through ``ctx`` (ideally in ONE command), compares it with the desired state in
``args``, and acts only on the difference. In check mode it reports what it would change and
acts on nothing. With ``ctx.diff`` it fills ``ModuleResult.diff`` with Ansible-shaped entries
(``before``/``after`` text for file contents, or small dicts for state changes).

Remote operations come in kinds, so the engine can read a host's state ahead of the tasks
(``execute.prefetch``) and still never act on stale state:

* ``ctx.probe(cmd)``: a read-only query of the host. Served from the host's probe cache
  when the engine read it earlier in the run (and nothing changed since), else run live and
  remembered.
* ``ctx.peek(cmd)``: a read-only query answered only from the cache (None when it is not
  there); for modules whose live form folds the query into their action (command's
  ``creates``).
* ``ctx.read(cmd)``: read-only but must run live, now (wait_for): never cached.
* ``ctx.run(cmd)`` / ``ctx.put(...)``: may change the host. From then on this module run
  probes live, and the engine drops the host's cache after the task.

``ModuleResult.data`` holds the module's return values (``stdout``, ``rc``, ``stat``,
``checksum`` ...) under Ansible's names; the executor merges ``changed``/``failed``/
``msg``/``diff`` into the registered variable.

Modules are looked up by short name (``copy``) or fully qualified name
(``ansible.builtin.copy``, ``ansible.posix.sysctl``) through :func:`.registry.get_module`.
"""

from __future__ import annotations

import hashlib
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from kprov.provision.connect.base import CommandResult, Connector
from kprov.provision.redact import ENVIRONMENT_MARK

__all__ = [
    "Module",
    "ModuleArgsError",
    "ModuleContext",
    "ModuleFailed",
    "ModuleResult",
    "ProbeKey",
    "ProbeStore",
    "TaskView",
    "UnknownModuleError",
]


def _as_given(name: str, kind: str) -> Path:
    """No search (a context without the engine's roles): the name is the path."""
    return Path(name)


def file_digest(path: Path) -> tuple[str, int]:
    """A controller file's sha1 (hex) and size, read now (the engine's ``RunContext.file_digest``
    keeps them for the run)."""
    data = path.read_bytes()
    return hashlib.sha1(data).hexdigest(), len(data)


def _no_log(_: str) -> None:
    return None


def _as_written(text: str, settings: Mapping[str, Any]) -> str:
    """No engine: a template's text as it is."""
    return text


ProbeKey = tuple[str, bool, "str | None"]  # (command, become, become_user)


class ProbeStore(Protocol):
    """A host's probe results of this run (execute.probecache.ProbeCache)."""

    def get(self, key: ProbeKey) -> CommandResult | None: ...
    def store(self, key: ProbeKey, result: CommandResult) -> None: ...
    def invalidate(self) -> None: ...


def with_environment(cmd: str, environment: Mapping[str, str]) -> str:
    """``cmd`` preceded by the task's ``environment:`` exports (as sent to the host)."""
    if not environment:
        return cmd
    exports = " ".join(f"{name}={shlex.quote(value)}" for name, value in environment.items())
    return f"export {exports} {ENVIRONMENT_MARK}\n{cmd}"


@dataclass(frozen=True)
class TaskView:
    """What a module's declared probes may depend on besides its arguments: check mode, whether
    the task declares its command a query (see ``ModuleContext.query``), and the controller's
    file search (a template's or archive's name). Never the host."""

    check_mode: bool = False
    query: bool = False
    find_file: Callable[[str, str], Path] = _as_given


@dataclass
class ModuleContext:
    """Everything a module may use: the host's connector and the task's settings.

    ``render_template(text, settings)`` renders Jinja2 source with the task's variables and
    the template task's Jinja2 settings (``trim_blocks``, ``newline_sequence``, the start/end
    strings, ...: those given; a ``#jinja2:`` first line of the text overrides them);
    ``find_file(name, kind)`` resolves a controller-side file (kind ``"templates"`` or
    ``"files"``, searched in the role then the playbook dir) or raises FileNotFoundError;
    ``file_digest(path)`` a controller file's (sha1, size), OSError if unreadable.
    ``probes`` is the host's probe cache (None: every probe runs live).
    """

    connector: Connector
    check_mode: bool = False
    diff: bool = False
    become: bool = False
    become_user: str | None = None
    task_vars: Mapping[str, Any] = field(default_factory=dict)
    render_template: Callable[[str, Mapping[str, Any]], str] = _as_written
    find_file: Callable[[str, str], Path] = _as_given
    file_digest: Callable[[Path], tuple[str, int]] = file_digest
    log: Callable[[str], None] = _no_log
    probes: ProbeStore | None = None
    # the task declares its command a query (``changed_when: false`` with ``check_mode:
    # false``, Ansible's idiom for a read-only command): the command module then sends it as
    # a probe (from the probe cache when the engine read it ahead) instead of a run
    query: bool = False
    # the task's ``environment:`` (play, role, block and task levels merged): exported for
    # every command the module sends, as Ansible sets it for the module's process
    environment: Mapping[str, str] = field(default_factory=dict)
    # the whole run is in check mode (``--check``, ``kprov plan``), not only this task: what
    # earlier tasks would install is not on the host, so a module may plan on it being there
    check_run: bool = False
    acted: bool = field(default=False, init=False)  # a run/put was sent: probe live from now on
    cache_hit: bool = field(default=False, init=False)  # a probe was answered by the probe cache

    def view(self) -> TaskView:
        """What this task's module may base its declared probes on (see ``Module.probes``)."""
        return TaskView(check_mode=self.check_mode, query=self.query, find_file=self.find_file)

    def probe_key(self, cmd: str) -> ProbeKey:
        """The probe cache's key of ``cmd`` sent by this task (environment and become)."""
        return (self._with_environment(cmd), self.become, self.become_user)

    def _with_environment(self, cmd: str) -> str:
        return with_environment(cmd, self.environment)

    def probe(self, cmd: str, *, timeout: float | None = None) -> CommandResult:
        """A read-only query: from the probe cache when it holds it, else live (and kept)."""
        key = self.probe_key(cmd)
        cache = None if self.acted else self.probes
        if cache is not None:
            hit = cache.get(key)
            if hit is not None:
                self.cache_hit = True
                return hit
        result = self.connector.run(key[0], become=self.become, become_user=self.become_user, timeout=timeout)
        if cache is not None:
            cache.store(key, result)
        return result

    def peek(self, cmd: str) -> CommandResult | None:
        """A read-only query's result if the probe cache holds it; never runs anything."""
        key = self.probe_key(cmd)
        return None if self.acted or self.probes is None else self.probes.get(key)

    def read(self, cmd: str, *, timeout: float | None = None) -> CommandResult:
        """A read-only command that must run live, now (never cached, never prefetched)."""
        return self.connector.run(self._with_environment(cmd), become=self.become,
                                  become_user=self.become_user, timeout=timeout)

    def run(self, cmd: str, *, stdin: bytes | None = None, timeout: float | None = None) -> CommandResult:
        """Run a command on the host with the task's become settings (it may change the host)."""
        self.acted = True
        return self.connector.run(self._with_environment(cmd), become=self.become,
                                  become_user=self.become_user, stdin=stdin, timeout=timeout)

    def put(self, data: bytes, path: str, *, mode: int | None = None,
            owner: str | None = None, group: str | None = None) -> None:
        self.acted = True
        self.connector.put(data, path, mode=mode, become=self.become, owner=owner, group=group)

    def get(self, path: str) -> bytes:
        return self.connector.get(path, become=self.become)


@dataclass
class ModuleResult:
    """The outcome of one module run on one host."""

    changed: bool = False
    failed: bool = False
    skipped: bool = False
    msg: str = ""
    diff: list[dict[str, Any]] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    # whether ``msg`` is one of the return values: ``debug: var=`` returns the variable alone,
    # its msg is only kprov's console line
    msg_returned: bool = True

    def as_registered(self) -> dict[str, Any]:
        """The registered-variable form: return values plus changed/failed/msg (and diff)."""
        out: dict[str, Any] = dict(self.data)
        out["changed"] = self.changed
        out["failed"] = self.failed
        if self.skipped:
            out["skipped"] = True
        # debug's msg is a value of its own (a list, ...)
        if self.msg and self.msg_returned and "msg" not in self.data:
            out["msg"] = self.msg
        if self.diff and "diff" not in self.data:  # a module's own diff (its JSON answer) stays as it came
            out["diff"] = self.diff
        return out


class Module(Protocol):
    """A task module (one per file under kprov.provision.modules): the contract.

    ``params(args)`` checks and completes the task's arguments (ModuleArgsError when wrong);
    ``probes(params, view)`` declares the read-only commands the module reads the host with
    before it decides (the engine reads them ahead, in one batch per host, into the probe
    cache); ``run(ctx, args)`` reads them (``ctx.probe``), decides from their results and the
    arguments, and acts on the difference. ``changes_judged_by_task``: whether the module
    changed the host is the task's verdict (``changed_when``), not the module's (command)."""

    name: str
    changes_judged_by_task: bool

    def params(self, args: Mapping[str, Any]) -> dict[str, Any]: ...

    def probes(self, params: Mapping[str, Any], view: TaskView) -> list[str]: ...

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> ModuleResult: ...


class ModuleArgsError(ValueError):
    """A task's arguments are wrong; the message names the module and the argument."""

    def __init__(self, module: str, message: str) -> None:
        super().__init__(f"{module}: {message}")
        self.module = module


class ModuleFailed(Exception):
    """Raised inside a module to end it as failed with ``msg`` (and return values)."""

    def __init__(self, msg: str, **data: Any) -> None:
        super().__init__(msg)
        self.msg = msg
        self.data = data


class UnknownModuleError(KeyError):
    """No module has this name."""

    def __str__(self) -> str:
        return f"unknown module {self.args[0]!r}; known: see kprov.provision.modules.known_module_names()"
