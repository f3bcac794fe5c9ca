"""The DaemonSet controller's pods tolerate what upstream's do: NotReady/Unreachable
(NoExecute, so the node lifecycle controller never evicts them) and the node pressure and
unschedulable taints (NoSchedule); host-network daemons also network-unavailable."""

from __future__ import annotations

from kprov.cluster.controllers.workloads.daemonset import daemon_tolerations
from kprov.cluster.scheduler.plugins.taint_toleration import tolerates


def _keys(tolerations: list[dict]) -> set[tuple[str, str]]:
    return {(t["key"], t["effect"]) for t in tolerations}


def test_daemon_pods_tolerate_not_ready_and_unreachable_forever() -> None:
    added = daemon_tolerations([])
    assert {("node.kubernetes.io/not-ready", "NoExecute"),
            ("node.kubernetes.io/unreachable", "NoExecute")} <= _keys(added)
    assert all("tolerationSeconds" not in t for t in added)  # no eviction after a delay either
    for key in ("not-ready", "unreachable"):
        taint = {"key": f"node.kubernetes.io/{key}", "effect": "NoExecute"}
        assert any(tolerates(t, taint) for t in added)
    assert {("node.kubernetes.io/disk-pressure", "NoSchedule"),
            ("node.kubernetes.io/memory-pressure", "NoSchedule"),
            ("node.kubernetes.io/pid-pressure", "NoSchedule"),
            ("node.kubernetes.io/unschedulable", "NoSchedule")} <= _keys(added)
    assert ("node.kubernetes.io/network-unavailable", "NoSchedule") not in _keys(added)


def test_the_templates_own_tolerations_stay_and_are_not_duplicated() -> None:
    own = {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
           "tolerationSeconds": 30}
    added = daemon_tolerations([own], host_network=True)
    assert added[0] == own
    assert sum(1 for t in added if t["key"] == "node.kubernetes.io/not-ready") == 1
    assert ("node.kubernetes.io/network-unavailable", "NoSchedule") in _keys(added)
