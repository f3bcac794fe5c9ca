from __future__ import annotations

import asyncio
from typing import Any

from kprov.cluster.client.event_queue import EventQueue


class SlowRecorder:
    """Records (reason, message) after a delay; counts how many writes overlap."""

    def __init__(self, delay: float = 0.01) -> None:
        self.written: list[tuple[str, str]] = []
        self.in_flight = self.most_in_flight = 0
        self.delay = delay

    async def record(self, obj: dict[str, Any], event_type: str, reason: str, message: str) -> None:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(self.delay)
        self.written.append((reason, message))
        self.in_flight -= 1


async def test_emit_never_waits_and_writers_bound_concurrency() -> None:
    recorder = SlowRecorder()
    events = EventQueue(recorder, writers=2)  # type: ignore[arg-type]
    for i in range(10):
        assert events.emit({}, "Normal", "Scheduled", f"m{i}")
    assert recorder.written == []  # nothing written by emit itself
    runner = asyncio.create_task(events.run())
    await asyncio.wait_for(events.flush(), 2)
    runner.cancel()
    assert sorted(m for _, m in recorder.written) == sorted(f"m{i}" for i in range(10))
    assert recorder.most_in_flight == 2


async def test_full_queue_drops_and_counts() -> None:
    events = EventQueue(SlowRecorder(), writers=1, max_queued=3)  # type: ignore[arg-type]
    results = [events.emit({}, "Normal", "Scheduled", str(i)) for i in range(5)]
    assert results == [True, True, True, False, False]
    assert events.dropped == 2 and events.pending() == 3


async def test_a_failing_write_does_not_stop_the_writer() -> None:
    class Flaky(SlowRecorder):
        async def record(self, obj: dict[str, Any], event_type: str, reason: str, message: str) -> None:
            if message == "bad":
                raise RuntimeError("boom")
            await super().record(obj, event_type, reason, message)

    recorder = Flaky(0)
    events = EventQueue(recorder, writers=1)  # type: ignore[arg-type]
    for message in ("a", "bad", "b"):
        events.emit({}, "Normal", "Scheduled", message)
    runner = asyncio.create_task(events.run())
    await asyncio.wait_for(events.flush(), 2)
    runner.cancel()
    assert [m for _, m in recorder.written] == ["a", "b"]
