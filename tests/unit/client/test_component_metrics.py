"""Component metric bookkeeping: work queue adds/depth/durations, the scheduler's attempts and
pending pods, kubelet pod start times, kube-proxy sync durations, all parsed back from their
Prometheus text with upstream's names."""

from __future__ import annotations

from types import SimpleNamespace

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from kprov.cluster.client.metrics import WorkQueueCollector
from kprov.cluster.client.workqueue import WorkQueue
from kprov.cluster.kubelet.node.metrics import KubeletMetrics
from kprov.cluster.proxy.metrics import ProxyMetrics
from kprov.cluster.scheduler.metrics import SchedulerCollector, SchedulerStats


def _families(text: bytes) -> dict[str, list]:  # type: ignore[type-arg]
    return {f.name: f.samples for f in text_string_to_metric_families(text.decode())}


async def test_workqueue_counts_adds_depth_and_work():
    queue = WorkQueue(name="deployment")
    queue.add("a")
    queue.add("a")  # a duplicate of a waiting key is not an add
    queue.add("b")
    key = await queue.get()
    queue.done(key)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(WorkQueueCollector(lambda: [queue]))
    families = _families(generate_latest(registry))
    assert families["workqueue_adds"][0].labels == {"name": "deployment"}
    assert families["workqueue_adds"][0].value == 2
    assert families["workqueue_depth"][0].value == 1
    count = [s for s in families["workqueue_work_duration_seconds"] if s.name.endswith("_count")]
    assert count[0].value == 1


def test_scheduler_attempts_and_pending():
    stats = SchedulerStats()
    stats.attempt("scheduled", 0.002)
    stats.attempt("unschedulable", 0.01)
    stats.attempt("scheduled", 0.003)
    scheduler = SimpleNamespace(
        scheduler_name="default-scheduler", stats=stats,
        pending_counts=lambda: {"active": 3, "backoff": 1, "unschedulable": 2},
    )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SchedulerCollector(lambda: scheduler))
    families = _families(generate_latest(registry))
    attempts = {s.labels["result"]: s.value for s in families["scheduler_schedule_attempts"]}
    assert attempts == {"scheduled": 2, "unschedulable": 1, "error": 0}
    pending = {s.labels["queue"]: s.value for s in families["scheduler_pending_pods"]}
    assert pending == {"active": 3, "backoff": 1, "unschedulable": 2, "gated": 0}


def test_kubelet_pod_start_once_per_pod_and_running_pods():
    now = [100.0]
    pods: list[dict] = []
    metrics = KubeletMetrics(lambda: pods, clock=lambda: now[0])
    pending = {"metadata": {"uid": "u1"}, "status": {"phase": "Pending"}}
    metrics.pod_seen(pending)
    now[0] = 103.5
    running = {"metadata": {"uid": "u1"}, "status": {"phase": "Running",
               "containerStatuses": [{"state": {"running": {}}}]}}
    metrics.pod_seen(running)
    metrics.pod_seen(running)  # counted once
    metrics.pod_seen({"metadata": {"uid": "u2"}, "status": {"phase": "Running"}})  # running before we ran
    pods.append(running)
    families = _families(metrics.exposition())
    assert families["kubelet_running_pods"][0].value == 1
    start = {s.name: s for s in families["kubelet_pod_start_duration_seconds"]}
    assert start["kubelet_pod_start_duration_seconds_count"].value == 1
    assert start["kubelet_pod_start_duration_seconds_sum"].value == 3.5
    containers = {s.labels["container_state"]: s.value for s in families["kubelet_running_containers"]}
    assert containers["running"] == 1


def test_proxy_sync_durations():
    metrics = ProxyMetrics()
    metrics.synced(0.004)
    families = _families(generate_latest(metrics.registry))
    samples = {s.name: s.value for s in families["kubeproxy_sync_proxy_rules_duration_seconds"]}
    assert samples["kubeproxy_sync_proxy_rules_duration_seconds_count"] == 1
    assert families["kubeproxy_sync_proxy_rules_last_timestamp_seconds"][0].value > 0
