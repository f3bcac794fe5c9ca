"""Metric bookkeeping every component shares: a plain histogram (per-bucket integer counts,
turned cumulative only at scrape time) and the work queue collector.

Components record into plain numbers on their hot paths and expose them through a
prometheus_client collector in a registry of their own (no module-level registry); the
scrape formats them. See kprov.cluster.apiserver.front.metrics for the measured reason.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["QUEUE_BUCKETS", "Histogram", "WorkQueueCollector", "exponential_buckets"]


def exponential_buckets(start: float, factor: float, count: int) -> tuple[float, ...]:
    return tuple(start * factor**i for i in range(count))


# client-go's workqueue duration buckets: 1e-8 s .. 10 s by tens
QUEUE_BUCKETS = exponential_buckets(10e-9, 10, 10)


class Histogram:
    """Per-bucket counts (one increment per observation), sum and count."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one is +Inf
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    def family_buckets(self) -> list[tuple[str, float]]:
        running = 0
        out: list[tuple[str, float]] = []
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            running += count
            out.append(("+Inf" if bound == float("inf") else repr(bound), running))
        return out


class WorkQueueCollector(Collector):
    """client-go's workqueue metrics for the named queues ``queues()`` returns:
    workqueue_depth, workqueue_adds_total, workqueue_work_duration_seconds {name}."""

    def __init__(self, queues: Callable[[], Iterable[Any]]) -> None:
        self.queues = queues

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily("workqueue_depth", "Current depth of workqueue", labels=["name"])
        adds = CounterMetricFamily(
            "workqueue_adds", "Total number of adds handled by workqueue", labels=["name"]
        )
        work = HistogramMetricFamily(
            "workqueue_work_duration_seconds",
            "How long in seconds processing an item from workqueue takes.",
            labels=["name"],
        )
        for queue in self.queues():
            depth.add_metric([queue.name], len(queue))
            adds.add_metric([queue.name], queue.adds)
            work.add_metric([queue.name], queue.work.family_buckets(), queue.work.total)
        yield depth
        yield adds
        yield work
