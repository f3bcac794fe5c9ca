"""A component's /metrics has samples leader or not: the leader-election gauge and the
process families (a standby's used to carry only HELP lines)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from kprov.cluster.client.leader_metrics import register_component_metrics


def _samples(registry: CollectorRegistry) -> dict[str, float]:
    text = generate_latest(registry).decode()
    return {f"{s.name}{sorted(s.labels.items())}": s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_a_standby_reports_0_and_the_leader_1_with_process_samples_either_way() -> None:
    leading = [False]
    registry = CollectorRegistry(auto_describe=False)
    register_component_metrics(registry, "kube-controller-manager", lambda: leading[0])
    key = "leader_election_master_status[('name', 'kube-controller-manager')]"
    standby = _samples(registry)
    assert standby[key] == 0.0
    assert standby["process_resident_memory_bytes[]"] > 0
    leading[0] = True
    assert _samples(registry)[key] == 1.0


def test_without_leader_election_there_is_no_lease_gauge() -> None:
    registry = CollectorRegistry(auto_describe=False)
    register_component_metrics(registry, None, lambda: False)
    assert not any(k.startswith("leader_election") for k in _samples(registry))
