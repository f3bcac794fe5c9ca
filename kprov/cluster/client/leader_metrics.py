"""The leader-election and process metrics every control-plane component's /metrics shows.

kube-controller-manager and kube-scheduler serve ``leader_election_master_status{name}``
(client-go's gauge: 1 while this instance holds the lease, 0 otherwise) and the process
collector's ``process_*`` families whether they lead or not; a standby's /metrics is never
empty (upstream's MetricsGrabber reads a standby's and expects samples).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

__all__ = ["LeaderElectionCollector", "register_component_metrics"]

_HELP = ("Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, "
         "1 indicates master. 'name' is the string used to identify the lease.")


class LeaderElectionCollector(Collector):
    def __init__(self, name: str, leading: Callable[[], bool]) -> None:
        self.name = name  # the lease's name, client-go's label
        self.leading = leading

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily("leader_election_master_status", _HELP, labels=["name"])
        gauge.add_metric([self.name], 1.0 if self.leading() else 0.0)
        yield gauge


def register_component_metrics(registry: CollectorRegistry, lease: str | None,
                               leading: Callable[[], bool]) -> None:
    """Add the process families, and the leader-election gauge when the component elects
    a leader (``lease``: its Lease's name)."""
    registry.register(ProcessCollector(registry=None))
    if lease:
        registry.register(LeaderElectionCollector(lease, leading))
