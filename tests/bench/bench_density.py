"""Density: the whole control plane under a fleet of hollow nodes (upstream's density test, kubemark-style).

Starts a local etcd + kprov-apiserver (kprov.local; ``--apiserver-workers`` processes on
one port), the real kprov-scheduler and kprov-controller-manager, and ``kprov-hollow-nodes
--count N`` as its own process. Once every hollow node is Ready, it creates Deployments
totalling ``N * pods-per-node`` replicas and watches every pod from creation to Running
(the hollow kubelet reports Running as soon as it sees the pod bound: pod start-up here
is the control plane's share — API, scheduler, controllers, watch delivery — as in
upstream's SLO, which leaves image pulls out). While that runs, a probe measures the API
as users see it: a ConfigMap create+delete (mutating), a single-pod GET, and every few
seconds a cluster-wide pod LIST.

Prints ``density_nodes``, ``density_pods``, ``density_pods_per_s`` (pods / time from the
first create to the last Running), ``pod_startup_p50_s``/``pod_startup_p99_s`` (seen
ADDED -> seen Running; SLO p99 <= 5), ``api_mutating_p99_ms`` and ``api_get_p99_ms`` (SLO
<= 1,000), ``api_list_pods_p99_ms`` (SLO <= 30,000), ``apiserver_rss_mib``,
``controller_manager_rss_mib``, ``scheduler_rss_mib``, ``hollow_rss_mib``, ``etcd_db_mib``
and where the CPU went (``cpu_s_<process>`` for each process over the timed section).

    python tests/bench/bench_density.py [--nodes 2000] [--pods-per-node 30]

(The issue's full form is 2,000 nodes x 30 pods with 3 etcd members and 2 API servers; this
bench runs one etcd member on loopback and the API server's worker processes on one port.)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from kprov.cluster.client import ApiClient, resources  # noqa: E402
from kprov.local import LocalControlPlane  # noqa: E402
from kprov.local.processes import pid_of  # noqa: E402
from kprov.pki import CONTROLLER_MANAGER_CN, SCHEDULER_CN  # noqa: E402
from tests.integration.controllers.hollow import ensure_namespace, start_component, stop_component  # noqa: E402

NAMESPACE = "density"
REPLICAS_PER_DEPLOYMENT = 100
_CLK = os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int | None) -> float:
    """Resident memory of ``pid`` and its children (API server workers are children)."""
    if pid is None:
        return 0.0
    total = 0
    for p in [pid, *_children(pid)]:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return round(total / 1024, 1)


def cpu_s(pid: int | None) -> float:
    if pid is None:
        return 0.0
    total = 0
    for p in [pid, *_children(pid)]:
        with contextlib.suppress(OSError, IndexError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / _CLK


def _children(pid: int) -> list[int]:
    with contextlib.suppress(OSError):
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return []


def p99(values: list[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def deployment(name: str, replicas: int) -> dict:
    labels = {"app": name}
    return {
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [{
                        "name": "c", "image": "registry.k8s.io/pause:3.9",
                        "resources": {"requests": {"cpu": "10m", "memory": "10Mi"}},
                    }],
                },
            },
        },
    }


async def probe(client: ApiClient, stop: asyncio.Event, lat: dict[str, list[float]]) -> None:
    """User-facing latencies while the cluster fills: mutating, single GET, cluster-wide LIST."""
    i = 0
    last_list = 0.0
    while not stop.is_set():
        name = f"probe-{i}"
        began = time.perf_counter()
        await client.create(resources.CONFIGMAPS, {"metadata": {"name": name, "namespace": NAMESPACE}})
        await client.delete(resources.CONFIGMAPS, name, NAMESPACE)
        lat["mutating"].append((time.perf_counter() - began) * 500)  # two calls: per call
        pods = (await client.list(resources.PODS, NAMESPACE, limit=1)).get("items") or []
        if pods:
            began = time.perf_counter()
            await client.get(resources.PODS, pods[0]["metadata"]["name"], NAMESPACE)
            lat["get"].append((time.perf_counter() - began) * 1000)
        if time.monotonic() - last_list > 5:
            began = time.perf_counter()
            await client.list_all(resources.PODS)
            lat["list"].append((time.perf_counter() - began) * 1000)
            last_list = time.monotonic()
        i += 1
        await asyncio.sleep(0.1)


async def run(plane_dir: Path, nodes: int, per_node: int, workers: int) -> dict[str, float]:
    plane = LocalControlPlane(plane_dir, start_components=False, apiserver_workers=workers)
    info = plane.up()
    procs: dict[str, subprocess.Popen] = {}
    try:
        procs["scheduler"] = start_component("kprov.cluster.scheduler", plane.kubeconfig_for(SCHEDULER_CN),
                                             plane_dir, "scheduler", "--leader-elect=false")
        procs["controller_manager"] = start_component(
            "kprov.cluster.controllers", plane.kubeconfig_for(CONTROLLER_MANAGER_CN), plane_dir, "cm",
            "--leader-elect=false")
        procs["hollow"] = start_component("kprov.cluster.hollow", Path(info.admin_kubeconfig), plane_dir,
                                          "hollow", f"--count={nodes}", "--cpus=32", "--memory-gib=64")
        pids = {"apiserver": pid_of(plane_dir, "apiserver"), "etcd": pid_of(plane_dir, "etcd"),
                **{k: p.pid for k, p in procs.items()}}
        async with ApiClient.from_kubeconfig(info.admin_kubeconfig, max_connections=32, lean=True) as admin:
            await ensure_namespace(admin, NAMESPACE)
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                listed, _ = await admin.list_all(resources.NODES, label_selector="kprov.io/hollow=true")
                if sum(1 for n in listed if _ready(n)) >= nodes:
                    break
                await asyncio.sleep(1)
            else:
                raise RuntimeError(f"{nodes} hollow nodes did not become Ready; see {plane_dir}/hollow.log")

            total = nodes * per_node
            _, rv = await admin.list_all(resources.PODS, NAMESPACE)
            seen: dict[str, float] = {}
            running: dict[str, float] = {}
            done = asyncio.Event()

            async def watch() -> None:
                version = rv
                while not done.is_set():
                    async for event in admin.watch(resources.PODS, NAMESPACE, resource_version=version,
                                                   timeout_seconds=600):
                        meta = event.object.get("metadata") or {}
                        version = meta.get("resourceVersion", version)
                        name = meta.get("name", "")
                        seen.setdefault(name, time.monotonic())
                        phase = (event.object.get("status") or {}).get("phase")
                        if phase == "Running" and name not in running:
                            running[name] = time.monotonic()
                            if len(running) >= total:
                                done.set()
                                return

            lat: dict[str, list[float]] = {"mutating": [], "get": [], "list": []}
            stop = asyncio.Event()
            cpu_before = {k: cpu_s(v) for k, v in pids.items()}
            watcher = asyncio.create_task(watch())
            prober = asyncio.create_task(probe(admin, stop, lat))
            first = time.monotonic()
            remaining, index = total, 0
            while remaining > 0:
                replicas = min(REPLICAS_PER_DEPLOYMENT, remaining)
                await admin.create(resources.DEPLOYMENTS, deployment(f"d{index}", replicas))
                remaining -= replicas
                index += 1
            await asyncio.wait_for(done.wait(), timeout=3600)
            last = max(running.values())
            stop.set()
            await prober
            watcher.cancel()
            startups = [running[n] - seen[n] for n in running if n in seen]
            figures: dict[str, float] = {
                "density_nodes": nodes,
                "density_pods": total,
                "density_pods_per_s": round(total / (last - first), 1),
                "pod_startup_p50_s": round(sorted(startups)[len(startups) // 2], 3),
                "pod_startup_p99_s": round(p99(startups), 3),
                "api_mutating_p99_ms": round(p99(lat["mutating"]), 1),
                "api_get_p99_ms": round(p99(lat["get"]), 1),
                "api_list_pods_p99_ms": round(p99(lat["list"]), 1),
            }
            for key, pid in pids.items():
                figures[f"cpu_s_{key}"] = round(cpu_s(pid) - cpu_before[key], 1)
            for key in ("apiserver", "controller_manager", "scheduler", "hollow"):
                figures[f"{key}_rss_mib"] = rss_mib(pids[key])
            db = plane_dir / "etcd" / "member" / "snap" / "db"
            figures["etcd_db_mib"] = round(db.stat().st_size / 2**20, 1) if db.exists() else 0.0
            return figures
    finally:
        for proc in procs.values():
            stop_component(proc)
        plane.down()


def _ready(node: dict) -> bool:
    conditions = (node.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=2000)
    parser.add_argument("--pods-per-node", type=int, default=30)
    parser.add_argument("--apiserver-workers", type=int, default=2)
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix="kprov-bench-density-") as tmp,
        asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner,
    ):
        figures = runner.run(run(Path(tmp), args.nodes, args.pods_per_node, args.apiserver_workers))
    for name, value in figures.items():
        print(f"{name} = {value}")


if __name__ == "__main__":
    main()
