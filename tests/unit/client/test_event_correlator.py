"""client-go's event correlation: de-duplication into counts, aggregation of similar events,
and the per source+object spam filter, driven by a fake clock."""

from __future__ import annotations

from typing import Any

from kprov.cluster.client.event_correlator import AGGREGATE_PREFIX, EventCorrelator, TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _event(
    name: str, message: str, reason: str = "Failed", obj: str = "web", stamp: str = "t0"
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "ns"},
        "involvedObject": {
            "kind": "Pod", "namespace": "ns", "name": obj, "uid": f"uid-{obj}", "apiVersion": "v1",
        },
        "reason": reason, "message": message, "type": "Warning",
        "source": {"component": "kubelet", "host": "h1"},
        "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1,
        "reportingComponent": "kubelet", "reportingInstance": "h1",
    }


def test_a_repeated_event_patches_the_first_ones_count_and_last_timestamp() -> None:
    correlator = EventCorrelator(Clock())
    first = correlator.correlate(_event("web.1", "boom", stamp="t0"))
    assert first.patch is None and first.event["metadata"]["name"] == "web.1"
    for n in (2, 3):
        again = correlator.correlate(_event(f"web.{n}", "boom", stamp=f"t{n}"))
        assert again.event["metadata"]["name"] == "web.1"
        assert again.event["firstTimestamp"] == "t0"
        assert again.patch == {"count": n, "lastTimestamp": f"t{n}", "message": "boom"}
    other = correlator.correlate(_event("web.9", "boom", reason="BackOff"))
    assert other.patch is None and other.event["metadata"]["name"] == "web.9"


def test_the_tenth_distinct_message_of_a_reason_is_combined_into_one_event() -> None:
    clock = Clock()
    correlator = EventCorrelator(clock)
    created = {
        correlator.correlate(_event(f"web.{i}", f"message {i}")).event["metadata"]["name"] for i in range(9)
    }
    assert len(created) == 9
    tenth = correlator.correlate(_event("web.10", "message 10"))
    assert tenth.patch is None and tenth.event["message"] == AGGREGATE_PREFIX + "message 10"
    eleventh = correlator.correlate(_event("web.11", "message 11"))
    assert eleventh.event["metadata"]["name"] == "web.10" and eleventh.patch is not None
    assert eleventh.patch["count"] == 2 and eleventh.patch["message"] == AGGREGATE_PREFIX + "message 11"
    clock.now += 601  # a quiet 10 minutes: the group starts afresh
    later = correlator.correlate(_event("web.12", "message 12"))
    assert later.patch is None and later.event["message"] == "message 12"


def test_each_source_and_object_may_burst_25_events_then_one_per_five_minutes() -> None:
    clock = Clock()
    correlator = EventCorrelator(clock)
    results = [correlator.correlate(_event(f"web.{i}", "same")) for i in range(30)]
    assert [r.skip for r in results] == [False] * 25 + [True] * 5
    assert not correlator.correlate(_event("x.1", "same", obj="other")).skip  # another object's own bucket
    clock.now += 299
    assert correlator.correlate(_event("web.31", "same")).skip
    clock.now += 2
    assert not correlator.correlate(_event("web.32", "same")).skip
    assert correlator.correlate(_event("web.33", "same")).skip


def test_the_token_bucket_refills_up_to_its_burst() -> None:
    bucket = TokenBucket(burst=2, qps=1.0, tokens=0.0, last=0.0)
    assert not bucket.try_accept(0.5)
    assert bucket.try_accept(1.0)
    assert bucket.try_accept(10.0) and bucket.try_accept(10.0) and not bucket.try_accept(10.0)
