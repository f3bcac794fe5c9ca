"""Reaching a host: the one way a host's variables become a connector.

A host's connection variables (``ansible_host``, ``ansible_port``, ``ansible_user`` ... and
kprov's own connection settings, ``kprov_jump_host`` and the rest read by :mod:`.settings`)
may be templates (``{{ }}``), as in Ansible. :func:`connection_vars` picks them out of a
host's variables and renders each in a scope the caller gives; :func:`reach` hands them to
:func:`.transports.connector_for`. Every path to a host goes through these two:

- a run (``kprov apply``: the connect phase; a task's ``delegate_to``) renders them in the
  host's play-level scope, the one ``hostvars[host]`` shows;
- tools that read an inventory outside a run (``kprov etcd``, ``kprov images``, ``kprov
  verify``) render them in the inventory's own scope (:func:`inventory_scope`: the host's
  inventory variables and the magic variables an inventory defines), through
  :func:`reach_inventory_host` or, for the addresses alone, :func:`rendered_host_vars`.

A variable that cannot be rendered raises :class:`~kprov.provision.errors.TemplateError`
naming the variable and the host.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from kprov.provision.connect.base import Connector
from kprov.provision.connect.transports import connector_for
from kprov.provision.inventory import Inventory
from kprov.provision.templates import OMIT, TemplateEngine, VarScope

__all__ = [
    "KPROV_CONNECTION_VARS",
    "connection_vars",
    "inventory_scope",
    "is_connection_var",
    "reach",
    "reach_inventory_host",
    "rendered_host_vars",
]

Template = Callable[[Any, str], Any]  # (value, where) -> the rendered value

# kprov's connection settings besides the ansible_* ones (kprov.provision.connect.settings)
KPROV_CONNECTION_VARS = frozenset({
    "kprov_connect_retries",
    "kprov_control_persist",
    "kprov_host_key_checking",
    "kprov_jump_host",
    "kprov_keepalive_interval",
    "kprov_persistent_shell",
})


def is_connection_var(name: str) -> bool:
    return name.startswith("ansible_") or name in KPROV_CONNECTION_VARS


def connection_vars(host: str, variables: Mapping[str, Any], template: Template) -> dict[str, Any]:
    """The connection variables among ``variables``, each rendered by ``template``."""
    return {
        name: template(value, f"variable '{name}' of host {host}")
        for name, value in variables.items()
        if is_connection_var(name)
    }


def reach(host: str, variables: Mapping[str, Any], template: Template) -> Connector:
    """The (unopened) connector to ``host`` its rendered connection variables ask for."""
    return connector_for(host, connection_vars(host, variables, template))


class _InventoryHostVars(Mapping[str, Any]):
    """``hostvars`` of an inventory alone: each host's variables in its own scope."""

    def __init__(self, inventory: Inventory, engine: TemplateEngine) -> None:
        self.__inventory, self.__engine = inventory, engine

    def __getitem__(self, host: str) -> Any:
        if host not in self.__inventory.hosts:
            raise KeyError(host)
        return inventory_scope(self.__inventory, host, self.__engine)

    def __iter__(self) -> Iterator[str]:
        return iter(self.__inventory.hosts)

    def __len__(self) -> int:
        return len(self.__inventory.hosts)


def inventory_scope(inventory: Inventory, host: str, engine: TemplateEngine | None = None) -> VarScope:
    """``host``'s variables as an inventory alone defines them: its inventory variables
    (templated) under the magic variables ``inventory_hostname``, ``groups``,
    ``group_names`` and ``hostvars``."""
    engine = engine or TemplateEngine()
    magic: dict[str, Any] = {
        "inventory_hostname": host,
        "inventory_hostname_short": host.split(".")[0],
        "groups": inventory.group_map(),
        "group_names": sorted(g for g in inventory.groups_of(host) if g not in ("all", "ungrouped")),
        "hostvars": _InventoryHostVars(inventory, engine),
        "omit": OMIT,
    }
    return engine.scope([(magic, False), (inventory.host_vars(host), True)])


def rendered_host_vars(inventory: Inventory, host: str) -> dict[str, Any]:
    """``host``'s inventory variables with its connection variables rendered in the
    inventory's scope: what a tool outside a run reads a host's address from."""
    variables = inventory.host_vars(host)
    scope = inventory_scope(inventory, host)
    return {**variables, **connection_vars(host, variables, scope.template)}


def reach_inventory_host(inventory: Inventory, host: str) -> Connector:
    """The connector to an inventory host outside a run (see the module docstring)."""
    scope = inventory_scope(inventory, host)
    return reach(host, inventory.host_vars(host), scope.template)
