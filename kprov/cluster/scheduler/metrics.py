"""The scheduler's Prometheus metrics under kube-scheduler's names:
``scheduler_schedule_attempts_total`` and ``scheduler_scheduling_attempt_duration_seconds``
{result: scheduled | unschedulable | error, profile}, ``scheduler_pending_pods`` {queue:
active | backoff | unschedulable | gated}, and the work queue's workqueue_* series.
Recorded as plain numbers per attempt; formatted at scrape time (client.metrics)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from kprov.cluster.client.metrics import Histogram, exponential_buckets

__all__ = ["ATTEMPT_BUCKETS", "SchedulerCollector", "SchedulerStats"]

ATTEMPT_BUCKETS = exponential_buckets(0.001, 2, 15)  # kube-scheduler's


class SchedulerStats:
    def __init__(self) -> None:
        self.attempts: dict[str, int] = {}
        self.durations: dict[str, Histogram] = {}

    def attempt(self, result: str, seconds: float) -> None:
        self.attempts[result] = self.attempts.get(result, 0) + 1
        histogram = self.durations.get(result)
        if histogram is None:
            histogram = self.durations[result] = Histogram(ATTEMPT_BUCKETS)
        histogram.observe(seconds)


class SchedulerCollector(Collector):
    """Reads the running scheduler (``scheduler()``: None until it leads)."""

    def __init__(self, scheduler: Callable[[], Any]) -> None:
        self.scheduler = scheduler

    def collect(self) -> Iterator[Metric]:
        s = self.scheduler()
        attempts = CounterMetricFamily(
            "scheduler_schedule_attempts",
            "Number of attempts to schedule pods, by the result. 'unschedulable' means a pod could not be "
            "scheduled, while 'error' means an internal scheduler problem.",
            labels=["profile", "result"],
        )
        duration = HistogramMetricFamily(
            "scheduler_scheduling_attempt_duration_seconds",
            "Scheduling attempt latency in seconds (scheduling algorithm + binding)",
            labels=["profile", "result"],
        )
        pending = GaugeMetricFamily(
            "scheduler_pending_pods",
            "Number of pending pods, by the queue type. 'active' means number of pods in activeQ; 'backoff' "
            "means number of pods in backoffQ; 'unschedulable' means number of pods in unschedulablePods.",
            labels=["queue"],
        )
        if s is not None:
            profile = s.scheduler_name
            for result in ("scheduled", "unschedulable", "error"):
                attempts.add_metric([profile, result], s.stats.attempts.get(result, 0))
            for result, histogram in list(s.stats.durations.items()):
                duration.add_metric([profile, result], histogram.family_buckets(), histogram.total)
            queues = s.pending_counts()
            for queue in ("active", "backoff", "unschedulable", "gated"):
                pending.add_metric([queue], queues.get(queue, 0))
        yield attempts
        yield duration
        yield pending
