"""CustomResourceDefinitions: what a CRD object means for the API server (pure functions).

Design: a CRD (apiextensions.k8s.io/v1) is turned into one `ResourceInfo` per served version,
whose ``custom`` field is a frozen `CustomVersion` carrying what the generic handlers need for
that version (the schema, printer columns, scale paths, the storage version, whether the CRD
is terminating, every version's compiled schema for defaulting on read, the conversion
webhook). The API server rebuilds its registry from these whenever a CRD changes.
This module also holds the CRD's own defaulting and validation (field paths and messages as
kube-apiserver's) and the status the server gives it on create and update: accepted names
and the NamesAccepted / Established conditions.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kprov.cluster.api.cel.estimated_cost import (
    STATIC_ESTIMATED_COST_LIMIT,
    STATIC_ESTIMATED_CRD_COST_LIMIT,
    cardinality_of_child,
    cost_error_message,
    estimated_cost,
)
from kprov.cluster.api.cel.typecheck import check_rule
from kprov.cluster.api.crd.cel import RuleError, compile_rules, self_type
from kprov.cluster.api.crd.structural import Node, compile_schema
from kprov.cluster.api.errors import Cause
from kprov.cluster.api.resources import ALL_VERBS, ResourceInfo, SubresourceInfo
from kprov.cluster.api.validation.field_errors import Errors
from kprov.cluster.api.validation.names import dns1035_label_errors

__all__ = [
    "CLEANUP_FINALIZER",
    "CustomVersion",
    "accepted_status",
    "condition",
    "default_crd",
    "infos_from_crd",
    "is_established",
    "set_condition",
    "validate_crd",
]

CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
_META_FIELDS = ("metadata.name", "metadata.namespace")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_VERSION = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@dataclass(frozen=True)
class CustomVersion:
    """One served version of a CRD, as the handlers see it."""

    crd_name: str
    version: str
    storage_version: str
    schema: Mapping[str, Any] | None = None
    printer_columns: tuple[Mapping[str, Any], ...] = ()
    scale: Mapping[str, Any] | None = None
    terminating: bool = False
    selectable_fields: tuple[str, ...] = field(default=())
    node: Node = field(default_factory=Node, compare=False, repr=False)  # the compiled schema
    # every version's compiled schema (served or not): objects read from storage are
    # defaulted by the schema of the version they are stored in
    nodes: Mapping[str, Node] = field(default_factory=dict, compare=False, repr=False)
    # spec.conversion.webhook when the strategy is Webhook (None: apiVersion is rewritten)
    webhook: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)

    @property
    def defaults_on_read(self) -> bool:
        """Whether an object read from storage can gain defaults."""
        return any(node.has_defaults for node in self.nodes.values())


def condition(crd: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    for cond in (crd.get("status") or {}).get("conditions") or []:
        if isinstance(cond, Mapping) and cond.get("type") == kind:
            return cond
    return None


def is_established(crd: Mapping[str, Any]) -> bool:
    found = condition(crd, "Established")
    return found is not None and found.get("status") == "True"


def set_condition(status: dict[str, Any], kind: str, value: str, reason: str, message: str, now: str) -> None:
    """Set one condition in ``status`` (its transition time changes only with its status)."""
    conditions = [c for c in status.get("conditions") or [] if isinstance(c, dict)]
    for cond in conditions:
        if cond.get("type") == kind:
            if cond.get("status") != value:
                cond["lastTransitionTime"] = now
            cond.update({"status": value, "reason": reason, "message": message})
            break
    else:
        conditions.append(
            {"type": kind, "status": value, "lastTransitionTime": now, "reason": reason, "message": message}
        )
    status["conditions"] = conditions


def _names(spec: Mapping[str, Any]) -> Mapping[str, Any]:
    names = spec.get("names")
    return names if isinstance(names, Mapping) else {}


def _schema_of(version: Mapping[str, Any]) -> Mapping[str, Any] | None:
    schema = (version.get("schema") or {}).get("openAPIV3Schema")
    return schema if isinstance(schema, Mapping) else None


def infos_from_crd(
    crd: Mapping[str, Any], compile: Callable[[Mapping[str, Any] | None], Node] = compile_schema
) -> tuple[ResourceInfo, ...]:
    """The resources an established CRD serves (one per served version); none otherwise.
    ``compile`` compiles a version's schema (a caller may remember compiled ones)."""
    if not is_established(crd):
        return ()
    spec = crd.get("spec") or {}
    names = (crd.get("status") or {}).get("acceptedNames") or _names(spec)
    group, plural, kind = str(spec.get("group", "")), str(names.get("plural", "")), str(names.get("kind", ""))
    if not (group and plural and kind):
        return ()
    versions = [v for v in spec.get("versions") or [] if isinstance(v, Mapping)]
    storage = next((str(v.get("name")) for v in versions if v.get("storage")), "")
    terminating = bool((crd.get("metadata") or {}).get("deletionTimestamp"))
    nodes = {str(v.get("name", "")): compile(_schema_of(v)) for v in versions}
    conversion = spec.get("conversion") or {}
    webhook = conversion.get("webhook") if conversion.get("strategy") == "Webhook" else None
    infos = []
    for version in versions:
        if not version.get("served"):
            continue
        name = str(version.get("name", ""))
        subs = version.get("subresources") or {}
        subresources: list[SubresourceInfo] = []
        if isinstance(subs, Mapping) and "status" in subs:
            subresources.append(SubresourceInfo("status", kind, group, name))
        scale = subs.get("scale") if isinstance(subs, Mapping) else None
        if isinstance(scale, Mapping):
            subresources.append(SubresourceInfo("scale", "Scale", "autoscaling", "v1"))
        selectable = tuple(
            str(f.get("jsonPath", "")).lstrip(".")
            for f in version.get("selectableFields") or []
            if isinstance(f, Mapping)
        )
        schema = _schema_of(version)
        custom = CustomVersion(
            crd_name=str((crd.get("metadata") or {}).get("name", "")),
            version=name,
            storage_version=storage,
            schema=schema,
            printer_columns=tuple(
                c for c in version.get("additionalPrinterColumns") or [] if isinstance(c, Mapping)
            ),
            scale=scale if isinstance(scale, Mapping) else None,
            terminating=terminating,
            selectable_fields=selectable,
            node=nodes[name],
            nodes=nodes,
            webhook=webhook if isinstance(webhook, Mapping) else None,
        )
        infos.append(
            ResourceInfo(
                group,
                name,
                plural,
                kind,
                str(names.get("singular") or kind.lower()),
                spec.get("scope") == "Namespaced",
                tuple(str(s) for s in names.get("shortNames") or ()),
                tuple(str(c) for c in names.get("categories") or ()),
                verbs=ALL_VERBS,
                subresources=tuple(subresources),
                list_kind=str(names.get("listKind") or kind + "List"),
                field_selectors=_META_FIELDS + selectable,
                custom=custom,
            )
        )
    return tuple(infos)


def default_crd(crd: dict[str, Any]) -> None:
    """The v1 defaults: singular and listKind from the kind, conversion None, a webhook
    service's port 443."""
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        return
    names = spec.get("names")
    if isinstance(names, dict) and names.get("kind"):
        if not names.get("singular"):
            names["singular"] = str(names["kind"]).lower()
        if not names.get("listKind"):
            names["listKind"] = f"{names['kind']}List"
    conversion = spec.get("conversion")
    if not isinstance(conversion, dict):
        spec["conversion"] = {"strategy": "None"}
    elif conversion.get("strategy") == "Webhook":
        review = conversion.setdefault("webhook", {})
        if isinstance(review, dict):
            config = review.get("clientConfig")
            if isinstance(config, dict) and isinstance(config.get("service"), dict):
                config["service"].setdefault("port", 443)


def _validate_names(errors: Errors, names: Mapping[str, Any], path: str) -> None:
    plural = names.get("plural")
    if not plural:
        errors.required(f"{path}.plural")
    for key in ("plural", "singular"):
        value = str(names.get(key) or "")
        if value and (errs := dns1035_label_errors(value)):
            errors.invalid(f"{path}.{key}", value, ",".join(errs))
    kind = names.get("kind")
    if not kind:
        errors.required(f"{path}.kind")
    for key in ("kind", "listKind"):  # mixed case allowed: checked in lower case
        value = str(names.get(key) or "")
        if value and (errs := dns1035_label_errors(value.lower())):
            errors.invalid(
                f"{path}.{key}", value, "may have mixed case, but should otherwise match: " + ",".join(errs)
            )
    for index, short in enumerate(names.get("shortNames") or []):
        if errs := dns1035_label_errors(str(short)):
            errors.invalid(f"{path}.shortNames[{index}]", short, ",".join(errs))
    list_kind = names.get("listKind")
    if kind and list_kind == kind:
        errors.invalid(f"{path}.listKind", list_kind, "kind and listKind may not be the same")
    for index, category in enumerate(names.get("categories") or []):
        if errs := dns1035_label_errors(str(category)):
            errors.invalid(f"{path}.categories[{index}]", category, ",".join(errs))


@dataclass
class _RuleCosts:
    """The estimated costs of a schema's rules (times their cardinality), for the CRD's total."""

    unchanged: frozenset[str] = frozenset()  # rules the old CRD has: not costed again, as upstream
    costs: list[tuple[int, str]] = field(default_factory=list)  # (cost, the rule's field path)

    def check(self, errors: Errors, rule: str, where: str, schema: Mapping[str, Any],
              cardinality: int | None) -> None:
        if rule in self.unchanged:
            return
        cost = estimated_cost(rule, schema, cardinality)
        if cost is None:
            return
        if cost > STATIC_ESTIMATED_COST_LIMIT:
            message = cost_error_message("estimated rule cost", cost, STATIC_ESTIMATED_COST_LIMIT)
            errors.forbidden(where, message)
        self.costs.append((cost, where))

    def check_total(self, errors: Errors, path: str) -> None:
        total = sum(cost for cost, _where in self.costs)
        if total <= STATIC_ESTIMATED_CRD_COST_LIMIT:
            return
        for _cost, where in sorted(self.costs, key=lambda c: -c[0])[:4]:
            errors.forbidden(where, "contributed to estimated rule cost total exceeding cost limit for "
                                    "entire OpenAPIv3 schema")
        errors.forbidden(path, cost_error_message(
            "x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema", total,
            STATIC_ESTIMATED_CRD_COST_LIMIT))


def _check_rules(errors: Errors, schema: Mapping[str, Any], path: str, costs: _RuleCosts,
                 root: bool = True, cardinality: int | None = 1) -> None:
    """Every x-kubernetes-validations rule in ``schema`` must compile, select only fields
    the schema has (the type check kube-apiserver runs on a CRD's rules), and stay within
    the estimated cost limits (``cardinality``: how many times the rules of this node may run)."""
    rules = schema.get("x-kubernetes-validations")
    if isinstance(rules, list):
        for index, rule in enumerate(rules):
            if not isinstance(rule, Mapping):
                continue
            where = f"{path}.x-kubernetes-validations[{index}].rule"
            try:
                compile_rules((rule,), self_type(schema))
            except RuleError as exc:
                errors.invalid(where, rule.get("rule"), str(exc))
                continue
            issues = check_rule(str(rule.get("rule") or ""), schema, root=root)
            if issues:
                errors.invalid(where, rule.get("rule"), f"compilation failed: {issues}")
                continue
            costs.check(errors, str(rule.get("rule") or ""), where, schema, cardinality)
    for key, child in (schema.get("properties") or {}).items():
        if isinstance(child, Mapping):
            _check_rules(errors, child, f"{path}.properties[{key}]", costs, False,
                         cardinality_of_child(cardinality, schema, child, through_entries=False))
    for key in ("items", "additionalProperties"):
        child = schema.get(key)
        if isinstance(child, Mapping):
            _check_rules(errors, child, f"{path}.{key}", costs, False,
                         cardinality_of_child(cardinality, schema, child, through_entries=True))


def _rules_in(schema: Any) -> set[str]:
    """Every rule text in a schema (the old CRD's, whose rules are not costed again)."""
    found: set[str] = set()
    if isinstance(schema, Mapping):
        for rule in schema.get("x-kubernetes-validations") or []:
            if isinstance(rule, Mapping) and isinstance(rule.get("rule"), str):
                found.add(rule["rule"])
        for child in (schema.get("properties") or {}).values():
            found |= _rules_in(child)
        for key in ("items", "additionalProperties"):
            found |= _rules_in(schema.get(key))
    return found


def validate_crd(crd: Mapping[str, Any], old: Mapping[str, Any] | None = None) -> list[Cause]:
    """Causes for an invalid CRD (create when ``old`` is None)."""
    errors = Errors()
    spec = crd.get("spec")
    if not isinstance(spec, Mapping):
        errors.required("spec")
        return errors.causes
    group = str(spec.get("group") or "")
    names = _names(spec)
    name = str((crd.get("metadata") or {}).get("name", ""))
    expected = f"{names.get('plural', '')}.{group}"
    if name != expected:
        errors.invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group')
    if not group:
        errors.required("spec.group")
    elif not _DNS1123_SUBDOMAIN.match(group) or "." not in group:
        errors.invalid("spec.group", group, "should be a domain with at least one dot")
    scope = spec.get("scope")
    if scope not in ("Namespaced", "Cluster"):
        if not scope:
            errors.required("spec.scope")
        else:
            errors.not_supported("spec.scope", scope, ("Cluster", "Namespaced"))
    _validate_names(errors, names, "spec.names")
    versions = spec.get("versions")
    if not isinstance(versions, list) or not versions:
        errors.invalid(
            "spec.versions", versions or "null", "must have exactly one version marked as storage version"
        )
        return errors.causes
    storage = 0
    seen: set[str] = set()
    old_rules: set[str] = set()  # an update's unchanged rules are not costed again
    for old_version in ((old or {}).get("spec") or {}).get("versions") or []:
        if isinstance(old_version, Mapping):
            old_rules |= _rules_in((old_version.get("schema") or {}).get("openAPIV3Schema"))
    for index, version in enumerate(versions):
        path = f"spec.versions[{index}]"
        if not isinstance(version, Mapping):
            errors.required(path)
            continue
        vname = str(version.get("name") or "")
        if not vname:
            errors.required(f"{path}.name")
        elif not _VERSION.match(vname):
            errors.invalid(
                f"{path}.name",
                vname,
                "a DNS-1035 label must consist of lower case alphanumeric characters or '-'",
            )
        elif vname in seen:
            errors.invalid("spec.versions", vname, "must contain unique version names")
        seen.add(vname)
        storage += bool(version.get("storage"))
        holder = version.get("schema")
        schema = holder.get("openAPIV3Schema") if isinstance(holder, Mapping) else None
        if isinstance(schema, Mapping):
            costs = _RuleCosts(frozenset(old_rules))
            _check_rules(errors, schema, f"{path}.schema.openAPIV3Schema", costs)
            costs.check_total(errors, f"{path}.schema.openAPIV3Schema")
        else:
            errors.required(f"{path}.schema.openAPIV3Schema", "schemas are required")
    if storage != 1:
        errors.invalid("spec.versions", "", "must have exactly one version marked as storage version")
    if not any(isinstance(v, Mapping) and v.get("served") for v in versions):
        errors.invalid("spec.versions", "", "must have at least one version marked as served")
    if old is not None:
        old_spec = old.get("spec") or {}
        if old_spec.get("group") != spec.get("group"):
            errors.invalid("spec.group", group, "field is immutable")
        if old_spec.get("scope") != scope:
            errors.invalid("spec.scope", scope, "field is immutable")
        if _names(old_spec).get("plural") != names.get("plural"):
            errors.invalid("spec.names.plural", names.get("plural"), "field is immutable")
    return errors.causes


def accepted_status(
    crd: Mapping[str, Any], taken: Mapping[str, str], now: str, old_status: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The status the server gives ``crd``: accepted names and the NamesAccepted /
    Established conditions. ``taken`` maps each plural, singular, short name and kind other
    CRDs of the same group have claimed (kinds as "kind:<Kind>") to that CRD's name."""
    spec = crd.get("spec") or {}
    names = dict(_names(spec))
    status: dict[str, Any] = {
        "conditions": [dict(c) for c in (old_status or {}).get("conditions") or [] if isinstance(c, Mapping)],
        "acceptedNames": {},
        "storedVersions": list((old_status or {}).get("storedVersions") or []),
    }
    conflict = ""
    reason = ""
    plural, singular, kind = names.get("plural"), names.get("singular"), names.get("kind")
    if plural in taken:
        conflict, reason = f'"{plural}" is already in use', "PluralConflict"
    elif singular and singular in taken:
        conflict, reason = f'"{singular}" is already in use', "SingularConflict"
    else:
        for short in names.get("shortNames") or []:
            if short in taken:
                conflict, reason = f'"{short}" is already in use', "ShortNamesConflict"
                break
        else:
            if f"kind:{kind}" in taken:
                conflict, reason = f'"{kind}" is already in use', "KindConflict"
    if conflict:
        set_condition(status, "NamesAccepted", "False", reason, conflict, now)
        if not is_established(crd):
            set_condition(status, "Established", "False", "NotAccepted", "not all names are accepted", now)
        status["acceptedNames"] = dict(
            (crd.get("status") or {}).get("acceptedNames") or {"plural": "", "kind": ""}
        )
    else:
        accepted = {
            k: names[k]
            for k in ("plural", "singular", "shortNames", "kind", "listKind", "categories")
            if names.get(k)
        }
        status["acceptedNames"] = accepted
        set_condition(status, "NamesAccepted", "True", "NoConflicts", "no conflicts found", now)
        set_condition(
            status, "Established", "True", "InitialNamesAccepted", "the initial names have been accepted", now
        )
    storage = next(
        (
            str(v.get("name"))
            for v in spec.get("versions") or []
            if isinstance(v, Mapping) and v.get("storage")
        ),
        "",
    )
    if storage and storage not in status["storedVersions"]:
        status["storedVersions"].append(storage)
    return status
