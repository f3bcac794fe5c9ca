"""APF's Prometheus families under upstream's names, formatted only at scrape time:
``apiserver_flowcontrol_dispatched_requests_total`` and ``..._rejected_requests_total``
(reason ``queue-full``, ``concurrency-limit``, ``time-out``), ``..._current_executing_requests``,
``..._current_inqueue_requests`` (by flow_schema and priority_level),
``..._request_wait_duration_seconds`` (by execute, flow_schema, priority_level) and
``..._nominal_limit_seats`` (by priority_level)."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["WAIT_BUCKETS", "ZERO_WAIT_BUCKET", "FlowcontrolMetrics", "WaitHistogram"]

WAIT_BUCKETS = (0.0, 0.005, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0)
ZERO_WAIT_BUCKET = bisect.bisect_left(WAIT_BUCKETS, 0.0)  # where a request seated at once is counted
_PAIR = ["flow_schema", "priority_level"]
Pair = tuple[str, str]


class WaitHistogram:
    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(WAIT_BUCKETS) + 1)
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(WAIT_BUCKETS, seconds)] += 1
        self.total += seconds


class FlowcontrolMetrics:
    def __init__(self) -> None:
        self.dispatched: dict[Pair, int] = {}
        self.rejected: dict[tuple[str, str, str], int] = {}
        self.executing: dict[Pair, int] = {}
        self.inqueue: dict[Pair, int] = {}
        self.waits: dict[tuple[str, str, str], WaitHistogram] = {}

    def add(self, table: dict[Pair, int], key: Pair, delta: int) -> None:
        table[key] = table.get(key, 0) + delta

    def reject(self, key: Pair, reason: str) -> None:
        full = (*key, reason)
        self.rejected[full] = self.rejected.get(full, 0) + 1

    def wait(self, key: Pair, executed: bool, seconds: float) -> None:
        self.wait_histogram(key, executed).observe(seconds)

    def wait_histogram(self, key: Pair, executed: bool) -> WaitHistogram:
        """The wait histogram of (``executed``, *``key``), made at its first observation."""
        full = ("true" if executed else "false", *key)
        histogram = self.waits.get(full)
        if histogram is None:
            histogram = self.waits[full] = WaitHistogram()
        return histogram

    def collector(self, seats: Callable[[], dict[str, int]]) -> Collector:
        return _Collector(self, seats)


class _Collector(Collector):
    def __init__(self, metrics: FlowcontrolMetrics, seats: Callable[[], dict[str, int]]) -> None:
        self.metrics, self.seats = metrics, seats

    def collect(self) -> Iterator[Metric]:
        m, prefix = self.metrics, "apiserver_flowcontrol_"
        dispatched = CounterMetricFamily(
            prefix + "dispatched_requests",
            "Number of requests executed by API Priority and Fairness subsystem",
            labels=_PAIR,
        )
        for key, count in list(m.dispatched.items()):
            dispatched.add_metric(list(key), count)
        yield dispatched
        rejected = CounterMetricFamily(
            prefix + "rejected_requests",
            "Number of requests rejected by API Priority and Fairness subsystem",
            labels=[*_PAIR, "reason"],
        )
        for full, count in list(m.rejected.items()):
            rejected.add_metric(list(full), count)
        yield rejected
        for name, table, text in (
            ("current_executing_requests", m.executing, "Number of requests in initial (for a WATCH) or any (for a non-WATCH) execution stage in the API Priority and Fairness subsystem"),  # noqa: E501
            ("current_inqueue_requests", m.inqueue, "Number of requests currently pending in queues of the API Priority and Fairness subsystem"),  # noqa: E501
        ):
            gauge = GaugeMetricFamily(prefix + name, text, labels=_PAIR)
            for key, value in list(table.items()):
                gauge.add_metric(list(key), value)
            yield gauge
        waits = HistogramMetricFamily(
            prefix + "request_wait_duration_seconds",
            "Length of time a request spent waiting in its queue",
            labels=["execute", *_PAIR],
        )
        for full, histogram in list(m.waits.items()):
            cumulative, buckets = 0, []
            for bound, count in zip((*WAIT_BUCKETS, float("inf")), histogram.counts, strict=True):
                cumulative += count
                buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
            waits.add_metric(list(full), buckets, histogram.total)
        yield waits
        nominal = GaugeMetricFamily(prefix + "nominal_limit_seats", "Nominal number of execution seats configured for each priority level", labels=["priority_level"])  # noqa: E501
        for level, seats in sorted(self.seats().items()):
            nominal.add_metric([level], seats)
        yield nominal
