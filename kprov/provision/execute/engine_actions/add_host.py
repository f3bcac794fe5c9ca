"""``add_host``: a host (and its groups) added to the run's inventory, as ansible-core does.

Runs once per task, for the first host (Ansible's ``BYPASS_HOST_LOOP``; the playbook loader
makes it ``run_once``), once per item when looped. ``name`` (or ``hostname``/``host``; a
``host:port`` sets ``ansible_ssh_port``) names the host; ``groups`` (or ``groupname``/``group``:
a list or a comma-separated string) the groups it joins, created when missing with their
``group_vars``; every other argument becomes a host variable, over what the host had. Changed
when the host, a group, a membership or a variable is new. A new host brings its
``host_vars`` files (beside the inventory and the playbook) and has no session yet: a later
play that targets it connects it, and gathers its facts if the play asks for them
(``execute.play_runner``). The inventory changes under ``RunContext.inventory_lock``;
``run.hosts`` and ``run.groups`` are replaced, never changed in place, so host threads
reading them keep a consistent view.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kprov.provision.execute.context import HostState, RunContext
from kprov.provision.execute.engine_actions.group_by import create_group, var_files
from kprov.provision.modules.base import ModuleResult

__all__ = ["add_host"]

_NAME_KEYS = ("name", "hostname", "host")
_GROUP_KEYS = ("groupname", "groups", "group")
_NOT_VARIABLES = frozenset(("name", "hostname", "groupname", "groups"))  # as ansible-core's list


def add_host(run: RunContext, args: Mapping[str, Any]) -> ModuleResult:
    if "_raw_params" in args:  # ``add_host: "{{ host_data }}"``: the mapping it renders to
        raw = args["_raw_params"]
        if not isinstance(raw, Mapping):
            return ModuleResult(failed=True, msg="Invalid raw parameters passed, requires a "
                                f"dictionary/mapping got a  {type(raw)}")  # (ansible-core's text)
        args = {**raw, **{k: v for k, v in args.items() if k != "_raw_params"}}
    given = next((args[k] for k in _NAME_KEYS if k in args and args[k] is not None), None)
    if given is None:
        return ModuleResult(failed=True, msg="name, host or hostname needs to be provided")
    name, port = _split_port(str(given))
    host_vars = {k: v for k, v in args.items() if k not in _NOT_VARIABLES}
    if port is not None:
        host_vars["ansible_ssh_port"] = port
    raw_groups: Any = next((args[k] for k in _GROUP_KEYS if args.get(k)), [])
    if isinstance(raw_groups, str):
        raw_groups = raw_groups.split(",")
    elif not isinstance(raw_groups, list):
        return ModuleResult(failed=True, msg="Groups must be specified as a list.")
    groups: list[str] = []
    for group in raw_groups:
        if str(group).strip() not in groups:
            groups.append(str(group).strip())
    with run.inventory_lock:
        changed = _add(run, name, host_vars, groups)
    return ModuleResult(changed=changed, data={"add_host": {"host_name": name, "groups": groups,
                                                            "host_vars": host_vars}})


def _split_port(given: str) -> tuple[str, int | None]:
    """``host:port`` (one colon, a numeric port) or ``[v6]:port``; anything else is a name."""
    if given.startswith("[") and "]:" in given:
        host, _, port = given[1:].partition("]:")
        return (host, int(port)) if port.isdigit() else (given, None)
    host, sep, port = given.rpartition(":")
    if sep and host and ":" not in host and port.isdigit():
        return host, int(port)
    return given, None


def _add(run: RunContext, name: str, host_vars: dict[str, Any], groups: list[str]) -> bool:
    inv = run.inventory
    new = name not in inv.hosts
    changed = new
    if new:
        _create_host(run, name)
    host = inv.hosts[name]
    merged = {**host.vars, **host_vars}
    if merged != host.vars:
        host.vars = merged
        changed = True
    for group in groups:
        if group not in inv.groups:
            create_group(run, group)
            changed = True
        if name not in inv.groups[group].hosts:
            inv.add_host(group, name)
            changed = True
    inv.reconcile_ungrouped(name)
    if changed:
        run.groups = inv.group_map()
        inventory_vars = inv.host_vars(name, run.playbook_var_layers)
        state = run.hosts.get(name)
        if state is None:
            run.hosts = {**run.hosts, name: HostState(name=name, inventory_vars=inventory_vars)}
        else:
            state.inventory_vars = inventory_vars
    return changed


def _create_host(run: RunContext, name: str) -> None:
    """The host in ``all``, with the host_vars files for it beside the inventory and the playbook."""
    beside_inventory, beside_playbook = var_files(run, "host_vars", name)
    run.inventory.add_host("all", name).file_vars.update(beside_inventory)
    if beside_playbook:
        run.playbook_var_layers.append((f"host:{name}", beside_playbook))
