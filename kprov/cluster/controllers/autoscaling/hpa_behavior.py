"""The HPA's normalization of a proposal: stabilization windows and scaling rules, pure.

Design: as upstream's horizontal controller, in two flavours that share the same outputs
(the replica count plus the AbleToScale and ScalingLimited reasons and messages):

- ``normalize_default`` (an HPA without ``spec.behavior``): the highest recommendation of
  the downscale stabilization window (the controller manager's flag, 5 min by default), then
  minReplicas .. min(maxReplicas, max(2 x current, 4)).
- ``normalize_with_behavior``: per direction a stabilization window - a scale-up takes the
  lowest recommendation of the scaleUp window, a scale-down the highest of the scaleDown one
  - then the policies: each proposes the count allowed from the replicas the target had at
  the start of its period (``Pods``: +/- value; ``Percent``: x (1 +/- value/100), rounded
  up going up and down going down) and ``selectPolicy`` picks the largest change (``Max``),
  the smallest (``Min``), or none (``Disabled``); then min/maxReplicas.

The history (recommendations and scale events with their monotonic times) is the caller's:
the functions take it and return what to keep, so the unit tests drive time by hand.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Normalized",
    "Recommendation",
    "ScaleEvent",
    "normalize_default",
    "normalize_with_behavior",
    "record_scale_event",
]

SCALE_UP_FACTOR, SCALE_UP_MINIMUM = 2, 4
_WITHIN = ("DesiredWithinRange", "the desired count is within the acceptable range")
_READY = ("ReadyForNewScale", "recommended size matches current size")
_UP_STABILIZED = (
    "ScaleUpStabilized",
    "recent recommendations were lower than current one, applying the lowest recent recommendation",
)
_DOWN_STABILIZED = (
    "ScaleDownStabilized",
    "recent recommendations were higher than current one, applying the highest recent recommendation",
)


@dataclass(frozen=True)
class Recommendation:
    at: float  # seconds, monotonic
    replicas: int


@dataclass(frozen=True)
class ScaleEvent:
    at: float
    change: int  # replicas added (scale-up events) or removed (scale-down events), positive


@dataclass(frozen=True)
class Normalized:
    replicas: int
    able_reason: str  # AbleToScale (True) reason and message
    able_message: str
    limited: bool  # ScalingLimited status, its reason and message
    limited_reason: str
    limited_message: str
    history: tuple[Recommendation, ...]  # the recommendations to keep


def _keep(history: Sequence[Recommendation], now: float, longest: float) -> tuple[Recommendation, ...]:
    return tuple(r for r in history if r.at > now - longest)


def normalize_default(
    now: float,
    history: Sequence[Recommendation],
    current: int,
    desired: int,
    minimum: int,
    maximum: int,
    downscale_window: float,
) -> Normalized:
    """upstream's normalizeDesiredReplicas: the downscale window, then the bounds and the
    scale-up limit."""
    stabilized = max([desired, *(r.replicas for r in history if r.at >= now - downscale_window)])
    able = _DOWN_STABILIZED if stabilized != desired else _READY
    kept = (*_keep(history, now, downscale_window), Recommendation(now, desired))
    scale_up_limit = max(SCALE_UP_FACTOR * current, SCALE_UP_MINIMUM)
    if maximum > scale_up_limit:
        ceiling = scale_up_limit
        reason = (
            "ScaleUpLimit",
            "the desired replica count is increasing faster than the maximum scale rate",
        )
    else:
        ceiling = maximum
        reason = ("TooManyReplicas", "the desired replica count is more than the maximum replica count")
    if stabilized < minimum:
        replicas = minimum
        reason = ("TooFewReplicas", "the desired replica count is less than the minimum replica count")
    elif stabilized > ceiling:
        replicas = ceiling
    else:
        replicas, reason = stabilized, _WITHIN
    return Normalized(replicas, *able, replicas != stabilized, *reason, kept)


def _change_in_period(events: Sequence[ScaleEvent], now: float, period: float) -> int:
    return sum(e.change for e in events if e.at > now - period)


def _rules_field(rules: dict[str, Any], key: str, default: Any) -> Any:
    value = rules.get(key)
    return default if value is None else value


def _scale_up_limit(
    now: float, current: int, up: Sequence[ScaleEvent], down: Sequence[ScaleEvent], rules: dict[str, Any]
) -> int:
    select = _rules_field(rules, "selectPolicy", "Max")
    if select == "Disabled":
        return current
    proposals = []
    for policy in rules.get("policies") or []:
        period = float(policy.get("periodSeconds") or 0)
        start = current - _change_in_period(up, now, period) + _change_in_period(down, now, period)
        value = int(policy.get("value") or 0)
        if policy.get("type") == "Pods":
            proposals.append(start + value)
        elif policy.get("type") == "Percent":
            proposals.append(math.ceil(start * (1 + value / 100)))
    if not proposals:
        return current
    return min(proposals) if select == "Min" else max(proposals)


def _scale_down_limit(
    now: float, current: int, up: Sequence[ScaleEvent], down: Sequence[ScaleEvent], rules: dict[str, Any]
) -> int:
    select = _rules_field(rules, "selectPolicy", "Max")
    if select == "Disabled":
        return current
    proposals = []
    for policy in rules.get("policies") or []:
        period = float(policy.get("periodSeconds") or 0)
        start = current - _change_in_period(up, now, period) + _change_in_period(down, now, period)
        value = int(policy.get("value") or 0)
        if policy.get("type") == "Pods":
            proposals.append(start - value)
        elif policy.get("type") == "Percent":
            proposals.append(int(start * (1 - value / 100)))
    if not proposals:
        return current
    return max(proposals) if select == "Min" else min(proposals)


def normalize_with_behavior(
    now: float,
    history: Sequence[Recommendation],
    current: int,
    desired: int,
    minimum: int,
    maximum: int,
    behavior: dict[str, Any],
    downscale_window: float,
    up_events: Sequence[ScaleEvent] = (),
    down_events: Sequence[ScaleEvent] = (),
) -> Normalized:
    """upstream's normalizeDesiredReplicasWithBehaviors. ``behavior`` is the defaulted
    spec.behavior; a scaleDown window left unset is ``downscale_window``."""
    up_rules, down_rules = behavior.get("scaleUp") or {}, behavior.get("scaleDown") or {}
    up_window = float(_rules_field(up_rules, "stabilizationWindowSeconds", 0))
    down_window = float(_rules_field(down_rules, "stabilizationWindowSeconds", downscale_window))
    up_recommendation = min([desired, *(r.replicas for r in history if r.at > now - up_window)])
    down_recommendation = max([desired, *(r.replicas for r in history if r.at > now - down_window)])
    stabilized = min(max(current, up_recommendation), down_recommendation)
    kept = (*_keep(history, now, max(up_window, down_window)), Recommendation(now, desired))
    able = (_UP_STABILIZED if desired >= current else _DOWN_STABILIZED) if stabilized != desired else _READY
    replicas, reason = stabilized, _WITHIN
    if stabilized > current:
        limit = max(_scale_up_limit(now, current, up_events, down_events, up_rules), current)
        if maximum > limit:
            ceiling = limit
            why = (
                "ScaleUpLimit",
                "the desired replica count is increasing faster than the maximum scale rate",
            )
        else:
            ceiling = maximum
            why = ("TooManyReplicas", "the desired replica count is more than the maximum replica count")
        if stabilized > ceiling:
            replicas, reason = ceiling, why
    elif stabilized < current:
        limit = min(_scale_down_limit(now, current, up_events, down_events, down_rules), current)
        if minimum < limit:
            floor = limit
            why = (
                "ScaleDownLimit",
                "the desired replica count is decreasing faster than the maximum scale rate",
            )
        else:
            floor = minimum
            why = ("TooFewReplicas", "the desired replica count is less than the minimum replica count")
        if stabilized < floor:
            replicas, reason = floor, why
    return Normalized(replicas, *able, replicas != stabilized, *reason, kept)


def record_scale_event(
    now: float, events: Sequence[ScaleEvent], change: int, rules: dict[str, Any]
) -> tuple[ScaleEvent, ...]:
    """The scale events of one direction after a rescale by ``change`` replicas; events older
    than the direction's longest policy period are dropped (they no longer count)."""
    longest = max([float(p.get("periodSeconds") or 0) for p in rules.get("policies") or []] or [0.0])
    return (*(e for e in events if e.at > now - longest), ScaleEvent(now, change))
