"""Table printers for ValidatingAdmissionPolicies and their Bindings (columns as upstream's:
a policy's validation count and ``apiVersion/Kind`` of its params; a binding's policy and
param reference, ``namespace/name``, ``*/name`` for the request's namespace, or the
selector)."""

from __future__ import annotations

from typing import Any

from kprov.cluster.api.printers.columns import AGE, NAME, Age, Column, Printer, created, name_of
from kprov.cluster.api.selectors import SelectorError, label_selector_from_object

__all__ = ["VALIDATINGADMISSIONPOLICY", "VALIDATINGADMISSIONPOLICYBINDING"]

_UNSET = "<unset>"


def _policy_row(obj: dict[str, Any], age: Age) -> list[Any]:
    spec = obj.get("spec") or {}
    kind = spec.get("paramKind")
    param_kind = f"{kind.get('apiVersion', '')}/{kind.get('kind', '')}" if isinstance(kind, dict) else _UNSET
    return [name_of(obj), len(spec.get("validations") or []), param_kind, created(obj, age)]


def _param_ref(ref: Any) -> str:
    if not isinstance(ref, dict):
        return _UNSET
    if ref.get("name"):
        return f"{ref.get('namespace') or '*'}/{ref['name']}"
    if ref.get("selector") is not None:
        try:
            return str(label_selector_from_object(ref["selector"])) or _UNSET
        except (SelectorError, ValueError):
            return _UNSET
    return _UNSET


def _binding_row(obj: dict[str, Any], age: Age) -> list[Any]:
    spec = obj.get("spec") or {}
    return [name_of(obj), spec.get("policyName", ""), _param_ref(spec.get("paramRef")), created(obj, age)]


VALIDATINGADMISSIONPOLICY = Printer(
    (
        NAME,
        Column(
            "Validations",
            "integer",
            "Validations indicates the number of validation rules defined in this configuration",
        ),
        Column(
            "ParamKind",
            description="ParamKind specifies the kind of resources used to parameterize this policy",
        ),
        AGE,
    ),
    _policy_row,
)
VALIDATINGADMISSIONPOLICYBINDING = Printer(
    (
        NAME,
        Column(
            "PolicyName",
            description="PolicyName indicates the policy definition which the policy binding binded to",
        ),
        Column(
            "ParamRef", description="ParamRef indicates the param resource which sets the configration param"
        ),
        AGE,
    ),
    _binding_row,
)
