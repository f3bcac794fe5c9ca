"""The HPA's stabilization and scaling rules (upstream's normalizeDesiredReplicas and
normalizeDesiredReplicasWithBehaviors cases), with time driven by hand."""

from __future__ import annotations

from typing import Any

import pytest

from kprov.cluster.api.defaults import hpa_scale_down_rules, hpa_scale_up_rules
from kprov.cluster.controllers.autoscaling.hpa_behavior import (
    Recommendation,
    ScaleEvent,
    normalize_default,
    normalize_with_behavior,
    record_scale_event,
)
from kprov.cluster.controllers.autoscaling.podautoscaler import milli_quantity

NOW = 1000.0


def behavior(up: dict[str, Any] | None = None, down: dict[str, Any] | None = None) -> dict[str, Any]:
    rules = {"scaleUp": hpa_scale_up_rules(), "scaleDown": hpa_scale_down_rules()}
    rules["scaleUp"].update(up or {})
    rules["scaleDown"].update(down or {})
    return rules


def history(*pairs: tuple[float, int]) -> tuple[Recommendation, ...]:
    return tuple(Recommendation(NOW - ago, replicas) for ago, replicas in pairs)


@pytest.mark.parametrize(
    ("current", "desired", "past", "minimum", "maximum", "replicas", "able", "limited"),
    [
        (3, 3, (), 1, 10, 3, "ReadyForNewScale", ("False", "DesiredWithinRange")),
        (3, 5, (), 1, 10, 5, "ReadyForNewScale", ("False", "DesiredWithinRange")),
        (2, 9, (), 1, 10, 4, "ReadyForNewScale", ("True", "ScaleUpLimit")),  # max(2 x 2, 4)
        (5, 12, (), 1, 8, 8, "ReadyForNewScale", ("True", "TooManyReplicas")),
        (5, 1, ((100, 4),), 1, 10, 4, "ScaleDownStabilized", ("False", "DesiredWithinRange")),
        (5, 1, ((400, 4),), 1, 10, 1, "ReadyForNewScale", ("False", "DesiredWithinRange")),  # outside 300 s
        (5, 1, (), 2, 10, 2, "ReadyForNewScale", ("True", "TooFewReplicas")),
    ],
)
def test_normalize_default(current, desired, past, minimum, maximum, replicas, able, limited):
    result = normalize_default(NOW, history(*past), current, desired, minimum, maximum, 300.0)
    assert result.replicas == replicas
    assert result.able_reason == able
    assert ("True" if result.limited else "False", result.limited_reason) == limited
    assert result.history[-1] == Recommendation(NOW, desired)


@pytest.mark.parametrize(
    ("rules", "current", "desired", "past", "up", "down", "replicas", "reason"),
    [
        # defaults: up by max(+4, +100 %) per 15 s
        ({}, 1, 10, (), (), (), 5, "ScaleUpLimit"),
        ({}, 10, 50, (), (), (), 20, "ScaleUpLimit"),
        # selectPolicy Min picks the smaller change
        ({"up": {"selectPolicy": "Min"}}, 10, 50, (), (), (), 14, "ScaleUpLimit"),
        ({"up": {"selectPolicy": "Disabled"}}, 3, 9, (), (), (), 3, "ScaleUpLimit"),
        # one pod per 60 s, and one was added 10 s ago: nothing more this period
        (
            {"up": {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]}},
            3,
            9,
            (),
            (ScaleEvent(NOW - 10, 1),),
            (),
            3,
            "ScaleUpLimit",
        ),
        (
            {"up": {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]}},
            3,
            9,
            (),
            (ScaleEvent(NOW - 70, 1),),
            (),
            4,
            "ScaleUpLimit",
        ),
        # the scale-down defaults: -100 % per 15 s, the window from the flag (300 s): highest wins
        ({}, 6, 2, ((100, 5),), (), (), 5, "DesiredWithinRange"),
        ({"down": {"stabilizationWindowSeconds": 0}}, 6, 2, ((100, 5),), (), (), 2, "DesiredWithinRange"),
        # 50 % per 60 s going down rounds down; Pods 1 per 60 s after one removal 5 s ago
        (
            {
                "down": {
                    "stabilizationWindowSeconds": 0,
                    "policies": [{"type": "Percent", "value": 50, "periodSeconds": 60}],
                }
            },
            9,
            1,
            (),
            (),
            (),
            4,
            "ScaleDownLimit",
        ),
        (
            {
                "down": {
                    "stabilizationWindowSeconds": 0,
                    "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
                }
            },
            4,
            1,
            (),
            (),
            (ScaleEvent(NOW - 5, 1),),
            4,
            "ScaleDownLimit",
        ),
        (
            {"down": {"stabilizationWindowSeconds": 0, "selectPolicy": "Disabled"}},
            4,
            1,
            (),
            (),
            (),
            4,
            "ScaleDownLimit",
        ),
        # a scale-up window: the lowest recent recommendation
        ({"up": {"stabilizationWindowSeconds": 60}}, 2, 6, ((30, 3),), (), (), 3, "DesiredWithinRange"),
        # bounds
        ({}, 3, 12, (), (), (), 5, "TooManyReplicas"),
        ({"down": {"stabilizationWindowSeconds": 0}}, 3, 1, (), (), (), 2, "TooFewReplicas"),
    ],
)
def test_normalize_with_behavior(rules, current, desired, past, up, down, replicas, reason):
    minimum, maximum = 2, 5 if reason == "TooManyReplicas" else 100
    if reason != "TooFewReplicas":
        minimum = 1
    result = normalize_with_behavior(
        NOW,
        history(*past),
        current,
        desired,
        minimum,
        maximum,
        behavior(rules.get("up"), rules.get("down")),
        300.0,
        up,
        down,
    )
    assert (result.replicas, result.limited_reason) == (replicas, reason)
    assert result.limited == (reason != "DesiredWithinRange")


def test_stabilized_reasons_name_the_direction():
    down = normalize_with_behavior(NOW, history((10, 6)), 6, 2, 1, 10, behavior(), 300.0)
    assert (down.replicas, down.able_reason) == (6, "ScaleDownStabilized")
    up = normalize_with_behavior(
        NOW, history((10, 2)), 2, 6, 1, 10, behavior({"stabilizationWindowSeconds": 60}), 300.0
    )
    assert (up.replicas, up.able_reason) == (2, "ScaleUpStabilized")


def test_history_keeps_only_the_longest_window():
    result = normalize_with_behavior(
        NOW, history((400, 9), (20, 3)), 3, 3, 1, 10, behavior(down={"stabilizationWindowSeconds": 60}), 300.0
    )
    assert [r.replicas for r in result.history] == [3, 3]


def test_record_scale_event_drops_events_older_than_the_longest_period():
    rules = {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 30}]}
    events = record_scale_event(NOW, (ScaleEvent(NOW - 40, 2), ScaleEvent(NOW - 10, 1)), 3, rules)
    assert events == (ScaleEvent(NOW - 10, 1), ScaleEvent(NOW, 3))


@pytest.mark.parametrize(("milli", "text"), [(250, "250m"), (2000, "2"), (12_000_000_000, "12M"), (0, "0")])
def test_milli_quantity(milli, text):
    assert milli_quantity(milli) == text
