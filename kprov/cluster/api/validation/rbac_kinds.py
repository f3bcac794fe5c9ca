"""RBAC objects (Role, ClusterRole, RoleBinding, ClusterRoleBinding): defaults and validation.

As rbac.authorization.k8s.io/v1 does: names are path segments (``system:controller:x`` is
fine; ``.``, ``..``, ``/`` and ``%`` are not), a binding's ``roleRef.apiGroup`` and its User /
Group subjects' ``apiGroup`` default to ``rbac.authorization.k8s.io``. Validation messages and
field paths are upstream's (``rules[0].verbs: Required value: verbs must contain at least one
value``, ``roleRef: Invalid value: ...: cannot change roleRef``).
"""

from __future__ import annotations

from typing import Any

from kprov.cluster.api.errors import Cause
from kprov.cluster.api.validation.field_errors import Errors
from kprov.cluster.api.validation.names import dns1123_subdomain_errors

__all__ = ["RBAC_GROUP", "default_binding", "path_segment_errors", "validate_binding", "validate_role"]

RBAC_GROUP = "rbac.authorization.k8s.io"


def path_segment_errors(name: str) -> list[str]:
    for bad in (".", ".."):
        if name == bad:
            return [f"may not be '{bad}'"]
    return [f"may not contain '{bad}'" for bad in ("/", "%") if bad in name]


def default_binding(obj: dict[str, Any]) -> None:
    ref = obj.get("roleRef")
    if isinstance(ref, dict) and not ref.get("apiGroup"):
        ref["apiGroup"] = RBAC_GROUP
    for subject in obj.get("subjects") or []:
        if isinstance(subject, dict) and not subject.get("apiGroup"):
            if subject.get("kind") in ("User", "Group"):
                subject["apiGroup"] = RBAC_GROUP
            elif subject.get("kind") == "ServiceAccount":
                subject["apiGroup"] = ""


def _rule(errors: Errors, rule: Any, path: str, namespaced: bool) -> None:
    if not isinstance(rule, dict):
        errors.invalid(path, rule, "must be an object")
        return
    if not rule.get("verbs"):
        errors.required(f"{path}.verbs", "verbs must contain at least one value")
    urls = rule.get("nonResourceURLs") or []
    if urls:
        if namespaced:
            errors.invalid(
                f"{path}.nonResourceURLs", urls, "namespaced rules cannot apply to non-resource URLs"
            )
        if rule.get("apiGroups") or rule.get("resources") or rule.get("resourceNames"):
            errors.invalid(
                f"{path}.nonResourceURLs",
                urls,
                "rules cannot apply to both regular resources and non-resource URLs",
            )
        return
    if not rule.get("apiGroups"):
        errors.required(f"{path}.apiGroups", "resource rules must supply at least one api group")
    if not rule.get("resources"):
        errors.required(f"{path}.resources", "resource rules must supply at least one resource")


def validate_role(errors: Errors, obj: dict[str, Any], namespaced: bool) -> None:
    for index, rule in enumerate(obj.get("rules") or []):
        _rule(errors, rule, f"rules[{index}]", namespaced)
    aggregation = obj.get("aggregationRule")
    if not namespaced and aggregation is not None and not (aggregation or {}).get("clusterRoleSelectors"):
        errors.required(
            "aggregationRule.clusterRoleSelectors",
            "at least one clusterRoleSelector required if aggregationRule is non-nil",
        )


def _go_role_ref(ref: dict[str, Any]) -> str:
    return (
        f'rbac.RoleRef{{APIGroup:"{ref.get("apiGroup", "")}", Kind:"{ref.get("kind", "")}", '
        f'Name:"{ref.get("name", "")}"}}'
    )


def validate_binding(
    errors: Errors, obj: dict[str, Any], old: dict[str, Any] | None, namespaced: bool
) -> None:
    ref = obj.get("roleRef") if isinstance(obj.get("roleRef"), dict) else {}
    assert isinstance(ref, dict)
    if ref.get("apiGroup") != RBAC_GROUP:
        errors.not_supported("roleRef.apiGroup", ref.get("apiGroup", ""), [RBAC_GROUP])
    kinds = ["Role", "ClusterRole"] if namespaced else ["ClusterRole"]
    if ref.get("kind") not in kinds:
        errors.not_supported("roleRef.kind", ref.get("kind", ""), kinds)
    name = ref.get("name")
    if not name:
        errors.required("roleRef.name")
    else:
        errors.each("roleRef.name", name, path_segment_errors(str(name)))
    for index, subject in enumerate(obj.get("subjects") or []):
        _subject(errors, subject if isinstance(subject, dict) else {}, f"subjects[{index}]", namespaced)
    if old is not None and (old.get("roleRef") or {}) != ref:
        errors.causes.append(
            Cause(
                "roleRef", "FieldValueInvalid", f"Invalid value: {_go_role_ref(ref)}: cannot change roleRef"
            )
        )


def _subject(errors: Errors, subject: dict[str, Any], path: str, namespaced: bool) -> None:
    name = subject.get("name")
    if not name:
        errors.required(f"{path}.name")
    kind = subject.get("kind")
    group = subject.get("apiGroup", "")
    if kind == "ServiceAccount":
        if name:
            errors.each(f"{path}.name", name, dns1123_subdomain_errors(str(name)))
        if group != "":
            errors.not_supported(f"{path}.apiGroup", group, [""])
        if not namespaced and not subject.get("namespace"):
            errors.required(f"{path}.namespace")
    elif kind in ("User", "Group"):
        if group != RBAC_GROUP:
            errors.not_supported(f"{path}.apiGroup", group, [RBAC_GROUP])
    else:
        errors.not_supported(f"{path}.kind", kind or "", ["ServiceAccount", "User", "Group"])
