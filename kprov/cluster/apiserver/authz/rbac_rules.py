"""PolicyRule logic: whether a rule allows a request, whether rules cover other rules.

A :class:`Rule` is a PolicyRule compiled once into frozensets (the authorizer checks a handful
of them per request). Matching is upstream's RBAC: a verb, API group and resource match when
listed or ``*``; a subresource request ``pods/log`` matches ``pods/log``, ``*/log`` or ``*``;
``resourceNames`` (when given) must hold the name; a non-resource URL matches itself, a
``prefix*`` entry or ``*``.

Coverage (escalation prevention, :func:`missing`): every rule to be granted is broken into
single (verb, group, resource, name) grants, and each must be covered by one rule the granting
user holds. What is missing is compacted back (verbs merged) and printed as upstream's
``{APIGroups:[""], Resources:["pods"], Verbs:["get" "list"]}``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from kprov.cluster.apiserver.request.requestinfo import RequestInfo

__all__ = ["Rule", "allows", "compact_string", "compile_rules", "missing"]


@dataclass(frozen=True)
class Rule:
    verbs: frozenset[str]
    groups: frozenset[str]
    resources: frozenset[str]
    names: frozenset[str]
    urls: tuple[str, ...]

    @classmethod
    def of(cls, rule: dict[str, Any]) -> Rule:
        return cls(
            frozenset(rule.get("verbs") or ()),
            frozenset(rule.get("apiGroups") or ()),
            frozenset(rule.get("resources") or ()),
            frozenset(rule.get("resourceNames") or ()),
            tuple(rule.get("nonResourceURLs") or ()),
        )

    def allows(self, ri: RequestInfo) -> bool:
        verbs = self.verbs
        if ri.verb not in verbs and "*" not in verbs:
            return False
        groups = self.groups
        if ri.group not in groups and "*" not in groups:
            return False
        resources = self.resources
        if ri.subresource:
            if (
                f"{ri.resource}/{ri.subresource}" not in resources
                and "*" not in resources
                and f"*/{ri.subresource}" not in resources
            ):
                return False
        elif ri.resource not in resources and "*" not in resources:
            return False
        return not self.names or ri.name in self.names

    def allows_url(self, verb: str, path: str) -> bool:
        if verb not in self.verbs and "*" not in self.verbs:
            return False
        return any(_url_matches(url, path) for url in self.urls)


def _url_matches(pattern: str, path: str) -> bool:
    if pattern == "*" or pattern == path:
        return True
    return pattern.endswith("*") and path.startswith(pattern[:-1])


def compile_rules(rules: Iterable[Any]) -> tuple[Rule, ...]:
    return tuple(Rule.of(r) for r in rules if isinstance(r, dict))


def allows(rules: Iterable[Rule], ri: RequestInfo) -> bool:
    return any(rule.allows(ri) for rule in rules)


# -- coverage ---------------------------------------------------------------------------------
_Grant = tuple[str, str, str, str, str]  # (verb, group, resource, name, url)


def _breakdown(rule: Rule) -> list[_Grant]:
    grants: list[_Grant] = []
    for verb in sorted(rule.verbs):
        if rule.urls:
            grants.extend((verb, "", "", "", url) for url in rule.urls)
            continue
        for group in sorted(rule.groups):
            for resource in sorted(rule.resources):
                if rule.names:
                    grants.extend((verb, group, resource, name, "") for name in sorted(rule.names))
                else:
                    grants.append((verb, group, resource, "", ""))
    return grants


def _resource_covers(owned: frozenset[str], resource: str) -> bool:
    if "*" in owned or resource in owned:
        return True
    if "/" in resource:
        base, sub = resource.split("/", 1)
        return f"*/{sub}" in owned or f"{base}/*" in owned
    return False


def _covers(rule: Rule, grant: _Grant) -> bool:
    verb, group, resource, name, url = grant
    if verb not in rule.verbs and "*" not in rule.verbs:
        return False
    if url:
        return any(_url_matches(owned, url) or owned == url for owned in rule.urls)
    if rule.urls and not rule.groups:
        return False
    if group not in rule.groups and "*" not in rule.groups:
        return False
    if not _resource_covers(rule.resources, resource):
        return False
    if not rule.names:
        return True
    return bool(name) and name in rule.names


def missing(owned: Sequence[Rule], wanted: Iterable[Rule]) -> list[str]:
    """Descriptions of what ``wanted`` grants beyond ``owned`` (empty: fully covered)."""
    gaps: dict[tuple[str, str, str, str], list[str]] = {}
    for rule in wanted:
        for grant in _breakdown(rule):
            if not any(_covers(own, grant) for own in owned):
                verb, group, resource, name, url = grant
                gaps.setdefault((group, resource, name, url), []).append(verb)
    return sorted(
        compact_string(
            [group] if not url else [],
            [resource] if resource else [],
            [name] if name else [],
            [url] if url else [],
            verbs,
        )
        for (group, resource, name, url), verbs in gaps.items()
    )


def _go_list(values: Sequence[str]) -> str:
    return "[" + " ".join(f'"{v}"' for v in values) + "]"


def compact_string(
    groups: Sequence[str],
    resources: Sequence[str],
    names: Sequence[str],
    urls: Sequence[str],
    verbs: Sequence[str],
) -> str:
    """A PolicyRule the way upstream's CompactString prints it (empty fields left out)."""
    parts = []
    if groups:
        parts.append(f"APIGroups:{_go_list(groups)}")
    if resources:
        parts.append(f"Resources:{_go_list(resources)}")
    if names:
        parts.append(f"ResourceNames:{_go_list(names)}")
    if urls:
        parts.append(f"NonResourceURLs:{_go_list(urls)}")
    if verbs:
        parts.append(f"Verbs:{_go_list(verbs)}")
    return "{" + ", ".join(parts) + "}"
