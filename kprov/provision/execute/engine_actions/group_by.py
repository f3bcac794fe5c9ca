"""``group_by``: put the task's host in a group made from a template, as ansible-core does.

The group (and each of ``parents``, default ``all``) is created when missing, with its
``group_vars`` read from next to the inventory and the playbook; spaces in names become
``-``. The host's inventory variables are merged again at once, so the new group's
variables apply from the next task on; ``groups``, ``group_names`` and later plays' host
patterns see the group. Changed when the host or a parent link was new. Host threads change
the inventory one at a time (``RunContext.inventory_lock``); the ``groups`` magic variable is
replaced, never changed in place, so a scope already built keeps a consistent view.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kprov.provision.execute.context import RunContext
from kprov.provision.inventory.loader import load_vars_dir, var_dir_of
from kprov.provision.modules.base import ModuleResult

__all__ = ["create_group", "group_by", "var_files"]


def group_by(run: RunContext, host: str, args: Mapping[str, Any]) -> ModuleResult:
    if "key" not in args:
        return ModuleResult(failed=True, msg="the 'key' param is required when using group_by")
    parents = args.get("parents", ["all"])
    parents = [parents] if isinstance(parents, str) else list(parents)
    group = str(args["key"]).replace(" ", "-")
    parents = [str(p).replace(" ", "-") for p in parents]
    with run.inventory_lock:
        changed = _join(run, host, group, parents)
    return ModuleResult(changed=changed, data={"add_group": group, "parent_groups": parents})


def _join(run: RunContext, host: str, group: str, parents: list[str]) -> bool:
    inv = run.inventory
    changed = False
    for name in [group, *parents]:
        if name not in inv.groups:
            create_group(run, name)
            changed = changed or name != group
    for parent in parents:
        if parent != group and group not in inv.groups[parent].children:
            inv.add_child(parent, group)
            changed = True
    if host not in inv.groups[group].hosts:
        inv.add_host(group, host)
        changed = True
    inv.reconcile_ungrouped(host)
    if changed:
        run.groups = inv.group_map()
        run.hosts[host].inventory_vars = inv.host_vars(host, run.playbook_var_layers)
    return changed


def create_group(run: RunContext, name: str) -> None:
    """A new group with the group_vars files for it beside the inventory and the playbook."""
    beside_inventory, beside_playbook = var_files(run, "group_vars", name)
    run.inventory.group(name).file_vars.update(beside_inventory)
    if beside_playbook:
        run.playbook_var_layers.append((f"group:{name}", beside_playbook))


def var_files(run: RunContext, kind: str, name: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The ``kind`` (group_vars/host_vars) files for ``name`` beside the inventory sources
    (merged in order) and beside the playbook (None when there are none)."""
    beside_inventory: dict[str, Any] = {}
    decrypt = run.engine.vault.decrypt
    for source in run.inventory.sources:
        beside_inventory.update(load_vars_dir(var_dir_of(Path(source)) / kind, name, decrypt) or {})
    return beside_inventory, load_vars_dir(run.playbook_dir / kind, name, decrypt)
