"""Which requests a policy's ``matchConstraints`` or a binding's ``matchResources`` select.

Design: pure functions over an :class:`Attributes` (the request as admission sees it) and
the namespace's labels, as upstream's policy matcher: a request matches when one of the
``resourceRules`` matches (operation, API group, version, ``resource`` or
``resource/subresource`` with ``*`` wildcards, scope, and ``resourceNames`` when given),
none of the ``excludeResourceRules`` does, the ``namespaceSelector`` matches the labels of
the request's namespace (cluster-scoped requests pass it; a Namespace is matched on its own
labels) and the ``objectSelector`` matches the new or the old object's labels. An absent
``matchResources`` (a binding without one) matches everything its policy matches.
A :class:`MatchMemo` remembers the outcomes of one match that has no selector and no
``resourceNames`` (the usual policy): those depend on the request's operation and resource
alone, so a request pays a dictionary lookup, not the rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kprov.cluster.api.selectors import selector_admits

__all__ = ["Attributes", "MatchMemo", "matches", "rule_matches"]

Obj = Mapping[str, Any]


@dataclass(frozen=True)
class Attributes:
    """One admission request: what is written (``obj``, ``old``) and where."""

    group: str
    version: str
    resource: str
    kind: str
    operation: str
    name: str
    namespace: str
    namespaced: bool
    subresource: str = ""
    obj: Obj | None = None
    old: Obj | None = None
    user: Mapping[str, Any] = field(default_factory=dict)
    dry_run: bool = False
    # the kind's group and version where they are not the resource's (a pod's Eviction)
    kind_group_version: tuple[str, str] | None = None


def rule_matches(rule: Obj, attrs: Attributes) -> bool:
    operations = rule.get("operations") or ()
    if "*" not in operations and attrs.operation not in operations:
        return False
    groups, versions = rule.get("apiGroups") or (), rule.get("apiVersions") or ()
    if "*" not in groups and attrs.group not in groups:
        return False
    if "*" not in versions and attrs.version not in versions:
        return False
    scope = rule.get("scope") or "*"
    if scope == "Namespaced" and not attrs.namespaced or scope == "Cluster" and attrs.namespaced:
        return False
    names = rule.get("resourceNames")
    if names and attrs.name not in names:
        return False
    for pattern in rule.get("resources") or ():
        head, _, sub = str(pattern).partition("/")
        if head not in ("*", attrs.resource):
            continue
        if (not sub and not attrs.subresource) or sub == "*" or (sub and sub == attrs.subresource):
            return True
    return False


def _labels(obj: Obj | None) -> Mapping[str, str]:
    return ((obj or {}).get("metadata") or {}).get("labels") or {}


def matches(match: Obj | None, attrs: Attributes, namespace_labels: Mapping[str, str] | None) -> bool:
    """Whether ``match`` (MatchResources; None: everything) selects the request;
    ``namespace_labels`` are the request namespace's (None for cluster-scoped requests)."""
    if match is None:
        return True
    rules = match.get("resourceRules")
    if rules and not any(isinstance(r, Mapping) and rule_matches(r, attrs) for r in rules):
        return False
    if any(
        isinstance(r, Mapping) and rule_matches(r, attrs) for r in match.get("excludeResourceRules") or ()
    ):
        return False
    if (attrs.group, attrs.resource) == ("", "namespaces"):
        namespace_labels = _labels(attrs.obj or attrs.old)
    if namespace_labels is not None and not selector_admits(
        match.get("namespaceSelector"), namespace_labels
    ):
        return False
    selector = match.get("objectSelector")
    if selector:
        present = [o for o in (attrs.obj, attrs.old) if o]
        return (
            any(selector_admits(selector, _labels(o)) for o in present)
            if present
            else selector_admits(selector, {})
        )
    return True


_Shape = tuple[str, str, str, str, str, bool]


class MatchMemo:
    """:func:`matches` for one ``match``, its outcome remembered per kind of request when it
    depends on nothing else (no selectors, no ``resourceNames``)."""

    def __init__(self, match: Obj | None) -> None:
        self.match = match
        self.by_shape = _shape_only(match)  # the outcome depends on the kind of request alone
        self._outcomes: dict[_Shape, bool] | None = {} if self.by_shape else None

    def matches(self, attrs: Attributes, namespace_labels: Mapping[str, str] | None) -> bool:
        outcomes = self._outcomes
        if outcomes is None:
            return matches(self.match, attrs, namespace_labels)
        shape = (
            attrs.operation, attrs.group, attrs.version, attrs.resource, attrs.subresource, attrs.namespaced
        )
        found = outcomes.get(shape)
        if found is None:
            if len(outcomes) > 1000:
                outcomes.clear()
            found = outcomes[shape] = matches(self.match, attrs, namespace_labels)
        return found


def _shape_only(match: Obj | None) -> bool:
    if match is None:
        return True
    if match.get("namespaceSelector") or match.get("objectSelector"):
        return False
    rules = [*(match.get("resourceRules") or ()), *(match.get("excludeResourceRules") or ())]
    return all(isinstance(r, Mapping) and not r.get("resourceNames") for r in rules)
