"""The module for a task whose action kprov does not implement: Ansible's module protocol
(modules.protocol), found where the loader's Locator finds it, packed once per module file
per run (``RunContext.module_packs``); or the failed result that says why it cannot run —
not found, run by an action plugin on the controller, a new-style module without ansible-core
on this machine (with the command that installs it), a binary or PowerShell module.
"""

from __future__ import annotations

from kprov.provision.execute.context import RunContext
from kprov.provision.execute.task.keywords import render_flags
from kprov.provision.modules.base import ModuleResult
from kprov.provision.modules.protocol.locate import Locator, collection_roots, core_package_dir
from kprov.provision.modules.protocol.module import ProtocolModule
from kprov.provision.modules.protocol.pack import ANSIBLE_EXTRA_HINT, PackError, pack_module
from kprov.provision.playbook.ansible_names import deferrable, missing_module_message
from kprov.provision.playbook.model import Task
from kprov.provision.templates import VarScope

__all__ = ["protocol_module"]


def protocol_module(run: RunContext, task: Task, unknown: str,
                    scope: VarScope) -> ProtocolModule | ModuleResult:
    """``unknown``: the registry's message for a name it does not know; ``scope``: the host's
    (and loop item's) variables, which render the task's ``no_log``."""
    loader = run.loader
    locator = loader.modules if loader is not None else Locator([], collection_roots(run.playbook_dir))
    source = locator.find(task.action)
    if source is None:
        if not deferrable(task.action):
            return ModuleResult(failed=True, msg=unknown)
        if core_package_dir() is None:
            return ModuleResult(failed=True, msg=(
                f"{missing_module_message(task.action)}; to run it through Ansible's module protocol, "
                f"install ansible-core beside kprov: {ANSIBLE_EXTRA_HINT}"))
        return ModuleResult(failed=True, msg=(
            f"couldn't resolve module/action '{task.action}'. This often indicates a misspelling, "
            "missing collection, or incorrect module path."))
    if source.action_plugin:
        return ModuleResult(failed=True, msg=(
            f"module '{task.action}' does its work in an action plugin on the controller "
            f"({source.path.name}), which kprov does not run; run this role with ansible-playbook"))
    try:
        stamp = source.path.stat()
        key = (str(source.path), stamp.st_mtime_ns, stamp.st_size)
        pack = run.module_packs.get(key)
        if pack is None:
            pack = run.module_packs.setdefault(key, pack_module(source, locator.roots))
    except (OSError, PackError) as err:
        return ModuleResult(failed=True, msg=str(err))
    no_log = render_flags(task, lambda: scope, in_loop=False).no_log
    return ProtocolModule(pack, no_log=no_log, verbosity=run.options.verbosity)

