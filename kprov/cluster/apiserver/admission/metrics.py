"""Admission's metrics under kube-apiserver's names, formatted at scrape time.

- ``apiserver_admission_controller_admission_duration_seconds`` {name, operation,
  rejected, type}: one plugin's step;
- ``apiserver_admission_step_admission_duration_seconds`` {operation, rejected, type}: a
  whole stage of the chain (``type``: admit or validate).

Design: as :mod:`kprov.cluster.apiserver.front.metrics`, plain histograms and a collector
rather than prometheus_client's labelled metrics: the chain picks a plugin's pair of
histograms (admitted, rejected) once per plan, so a request's step costs two clock reads
and one observation, never a label lookup.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client.core import HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from kprov.cluster.client.metrics import Histogram

__all__ = ["ADMISSION_BUCKETS", "AdmissionMetrics", "Timing"]

ADMISSION_BUCKETS = (0.005, 0.025, 0.1, 0.5, 1.0, 2.5)  # upstream's, for both families


@dataclass(frozen=True)
class Timing:
    admitted: Histogram
    rejected: Histogram


class AdmissionMetrics(Collector):
    """The histograms per label tuple; a :class:`Collector` for the server's registry."""

    def __init__(self) -> None:
        self.plugins: dict[tuple[str, str, str], Timing] = {}  # (name, operation, type)
        self.steps: dict[tuple[str, str], Timing] = {}  # (operation, type)

    def plugin(self, name: str, step_type: str, operation: str) -> Timing:
        key = (name, operation, step_type)
        found = self.plugins.get(key)
        if found is None:
            found = self.plugins[key] = Timing(Histogram(ADMISSION_BUCKETS), Histogram(ADMISSION_BUCKETS))
        return found

    def step(self, step_type: str, operation: str) -> Timing:
        key = (operation, step_type)
        found = self.steps.get(key)
        if found is None:
            found = self.steps[key] = Timing(Histogram(ADMISSION_BUCKETS), Histogram(ADMISSION_BUCKETS))
        return found

    def collect(self) -> Iterator[Metric]:
        plugins = HistogramMetricFamily(
            "apiserver_admission_controller_admission_duration_seconds",
            "Admission controller latency histogram in seconds, identified by name and broken out "
            "for each operation and API resource and type (validate or admit).",
            labels=["name", "operation", "rejected", "type"],
        )
        for (name, operation, step_type), timing in list(self.plugins.items()):
            for rejected, histogram in (("false", timing.admitted), ("true", timing.rejected)):
                if any(histogram.counts):
                    plugins.add_metric(
                        [name, operation, rejected, step_type], histogram.family_buckets(), histogram.total
                    )
        yield plugins
        steps = HistogramMetricFamily(
            "apiserver_admission_step_admission_duration_seconds",
            "Admission sub-step latency histogram in seconds, broken out for each operation and "
            "API resource and step type (validate or admit).",
            labels=["operation", "rejected", "type"],
        )
        for (operation, step_type), timing in list(self.steps.items()):
            for rejected, histogram in (("false", timing.admitted), ("true", timing.rejected)):
                if any(histogram.counts):
                    buckets = histogram.family_buckets()
                    steps.add_metric([operation, rejected, step_type], buckets, histogram.total)
        yield steps
