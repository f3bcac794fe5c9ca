"""``module_defaults``: arguments a play, role, block or task gives every task of a module.

As Ansible's ``get_action_args_with_defaults``: the entries (outermost first) are merged a
module at a time, an inner entry's arguments for a module replacing an outer one's whole;
the task's own arguments win over them. A key names a module as a task would: the short
builtin name and ``ansible.builtin.``/``ansible.legacy.`` are one module, and a short name
matches another collection's module of that name (kprov resolves short names without
``collections:``). ``group/...`` keys name action groups, which only collections define
(ansible-core has none) and kprov does not read: they are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kprov.provision.errors import ProvisionError

__all__ = ["defaults_for"]

_BUILTIN = ("ansible.builtin.", "ansible.legacy.")


def _canonical(name: str) -> str:
    for prefix in _BUILTIN:
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def _same_module(key: str, action: str) -> bool:
    key, action = _canonical(key), _canonical(action)
    if key == action:
        return True
    short, full = (key, action) if "." not in key else (action, key)
    return "." not in short and "." in full and full.rsplit(".", 1)[1] == short


def defaults_for(action: str, entries: Sequence[Any]) -> dict[str, Any]:
    """The default arguments ``entries`` (each a mapping, or a list of them) give ``action``."""
    merged: dict[str, Any] = {}
    for entry in entries:
        for mapping in entry if isinstance(entry, list) else [entry]:
            if not isinstance(mapping, dict):
                raise ProvisionError(f"module_defaults must be a mapping of module names to arguments, "
                                     f"got {type(mapping).__name__}")
            merged.update((_canonical(str(key)), args) for key, args in mapping.items())
    found: dict[str, Any] = {}
    for key, args in merged.items():
        if not key.startswith("group/") and _same_module(key, action) and isinstance(args, dict):
            found = dict(args)
    return found
