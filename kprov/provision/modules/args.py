"""Argument specs: Ansible-style names, aliases, types, defaults and choices per module.

``parse_args(module, spec, args)`` returns a complete dict keyed by canonical names, or raises
``ModuleArgsError`` naming the module and the offending argument. Unknown arguments are errors
(as in Ansible), except keys starting with ``_`` other than ``_raw_params`` (engine internals).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kprov.provision.connect.settings import SettingsError, as_bool
from kprov.provision.modules.base import ModuleArgsError

__all__ = ["FILE_ATTRS", "Arg", "parse_args"]


@dataclass(frozen=True)
class Arg:
    type: str = "str"  # str | bool | int | float | list | dict | raw | mode
    required: bool = False
    default: Any = None
    choices: tuple[Any, ...] | None = None
    aliases: tuple[str, ...] = ()


# Ansible's common file attributes (add_file_common_args); selinux/attributes are accepted, ignored.
FILE_ATTRS: dict[str, Arg] = {
    "owner": Arg(), "group": Arg(), "mode": Arg("mode"),
    "seuser": Arg(), "serole": Arg(), "setype": Arg(), "selevel": Arg(),
    "unsafe_writes": Arg("bool", default=False), "attributes": Arg(aliases=("attr",)),
}


def _convert(module: str, name: str, kind: str, value: Any) -> Any:
    if value is None:
        return None
    try:
        if kind == "str":
            if isinstance(value, list | dict):
                raise ValueError("expected a string")
            return str(value)
        if kind == "bool":
            return as_bool(value)
        if kind == "int":
            if isinstance(value, bool):
                raise ValueError("expected an integer")
            return int(value)
        if kind == "float":
            return float(value)
        if kind == "list":
            if isinstance(value, list | tuple):
                return list(value)
            if isinstance(value, str):
                return [part.strip() for part in value.split(",") if part.strip()]
            return [value]
        if kind == "dict":
            if not isinstance(value, Mapping):
                raise ValueError("expected a mapping")
            return dict(value)
        if kind == "mode":  # int (YAML 0644 -> 420, taken as is) or string (octal or symbolic)
            if isinstance(value, bool):
                raise ValueError("expected an octal string such as '0644'")
            return value if isinstance(value, int) else str(value)
        return value
    except (ValueError, TypeError, SettingsError) as exc:
        raise ModuleArgsError(module, f"argument {name!r}: {value!r} is not a valid {kind} ({exc})") from None


def parse_args(module: str, spec: Mapping[str, Arg], args: Mapping[str, Any]) -> dict[str, Any]:
    """Validate and normalize ``args`` against ``spec``."""
    alias_of: dict[str, str] = {}
    for name, arg in spec.items():
        alias_of[name] = name
        for alias in arg.aliases:
            alias_of[alias] = name
    out: dict[str, Any] = {}
    for key, value in args.items():
        if key not in alias_of:
            if key.startswith("_") and key != "_raw_params":
                continue
            known = ", ".join(sorted(spec))
            raise ModuleArgsError(module, f"unsupported argument {key!r} (supported: {known})")
        canonical = alias_of[key]
        if canonical in out and value is not None:
            raise ModuleArgsError(module, f"argument {canonical!r} given twice (as {key!r} and an alias)")
        if value is not None or canonical not in out:
            out[canonical] = value
    for name, arg in spec.items():
        value = _convert(module, name, arg.type, out.get(name))
        if value is None:
            if arg.required:
                names = " / ".join((name, *arg.aliases))
                raise ModuleArgsError(module, f"missing required argument {names!r}")
            value = arg.default
        if value is not None and arg.choices is not None and value not in arg.choices:
            choices = ", ".join(str(c) for c in arg.choices)
            raise ModuleArgsError(module, f"argument {name!r}: {value!r} is not one of: {choices}")
        out[name] = value
    return out
