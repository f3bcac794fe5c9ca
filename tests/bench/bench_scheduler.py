"""Scheduler throughput and latency against real parts.

Starts a local etcd + kprov-apiserver (kprov.local, no other components), creates hollow
nodes (Node objects with allocatable, Ready) and then a real ``kprov-scheduler`` process;
creates the pending pods (mixed cpu/memory requests, 10% with required pod anti-affinity
on the hostname in groups of 10) with many creates in flight, and watches the bindings.

Prints ``sched_pods_per_s`` (pods / time from the first create to the last bind),
``sched_p50_ms`` and ``sched_p99_ms`` (create returned -> binding observed), the API
server's own create rate in the same run (``sched_create_pods_per_s``, the ceiling for
the end-to-end figure), and ``sched_cycle_pods_per_s``: the same pods placed on the same
nodes by the scheduler's cache and plugins in-process, without the API (its own ceiling).

After the timed section the bench checks the placements it saw (``sched_violations``:
pods of an anti-affinity group sharing a node, nodes over capacity; must be 0). The
scheduler writes its Scheduled events in the background (they never hold up a binding),
so the bench then waits for them and prints how many were written
(``sched_events_written``) and how long after the last bind the last one came
(``sched_events_drain_s``).

    python tests/bench/bench_scheduler.py [--nodes 1000] [--pods 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from kprov.cluster.client import ApiClient, resources  # noqa: E402
from kprov.cluster.scheduler.algorithm import schedule  # noqa: E402
from kprov.cluster.scheduler.cache import SchedulerCache  # noqa: E402
from kprov.cluster.scheduler.plugins import build_plugins  # noqa: E402
from kprov.cluster.scheduler.podinfo import PodInfo  # noqa: E402
from kprov.local import LocalControlPlane  # noqa: E402
from kprov.pki import SCHEDULER_CN  # noqa: E402
from tests.integration.controllers.hollow import (  # noqa: E402
    create_node,
    ensure_namespace,
    node_body,
    node_status,
    simple_pod,
    start_component,
    stop_component,
)

NAMESPACE = "bench"


def placement_violations(
    bodies: list[dict], placed: dict[str, str], nodes_cpu: int, nodes_memory: int
) -> int:
    """Anti-affinity groups sharing a node, and nodes over their cpu, memory or pod count."""
    cpu: Counter[str] = Counter()
    memory: Counter[str] = Counter()
    count: Counter[str] = Counter()
    groups: dict[str, list[str]] = {}
    for body in bodies:
        name = body["metadata"]["name"]
        node = placed.get(name)
        if node is None:
            continue
        info = PodInfo.of(body)
        cpu[node] += info.cpu
        memory[node] += info.memory
        count[node] += 1
        if info.anti_affinity:
            groups.setdefault(body["metadata"]["labels"]["group"], []).append(node)
    shared = sum(len(members) - len(set(members)) for members in groups.values())
    over = sum(1 for n in count if cpu[n] > nodes_cpu or memory[n] > nodes_memory or count[n] > 110)
    return shared + over


async def wait_scheduled_events(admin: ApiClient, pods: int, timeout: float) -> int:
    """Count Scheduled events in the bench namespace until there is one per pod (or timeout)."""
    selector = "reason=Scheduled"
    items, rv = await admin.list_all(resources.EVENTS, NAMESPACE, field_selector=selector)
    seen = {e["metadata"]["name"] for e in items}
    deadline = time.monotonic() + timeout
    while len(seen) < pods and time.monotonic() < deadline:
        with contextlib.suppress(asyncio.TimeoutError):
            async with asyncio.timeout(max(0.1, deadline - time.monotonic())):
                async for event in admin.watch(resources.EVENTS, NAMESPACE, resource_version=rv,
                                               field_selector=selector, timeout_seconds=60):
                    meta = event.object.get("metadata") or {}
                    rv = meta.get("resourceVersion", rv)
                    if event.type == "ADDED":
                        seen.add(meta.get("name", ""))
                        if len(seen) >= pods:
                            break
    return len(seen)


def make_pod(i: int, rng: random.Random) -> dict:
    cpu = rng.choice(["100m", "250m", "500m"])
    memory = rng.choice(["128Mi", "256Mi", "512Mi"])
    if i % 10 == 0:
        group = f"anti-{i // 100}"
        anti = {
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "labelSelector": {"matchLabels": {"group": group}},
                        "topologyKey": "kubernetes.io/hostname",
                    }
                ]
            }
        }
        return simple_pod(f"p{i}", NAMESPACE, labels={"group": group}, cpu=cpu, memory=memory, affinity=anti)
    return simple_pod(f"p{i}", NAMESPACE, labels={"app": f"a{i % 50}"}, cpu=cpu, memory=memory)


async def run(
    plane_dir: Path, nodes: int, pods: int, apiserver_workers: int, scheduler_args: list[str]
) -> dict[str, float]:
    plane = LocalControlPlane(plane_dir, start_components=False, apiserver_workers=apiserver_workers)
    info = plane.up()
    sched: subprocess.Popen | None = None
    try:
        async with ApiClient.from_kubeconfig(info.admin_kubeconfig, max_connections=64, lean=True) as admin:
            await ensure_namespace(admin, NAMESPACE)
            sem = asyncio.Semaphore(32)

            async def node(i: int) -> None:
                async with sem:
                    await create_node(
                        admin,
                        f"hollow-{i:04d}",
                        cpu="32",
                        memory="64Gi",
                        pods=110,
                        labels={"zone": f"z{i % 3}"},
                    )

            await asyncio.gather(*(node(i) for i in range(nodes)))
            sched = start_component(
                "kprov.cluster.scheduler",
                plane.kubeconfig_for(SCHEDULER_CN),
                plane_dir,
                "bench-scheduler",
                "--leader-elect=false",
                *scheduler_args,
            )
            await asyncio.sleep(3)  # let it list the nodes before the rush

            _, rv = await admin.list_all(resources.PODS, NAMESPACE)
            created: dict[str, float] = {}
            bound: dict[str, float] = {}
            placed: dict[str, str] = {}
            done = asyncio.Event()

            async def watch() -> None:
                version = rv
                while not done.is_set():
                    async for event in admin.watch(
                        resources.PODS, NAMESPACE, resource_version=version, timeout_seconds=600
                    ):
                        meta = event.object.get("metadata") or {}
                        version = meta.get("resourceVersion", version)
                        name = meta.get("name")
                        node = (event.object.get("spec") or {}).get("nodeName")
                        if name and node and name not in bound:
                            bound[name] = time.monotonic()
                            placed[name] = node
                            if len(bound) >= pods:
                                done.set()
                                return

            watcher = asyncio.create_task(watch())
            rng = random.Random(7)
            bodies = [make_pod(i, rng) for i in range(pods)]
            create_sem = asyncio.Semaphore(48)

            async def create(body: dict) -> None:
                async with create_sem:
                    await admin.create(resources.PODS, body)
                    created[body["metadata"]["name"]] = time.monotonic()

            first = time.monotonic()
            await asyncio.gather(*(create(b) for b in bodies))
            created_all = time.monotonic()
            await asyncio.wait_for(done.wait(), timeout=1800)
            watcher.cancel()
            last = max(bound.values())
            latencies = sorted(max(0.0, bound[n] - created[n]) * 1000 for n in bound if n in created)
            violations = placement_violations(bodies, placed, nodes_cpu=32_000, nodes_memory=64 << 30)
            events = await wait_scheduled_events(admin, pods, timeout=600)
            return {
                "sched_nodes": nodes,
                "sched_pods": pods,
                "sched_create_pods_per_s": round(pods / (created_all - first), 1),
                "sched_pods_per_s": round(pods / (last - first), 1),
                "sched_p50_ms": round(latencies[len(latencies) // 2], 1),
                "sched_p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 1),
                "sched_violations": violations,
                "sched_events_written": events,
                "sched_events_drain_s": round(time.monotonic() - last, 1),
            }
    finally:
        if sched is not None:
            stop_component(sched)
        plane.down()


def cycles_only(nodes: int, pods: int) -> float:
    """Scheduling cycles per second over an in-memory cache (no API server involved)."""
    cache = SchedulerCache()
    for i in range(nodes):
        node = node_body(f"hollow-{i:04d}", labels={"zone": f"z{i % 3}"})
        node["status"] = node_status("32", "64Gi", 110)
        cache.set_node(node)
    plugins = build_plugins()
    rng = random.Random(7)
    bodies = [make_pod(i, rng) for i in range(pods)]
    start = 0
    began = time.perf_counter()
    for body in bodies:
        info = PodInfo.of(body)
        result = schedule(info, cache, plugins, start=start)
        start = result.next_start
        if result.node is not None:
            cache.assume(info, result.node)
    return round(pods / (time.perf_counter() - began), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--pods", type=int, default=10000)
    parser.add_argument("--apiserver-workers", type=int, default=1,
                        help="API server processes (SO_REUSEPORT), as bench_apiserver --workers")
    parser.add_argument("--scheduler-arg", action="append", default=[],
                        help="extra kprov-scheduler flag (repeatable): --scheduler-arg=--event-writers=4")
    args = parser.parse_args()
    # the bench's own client runs on uvloop, like the API server and the scheduler: it shares
    # the cores with them, so the leaner it is the less it takes from what is measured
    with (
        tempfile.TemporaryDirectory(prefix="kprov-bench-sched-") as tmp,
        asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner,
    ):
        figures = runner.run(
            run(Path(tmp), args.nodes, args.pods, args.apiserver_workers, args.scheduler_arg)
        )
    figures["sched_cycle_pods_per_s"] = cycles_only(args.nodes, args.pods)
    for name, value in figures.items():
        print(f"{name} = {value}")


if __name__ == "__main__":
    main()
