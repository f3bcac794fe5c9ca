"""`kprov plan` after an interrupted cold apply (the safety cluster's own, stopped by SIGINT
right after etcd started): it exits 0 and lists, on every host, the changes still to come
(the control plane, the node, DNS and metrics), not "0 change(s)"."""

from __future__ import annotations

from tests.e2e.safety.conftest import SafetyCluster


def test_plan_after_an_interrupted_cold_apply_lists_the_remaining_changes(
        safety_cluster: SafetyCluster) -> None:
    assert safety_cluster.cold_plan is not None
    interrupted_rc, rc, report = safety_cluster.cold_plan
    assert interrupted_rc == 130, "the cold apply was not interrupted (it ended before the trigger)"
    failed = [f"{r['host']}: {r['task']}: {r['msg']}" for r in report["results"] if r["status"] == "failed"]
    assert rc == 0 and report["ok"], failed + report["errors"]
    for host in ("h1", "h2", "h3"):
        changes = [r["task"] for r in report["results"] if r["host"] == host and r["status"] == "changed"]
        roles = {task.split(" : ", 1)[0] for task in changes}
        expected = {"apiserver", "kubelet", "kube_proxy", "cluster_dns", "metrics_server"}
        assert expected <= roles, (host, changes)
        assert len(changes) > 25, (host, len(changes))
