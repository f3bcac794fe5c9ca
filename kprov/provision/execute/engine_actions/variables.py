"""Engine-level actions that act on variables, not on the host: debug, set_fact, assert, fail.

(``meta`` and the include/import actions are handled by the host runner, which owns the task
list.) Each returns a ModuleResult like a host module, so registering and reporting are uniform.
``where`` is the task's origin (file:line); the executor adds the task's name to any error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kprov.provision.errors import PlaybookError, UndefinedVariableError
from kprov.provision.modules.base import ModuleResult
from kprov.provision.playbook.argspec import validate
from kprov.provision.template_filters import to_bool
from kprov.provision.templates import VarScope

__all__ = ["ENGINE_RUNNERS", "NOT_DEFINED", "RAW_ARG_KEYS", "invalid_variable_name"]

# What ``debug: var=`` shows for a variable that is not defined (ansible-core's words).
NOT_DEFINED = "VARIABLE IS NOT DEFINED!"

# Arguments that are expressions, evaluated by the action itself (never templated beforehand).
# Names Jinja gives a meaning of its own: never variable names (ansible-core's JINJA_KEYWORDS).
_JINJA_KEYWORDS = frozenset({"true", "false", "none", "True", "False", "None", "not"})

RAW_ARG_KEYS: dict[str, frozenset[str]] = {"assert": frozenset({"that"}), "debug": frozenset({"var"})}


def _debug(args: Mapping[str, Any], scope: VarScope, runtime: dict[str, Any], where: str) -> ModuleResult:
    if "var" in args:
        name = str(args["var"])
        place = f"task field 'var' ({where})"
        if "{{" in name or "{%" in name:  # a template: ansible-core's executor renders it first,
            value = scope.template(name, place)  # and its errors fail the task
            return ModuleResult(msg=f"{name}: {value!r}", data={name: value}, msg_returned=False)
        try:
            value = scope.template(scope.evaluate(name, place), place)
        except UndefinedVariableError:
            value = NOT_DEFINED  # ansible-core's debug says so and the task is ok
        return ModuleResult(msg=f"{name}: {value!r}", data={name: value}, msg_returned=False)
    msg = args.get("msg", "Hello world!")
    return ModuleResult(msg=msg if isinstance(msg, str) else repr(msg), data={"msg": msg})


def _set_fact(args: Mapping[str, Any], scope: VarScope, runtime: dict[str, Any], where: str) -> ModuleResult:
    """Ansible's set_fact: each key is templated too (``{"{{ item.key }}": ...}``), the one
    place besides set_stats where ansible-core templates mapping keys; a key that is not a
    valid variable name fails the task with ansible-core's message. As Ansible's set_fact
    with non-native templating (ansible-core 2.18, the version the compat tests run), a
    yes/no/true/false string value is a boolean."""
    facts: dict[str, Any] = {}
    for raw_key, value in args.items():
        if raw_key == "cacheable":
            continue
        key = scope.template(raw_key, f"task field key {raw_key!r} ({where})")
        problem = invalid_variable_name(key)
        if problem:
            return ModuleResult(failed=True, msg=problem)
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no"):
            value = to_bool(value)
        facts[key] = value
    if not facts:
        return ModuleResult(failed=True, msg="No key/value pairs provided, at least one is required for this "
                                             "action to succeed")
    runtime.update(facts)
    return ModuleResult(data={"ansible_facts": facts})


def invalid_variable_name(name: Any) -> str:
    """Why ``name`` cannot be a variable (ansible-core's message), or "" when it can: a string
    that is an ASCII identifier and not one of Jinja's reserved names."""
    if isinstance(name, str) and name.isidentifier() and name.isascii() and name not in _JINJA_KEYWORDS:
        return ""
    described = f"name {str(name)!r}" if isinstance(name, str | int | float | bool | type(None)) else "name"
    if not isinstance(name, str):
        described += f" of type {type(name).__name__!r}"
    return (f"Invalid variable {described}. Variable names must be strings starting with a letter or "
            "underscore character, and contain only letters, numbers and underscores.")


def _assert(args: Mapping[str, Any], scope: VarScope, runtime: dict[str, Any], where: str) -> ModuleResult:
    that = args.get("that")
    if that is None:
        raise PlaybookError(f"{where}: assert needs 'that'")
    for condition in that if isinstance(that, list) else [that]:
        if not scope.condition(condition, f"task field 'that' ({where})"):
            msg = args.get("fail_msg", args.get("msg", f"Assertion failed: {condition}"))
            return ModuleResult(
                failed=True, msg=str(msg), data={"assertion": condition, "evaluated_to": False}
            )
    quiet = to_bool(args.get("quiet", False))
    return ModuleResult(msg="" if quiet else str(args.get("success_msg", "All assertions passed")))


def _fail(args: Mapping[str, Any], scope: VarScope, runtime: dict[str, Any], where: str) -> ModuleResult:
    return ModuleResult(failed=True, msg=str(args.get("msg", "Failed as requested from task")))


def _validate_argument_spec(args: Mapping[str, Any], scope: VarScope, runtime: dict[str, Any],
                            where: str) -> ModuleResult:
    """ansible-core's validate_argument_spec: the spec's options found among the variables,
    overridden by ``provided_arguments``, validated (execute.argspec)."""
    spec = args.get("argument_spec")
    provided = args.get("provided_arguments") or {}
    if not isinstance(spec, Mapping):
        raise PlaybookError(f"{where}: Incorrect type for argument_spec, expected dict and got {type(spec)}")
    if not isinstance(provided, Mapping):
        raise PlaybookError(f"{where}: Incorrect type for provided_arguments, expected dict and got "
                            f"{type(provided)}")
    values = {name: scope[name] for name in spec if name in scope}
    values.update(provided)
    errors = validate(spec, values)
    context = dict(args.get("validate_args_context") or {})
    if errors:
        return ModuleResult(failed=True, msg="Validation of arguments failed:\n" + "\n".join(errors),
                            data={"argument_errors": errors, "argument_spec_data": dict(spec),
                                  "validate_args_context": context})
    return ModuleResult(msg="The arg spec validation passed", data={"validate_args_context": context})


ENGINE_RUNNERS: dict[str, Callable[[Mapping[str, Any], VarScope, dict[str, Any], str], ModuleResult]] = {
    "debug": _debug,
    "set_fact": _set_fact,
    "assert": _assert,
    "fail": _fail,
    "validate_argument_spec": _validate_argument_spec,
}
