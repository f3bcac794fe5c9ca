"""Table printers for RBAC kinds, as the real server prints them: roles show NAME and CREATED
AT (an RFC 3339 time), bindings NAME, ROLE (``Kind/name``) and AGE, and with ``-o wide`` the
USERS, GROUPS and SERVICEACCOUNTS (``namespace/name``) they bind."""

from __future__ import annotations

from typing import Any

from kprov.cluster.api.objects import get_path
from kprov.cluster.api.printers.columns import AGE, NAME, Age, Column, Printer, created, name_of

__all__ = ["BINDING", "ROLE"]

ROLE = Printer(
    (
        NAME,
        Column(
            "Created At",
            "date",
            "CreationTimestamp is a timestamp representing the server time when this object was created.",
        ),
    ),
    lambda obj, age: [name_of(obj), get_path(obj, "metadata.creationTimestamp", "")],
)


def _subjects(obj: dict[str, Any], kind: str) -> str:
    names: list[str] = []
    for subject in obj.get("subjects") or []:
        if subject.get("kind") != kind:
            continue
        if kind == "ServiceAccount":
            names.append(f"{subject.get('namespace', '')}/{subject.get('name', '')}")
        else:
            names.append(str(subject.get("name", "")))
    return ", ".join(names)


def _binding_row(obj: dict[str, Any], age: Age) -> list[Any]:
    ref = obj.get("roleRef") or {}
    return [
        name_of(obj),
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        created(obj, age),
        _subjects(obj, "User"),
        _subjects(obj, "Group"),
        _subjects(obj, "ServiceAccount"),
    ]


BINDING = Printer(
    (
        NAME,
        Column("Role", description="RoleRef can reference a Role in the current namespace or a ClusterRole."),
        AGE,
        Column("Users", description="Users in the roleBinding", priority=1),
        Column("Groups", description="Groups in the roleBinding", priority=1),
        Column("ServiceAccounts", description="ServiceAccounts in the roleBinding", priority=1),
    ),
    _binding_row,
)
