"""The task-module interface: what the executor hands a module and what it gets back.

A module is an object with ``run(ctx, args) -> ModuleResult``. It reads the host's actual
state through ``ctx`` (ideally in ONE command), compares it with the desired state in
``args``, and acts only on the difference. In check mode it reports what it would change and
acts on nothing. With ``ctx.diff`` it fills ``ModuleResult.diff`` with Ansible-shaped entries
(``before``/``after`` text for file contents, or small dicts for state changes).

``ModuleResult.data`` holds the module's return values (``stdout``, ``rc``, ``stat``,
``checksum`` ...) under Ansible's names; the executor merges ``changed``/``failed``/
``msg``/``diff`` into the registered variable.

Modules are looked up by short name (``copy``) or fully qualified name
(``ansible.builtin.copy``, ``ansible.posix.sysctl``) through ``get_module``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from kprov.provision.connect.base import CommandResult, Connector

__all__ = [
    "Module",
    "ModuleArgsError",
    "ModuleContext",
    "ModuleFailed",
    "ModuleResult",
    "UnknownModuleError",
    "get_module",
    "known_module_names",
]


def _no_log(_: str) -> None:
    return None


@dataclass
class ModuleContext:
    """Everything a module may use: the host's connector and the task's settings.

    ``render_template(text)`` renders Jinja2 source with the task's variables;
    ``find_file(name, kind)`` resolves a controller-side file (kind ``"templates"`` or
    ``"files"``, searched in the role then the playbook dir) or raises FileNotFoundError.
    """

    connector: Connector
    check_mode: bool = False
    diff: bool = False
    become: bool = False
    become_user: str | None = None
    task_vars: Mapping[str, Any] = field(default_factory=dict)
    render_template: Callable[[str], str] = str
    find_file: Callable[[str, str], Path] = Path  # type: ignore[assignment]
    log: Callable[[str], None] = _no_log
    # Results of read-only probes run ahead for a whole loop (execute.prefetch), by
    # (command, become, become_user); shared by the loop's items, emptied by any other command.
    prefetched: dict[tuple[str, bool, str | None], CommandResult] | None = None

    def run(self, cmd: str, *, stdin: bytes | None = None, timeout: float | None = None) -> CommandResult:
        """Run a command on the host with the task's become settings."""
        if self.prefetched:
            hit = self.prefetched.get((cmd, self.become, self.become_user)) if stdin is None else None
            if hit is not None:
                return hit
            self.prefetched.clear()  # this command may change the host: probe live from now on
        return self.connector.run(
            cmd, become=self.become, become_user=self.become_user, stdin=stdin, timeout=timeout
        )

    def put(self, data: bytes, path: str, *, mode: int | None = None,
            owner: str | None = None, group: str | None = None) -> None:
        if self.prefetched:
            self.prefetched.clear()
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

    def as_registered(self) -> dict[str, Any]:
        """The registered-variable form: return values plus changed/failed/msg (and diff)."""
        out: dict[str, Any] = dict(self.data)
        out["changed"] = self.changed
        out["failed"] = self.failed
        if self.skipped:
            out["skipped"] = True
        if self.msg:
            out["msg"] = self.msg
        if self.diff:
            out["diff"] = self.diff
        return out


class Module(Protocol):
    """A task module (one per file under kprov.provision.modules)."""

    name: str

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


def get_module(name: str) -> Module:
    """The module for a short or fully qualified name; UnknownModuleError if none."""
    from kprov.provision.modules.registry import lookup

    return lookup(name)


def known_module_names() -> list[str]:
    """Every accepted name, short and fully qualified, sorted."""
    from kprov.provision.modules.registry import all_names

    return all_names()
