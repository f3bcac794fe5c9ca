"""Inventory model: hosts, groups (a DAG under ``all``), and Ansible's variable precedence.

Precedence, lowest first, as Ansible's for the sources kprov supports
(``hash_behaviour=replace``: a later source replaces a key, never merges into it):

1. group vars from inventory files: ``all``, then the host's other groups ordered by
   (depth below ``all``, name) — a child group overrides its parent;
2. ``group_vars/all`` files (next to the inventory, then next to the playbook);
3. ``group_vars/<group>`` files, in the same group order;
4. host vars from inventory files;
5. ``host_vars/<host>`` files (inventory dir, then playbook dir).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Group", "Host", "Inventory"]


@dataclass
class Host:
    name: str
    vars: dict[str, Any] = field(default_factory=dict)  # from inventory files
    file_vars: dict[str, Any] = field(default_factory=dict)  # from host_vars/ files
    groups: list[str] = field(default_factory=list)  # direct groups, in load order


@dataclass
class Group:
    name: str
    vars: dict[str, Any] = field(default_factory=dict)  # from inventory files
    file_vars: dict[str, Any] = field(default_factory=dict)  # from group_vars/ files
    hosts: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)


@dataclass
class Inventory:
    """Hosts in the order they were first seen, and groups by name (``all``, ``ungrouped`` always exist)."""

    hosts: dict[str, Host] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    implicit: set[str] = field(default_factory=set)  # the implicit localhost (in no group)

    def __post_init__(self) -> None:
        self.group("all")
        self.group("ungrouped")

    # -- building ------------------------------------------------------------------------
    def group(self, name: str) -> Group:
        if name not in self.groups:
            self.groups[name] = Group(name)
            if name != "all":
                self.add_child("all", name)
        return self.groups[name]

    def host(self, name: str) -> Host:
        if name not in self.hosts:
            self.hosts[name] = Host(name)
        return self.hosts[name]

    def add_host(self, group: str, name: str, host_vars: dict[str, Any] | None = None) -> Host:
        host = self.host(name)
        host.vars.update(host_vars or {})
        grp = self.group(group)
        if name not in grp.hosts:
            grp.hosts.append(name)
        if group not in host.groups:
            host.groups.append(group)
        return host

    def add_implicit_localhost(self, python: str) -> None:
        """Ansible's implicit localhost, for a play naming ``localhost`` the inventory lacks:
        the local connection with the controller's Python, matched by its name only (not by
        ``all`` or a wildcard), yet with the ``all`` group's variables."""
        if "localhost" in self.hosts:
            return
        self.hosts["localhost"] = Host("localhost", vars={
            "ansible_connection": "local", "ansible_python_interpreter": python})
        self.implicit.add("localhost")

    def add_child(self, parent: str, child: str) -> None:
        p, c = self.group(parent), self.group(child)
        if parent != "all" and "all" in c.parents:
            c.parents.remove("all")
            self.groups["all"].children.remove(child)
        if child not in p.children:
            p.children.append(child)
        if parent not in c.parents:
            c.parents.append(parent)

    def finish(self) -> None:
        """Put hosts with no group but ``all`` into ``ungrouped``, as Ansible does."""
        for host in self.hosts.values():
            if host.name in self.implicit:
                continue
            if all(g in ("all", "ungrouped") for g in host.groups):
                self.add_host("ungrouped", host.name)
            if "all" not in host.groups:
                host.groups.append("all")
                if host.name not in self.groups["all"].hosts:
                    self.groups["all"].hosts.append(host.name)

    def reconcile_ungrouped(self, name: str) -> None:
        """After a run changed a host's groups (group_by, add_host): ``ungrouped`` holds it
        exactly when it is in no group but ``all``, as Ansible's reconcile_inventory keeps it."""
        host, ungrouped = self.hosts[name], self.groups["ungrouped"]
        grouped = any(g not in ("all", "ungrouped") for g in host.groups)
        if grouped and name in ungrouped.hosts:
            ungrouped.hosts.remove(name)
            host.groups.remove("ungrouped")
        elif not grouped and name not in ungrouped.hosts:
            self.add_host("ungrouped", name)

    # -- queries -------------------------------------------------------------------------
    def depth(self, group: str, _seen: frozenset[str] = frozenset()) -> int:
        parents = [p for p in self.groups[group].parents if p not in _seen]
        if group == "all" or not parents:
            return 0
        return 1 + max(self.depth(p, _seen | {group}) for p in parents)

    def groups_of(self, host: str) -> list[str]:
        """Every group the host belongs to (directly or through children), ``all`` included."""
        found: list[str] = []
        todo = list(self.hosts[host].groups)
        while todo:
            name = todo.pop(0)
            if name in found:
                continue
            found.append(name)
            todo.extend(self.groups[name].parents)
        if "all" not in found:
            found.append("all")
        return sorted(found, key=lambda g: (self.depth(g), g))

    def members(self, group: str) -> list[str]:
        """Hosts of a group and of all its descendants, in inventory order."""
        seen: set[str] = set()
        names: set[str] = set()
        todo = [group]
        while todo:
            name = todo.pop()
            if name in seen or name not in self.groups:
                continue
            seen.add(name)
            names.update(self.groups[name].hosts)
            todo.extend(self.groups[name].children)
        if group == "all":
            return [h for h in self.hosts if h not in self.implicit]
        return [h for h in self.hosts if h in names]

    def group_map(self) -> dict[str, list[str]]:
        """The ``groups`` magic variable."""
        return {name: self.members(name) for name in self.groups}

    def host_vars(self, host: str, extra_layers: Iterable[tuple[str, dict[str, Any]]] = ()) -> dict[str, Any]:
        """Inventory variables of a host, merged by Ansible's precedence (see module doc).

        ``extra_layers`` are (kind, vars) pairs from next to the playbook, kind being
        ``group:<name>`` or ``host:<name>``; they sit just above the inventory's own files.
        """
        extra = list(extra_layers)
        chain = [g for g in self.groups_of(host)]
        others = [g for g in chain if g != "all"]
        merged: dict[str, Any] = {}
        for g in ["all", *others]:
            merged.update(self.groups[g].vars)
        for g in ["all", *others]:
            merged.update(self.groups[g].file_vars)
            for kind, layer in extra:
                if kind == f"group:{g}":
                    merged.update(layer)
        merged.update(self.hosts[host].vars)
        merged.update(self.hosts[host].file_vars)
        for kind, layer in extra:
            if kind == f"host:{host}":
                merged.update(layer)
        return merged
