"""Deployment scaling events: how a Deployment's ReplicaSets share a change of ``replicas``.

Design: pure functions over ReplicaSet dicts, used by the deployment controller before it
rolls anything. A *scaling event* is an active set (``spec.replicas`` > 0) whose
``deployment.kubernetes.io/desired-replicas`` annotation differs from the Deployment's
``replicas``. Then, as upstream's deployment controller does:

- one active set (or none: the newest) takes the whole new count;
- a saturated new set (all replicas wanted and available) leaves nothing to the old ones;
- otherwise, with RollingUpdate, the change between what the sets hold and the new
  ``replicas + maxSurge`` is spread in proportion to each set's share of the size it was
  given (its ``max-replicas`` annotation), larger sets first (ties: the newer first when
  growing, the older first when shrinking); what rounding leaves over goes to the first.
"""

from __future__ import annotations

import math

from kprov.cluster.controllers.base import Obj
from kprov.cluster.controllers.workloads.rollout import resolve_surge_unavailable

__all__ = [
    "DESIRED",
    "MAX",
    "active_or_latest",
    "is_saturated",
    "is_scaling_event",
    "proportional_sizes",
]

DESIRED = "deployment.kubernetes.io/desired-replicas"
MAX = "deployment.kubernetes.io/max-replicas"


def _replicas(obj: Obj | None) -> int:
    return int(((obj or {}).get("spec") or {}).get("replicas") or 0)


def _annotation(rs: Obj, name: str) -> int | None:
    value = ((rs.get("metadata") or {}).get("annotations") or {}).get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _wanted(d: Obj) -> int:
    value = (d.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def _surge(d: Obj) -> int:
    strategy = (d.get("spec") or {}).get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return 0
    return resolve_surge_unavailable(strategy, _wanted(d))[0]


def is_scaling_event(d: Obj, sets: list[Obj]) -> bool:
    wanted = _wanted(d)
    for rs in sets:
        if _replicas(rs) <= 0:
            continue
        desired = _annotation(rs, DESIRED)
        if desired is not None and desired != wanted:
            return True
    return False


def _created(rs: Obj) -> str:
    return str((rs.get("metadata") or {}).get("creationTimestamp") or "")


def active_or_latest(new: Obj | None, old: list[Obj]) -> Obj | None:
    """The only set with replicas, or the newest when none has any; None when several do."""
    sets = [rs for rs in [new, *old] if rs is not None]
    active = [rs for rs in sets if _replicas(rs) > 0]
    if len(active) == 1:
        return active[0]
    if active:
        return None
    if new is not None:
        return new
    return max(sets, key=lambda rs: (_created(rs), rs["metadata"].get("name", "")), default=None)


def is_saturated(d: Obj, rs: Obj | None) -> bool:
    if rs is None:
        return False
    wanted = _wanted(d)
    available = int((rs.get("status") or {}).get("availableReplicas") or 0)
    return _replicas(rs) == wanted and _annotation(rs, DESIRED) == wanted and available == wanted


def _round(value: float) -> int:
    """Half away from zero, as Go's math.Round."""
    return int(math.floor(value + 0.5)) if value >= 0 else -int(math.floor(-value + 0.5))


def _fraction(rs: Obj, d: Obj) -> int:
    wanted = _wanted(d)
    if wanted == 0:
        return -_replicas(rs)
    target = wanted + _surge(d)
    annotated = _annotation(rs, MAX)
    if annotated is None:
        annotated = int((d.get("status") or {}).get("replicas") or 0)
    if annotated <= 0:
        return 0
    return _round(_replicas(rs) * target / annotated) - _replicas(rs)


def _proportion(rs: Obj, d: Obj, to_add: int, added: int) -> int:
    if _replicas(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    share = _fraction(rs, d)
    allowed = to_add - added
    return min(share, allowed) if to_add > 0 else max(share, allowed)


def proportional_sizes(d: Obj, new: Obj | None, old: list[Obj]) -> list[tuple[Obj, int]]:
    """(set, new size) for every active set of a RollingUpdate Deployment being scaled."""
    active = [rs for rs in [*old, new] if rs is not None and _replicas(rs) > 0]
    held = sum(_replicas(rs) for rs in active)
    wanted = _wanted(d)
    allowed = wanted + _surge(d) if wanted > 0 else 0
    to_add = allowed - held
    if to_add > 0:  # larger first; ties: newer first
        active.sort(key=lambda rs: (-_replicas(rs), _negated(_created(rs)), rs["metadata"].get("name", "")))
    elif to_add < 0:  # larger first; ties: older first
        active.sort(key=lambda rs: (-_replicas(rs), _created(rs), rs["metadata"].get("name", "")))
    added = 0
    sizes: list[tuple[Obj, int]] = []
    for rs in active:
        step = _proportion(rs, d, to_add, added) if to_add else 0
        added += step
        sizes.append((rs, _replicas(rs) + step))
    if sizes and to_add:
        first, size = sizes[0]
        sizes[0] = (first, max(0, size + to_add - added))
    return sizes


def _negated(stamp: str) -> tuple[int, ...]:
    """A key that sorts RFC 3339 stamps newest first."""
    return tuple(-ord(ch) for ch in stamp)
