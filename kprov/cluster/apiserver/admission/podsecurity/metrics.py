"""PodSecurity's Prometheus counters, under upstream's names and labels.

- ``pod_security_evaluations_total`` {decision, policy_level, policy_version, mode,
  request_operation, resource, subresource}: enforce evaluations (allowed or denied; a fully
  privileged namespace counts as an allowed ``privileged:latest`` one) and audit or warn
  evaluations that found violations;
- ``pod_security_exemptions_total`` {request_operation, resource, subresource};
- ``pod_security_errors_total`` {fatal, request_operation, resource, subresource}: bad
  namespace labels (not fatal: evaluated anyway, with the fallbacks).

``resource`` is ``pod`` or ``controller``; ``policy_version`` is ``latest`` (also for
privileged), ``v1.N``, or ``future`` for a version newer than this server's (v1.32). Counts
are plain dictionaries, formatted only at scrape time (as :mod:`..metrics` does).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from kprov.cluster.apiserver.admission.podsecurity.levels import PRIVILEGED, LevelVersion, Version

__all__ = ["SERVER_VERSION", "PodSecurityMetrics"]

SERVER_VERSION = Version(32)


def version_label(level_version: LevelVersion) -> str:
    version = level_version.version
    if version.latest or level_version.level == PRIVILEGED:
        return "latest"
    return "future" if SERVER_VERSION.older(version) else str(version)


class PodSecurityMetrics:
    def __init__(self) -> None:
        self.evaluations: dict[tuple[str, ...], int] = {}
        self.exemptions: dict[tuple[str, str, str], int] = {}
        self.errors: dict[tuple[str, str, str, str], int] = {}

    def evaluation(
        self, decision: str, level_version: LevelVersion, mode: str, operation: str, resource: str, sub: str
    ) -> None:
        key = (decision, level_version.level, version_label(level_version), mode, operation, resource, sub)
        self.evaluations[key] = self.evaluations.get(key, 0) + 1

    def exemption(self, operation: str, resource: str, sub: str) -> None:
        key = (operation, resource, sub)
        self.exemptions[key] = self.exemptions.get(key, 0) + 1

    def error(self, fatal: bool, operation: str, resource: str, sub: str) -> None:
        key = ("true" if fatal else "false", operation, resource, sub)
        self.errors[key] = self.errors.get(key, 0) + 1

    def collector(self) -> Collector:
        return _Collector(self)


class _Collector(Collector):
    def __init__(self, metrics: PodSecurityMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        m = self.metrics
        evaluations = CounterMetricFamily(
            "pod_security_evaluations",
            "Number of policy evaluations that occurred, not counting ignored or exempt requests.",
            labels=[
                "decision",
                "policy_level",
                "policy_version",
                "mode",
                "request_operation",
                "resource",
                "subresource",
            ],
        )
        for labels, count in list(m.evaluations.items()):
            evaluations.add_metric(list(labels), count)
        yield evaluations
        exemptions = CounterMetricFamily(
            "pod_security_exemptions",
            "Number of exempt requests, not counting ignored or out of scope requests.",
            labels=["request_operation", "resource", "subresource"],
        )
        for labels, count in list(m.exemptions.items()):
            exemptions.add_metric(list(labels), count)
        yield exemptions
        errors = CounterMetricFamily(
            "pod_security_errors",
            "Number of errors preventing normal evaluation. Non-fatal errors may result in the latest "
            "restricted profile being used for evaluation.",
            labels=["fatal", "request_operation", "resource", "subresource"],
        )
        for labels, count in list(m.errors.items()):
            errors.add_metric(list(labels), count)
        yield errors
