"""Role argument specs (meta/argument_specs.yml): the check ansible-core runs before a role's tasks.

ansible-core prepends a task named ``Validating arguments against arg spec 'ENTRY'`` (plus
`` - short_description``), tagged ``always``, to a role whose spec has the entry point being
run (``tasks_from``, default ``main``). The task validates the role's parameters, over the
values of the spec's options found among the task's variables, and is ok (never changed)
when they pass; otherwise it fails with "Validation of arguments failed:" and one line per
problem. :func:`validate` checks what ansible-core's ArgumentSpecValidator checks first and
most: unsupported names, required options, the types str/int/float/bool/list/dict/path/raw
(with list ``elements``), ``choices``, and nested ``options`` — in ansible-core's words.
Other types (bits, bytes, jsonarg, ...) are accepted as given; mutually_exclusive and
friends are not checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kprov.provision.template_filters import to_bool

__all__ = ["validate", "validation_task"]

_BOOLEAN_WORDS = frozenset({"y", "yes", "on", "1", "true", "t", "n", "no", "off", "0", "false", "f"})


def validation_task(
    spec: Mapping[str, Any], entry: str, params: Mapping[str, Any], role: str = "", path: str = ""
) -> dict[str, Any]:
    """The task data ansible-core prepends for ``spec`` (one entry point's spec) of ``role``."""
    name = f"Validating arguments against arg spec '{entry}'"
    if "short_description" in spec:
        name += f" - {spec['short_description']}"
    return {
        "name": name,
        "tags": ["always"],
        "ansible.builtin.validate_argument_spec": {
            "argument_spec": dict(spec.get("options") or {}),
            "provided_arguments": dict(params),
            "validate_args_context": {
                "type": "role",
                "name": role,
                "argument_spec_name": entry,
                "path": path,
            },
        },
    }


def validate(spec: Mapping[str, Any], params: Mapping[str, Any], prefix: str = "") -> list[str]:
    """ansible-core's error messages for ``params`` against ``spec`` (option name -> attributes),
    in its order: required, types, choices, nested options, then unsupported names."""
    errors: list[str] = []
    found_in = f" found in {prefix.rstrip('.')}" if prefix else ""
    names = {
        alias: name for name, attrs in spec.items() for alias in (name, *((attrs or {}).get("aliases") or []))
    }
    given = {names[key]: value for key, value in params.items() if key in names}
    missing = sorted(
        name for name, attrs in spec.items() if (attrs or {}).get("required") and name not in given
    )
    if missing:
        errors.append(f"missing required arguments: {', '.join(missing)}{found_in}")
    converted: dict[str, Any] = {}
    for name, value in given.items():
        attrs = spec[name] or {}
        kind = attrs.get("type", "str")
        if value is None:
            continue
        converted[name], problem = _convert(value, kind)
        if problem:
            del converted[name]
            errors.append(
                f"argument '{name}' is of type {_type_name(value)} and we were unable to convert to "
                f"{kind}: {problem}{found_in}"
            )
        elif kind == "list" and attrs.get("elements"):
            for element in converted[name]:
                _, problem = _convert(element, attrs["elements"])
                if problem:
                    errors.append(
                        f"Elements value for option '{name}' is of type {_type_name(element)} and we "
                        f"were unable to convert to {attrs['elements']}: {problem}{found_in}"
                    )
    for name, value in converted.items():
        choices = (spec[name] or {}).get("choices")
        if not choices:
            continue
        if isinstance(value, list):
            wrong = [str(v) for v in value if v not in choices]
            if wrong:
                errors.append(
                    f"value of {name} must be one or more of: {', '.join(map(str, choices))}. "
                    f"Got no match for: {', '.join(wrong)}{found_in}"
                )
        elif value not in choices:
            errors.append(
                f"value of {name} must be one of: {', '.join(map(str, choices))}, got: {value}{found_in}"
            )
    for name, value in converted.items():
        options = (spec[name] or {}).get("options")
        for child in (value if isinstance(value, list) else [value]) if options else []:
            if isinstance(child, Mapping) and isinstance(options, Mapping):
                errors += validate(options, child, f"{prefix}{name}.")
    unsupported = sorted(f"{prefix}{key}" for key in params if key not in names)
    if unsupported:
        supported = ", ".join(sorted(_described(name, attrs) for name, attrs in spec.items()))
        errors.append(f"{', '.join(unsupported)}. Supported parameters include: {supported}.")
    return errors


def _type_name(value: Any) -> str:
    """The builtin type ansible-core names (kprov's YAML carries subclasses of them)."""
    for base in (bool, int, float, str, dict, list):
        if isinstance(value, base):
            return str(base)
    return str(type(value))


def _described(name: str, attrs: Any) -> str:
    aliases = (attrs or {}).get("aliases")
    return f"{name} ({', '.join(sorted(aliases))})" if aliases else name


def _convert(value: Any, kind: str) -> tuple[Any, str]:
    """(converted value, "") or (None, why not) for ansible-core's type checkers."""
    try:
        if kind in ("str", "path"):
            if isinstance(value, Mapping | list):
                return None, f"{_type_name(value)} cannot be converted to a string"
            return (value if isinstance(value, str) else str(value)), ""
        if kind == "int":
            if isinstance(value, bool):
                return int(value), ""
            if isinstance(value, int):
                return value, ""
            if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
                return int(value), ""
            if isinstance(value, float) and value.is_integer():
                return int(value), ""
            return None, f'"{str(value)!r}" cannot be converted to an int'
        if kind == "float":
            if isinstance(value, int | float | str) and not isinstance(value, bool):
                return float(value), ""
            return None, f"{_type_name(value)} cannot be converted to a float"
        if kind == "bool":
            if isinstance(value, bool):
                return value, ""
            if isinstance(value, str | int | float) and str(value).lower() in _BOOLEAN_WORDS:
                return to_bool(value), ""
            return (
                None,
                f"The value '{value}' is not a valid boolean.  Valid booleans include: "
                "'on', 1, 'n', '1', 'no', 'false', 'off', 'yes', '0', 'f', 'y', 'true', 't'",
            )
        if kind == "list":
            if isinstance(value, list):
                return value, ""
            if isinstance(value, str):
                return value.split(","), ""
            if isinstance(value, int | float):
                return [str(value)], ""
            return None, f"{_type_name(value)} cannot be converted to a list"
        if kind == "dict":
            if isinstance(value, Mapping):
                return value, ""
            return None, "dictionary requested, could not parse JSON or key=value"
    except (TypeError, ValueError) as exc:
        return None, str(exc)
    return value, ""
