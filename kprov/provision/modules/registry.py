"""Module names → the Python module that implements them.

Each implementation file defines ``MODULE`` (a ``base.Module``: the contract). Files are
imported on first lookup, so naming a module costs nothing until it is used. Every short name
is also accepted under its Ansible collection prefix(es), e.g. ``ansible.builtin.copy``,
``ansible.legacy.copy``, ``ansible.posix.sysctl``, ``community.general.modprobe``.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from kprov.provision.modules.base import (
    Module,
    ModuleArgsError,
    ModuleContext,
    ModuleFailed,
    ModuleResult,
    TaskView,
    UnknownModuleError,
)
from kprov.provision.modules.commands.detached import Detached
from kprov.provision.modules.contract import Detachable

__all__ = ["all_names", "get_module", "guarded", "known_module_names", "lookup"]

_R = TypeVar("_R")

# short name -> (implementation module under kprov.provision.modules, collections it lives in)
_BUILTIN = ("ansible.builtin", "ansible.legacy")
_TABLE: dict[str, tuple[str, tuple[str, ...]]] = {
    "template": ("files.template", _BUILTIN),
    "copy": ("files.copy", _BUILTIN),
    "assemble": ("files.assemble", _BUILTIN),
    "file": ("files.file", _BUILTIN),
    "lineinfile": ("files.lineinfile", _BUILTIN),
    "blockinfile": ("files.blockinfile", _BUILTIN),
    "command": ("commands.command", _BUILTIN),
    "shell": ("commands.shell", _BUILTIN),
    "script": ("commands.script", _BUILTIN),
    "systemd_service": ("services.systemd_service", _BUILTIN),
    "systemd": ("services.systemd_service", _BUILTIN),
    "service": ("services.systemd_service", _BUILTIN),
    "apt": ("packages.apt", _BUILTIN),
    "package": ("packages.apt", _BUILTIN),
    "sysctl": ("system.sysctl", ("ansible.posix",)),
    "modprobe": ("system.modprobe", ("community.general",)),
    "get_url": ("files.get_url", _BUILTIN),
    "unarchive": ("files.unarchive", _BUILTIN),
    "user": ("system.user", _BUILTIN),
    "group": ("system.group", _BUILTIN),
    "wait_for": ("commands.wait_for", _BUILTIN),
    "stat": ("files.stat", _BUILTIN),
    "slurp": ("files.slurp", _BUILTIN),
    "fetch": ("files.fetch", _BUILTIN),
    "ping": ("commands.ping", _BUILTIN),
    "timezone": ("system.timezone", ("community.general",)),
    "replace": ("files.replace", _BUILTIN),
    "pam_limits": ("system.pam_limits", ("community.general",)),
    "service_facts": ("services.service_facts", _BUILTIN),
    "package_facts": ("packages.package_facts", _BUILTIN),
    "getent": ("system.getent", _BUILTIN),
    "find": ("files.find", _BUILTIN),
    "setup": ("commands.setup", _BUILTIN),
    "mount": ("system.mount", ("ansible.posix",)),
    "openssh_keypair": ("system.openssh_keypair", ("community.crypto",)),
    "authorized_key": ("system.authorized_key", ("ansible.posix",)),
    "pamd": ("system.pamd", ("community.general",)),
    "htpasswd": ("system.htpasswd", ("community.general",)),
    "ini_file": ("files.ini_file", ("community.general",)),
    "locale_gen": ("system.locale_gen", ("community.general",)),
    "cron": ("system.cron", _BUILTIN),
    "debconf": ("packages.debconf", _BUILTIN),
    "ufw": ("system.ufw", ("community.general",)),
    "mysql_db": ("mysql.mysql_db", ("community.mysql",)),
    "mysql_user": ("mysql.mysql_user", ("community.mysql",)),
}


@functools.cache
def _names() -> dict[str, str]:
    names: dict[str, str] = {}
    for short, (impl, collections) in _TABLE.items():
        names[short] = impl
        for collection in collections:
            names[f"{collection}.{short}"] = impl
    return names


class _Guarded:
    """Runs a module and turns its ModuleFailed / ModuleArgsError into a failed result
    (``params`` and ``probes`` raise them: the engine's read-ahead only skips such a task)."""

    def __init__(self, module: Module) -> None:
        self.module = module
        self.name = module.name
        self.changes_judged_by_task = module.changes_judged_by_task
        # a module that can run its work as a host-side job (modules.detached) offers it
        self.detach = self._detach if isinstance(module, Detachable) else None

    def params(self, args: Mapping[str, Any]) -> dict[str, Any]:
        return self.module.params(args)

    def probes(self, params: Mapping[str, Any], view: TaskView) -> list[str]:
        return self.module.probes(params, view)

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> ModuleResult:
        return guarded(lambda: self.module.run(ctx, args))

    def _detach(self, ctx: ModuleContext, args: Mapping[str, Any]) -> ModuleResult | Detached:
        module = self.module
        assert isinstance(module, Detachable)
        return guarded(lambda: module.detach(ctx, args))


def guarded(call: Callable[[], _R]) -> _R | ModuleResult:
    """``call()``, with a module's ModuleFailed / ModuleArgsError as a failed result."""
    try:
        return call()
    except ModuleFailed as exc:
        return ModuleResult(failed=True, msg=exc.msg, data=dict(exc.data))
    except ModuleArgsError as exc:
        return ModuleResult(failed=True, msg=str(exc))


def lookup(name: str) -> Module:
    """The module for ``name``; its ModuleFailed/ModuleArgsError come back as failed results."""
    impl = _names().get(name)
    if impl is None:
        raise UnknownModuleError(name)
    return _guarded_module(impl)


@functools.cache
def _guarded_module(impl: str) -> Module:
    """One wrapper per module (modules are stateless): every task of every host, and every
    prediction, looks its module up (~10,000 lookups in a 50-host no-op)."""
    return _Guarded(importlib.import_module(f"kprov.provision.modules.{impl}").MODULE)


def all_names() -> list[str]:
    return sorted(_names())


def get_module(name: str) -> Module:
    """The module for a short or fully qualified name; UnknownModuleError if none."""
    return lookup(name)


def known_module_names() -> list[str]:
    """Every accepted name, short and fully qualified, sorted."""
    return all_names()
