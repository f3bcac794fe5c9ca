"""Classifying a request into a FlowSchema, its PriorityLevelConfiguration and a flow.

The FlowSchemas are tried by ascending ``matchingPrecedence`` then name; the first whose rules
match the request (a subject matching the user, and a resource rule for a resource request or
a non-resource rule otherwise) and whose priority level exists wins, as upstream; a request no
schema takes goes to ``catch-all``. The flow is the schema's name plus the distinguisher (the
user's name for ``ByUser``, the namespace for ``ByNamespace``). The compiled table is rebuilt
only when the watch cache hands over different objects, and what a request was classified as
is remembered per (user, groups, verb, group, resource, subresource, namespace) — or the
path for a non-resource request — until the table changes: a scan of a dozen schemas (all of them
for a user's request falling through to ``global-default``) costs many times the memo's one lookup
(docs/decisions/0029).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kprov.cluster.apiserver.identity import UserInfo
from kprov.cluster.apiserver.request.requestinfo import RequestInfo

__all__ = [
    "Classification", "Classifier", "Level", "Schema", "compile_schemas", "request_key", "rule_matches",
]

_SA_PREFIX = "system:serviceaccount:"
_MEMO_MAX = 4096  # distinct request shapes remembered (then forgotten at once, and relearnt)


@dataclass(frozen=True)
class Level:
    """A PriorityLevelConfiguration as the dispatcher needs it."""

    name: str
    uid: str
    exempt: bool
    shares: int
    queues: int  # 0: Reject when no seat is free
    hand_size: int
    queue_length_limit: int


@dataclass(frozen=True)
class Schema:
    name: str
    uid: str
    precedence: int
    level_name: str
    distinguisher: str  # "", "ByUser" or "ByNamespace"
    rules: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class Classification:
    schema: Schema
    level: Level
    flow: str  # the schema's name and the distinguisher's value


def _level_of(obj: Mapping[str, Any]) -> Level:
    meta, spec = obj.get("metadata") or {}, obj.get("spec") or {}
    name, uid = str(meta.get("name", "")), str(meta.get("uid", ""))
    if spec.get("type") == "Exempt":
        shares = int((spec.get("exempt") or {}).get("nominalConcurrencyShares") or 0)
        return Level(name, uid, True, shares, 0, 0, 0)
    limited = spec.get("limited") or {}
    queuing = (limited.get("limitResponse") or {}).get("queuing") or {}
    return Level(
        name,
        uid,
        False,
        int(limited.get("nominalConcurrencyShares") or 0),
        int(queuing.get("queues") or 0),
        int(queuing.get("handSize") or 0),
        int(queuing.get("queueLengthLimit") or 0),
    )


def _schema_of(obj: Mapping[str, Any]) -> Schema:
    meta, spec = obj.get("metadata") or {}, obj.get("spec") or {}
    return Schema(
        str(meta.get("name", "")),
        str(meta.get("uid", "")),
        int(spec.get("matchingPrecedence") or 0),
        str((spec.get("priorityLevelConfiguration") or {}).get("name", "")),
        str((spec.get("distinguisherMethod") or {}).get("type") or ""),
        tuple(spec.get("rules") or ()),
    )


def compile_schemas(
    schemas: Sequence[Mapping[str, Any]], levels: Sequence[Mapping[str, Any]]
) -> tuple[tuple[tuple[Schema, Level], ...], dict[str, Level]]:
    """The schemas whose level exists, in matching order, each with its level; and every
    level by name."""
    by_name = {level.name: level for level in map(_level_of, levels)}
    ordered = sorted(map(_schema_of, schemas), key=lambda s: (s.precedence, s.name))
    return tuple((s, by_name[s.level_name]) for s in ordered if s.level_name in by_name), by_name


def _subject_matches(subject: Mapping[str, Any], user: UserInfo) -> bool:
    kind = subject.get("kind")
    if kind == "User":
        name = (subject.get("user") or {}).get("name")
        return name == "*" or name == user.name
    if kind == "Group":
        name = (subject.get("group") or {}).get("name")
        return name == "*" or name in user.groups
    if kind == "ServiceAccount":
        sa = subject.get("serviceAccount") or {}
        if not user.name.startswith(_SA_PREFIX):
            return False
        namespace, _, name = user.name[len(_SA_PREFIX) :].partition(":")
        return namespace == sa.get("namespace") and (sa.get("name") == "*" or sa.get("name") == name)
    return False


def _has(values: Any, value: str) -> bool:
    return bool(values) and (value in values or "*" in values)


def _resource_rule_matches(rule: Mapping[str, Any], ri: RequestInfo) -> bool:
    if not _has(rule.get("verbs"), ri.verb) or not _has(rule.get("apiGroups"), ri.group):
        return False
    resource = f"{ri.resource}/{ri.subresource}" if ri.subresource else ri.resource
    if not _has(rule.get("resources"), resource):
        return False
    if not ri.namespace:
        return bool(rule.get("clusterScope"))
    return _has(rule.get("namespaces"), ri.namespace)


def _url_matches(patterns: Any, path: str) -> bool:
    for pattern in patterns or ():
        if pattern == "*" or pattern == path:
            return True
        if pattern.endswith("*"):
            prefix = pattern[:-1]
            if not prefix.endswith("/"):
                prefix += "/"
            if path.startswith(prefix):
                return True
    return False


def rule_matches(
    rule: Mapping[str, Any], user: UserInfo, ri: RequestInfo | None, verb: str, path: str
) -> bool:
    """One PolicyRulesWithSubjects against a request (``verb``/``path`` for non-resource ones)."""
    if not any(_subject_matches(s, user) for s in rule.get("subjects") or ()):
        return False
    if ri is not None:
        return any(_resource_rule_matches(r, ri) for r in rule.get("resourceRules") or ())
    return any(
        _has(r.get("verbs"), verb) and _url_matches(r.get("nonResourceURLs"), path)
        for r in rule.get("nonResourceRules") or ()
    )


def request_key(user: UserInfo, ri: RequestInfo | None, method: str, path: str) -> tuple[Any, ...]:
    """What rules and distinguishers read of a request, and nothing else: requests with the
    same key are classified alike."""
    if ri is not None:
        return (user.name, user.groups, ri.verb, ri.group, ri.resource, ri.subresource, ri.namespace)
    return (user.name, user.groups, method, path)


class Classifier:
    """Classifies requests against the current objects (given per call, from the watch cache)."""

    def __init__(self) -> None:
        self._source: tuple[int, ...] = ()
        self._kept: tuple[Any, ...] = ()  # the source objects, so their ids stay theirs
        self._table: tuple[tuple[Schema, Level], ...] = ()
        self._levels: dict[str, Level] = {}
        self._memo: dict[tuple[Any, ...], Classification | None] = {}

    def refresh(self, schemas: Sequence[Mapping[str, Any]], levels: Sequence[Mapping[str, Any]]) -> None:
        source = tuple(map(id, schemas)) + (-1,) + tuple(map(id, levels))
        if source != self._source:
            self._table, self._levels = compile_schemas(schemas, levels)
            self._source, self._kept = source, (tuple(schemas), tuple(levels))
            self._memo = {}

    @property
    def levels(self) -> Mapping[str, Level]:
        return self._levels

    @property
    def table(self) -> tuple[tuple[Schema, Level], ...]:
        """The compiled schemas (a new object whenever the objects changed)."""
        return self._table

    def classify(
        self, user: UserInfo, ri: RequestInfo | None, method: str, path: str
    ) -> Classification | None:
        """None only while the bootstrap objects do not exist yet (then nothing is limited)."""
        key = request_key(user, ri, method, path)
        try:
            return self._memo[key]
        except KeyError:
            pass
        if len(self._memo) >= _MEMO_MAX:
            self._memo = {}
        found = self._memo[key] = self._scan(user, ri, method.lower(), path)
        return found

    def _scan(self, user: UserInfo, ri: RequestInfo | None, verb: str, path: str) -> Classification | None:
        for schema, level in self._table:
            for rule in schema.rules:
                if rule_matches(rule, user, ri, verb, path):
                    return Classification(schema, level, _flow(schema, user, ri))
        for schema, level in self._table:
            if schema.name == "catch-all":
                return Classification(schema, level, _flow(schema, user, ri))
        return None


def _flow(schema: Schema, user: UserInfo, ri: RequestInfo | None) -> str:
    if schema.distinguisher == "ByUser":
        return f"{schema.name}\x00{user.name}"
    if schema.distinguisher == "ByNamespace":
        return f"{schema.name}\x00{ri.namespace if ri is not None else ''}"
    return schema.name
