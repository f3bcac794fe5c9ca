"""Pod startup latency on one kprov node: create -> Running seen by a watch, 30 pods.

Brings up a one-node cluster on lab instance KPROV_LAB (default 9): control plane on this
machine, kprov-kubelet + containerd on lab host h1, the busybox image already imported.
A watch on the namespace records when each pod is first seen Running. Two runs of 30
pods (spec.nodeName=h1, image present): paced (each pod created once the previous one is
Running: the latency of one pod start) and burst (all 30 created at once: the node's
throughput, bounded by containerd/runc/CNI on the host's cores). Prints:

    pod_startup_p50_s = <seconds>          (paced)
    pod_startup_p99_s = <seconds>          (paced)
    pod_startup_burst_p50_s = <seconds>
    pod_startup_burst_p99_s = <seconds>

Run as root: ``python tests/bench/bench_pod_startup.py`` (the lab instance is wiped after).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from kprov.cluster.client import ApiClient  # noqa: E402
from kprov.cluster.client.errors import AlreadyExists  # noqa: E402
from kprov.cluster.client.resources import CONFIGMAPS, NAMESPACES, PODS, SERVICEACCOUNTS  # noqa: E402
from kprov.lab import Lab  # noqa: E402
from tests.e2e.kubelet.cluster import BUSYBOX, HOST, NodeCluster  # noqa: E402

PODS_COUNT = 30


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def pod(name: str, namespace: str) -> dict[str, object]:
    return {
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "nodeName": HOST,
            "terminationGracePeriodSeconds": 0,
            "containers": [
                {"name": "app", "image": BUSYBOX, "imagePullPolicy": "Never", "command": ["sleep", "3600"]}
            ],
        },
    }


async def service_account_prerequisites(client: ApiClient, namespace: str, ca_pem: str) -> None:
    """What a pod's service-account token volume needs in its namespace: the ``default``
    ServiceAccount (the API refuses pods without it) and the ``kube-root-ca.crt`` ConfigMap
    (the kubelet will not start a container whose projected volume lacks it). The controller
    manager makes both on a cluster; this bench's control plane runs none, so the bench does."""
    with contextlib.suppress(AlreadyExists):
        await client.create(SERVICEACCOUNTS, {"metadata": {"name": "default"}}, namespace)
    with contextlib.suppress(AlreadyExists):
        await client.create(
            CONFIGMAPS, {"metadata": {"name": "kube-root-ca.crt"}, "data": {"ca.crt": ca_pem}}, namespace
        )


async def measure(client: ApiClient, namespace: str, burst: bool, ca_pem: str) -> list[float]:
    """Latencies of PODS_COUNT pods: created one after the other (each once the previous is
    Running), or all at once (``burst``)."""
    await client.create(NAMESPACES, {"metadata": {"name": namespace}})
    await service_account_prerequisites(client, namespace, ca_pem)
    _, rv = await client.list_all(PODS, namespace)
    created: dict[str, float] = {}
    running: dict[str, float] = {}
    seen: dict[str, asyncio.Event] = {f"p{i:02d}": asyncio.Event() for i in range(PODS_COUNT)}

    async def watch() -> None:
        async for event in client.watch(PODS, namespace, resource_version=rv, timeout_seconds=600):
            name = (event.object.get("metadata") or {}).get("name", "")
            phase = (event.object.get("status") or {}).get("phase")
            if phase == "Running" and name in seen and name not in running:
                running[name] = time.monotonic()
                seen[name].set()

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.2)

    async def create(name: str) -> None:
        created[name] = time.monotonic()
        await client.create(PODS, pod(name, namespace))

    if burst:
        await asyncio.gather(*(create(name) for name in seen))
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in seen.values())), 600)
    else:
        for name, event in seen.items():
            await create(name)
            await asyncio.wait_for(event.wait(), 120)
    watcher.cancel()
    return [running[name] - created[name] for name in created]


async def measure_both(kubeconfig: Path, ca_pem: str) -> tuple[list[float], list[float]]:
    async with ApiClient.from_kubeconfig(kubeconfig, user_agent="bench-pod-startup") as client:
        paced = await measure(client, "bench-paced", burst=False, ca_pem=ca_pem)
        burst = await measure(client, "bench-burst", burst=True, ca_pem=ca_pem)
    return paced, burst


def main() -> None:
    lab = Lab(int(os.environ.get("KPROV_LAB", "9")))
    workdir = Path(tempfile.mkdtemp(prefix="kprov-bench-startup-"))
    cluster = NodeCluster(lab, workdir)
    try:
        lab.up(1)
        started = time.monotonic()
        cluster.start_control_plane()
        node_started = time.monotonic()
        cluster.prepare_node()
        kubelet_started = time.monotonic()
        cluster.start_kubelet()
        print(f"control_plane_up_s = {node_started - started:.1f}")
        print(f"node_prepare_s = {kubelet_started - node_started:.1f}")
        print(f"kubelet_to_node_ready_s = {time.monotonic() - kubelet_started:.1f}", flush=True)
        paced, burst = asyncio.run(
            measure_both(cluster.admin_kubeconfig, (workdir / "pki" / "ca.crt").read_text())
        )
    finally:
        cluster.close()
        lab.wipe()
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"pods = {len(paced)}")
    print(f"pod_startup_p50_s = {percentile(paced, 0.50):.3f}")
    print(f"pod_startup_p99_s = {percentile(paced, 0.99):.3f}")
    print(f"pod_startup_burst_p50_s = {percentile(burst, 0.50):.3f}")
    print(f"pod_startup_burst_p99_s = {percentile(burst, 0.99):.3f}")
    print(f"pod_startup_burst_mean_s = {statistics.mean(burst):.3f}")


if __name__ == "__main__":
    main()
