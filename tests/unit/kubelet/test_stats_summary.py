"""/stats/summary from CRI container stats and /proc, and the metrics.k8s.io objects
kprov-metrics-server builds from it (nanocores and KiB, as metrics-server writes them)."""

from __future__ import annotations

from pathlib import Path

from kprov.cluster.kubelet.cri.generated import api_pb2 as pb
from kprov.cluster.kubelet.node.stats import (
    Sampler,
    cri_samples,
    node_cpu_ns,
    node_figures,
    node_memory_bytes,
    node_memory_detail,
    summary,
)
from kprov.cluster.metrics_server.objects import node_metrics as _node_metrics
from kprov.cluster.metrics_server.objects import pod_metrics as _pod_metrics


def _stat(cid: str, name: str, pod: str, cpu: int, memory: int, labelled: bool = True) -> pb.ContainerStats:
    labels = {
        "io.kubernetes.pod.namespace": "ns",
        "io.kubernetes.pod.name": pod,
        "io.kubernetes.pod.uid": f"u-{pod}",
    }
    return pb.ContainerStats(
        attributes=pb.ContainerAttributes(
            id=cid, metadata=pb.ContainerMetadata(name=name), labels=labels if labelled else {}
        ),
        cpu=pb.CpuUsage(usage_core_nano_seconds=pb.UInt64Value(value=cpu)),
        memory=pb.MemoryUsage(working_set_bytes=pb.UInt64Value(value=memory)),
    )


def test_summary_rates_and_pod_sums():
    sampler = Sampler()
    first = cri_samples(
        [_stat("a", "web", "p1", 1_000_000_000, 4096 * 1024), _stat("x", "x", "p9", 1, 1, False)]
    )
    assert [s.container_id for s in first] == ["a"]
    sampler.observe("c/a", 1_000_000_000, 100.0)
    sampler.observe("node", 10_000_000_000, 100.0)
    later = cri_samples(
        [_stat("a", "web", "p1", 1_500_000_000, 4096 * 1024), _stat("b", "side", "p1", 0, 1024)]
    )
    sampler.observe("c/a", 1_500_000_000, 110.0)  # half a core-second over 10 s: 50m
    sampler.observe("node", 20_000_000_000, 110.0)  # one core
    doc = summary("n1", later, sampler, 20_000_000_000, (512 * 1024 * 1024, 1024 * 1024 * 1024), 110.0,
                  (600 * 1024 * 1024, 300 * 1024 * 1024))
    assert doc["node"]["cpu"]["usageNanoCores"] == 1_000_000_000
    # every memory figure the e2e framework's resource collector dereferences is there
    assert {"usageBytes", "workingSetBytes", "rssBytes"} <= set(doc["node"]["memory"])
    assert doc["node"]["memory"]["rssBytes"] == 300 * 1024 * 1024
    assert doc["node"]["memory"]["availableBytes"] == 512 * 1024 * 1024
    pod = doc["pods"][0]
    assert pod["podRef"] == {"name": "p1", "namespace": "ns", "uid": "u-p1"}
    assert [c["cpu"]["usageNanoCores"] for c in pod["containers"]] == [50_000_000, 0]
    assert pod["memory"]["workingSetBytes"] == 4096 * 1024 + 1024
    node = _node_metrics("n1", doc)
    assert node["usage"] == {"cpu": "1000000000n", "memory": "524288Ki"} and node["window"] == "10s"
    metrics = _pod_metrics(pod)
    assert metrics["metadata"]["name"] == "p1" and metrics["metadata"]["namespace"] == "ns"
    assert metrics["containers"][0] == {"name": "web", "usage": {"cpu": "50000000n", "memory": "4096Ki"}}


def test_node_figures_from_proc(tmp_path: Path):
    (tmp_path / "stat").write_text("cpu  100 0 50 1000 20 0 10 0 0 0\ncpu0 1 2 3 4\n")
    (tmp_path / "meminfo").write_text("MemTotal:       2048 kB\nMemFree:  100 kB\nMemAvailable:   512 kB\n")
    assert node_cpu_ns(tmp_path) == 160 * (1_000_000_000 // 100)
    assert node_memory_bytes(tmp_path) == (1536 * 1024, 2048 * 1024)


def _proc(tmp_path: Path) -> Path:
    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "stat").write_text("cpu  100 0 50 1000 20 0 10 0 0 0\n")
    (proc / "meminfo").write_text("MemTotal:       2048 kB\nMemAvailable:   512 kB\n")
    return proc


def test_a_v1_node_cgroup_gives_its_own_figures_not_the_machines(tmp_path: Path):
    cgroup = tmp_path / "cgroup"
    (cgroup / "memory").mkdir(parents=True)
    (cgroup / "cpuacct").mkdir()
    (cgroup / "memory" / "memory.usage_in_bytes").write_text("900000\n")
    (cgroup / "memory" / "memory.stat").write_text("cache 5\ntotal_inactive_file 100000\n")
    (cgroup / "memory" / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    (cgroup / "cpuacct" / "cpuacct.usage").write_text("28417582681\n")
    assert node_figures(cgroup, _proc(tmp_path)) == (28417582681, 800000, 2048 * 1024)  # no limit: RAM
    (cgroup / "memory" / "memory.limit_in_bytes").write_text("1048576\n")
    assert node_figures(cgroup, tmp_path / "proc")[2] == 1048576  # a limit below RAM is the capacity


def test_a_v2_namespaced_root_gives_its_figures_and_a_host_root_falls_back_to_proc(tmp_path: Path):
    cgroup = tmp_path / "cgroup"
    cgroup.mkdir()
    (cgroup / "cgroup.controllers").write_text("cpu memory pids\n")
    (cgroup / "cpu.stat").write_text("usage_usec 2500\nuser_usec 2000\n")
    proc = _proc(tmp_path)
    assert node_figures(cgroup, proc) == (160 * (1_000_000_000 // 100), 1536 * 1024, 2048 * 1024)  # host root
    (cgroup / "memory.current").write_text("700000\n")
    (cgroup / "memory.stat").write_text("anon 1\ninactive_file 200000\n")
    (cgroup / "memory.max").write_text("max\n")
    assert node_figures(cgroup, proc) == (2_500_000, 500000, 2048 * 1024)
    assert node_memory_detail(cgroup, proc) == (700000, 1)  # usage and anon (rss)
    assert node_figures(tmp_path / "none", proc)[1] == 1536 * 1024  # no cgroup file system
