"""The kubelet's Prometheus metrics under upstream's names, served at /metrics on :10250:
``kubelet_running_pods`` (pods with a worker whose pod reports phase Running),
``kubelet_running_containers`` {container_state}, and ``kubelet_pod_start_duration_seconds``
(the kubelet first seeing a pod -> the pod observed Running, once per pod). Recorded as
plain numbers on pod events; formatted at scrape time."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from kprov.cluster.client.metrics import Histogram

__all__ = ["POD_START_BUCKETS", "KubeletMetrics"]

# kubelet's buckets for kubelet_pod_start_duration_seconds
POD_START_BUCKETS = (0.5, 1, 2, 3, 4, 5, 6, 8, 10, 20, 30, 45, 60, 120, 180, 240, 300, 360, 480, 600, 900,
                     1200, 1800, 2700, 3600)


class KubeletMetrics:
    def __init__(self, pods: Callable[[], Iterable[dict[str, Any]]],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.pods = pods  # the pods this kubelet runs (its workers' latest view)
        self.clock = clock
        self.pod_start = Histogram(POD_START_BUCKETS)
        self._first_seen: dict[str, float] = {}
        self._started: set[str] = set()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Collector(self))

    def pod_seen(self, pod: dict[str, Any]) -> None:
        """Every pod event: the first one starts the clock, the first Running stops it."""
        uid = (pod.get("metadata") or {}).get("uid", "")
        if not uid or uid in self._started:
            return
        running = (pod.get("status") or {}).get("phase") == "Running"
        first = self._first_seen.pop(uid, None)
        if running:
            self._started.add(uid)
            if first is not None:  # (running at first sight: started before this kubelet ran)
                self.pod_start.observe(self.clock() - first)
        else:
            self._first_seen[uid] = self.clock() if first is None else first

    def pod_gone(self, uid: str) -> None:
        self._first_seen.pop(uid, None)
        self._started.discard(uid)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _Collector(Collector):
    def __init__(self, metrics: KubeletMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        running = 0
        states = {"running": 0, "exited": 0, "created": 0, "unknown": 0}
        for pod in self.metrics.pods():
            status = pod.get("status") or {}
            if status.get("phase") == "Running":
                running += 1
            for container in status.get("containerStatuses") or []:
                state = container.get("state") or {}
                if "running" in state:
                    states["running"] += 1
                elif "terminated" in state:
                    states["exited"] += 1
                elif "waiting" in state:
                    states["created"] += 1
                else:
                    states["unknown"] += 1
        yield GaugeMetricFamily("kubelet_running_pods", "Number of pods that have a running pod sandbox",
                                value=running)
        containers = GaugeMetricFamily("kubelet_running_containers", "Number of containers currently running",
                                       labels=["container_state"])
        for state, count in states.items():
            containers.add_metric([state], count)
        yield containers
        start = HistogramMetricFamily(
            "kubelet_pod_start_duration_seconds",
            "Duration in seconds from kubelet seeing a pod for the first time to the pod starting to run",
        )
        histogram = self.metrics.pod_start
        start.add_metric([], histogram.family_buckets(), histogram.total)
        yield start
