"""The variables a task sees on a host, layered by Ansible's precedence (highest first):

magic vars (inventory_hostname, groups, hostvars, ...) > extra vars (-e) > include params
(include_tasks vars, inner first) > role params >
set_fact (rendered when read, as ansible-core's) / registered (raw) > include_vars > task vars >
block / include vars (inner first) >
role vars (the task's role chain, then the roles ``include_role: {public: true}`` added, the
last first, then the play's other roles) > play vars > facts (``ansible_facts`` and
``ansible_<fact>``, raw) > inventory vars (group/host precedence, see inventory.model) >
role defaults (in the role vars' order).

``hostvars[name]`` is that host's own variables (ansible-core's ``HostVars.raw_get``: no
play, no role, no task layers: magic, extra, set_fact/registered, include_vars, facts,
inventory), each rendered in them alone, a template that reads an undefined variable kept
as written (HostVarsVars' ``fail_on_undefined=False``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from kprov.provision.execute.context import HostState, PlayContext, RunContext
from kprov.provision.facts.names import fact_variable
from kprov.provision.modules.protocol.module import ansible_version_info
from kprov.provision.playbook.model import Role, Task
from kprov.provision.template_unsafe import KeySubset, lenient
from kprov.provision.templates import OMIT, Layer, VarScope

__all__ = ["HostVarsView", "VarsView", "connection_variables", "host_scope", "task_scope"]


class VarsView(Mapping[str, Any]):
    """A read-only mapping over a VarScope with no attributes that could shadow variable names."""

    def __init__(self, scope: VarScope) -> None:
        self.__scope = scope

    def __getitem__(self, key: str) -> Any:
        return self.__scope[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.__scope)

    def __len__(self) -> int:
        return len(self.__scope)

    def __contains__(self, key: object) -> bool:
        return key in self.__scope


class _HostVars(VarsView):
    """One host's ``hostvars``: a value is rendered leniently (template_unsafe.lenient)."""

    def __init__(self, scope: VarScope) -> None:
        super().__init__(scope)
        self.__scope = scope

    def __getitem__(self, key: str) -> Any:
        scope = self.__scope
        found = next(((m, t) for m, t in scope.layers if key in m), None)
        if found is None or not found[1]:
            return scope[key]
        return lenient(found[0][key], lambda text: scope.template(text, f"variable '{key}'"))


class HostVarsView(Mapping[str, Any]):
    """``hostvars``: every inventory host's variables, rendered from that host's point of view."""

    def __init__(self, run: RunContext, pctx: PlayContext | None) -> None:
        self.__run, self.__pctx = run, pctx

    def __getitem__(self, host: str) -> Any:
        if host not in self.__run.hosts:
            raise KeyError(host)
        return _HostVars(self.__run.engine.scope(_layers(self.__run, self.__pctx, self.__run.hosts[host],
                                                         None, own=True)))

    def __iter__(self) -> Iterator[str]:
        return iter(self.__run.hosts)

    def __len__(self) -> int:
        return len(self.__run.hosts)


def _fact_layer(host: HostState) -> dict[str, Any]:
    """The facts as variables (``ansible_<fact>``, the injected ones, ``ansible_facts``),
    built once per state of the host's facts: every task's scope and every ``hostvars``
    lookup has one (a no-op of 50 hosts built it ~5,000 times)."""
    stamp = (id(host.facts), len(host.facts), id(host.injected_facts), len(host.injected_facts),
             host.facts_changes)
    if host.fact_layer_memo is not None and host.fact_layer_memo[0] == stamp:
        return host.fact_layer_memo[1]
    layer = {fact_variable(k): v for k, v in host.facts.items()}
    layer.update(host.injected_facts)
    layer["ansible_facts"] = host.facts
    host.fact_layer_memo = (stamp, layer)
    return layer


_PENDING = object()
Vars = dict[str, Any]


class _MagicVars(dict[str, Any]):
    """The magic variables of one scope. The two that cost a pass over the play's hosts or
    the inventory's groups (the live hosts, the host's group names) are computed when first
    read: every task's and every ``hostvars`` lookup's scope has them, few templates read
    them (a no-op of 50 hosts built ~13,000 such scopes; the two were a sixth of its plays
    phase, py-spy). Reads go through ``__getitem__`` (VarScope's); ``get``/``items``/
    ``values`` resolve too."""

    def __init__(self, values: dict[str, Any], lazy: dict[str, Callable[[], Any]]) -> None:
        super().__init__(values)
        for key in lazy:
            dict.__setitem__(self, key, _PENDING)
        self._lazy = lazy

    def __getitem__(self, key: str) -> Any:
        value = dict.__getitem__(self, key)
        if value is _PENDING:
            value = self._lazy[key]()
            dict.__setitem__(self, key, value)
        return value

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return self[key] if key in self else default  # noqa: SIM401 - self.get is this method

    def items(self) -> list[tuple[str, Any]]:  # type: ignore[override]
        return [(key, self[key]) for key in self]

    def values(self) -> list[Any]:  # type: ignore[override]
        return [self[key] for key in self]


def _magic(run: RunContext, pctx: PlayContext | None, host: HostState, task: Task | None) -> dict[str, Any]:
    play_hosts = pctx.hosts if pctx else list(run.hosts)
    def remaining(hosts: list[str]) -> list[str]:
        """``hosts`` less the failed, the unreachable and those a meta ended, as ansible-core's
        (play._removed_hosts)."""
        if pctx is None:
            return hosts
        return [h for h in hosts if run.hosts[h].alive and pctx.in_play(h)]

    lazy: dict[str, Callable[[], Any]] = {
        "group_names": lambda: _group_names(run, host.name),
        "play_hosts": lambda: remaining(pctx.batch if pctx else play_hosts),
        "ansible_play_hosts": lambda: remaining(play_hosts),
        "ansible_play_batch": lambda: remaining(pctx.batch if pctx else play_hosts),
        "ansible_version": ansible_version_info,
    }
    magic: dict[str, Any] = {
        "inventory_hostname": host.name,
        "inventory_hostname_short": host.name.split(".")[0],
        "groups": run.groups,
        "hostvars": HostVarsView(run, pctx),
        "ansible_play_hosts_all": play_hosts,

        "ansible_check_mode": run.options.check,
        "ansible_diff_mode": run.options.diff,
        "ansible_verbosity": run.options.verbosity,  # the -v count, as ansible-core's options vars
        "playbook_dir": str(run.playbook_dir),
        "ansible_playbook_python": sys.executable,  # the controller's Python, as ansible-core's
        "inventory_dir": run.inventory_dir,
        "inventory_file": run.inventory.sources[0] if run.inventory.sources else "",
        "omit": OMIT,
        # --tags / --skip-tags as given (ansible-core: ['all'] without --tags)
        "ansible_run_tags": sorted(run.options.tags) or ["all"],
        "ansible_skip_tags": sorted(run.options.skip_tags),
    }
    if pctx:
        magic["ansible_play_name"] = pctx.play.name
    search = [str(r.path) for r in reversed(task.scope.role_chain)] if task else []
    if task is not None:  # the task file's own folder after the roles' (Task.get_search_path)
        source = task.origin.rpartition(":")[0]
        if source.endswith((".yml", ".yaml")):  # an included file's folder, as ansible-core's
            search.append(os.path.dirname(source))
        search.append(str(task.scope.base_dir))
    search.append(str(run.playbook_dir))
    magic["ansible_search_path"] = list(dict.fromkeys(search))
    role = task.scope.role if task else None
    if role is not None:
        magic["role_name"] = role.name
        magic["role_path"] = str(role.path)
        magic["ansible_role_name"] = role.name
    return _MagicVars(magic, lazy)


def _group_names(run: RunContext, host: str) -> list[str]:
    if host not in run.inventory.hosts:
        return []
    return sorted(g for g in run.inventory.groups_of(host) if g not in ("all", "ungrouped"))


def _role_layers(pctx: PlayContext | None, chain: tuple[Role, ...]) -> tuple[list[Vars], list[Vars]]:
    """The roles' vars and defaults, highest first: the task's own role chain (innermost
    first), then the play's other roles, then the public roles its hosts included, the last
    included first (told apart by identity: comparing Role dataclasses compares their
    variables)."""
    roles = list(reversed(chain))
    if pctx is not None:
        others = [*reversed(pctx.public_roles), *reversed(pctx.play.roles)]
        roles += [r for r in others if all(r is not c for c in chain)]
    return [r.vars for r in roles if r.vars], [r.defaults for r in roles if r.defaults]


def host_scope(run: RunContext, pctx: PlayContext | None, host: HostState) -> VarScope:
    """Play-level variables of a host (what ``hostvars[host]`` shows)."""
    return run.engine.scope(_layers(run, pctx, host, None))


def task_scope(
    run: RunContext,
    pctx: PlayContext | None,
    host: HostState,
    task: Task,
    extra: Mapping[str, Any] | None = None,
) -> VarScope:
    layers = _layers(run, pctx, host, task)
    if extra:
        layers.insert(0, (extra, False))
    scope = run.engine.scope(layers)
    scope.untrusted = frozenset(host.registered)
    return scope


def _layers(run: RunContext, pctx: PlayContext | None, host: HostState, task: Task | None,
            own: bool = False) -> list[Layer]:
    """The layers of a task's variables, or (no task) a host's play-level ones, or (``own``)
    the host's own variables, as ``hostvars`` shows them."""
    play = pctx.play if pctx and not own else None
    chain = task.scope.role_chain if task else ()
    layers: list[Layer] = [
        (_magic(run, pctx, host, task), False),
        (run.options.extra_vars, True),
    ]
    if task is not None:
        layers += [(v, True) for v in reversed(task.scope.include_params)]
        layers.append((dict(task.scope.role_params), True))
    # set_fact values are rendered when read; registered module results are data (raw)
    layers.append((KeySubset(host.runtime_vars, host.registered, inside=False), True))
    layers.append((KeySubset(host.runtime_vars, host.registered, inside=True), False))
    layers.append((host.included_vars, True))
    if task is not None:
        layers.append((task.vars, True))
        layers += [(v, True) for v in reversed(task.scope.vars)]
    role_vars, role_defaults = _role_layers(None if own else pctx, chain)
    layers += [(v, True) for v in role_vars]
    if play is not None:
        layers.append((play.vars, True))
    layers.append((_fact_layer(host), False))
    layers.append((host.inventory_vars, True))
    layers += [(v, True) for v in role_defaults]
    if task is not None:
        layers.append((connection_variables(host), False))
    return layers


def connection_variables(host: HostState) -> dict[str, Any]:
    """The connection's "magic" variables ansible-core adds beneath a task's variables before
    its ``when`` and arguments are templated (PlayContext.update_vars): roles test
    ``ansible_connection`` without defining it. A variable defined elsewhere wins."""
    given = {**host.connection_keywords, **host.inventory_vars}
    address = given.get("ansible_host", given.get("ansible_ssh_host", host.name))
    found: dict[str, Any] = {
        "ansible_connection": given.get("ansible_connection") or "ssh",
        "ansible_host": address, "ansible_ssh_host": address,
        "ansible_shell_executable": "/bin/sh",
        "ansible_module_compression": "ZIP_DEFLATED",
        "ansible_timeout": 10, "ansible_ssh_timeout": 10,
        "ansible_pipelining": False, "ansible_ssh_pipelining": False,
    }
    for names in (("ansible_user", "ansible_ssh_user"), ("ansible_port", "ansible_ssh_port"),
                  ("ansible_timeout", "ansible_ssh_timeout"),
                  ("ansible_private_key_file", "ansible_ssh_private_key_file")):
        value = next((given[n] for n in names if n in given), None)
        if value is not None:
            found.update(dict.fromkeys(names, value))
    return found
