"""The status bodies kprov-ingress writes for the Gateway API (pure).

Each takes the object as stored and what :mod:`.routing` computed, and returns the
``status`` to write, or None when the stored one already says the same (every instance
computes the same value, so only the first to see a change writes). lastTransitionTime is
kept while a condition's status stays the same. An HTTPRoute's ``status.parents`` keeps the
entries other controllers wrote; ours are replaced as a whole.
"""

from __future__ import annotations

from typing import Any

from kprov.cluster.ingress.gateway.routing import merge_conditions

__all__ = ["class_status", "gateway_status", "route_status"]

Obj = dict[str, Any]


def _stored(obj: Obj) -> Obj:
    return obj.get("status") or {}


def class_status(gateway_class: Obj, conditions: list[Obj], now: str) -> Obj | None:
    old = _stored(gateway_class).get("conditions") or []
    merged = merge_conditions(old, conditions, now)
    return None if merged == old else {"conditions": merged}


def gateway_status(gateway: Obj, computed: Obj, now: str) -> Obj | None:
    old = _stored(gateway)
    old_listeners = {entry.get("name"): entry for entry in old.get("listeners") or []}
    listeners = []
    for entry in computed["listeners"]:
        prior = (old_listeners.get(entry["name"]) or {}).get("conditions") or []
        listeners.append({**entry, "conditions": merge_conditions(prior, entry["conditions"], now)})
    want = {
        "addresses": computed["addresses"],
        "conditions": merge_conditions(old.get("conditions") or [], computed["conditions"], now),
        "listeners": listeners,
    }
    have = {key: old.get(key) or [] for key in want}
    return None if have == want else want


def route_status(route: Obj, ours: list[Obj], controller_name: str, now: str) -> Obj | None:
    old = _stored(route).get("parents") or []
    others = [p for p in old if p.get("controllerName") != controller_name]
    prior = {repr(sorted((p.get("parentRef") or {}).items())): p for p in old
             if p.get("controllerName") == controller_name}
    parents = []
    for entry in ours:
        before = prior.get(repr(sorted(entry["parentRef"].items()))) or {}
        parents.append({**entry, "conditions": merge_conditions(before.get("conditions") or [],
                                                                entry["conditions"], now)})
    want = others + parents
    return None if want == old else {"parents": want}
