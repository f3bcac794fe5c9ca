"""A task's loop: its items, each item's own variables, and the loop's registered result.

``loop_items`` evaluates ``loop:`` (or ``with_*``: flatten, dict2items, a lookup) into a list;
a ``with_*``'s terms are listified first, as ansible-core's executor does (a string stripped,
everything templated: lookups.listify_terms), so ``with_items`` of a mapping is its keys;
``item_layers`` gives each item's variables (``loop_var``, ``index_var``, and ``ansible_loop``
with ``loop_control.extended``); ``loop_outcome`` folds the items' statuses into the task's
result as ansible-core builds it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kprov.provision.errors import ProvisionError, TemplateError, UndefinedVariableError
from kprov.provision.execute.results import Status
from kprov.provision.lookup_terms import listify_terms
from kprov.provision.lookups import run_lookup
from kprov.provision.playbook.model import Task
from kprov.provision.template_filters import to_bool
from kprov.provision.template_unsafe import wrap_unsafe
from kprov.provision.templates import VarScope

__all__ = ["extended_loop", "item_layers", "labelled", "loop_items", "loop_outcome"]


def loop_items(task: Task, scope: VarScope) -> list[Any]:
    """The task's loop items (``loop``, or ``with_*`` as flatten / dict2items / a lookup).
    A ``with_*`` loop's items are a lookup's results: unsafe data (template_unsafe), as
    ansible-core's executor wraps them; ``loop:``'s are the template's value."""
    if isinstance(task.loop, dict) and any(k in task.loop for k in _WITH_KEYS):
        return list(wrap_unsafe(_with_items(task, scope)))
    return _with_items(task, scope)


_WITH_KEYS = ("__flatten__", "__dict2items__", "__list__", "__lookup__")


def _with_items(task: Task, scope: VarScope) -> list[Any]:
    where = f"task field 'loop' ({task.origin})"
    loop = task.loop
    if isinstance(loop, dict) and "__flatten__" in loop:  # with_items: one level flattened
        terms = listify_terms(loop["__flatten__"], scope, where)
        return [x for term in terms for x in (term if isinstance(term, list | tuple) else [term])]
    if isinstance(loop, dict) and "__dict2items__" in loop:
        terms = listify_terms(loop["__dict2items__"], scope, where)
        terms = terms if isinstance(terms, list) else [terms]
        if not all(isinstance(term, Mapping) for term in terms):  # ansible-core's dict lookup's error
            raise TemplateError("with_dict expects a dict")
        return [{"key": k, "value": v} for term in terms for k, v in term.items()]
    if isinstance(loop, dict) and "__list__" in loop:
        terms = listify_terms(loop["__list__"], scope, where)
        if not isinstance(terms, Sequence):  # ansible-core's list lookup's own error
            raise TemplateError("with_list expects a list")
        return list(terms)
    if isinstance(loop, dict) and "__lookup__" in loop:
        return _lookup_items(task, scope, str(loop["__lookup__"]), loop["terms"], where)
    value = scope.template(loop, where)
    if isinstance(value, str):
        raise ProvisionError(f"{task.origin}: loop must be a list, got the string {value!r}")
    if isinstance(value, dict):
        raise ProvisionError(f"{task.origin}: loop must be a list; use `| dict2items` for a mapping")
    return list(value)


def _lookup_items(task: Task, scope: VarScope, name: str, terms: Any, where: str) -> list[Any]:
    """``with_<name>: terms``: the lookup's list; ``first_found`` searches ``templates`` for a
    template task, ``vars`` for include_vars, else ``files`` (as Ansible's executor does)."""
    subdir = next((s for s in ("template", "var", "file") if s in task.action), "file") + "s"
    if name.rpartition(".")[2] == "first_found":  # its terms may name undefined variables
        return run_lookup(name, _lenient(terms, scope, where), scope, scope, subdir=subdir)
    return run_lookup(name, listify_terms(terms, scope, where), scope, scope, subdir=subdir)


def _lenient(value: Any, scope: VarScope, where: str) -> Any:
    """``value`` templated, a string naming an undefined variable left as written: ansible-core
    templates ``with_first_found`` terms with fail_on_undefined off, and the lookup then skips
    such a candidate."""
    if isinstance(value, list):
        return [_lenient(v, scope, where) for v in value]
    if isinstance(value, dict):
        return {k: _lenient(v, scope, where) for k, v in value.items()}
    try:
        return scope.template(value, where)
    except UndefinedVariableError:
        return value


def item_layers(task: Task, scope: VarScope, items: list[Any]) -> list[dict[str, Any]]:
    """Each loop item's own variables: ``loop_var`` (and ``ansible_loop_var``), ``index_var``,
    and with ``extended`` the ``ansible_loop`` dict."""
    # loop_var and index_var may be templates (ansible-core templates loop_control)
    loop_var = str(scope.template(task.loop_control.get("loop_var", "item"), "loop_control.loop_var"))
    index_var = scope.template(task.loop_control.get("index_var"), "loop_control.index_var")
    extended = to_bool(scope.template(task.loop_control.get("extended", False), "loop_control.extended"))
    all_items = to_bool(scope.template(task.loop_control.get("extended_allitems", True),
                                       "loop_control.extended_allitems"))
    layers: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        layer: dict[str, Any] = {loop_var: item, "ansible_loop_var": loop_var}
        if extended:  # as Ansible: without `extended`, ansible_loop is not defined
            layer["ansible_loop"] = extended_loop(items, index, all_items)
        if index_var:
            layer[str(index_var)] = index
            layer["ansible_index_var"] = str(index_var)
        layers.append(layer)
    return layers


def labelled(task: Task, scope: VarScope, status: Status,
             reg: dict[str, Any]) -> tuple[Status, dict[str, Any]]:
    """An item's result with ``loop_control.label`` templated after the item ran, the item's
    own result under the ``register`` name (ansible-core's _run_loop); undefined fails it."""
    if task.register:
        scope = scope.child({task.register: reg})
    try:
        return status, {**reg, "_ansible_item_label": scope.template(task.loop_control["label"],
                                                                      "loop_control.label")}
    except UndefinedVariableError as err:
        return "failed", {**reg, "failed": True,
                          "msg": f"Failed to template loop_control.label: {err.detail or err}"}


def loop_outcome(statuses: list[Status], results: list[dict[str, Any]]) -> tuple[Status, dict[str, Any]]:
    """A loop's result from its items' (at least one), as ansible-core builds it: failed
    if one failed, changed if one changed, skipped if all were; its message says which."""
    overall: Status
    if any(s == "failed" for s in statuses):
        overall = "failed"
    elif any(s == "changed" for s in statuses):
        overall = "changed"
    elif all(s == "skipped" for s in statuses):
        overall = "skipped"
    else:
        overall = "ok"
    msg = {"failed": "One or more items failed", "skipped": "All items skipped"}.get(overall,
                                                                                   "All items completed")
    registered: dict[str, Any] = {
        "results": results,
        "changed": overall == "changed",
        "failed": overall == "failed",
        "msg": msg,
        "skipped": overall == "skipped",  # present either way, as Ansible's loop result
    }
    return overall, registered


def extended_loop(items: list[Any], index: int, all_items: bool) -> dict[str, Any]:
    """``ansible_loop`` of ``loop_control: {extended: true}``: previtem/nextitem are left out
    at the ends (undefined there, as in Ansible), allitems unless ``extended_allitems`` is off."""
    count = len(items)
    loop: dict[str, Any] = {
        "index": index + 1, "index0": index, "revindex": count - index, "revindex0": count - index - 1,
        "first": index == 0, "last": index == count - 1, "length": count,
    }
    if all_items:
        loop["allitems"] = items
    if index > 0:
        loop["previtem"] = items[index - 1]
    if index < count - 1:
        loop["nextitem"] = items[index + 1]
    return loop
