"""The kubelet role's Ready wait: Ready=True with a heartbeat after the restart."""

from __future__ import annotations

from datetime import UTC, datetime

from kprov.cluster.kubelet.readycheck import ready_since


def _node(status: str, beat: float) -> dict:
    stamp = datetime.fromtimestamp(beat, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"status": {"conditions": [
        {"type": "MemoryPressure", "status": "False"},
        {"type": "Ready", "status": status, "lastHeartbeatTime": stamp, "message": "m"},
    ]}}


def test_ready_after_the_start() -> None:
    assert ready_since(_node("True", 1000.0), 1000.4) == (True, "")
    assert ready_since(_node("True", 1010.0), 1000.0)[0]


def test_a_heartbeat_from_before_the_restart_is_not_proof() -> None:
    ready, why = ready_since(_node("True", 990.0), 1000.0)
    assert not ready and "before the start" in why


def test_not_ready_or_no_condition() -> None:
    assert ready_since(_node("False", 1000.0), 0) == (False, "Ready is False: m")
    assert ready_since({"status": {}}, 0) == (False, "no Ready condition yet")
