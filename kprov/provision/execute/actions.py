"""Engine-level actions that act on variables, not on the host: debug, set_fact, assert, fail.

(``meta`` and the include/import actions are handled by the host runner, which owns the task
list.) Each returns a ModuleResult like a host module, so registering and reporting are uniform.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kprov.provision.errors import PlaybookError, UndefinedVariableError
from kprov.provision.modules.base import ModuleResult
from kprov.provision.template_filters import to_bool
from kprov.provision.templates import VarScope

__all__ = ["ENGINE_RUNNERS", "NOT_DEFINED", "RAW_ARG_KEYS"]

# What ``debug: var=`` shows for a variable that is not defined (ansible-core's words).
NOT_DEFINED = "VARIABLE IS NOT DEFINED!"

# Arguments that are expressions, evaluated by the action itself (never templated beforehand).
RAW_ARG_KEYS: dict[str, frozenset[str]] = {"assert": frozenset({"that"}), "debug": frozenset({"var"})}


def _debug(args: Mapping[str, Any], scope: VarScope, runtime: dict[str, Any], where: str) -> ModuleResult:
    if "var" in args:
        name = str(args["var"])
        try:
            value = scope.template(scope.evaluate(name, f"{where} var"), where)
        except UndefinedVariableError:
            value = NOT_DEFINED  # ansible-core's debug says so and the task is ok
        return ModuleResult(msg=f"{name}: {value!r}", data={name: value})
    msg = args.get("msg", "Hello world!")
    return ModuleResult(msg=msg if isinstance(msg, str) else repr(msg), data={"msg": msg})


def _set_fact(args: Mapping[str, Any], scope: VarScope, runtime: dict[str, Any], where: str) -> ModuleResult:
    # as Ansible's set_fact (non-native templating): a yes/no/true/false string is a boolean
    facts = {
        k: (to_bool(v) if isinstance(v, str) and v.lower() in ("true", "false", "yes", "no") else v)
        for k, v in args.items()
        if k != "cacheable"
    }
    for key in facts:
        if not str(key).isidentifier():
            raise PlaybookError(f"{where}: set_fact: '{key}' is not a valid variable name")
    runtime.update(facts)
    return ModuleResult(data={"ansible_facts": facts})


def _assert(args: Mapping[str, Any], scope: VarScope, runtime: dict[str, Any], where: str) -> ModuleResult:
    that = args.get("that")
    if that is None:
        raise PlaybookError(f"{where}: assert needs 'that'")
    for condition in that if isinstance(that, list) else [that]:
        if not scope.condition(condition, f"{where} assert"):
            msg = args.get("fail_msg", args.get("msg", f"Assertion failed: {condition}"))
            return ModuleResult(
                failed=True, msg=str(msg), data={"assertion": condition, "evaluated_to": False}
            )
    quiet = to_bool(args.get("quiet", False))
    return ModuleResult(msg="" if quiet else str(args.get("success_msg", "All assertions passed")))


def _fail(args: Mapping[str, Any], scope: VarScope, runtime: dict[str, Any], where: str) -> ModuleResult:
    return ModuleResult(failed=True, msg=str(args.get("msg", "Failed as requested from task")))


ENGINE_RUNNERS: dict[str, Callable[[Mapping[str, Any], VarScope, dict[str, Any], str], ModuleResult]] = {
    "debug": _debug,
    "set_fact": _set_fact,
    "assert": _assert,
    "fail": _fail,
}
