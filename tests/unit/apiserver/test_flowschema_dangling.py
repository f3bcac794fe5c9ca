"""FlowSchemas' Dangling condition: upstream's status, reason and message for a level that
exists or not, and a write only when one of them differs (not for the time alone)."""

from __future__ import annotations

from typing import Any

from kprov.cluster.apiserver.flowcontrol.schema_status import desired_condition, needs_update


def _schema(level: str, conditions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {"metadata": {"name": "s"}, "spec": {"priorityLevelConfiguration": {"name": level}}}
    if conditions is not None:
        obj["status"] = {"conditions": conditions}
    return obj


def test_found_and_not_found_as_upstream() -> None:
    assert desired_condition("pl", True) == {
        "type": "Dangling", "status": "False", "reason": "Found",
        "message": 'This FlowSchema references the PriorityLevelConfiguration object named "pl" '
        "and it exists",
    }
    missing = desired_condition("pl", False)
    assert (missing["status"], missing["reason"]) == ("True", "NotFound")
    assert missing["message"].endswith('named "pl" but there is no such object')


def test_written_only_when_it_differs() -> None:
    assert needs_update(_schema("pl"), {"pl"}) == desired_condition("pl", True)  # no status yet
    current = {**desired_condition("pl", True), "lastTransitionTime": "2026-01-01T00:00:00Z"}
    assert needs_update(_schema("pl", [current]), {"pl"}) is None
    assert needs_update(_schema("pl", [current]), {"other"}) == desired_condition("pl", False)
    other = {"type": "Other", "status": "True"}
    assert needs_update(_schema("pl", [other, current]), {"pl"}) is None
