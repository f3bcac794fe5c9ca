"""Density: the whole control plane under a fleet of hollow nodes (upstream's density test, kubemark-style).

Starts a local control plane in the issue's shape (kprov.local): ``--etcd-members`` etcd
members (3) and ``--apiservers`` API servers (2, each on its own port with
``--apiserver-workers`` processes), the real kprov-scheduler (on API server 0) and
kprov-controller-manager (on API server 1), and one ``kprov-hollow-nodes`` process per API
server, each running its share of the N nodes (as kubelets behind a load balancer). Once
every hollow node is Ready, it creates Deployments totalling ``N * pods-per-node``
replicas and watches every pod from creation to Running (the hollow kubelet reports
Running as soon as it sees the pod bound: pod start-up here is the control plane's share —
API, scheduler, controllers, watch delivery — as in upstream's SLO, which leaves image
pulls out). While that runs, a probe measures the API as users see it, taking turns on the
API servers: a ConfigMap create+delete (mutating), a single-pod GET, and every few seconds
a cluster-wide pod LIST, in a process of its own (decoding 60,000 pods would stall the
bench's watch and be timed as start-up).

Then, as upstream's density test (clusterloader2 testing/density), a latency phase: in the
full cluster, ``--latency-pods`` single-replica Deployments (default max(500, nodes)) created
at ``--latency-qps`` (5) per second. Upstream judges the pod start-up SLO on these; the
saturation pods' start-up is its own measurement there, with a limit derived from the pod
count rather than the SLO, because a pod created in a burst of 60,000 waits behind the others.

Prints ``density_nodes``, ``density_pods``, ``density_pods_per_s`` (saturation pods / time
from the first create to the last Running), ``pod_startup_p50_s``/``pod_startup_p99_s`` (the
latency pods, as upstream measures it: creationTimestamp -> seen Running by the bench's watch;
SLO p99 <= 5; the saturation pods' when there are no latency pods) and its stages
``create_to_schedule_p99_s``, ``schedule_to_run_p99_s``, ``run_to_watch_p99_s`` (object times
are whole seconds, as upstream's), ``pod_startup_watch_p50_s``/``_p99_s`` (seen ADDED -> seen
Running, sub-second), ``saturation_pod_startup_p50_s``/``_p99_s``, ``latency_pods``,
``api_mutating_p99_ms`` and ``api_get_p99_ms`` (SLO <= 1,000), ``api_list_pods_p99_ms`` (SLO
<= 30,000) as the probe's client times them, the same three as upstream's SLIs are defined
(clusterloader2: the API servers' ``apiserver_request_sli_duration_seconds`` over the timed
section, queue and webhook waits and events left out, worst (resource, verb) pair;
:mod:`tests.bench._api_sli`) as ``api_*_server_p99_ms``, ``list_pods_etcd_fallbacks`` (consistent
pod lists the servers read from etcd because their watch cache was not fresh in time),
``list_pods_cache_wait_p99_ms`` (how long consistent pod lists waited for the watch cache),
``apiserver_rss_mib`` (the largest API server, its workers included),
``etcd_rss_mib`` (the largest member), ``controller_manager_rss_mib``, ``scheduler_rss_mib``,
``hollow_rss_mib`` (all fleets), ``etcd_db_mib``, ``nodes_ready_s`` (registration, before the
timed section), the CPU seconds each part used over the timed section (``cpu_s_<part>``;
``cpu_s_others`` is what the rest of the machine used meanwhile: it is shared) and the
1-minute load average before and after. When a target is missed it also prints
``targets_missed:``, ``api_slowest_calls:`` (the servers' slowest resource/verb pairs, whole durations),
``api_slowest_sli_calls:`` (the same by the SLI histogram) and
``cpu_went_to:`` (each part's share of the CPU used).

    python tests/bench/bench_density.py [--nodes 2000] [--pods-per-node 30]
        [--etcd-members 3] [--apiservers 2] [--apiserver-workers 1]
        [--latency-pods N] [--latency-qps 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from kprov.cluster import collector  # noqa: E402
from kprov.cluster.client import ApiClient, resources  # noqa: E402
from kprov.local import LocalControlPlane  # noqa: E402
from kprov.local.processes import pid_of  # noqa: E402
from kprov.pki import ADMIN_CN, CONTROLLER_MANAGER_CN, MASTERS_GROUP, SCHEDULER_CN  # noqa: E402
from tests.bench._api_sli import (  # noqa: E402
    SLI_FAMILY,
    cache_wait_p99_ms,
    list_fallbacks,
    scrape,
    slis,
    slowest,
)
from tests.bench._profile import Profiler  # noqa: E402
from tests.integration.controllers.hollow import ensure_namespace, start_component, stop_component  # noqa: E402

NAMESPACE = "density"
REPLICAS_PER_DEPLOYMENT = 100
# room for 16,384 nodes' /24s (the default /16 holds 256: the rest would wait for a podCIDR, and
# the controller manager would spend the run retrying them)
CLUSTER_CIDR = "10.64.0.0/10"
MIN_LATENCY_PODS = 500  # upstream's density test: max(500, nodes) latency pods
LATENCY_QPS = 5.0  # ... created at 5 per second
PROGRESS_EVERY_S = 60.0  # a progress line on stderr this often
PROBE_TIMEOUT_S = 120.0  # the probe's requests: past the LIST SLO (30 s), so a miss is a sample
_CLK = os.sysconf("SC_CLK_TCK")
TARGETS = {  # upstream's SLOs
    "api_mutating_p99_ms": 1000.0, "api_get_p99_ms": 1000.0, "api_list_pods_p99_ms": 30000.0,
    "pod_startup_p99_s": 5.0,
    "api_mutating_server_p99_ms": 1000.0, "api_get_server_p99_ms": 1000.0,
    "api_list_pods_server_p99_ms": 30000.0,
}


@dataclass(frozen=True)
class Topology:
    etcd_members: int = 3
    apiservers: int = 2
    workers: int = 1  # processes per API server


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


def cpu_s(pid: int | None, children: bool = True) -> float:
    """CPU seconds ``pid`` used (and its children: an API server's workers)."""
    if pid is None:
        return 0.0
    total = 0
    for p in [pid, *(_children(pid) if children else [])]:
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


def deployment(name: str, replicas: int, group: str = "saturation") -> dict:
    labels = {"app": name, "group": group}
    return {
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"group": group}},
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


async def create_saturation(client: ApiClient, pods: int) -> None:
    """The saturation phase's Deployments: ``pods`` replicas in Deployments of
    REPLICAS_PER_DEPLOYMENT (the last takes the rest), created one after another."""
    remaining, index = pods, 0
    while remaining > 0:
        replicas = min(REPLICAS_PER_DEPLOYMENT, remaining)
        await client.create(resources.DEPLOYMENTS, deployment(f"d{index}", replicas))
        remaining -= replicas
        index += 1


async def probe(clients: list[ApiClient], stop: asyncio.Event, lat: dict[str, list[float]]) -> None:
    """User-facing latencies while the cluster fills: mutating, single GET, cluster-wide LIST,
    taking turns on the API servers (as users behind a load balancer)."""
    i = 0
    last_list = 0.0
    while not stop.is_set():
        client = clients[i % len(clients)]
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
            with contextlib.suppress(TimeoutError):  # a list past the client's limit: a sample at it
                await client.list_all(resources.PODS)
            lat["list"].append((time.perf_counter() - began) * 1000)
            last_list = time.monotonic()
        i += 1
        await asyncio.sleep(0.1)


def probe_process(kubeconfigs: list[str], stop: Any, out: Any) -> None:
    """:func:`probe` in a process of its own (multiprocessing, spawned): decoding a LIST of
    60,000 pods takes the decoding process's event loop for a second or more, and in the
    bench's own loop that stall would be timed as the watched pods' start-up."""

    async def main() -> None:
        collector.settle()  # as the components: decoding the whole list is the probe's, not the API's
        clients = [ApiClient.from_kubeconfig(k, max_connections=4, lean=True, timeout=PROBE_TIMEOUT_S)
                   for k in kubeconfigs]
        lat: dict[str, list[float]] = {"mutating": [], "get": [], "list": []}
        stopped = asyncio.Event()

        async def watch_stop() -> None:
            while not stop.is_set():
                await asyncio.sleep(0.2)
            stopped.set()

        watcher = asyncio.create_task(watch_stop())
        try:
            await probe(clients, stopped, lat)
        finally:
            watcher.cancel()
            for client in clients:
                await client.close()
            out.put((lat, time.process_time()))  # its CPU: it may be gone before it is read

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())


def epoch(stamp: str | None) -> float | None:
    """An RFC 3339 time of an object (creationTimestamp, lastTransitionTime: whole seconds) as
    seconds since the epoch."""
    if not stamp:
        return None
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def startup_stages(pod: dict[str, Any], watched: float) -> dict[str, float] | None:
    """Upstream's pod start-up measurement (clusterloader2's pod_startup_latency) of a pod
    seen Running at ``watched`` (epoch seconds): ``pod_startup`` from creationTimestamp to
    watched, split into create_to_schedule (PodScheduled's lastTransitionTime),
    schedule_to_run (the first container's running.startedAt) and run_to_watch. Object
    times are whole seconds, as upstream's: each stage may read up to a second off."""
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    created = epoch(meta.get("creationTimestamp"))
    if created is None:
        return None
    scheduled = next((epoch(c.get("lastTransitionTime")) for c in status.get("conditions") or []
                      if c.get("type") == "PodScheduled"), None)
    started = next((epoch(((c.get("state") or {}).get("running") or {}).get("startedAt"))
                    for c in status.get("containerStatuses") or []), None) or epoch(status.get("startTime"))
    stages = {"pod_startup": watched - created}
    if scheduled is not None:
        stages["create_to_schedule"] = scheduled - created
        if started is not None:
            stages["schedule_to_run"] = started - scheduled
    if started is not None:
        stages["run_to_watch"] = watched - started
    return stages


def log_name(component: str) -> str:
    """The log file start_component gave a component of this bench."""
    return {"controller_manager": "cm"}.get(component, component)


def log_tail(plane_dir: Path, component: str, lines: int = 40) -> str:
    path = plane_dir / f"{log_name(component)}.log"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else "(no log)"


async def components_alive(procs: dict[str, subprocess.Popen], plane_dir: Path) -> None:
    """Return (with the logs' tails in an error) when one of the bench's components exits."""
    while True:
        await asyncio.sleep(2)
        died = [name for name, proc in procs.items() if proc.poll() is not None]
        if died:
            tails = "\n".join(f"--- {log_name(n)}.log:\n{log_tail(plane_dir, n)}" for n in died)
            raise RuntimeError(f"{', '.join(died)} exited during the run\n{tails}")


def machine_busy_s() -> float:
    """CPU seconds the whole machine spent busy (every process, this bench's and others')."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / _CLK


def loadavg_1m() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def missed_targets(figures: dict[str, float]) -> list[str]:
    return [f"{name} ({figures[name]} > {limit})" for name, limit in TARGETS.items()
            if figures.get(name, 0.0) > limit]


def split(total: int, parts: int) -> list[int]:
    """``total`` in ``parts`` near-equal counts (the first ones take the remainder)."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


async def run(
    plane_dir: Path, nodes: int, per_node: int, topology: Topology, profile: bool = False,
    latency_pods: int | None = None, latency_qps: float = LATENCY_QPS,
) -> dict[str, float]:
    if latency_pods is None:
        latency_pods = max(MIN_LATENCY_PODS, nodes)
    plane = LocalControlPlane(plane_dir, start_components=False, apiserver_workers=topology.workers,
                              etcd_members=topology.etcd_members, apiservers=topology.apiservers)
    info = plane.up()
    servers = len(info.all_servers)
    procs: dict[str, subprocess.Popen] = {}
    try:
        # the components spread over the API servers as behind a load balancer
        procs["scheduler"] = start_component(
            "kprov.cluster.scheduler", plane.kubeconfig_for(SCHEDULER_CN, server_index=0), plane_dir,
            "scheduler", "--leader-elect=false")
        procs["controller_manager"] = start_component(
            "kprov.cluster.controllers", plane.kubeconfig_for(CONTROLLER_MANAGER_CN, server_index=1),
            plane_dir, "cm", "--leader-elect=false", "--use-service-account-credentials=true",
            f"--cluster-cidr={CLUSTER_CIDR}")
        first = 0
        for i, count in enumerate(split(nodes, min(servers, nodes))):
            admin_i = plane.kubeconfig_for(ADMIN_CN, [MASTERS_GROUP], server_index=i)
            procs[f"hollow-{i}"] = start_component(
                "kprov.cluster.hollow", admin_i, plane_dir, f"hollow-{i}", f"--count={count}",
                f"--first-index={first}", "--cpus=32", "--memory-gib=64")
            first += count
        etcd_names, server_names = plane.core_names()
        pids: dict[str, int | None] = {
            **{n: pid_of(plane_dir, n) for n in [*server_names, *etcd_names]},
            **{k: p.pid for k, p in procs.items()},
            "bench": os.getpid(),
        }
        clients = [
            ApiClient.from_kubeconfig(plane.kubeconfig_for(ADMIN_CN, [MASTERS_GROUP], server_index=i),
                                      max_connections=32, lean=True)
            for i in range(servers)
        ]
        admin = clients[0]
        try:
            await ensure_namespace(admin, NAMESPACE)
            registering = time.monotonic()
            deadline = registering + 600
            while time.monotonic() < deadline:
                listed, _ = await admin.list_all(resources.NODES, label_selector="kprov.io/hollow=true")
                if sum(1 for n in listed if _ready(n)) >= nodes:
                    break
                await asyncio.sleep(1)
            else:
                raise RuntimeError(f"{nodes} hollow nodes did not become Ready; see {plane_dir}/hollow-*.log")
            nodes_ready_s = round(time.monotonic() - registering, 1)
            print(f"progress: {nodes} nodes Ready in {nodes_ready_s} s", file=sys.stderr, flush=True)

            total = nodes * per_node
            _, rv = await admin.list_all(resources.PODS, NAMESPACE)
            seen: dict[str, float] = {}
            running: dict[str, dict[str, float]] = {"saturation": {}, "latency": {}}
            stages: dict[str, list[dict[str, float]]] = {"saturation": [], "latency": []}
            expected = {"saturation": total, "latency": latency_pods}
            done = {group: asyncio.Event() for group in expected}

            async def watch() -> None:
                version = rv
                while not done["latency"].is_set():
                    async for event in admin.watch(resources.PODS, NAMESPACE, resource_version=version,
                                                   timeout_seconds=600):
                        meta = event.object.get("metadata") or {}
                        version = meta.get("resourceVersion", version)
                        name = meta.get("name", "")
                        seen.setdefault(name, time.monotonic())
                        phase = (event.object.get("status") or {}).get("phase")
                        group = (meta.get("labels") or {}).get("group", "saturation")
                        ran = running.get(group)
                        if phase == "Running" and ran is not None and name not in ran:
                            ran[name] = time.monotonic()
                            measured = startup_stages(event.object, time.time())
                            if measured is not None:
                                stages[group].append(measured)
                            if len(ran) >= expected[group]:
                                done[group].set()
                                if group == "latency":
                                    return

            spawn = multiprocessing.get_context("spawn")
            stop, probed = spawn.Event(), spawn.Queue()
            kubeconfigs = [str(plane.kubeconfig_for(ADMIN_CN, [MASTERS_GROUP], server_index=i))
                           for i in range(servers)]
            prober = spawn.Process(target=probe_process, args=(kubeconfigs, stop, probed), daemon=True)
            load_before = loadavg_1m()
            own = {"bench": False}  # the bench's children are the components: counted apart
            cpu_before = {k: cpu_s(v, own.get(k, True)) for k, v in pids.items()}
            busy_before = machine_busy_s()
            histograms_before = await scrape(clients)
            profiler = Profiler(plane_dir)
            python_parts = ("apiserver", "controller_manager", "scheduler", "hollow")
            for name in [*server_names, *procs]:
                profiler.start(name, pids[name])
            watcher = asyncio.create_task(watch())
            prober.start()
            pids["probe"] = prober.pid
            cpu_before["probe"] = 0.0
            began = time.monotonic()

            async def progress() -> None:  # (a full run takes half an hour: say how far it is)
                while True:
                    await asyncio.sleep(PROGRESS_EVERY_S)
                    print(f"progress: {time.monotonic() - began:.0f} s, pods seen {len(seen)}, running "
                          f"{len(running['saturation'])}/{total} saturation and "
                          f"{len(running['latency'])}/{latency_pods} latency", file=sys.stderr, flush=True)

            reporter = asyncio.create_task(progress())
            watchdog = asyncio.create_task(components_alive(procs, plane_dir))

            async def until(event: asyncio.Event, timeout: float) -> None:
                """``event``, unless a component dies first (no figure can come then: say why)."""
                waiting = asyncio.create_task(event.wait())
                finished, _ = await asyncio.wait({waiting, watchdog}, timeout=timeout,
                                                 return_when=asyncio.FIRST_COMPLETED)
                if watchdog in finished:
                    waiting.cancel()
                    watchdog.result()
                if waiting not in finished:
                    waiting.cancel()
                    raise TimeoutError(f"not done in {timeout:.0f} s")

            await create_saturation(admin, total)
            await until(done["saturation"], 3600)
            last = max(running["saturation"].values())
            # upstream's latency phase: in the full cluster, single-replica workloads created
            # at a steady low rate; their start-up is what the SLO (p99 <= 5 s) is judged on
            # Each at its time whether or not the one before has been answered, as
            # clusterloader2's QPS-paced creates: awaited one by one, a create answered in
            # 0.9 s (the API busy settling 60,000 pods) held the rate to 1.1 a second.
            latency_began = time.monotonic()
            creates: set[asyncio.Task[object]] = set()
            for i in range(latency_pods):
                await asyncio.sleep(max(0.0, latency_began + i / latency_qps - time.monotonic()))
                task = asyncio.create_task(
                    admin.create(resources.DEPLOYMENTS, deployment(f"latency-{i}", 1, "latency")))
                creates.add(task)
                task.add_done_callback(creates.discard)
            if creates:
                await asyncio.gather(*creates)
            if latency_pods:
                await until(done["latency"], 900)
            stop.set()
            histograms_after = await scrape(clients)
            server_slis = slis(histograms_before, histograms_after)
            window = (histograms_before, histograms_after)
            server_slis["list_pods_etcd_fallbacks"] = list_fallbacks(*window)
            server_slis["list_pods_cache_wait_p99_ms"] = cache_wait_p99_ms(*window)
            slowest_calls = slowest(histograms_before, histograms_after)
            slowest_sli_calls = slowest(histograms_before, histograms_after, family=SLI_FAMILY)
            lat, used_probe = await asyncio.to_thread(probed.get, True, 120)
            await asyncio.to_thread(prober.join, 30)
            watcher.cancel()
            reporter.cancel()
            watchdog.cancel()
            profiler.stop()
            saturation = [t - seen[n] for n, t in running["saturation"].items() if n in seen]
            watched = [t - seen[n] for n, t in running["latency"].items() if n in seen] or saturation
            measured = stages["latency"] or stages["saturation"]
            startups = [m["pod_startup"] for m in measured] or watched
            figures: dict[str, float] = {
                "density_nodes": nodes,
                "density_pods": total,
                "etcd_members": len(etcd_names),
                "apiservers": servers,
                "nodes_ready_s": nodes_ready_s,  # from the fleets' start to every node Ready
                "density_s": round(last - began, 1),
                "density_pods_per_s": round(total / (last - began), 1),
                "latency_pods": len(running["latency"]),
                "pod_startup_p50_s": round(sorted(startups)[len(startups) // 2], 3),
                "pod_startup_p99_s": round(p99(startups), 3),
                **{f"{stage}_p99_s": round(p99([m[stage] for m in measured if stage in m]), 3)
                   for stage in ("create_to_schedule", "schedule_to_run", "run_to_watch")},
                "pod_startup_watch_p50_s": round(sorted(watched)[len(watched) // 2], 3),
                "pod_startup_watch_p99_s": round(p99(watched), 3),
                "saturation_pod_startup_p50_s": round(sorted(saturation)[len(saturation) // 2], 3),
                "saturation_pod_startup_p99_s": round(p99(saturation), 3),
                "api_mutating_p99_ms": round(p99(lat["mutating"]), 1),
                "api_get_p99_ms": round(p99(lat["get"]), 1),
                "api_list_pods_p99_ms": round(p99(lat["list"]), 1),
                "api_list_pods_samples": len(lat["list"]),
                **server_slis,
            }
            used = {k: cpu_s(pid, own.get(k, True)) - cpu_before[k] for k, pid in pids.items()}
            used["probe"] = used_probe  # (it has exited: it said what it used)
            groups = {
                "apiserver": server_names, "etcd": etcd_names, "scheduler": ["scheduler"],
                "controller_manager": ["controller_manager"],
                "hollow": [k for k in procs if k.startswith("hollow")], "bench": ["bench"],
                "probe": ["probe"],
            }
            cpu = {g: sum(used[n] for n in names) for g, names in groups.items()}
            busy = machine_busy_s() - busy_before
            for group, seconds in cpu.items():
                figures[f"cpu_s_{group}"] = round(seconds, 1)
            # what the rest of the (shared) machine used meanwhile
            figures["cpu_s_others"] = round(max(0.0, busy - sum(cpu.values())), 1)
            figures["apiserver_rss_mib"] = max(rss_mib(pids[n]) for n in server_names)  # the largest server
            figures["etcd_rss_mib"] = max(rss_mib(pids[n]) for n in etcd_names)
            figures["controller_manager_rss_mib"] = rss_mib(pids["controller_manager"])
            figures["scheduler_rss_mib"] = rss_mib(pids["scheduler"])
            figures["hollow_rss_mib"] = round(sum(rss_mib(pids[k]) for k in groups["hollow"]), 1)
            db = plane_dir / "etcd" / "member" / "snap" / "db"
            figures["etcd_db_mib"] = round(db.stat().st_size / 2**20, 1) if db.exists() else 0.0
            figures["loadavg_1m_before"] = load_before
            figures["loadavg_1m_after"] = loadavg_1m()
            missed = missed_targets(figures)
            if missed:
                spent = sum(cpu.values()) + figures["cpu_s_others"]
                print(f"targets_missed: {', '.join(missed)}")
                print(f"api_slowest_calls: {'; '.join(slowest_calls)}")
                print(f"api_slowest_sli_calls: {'; '.join(slowest_sli_calls)}")
                shares = sorted([*cpu.items(), ("others", figures["cpu_s_others"])], key=lambda kv: -kv[1])
                print("cpu_went_to: " + ", ".join(
                    f"{g} {100 * s / max(spent, 1e-9):.0f}%" for g, s in shares if s > 0))
            if missed or profile:  # inside each Python part, busiest first (py-spy's self time)
                for group, _ in sorted(cpu.items(), key=lambda kv: -kv[1]):
                    if group not in python_parts:
                        continue
                    for label, within in (("", ""), ("_kprov", "kprov/")):
                        top = profiler.top(groups[group], within=within)
                        if top:
                            shown = "; ".join(f"{share:.0f}% {frame}" for share, frame in top)
                            print(f"cpu_top{label}_{group}: {shown}")
            for name, value in figures.items():  # now: tearing a big plane down takes a while
                print(f"{name} = {value}", flush=True)
            return figures
        finally:
            for client in clients:
                await client.close()
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
    parser.add_argument("--etcd-members", type=int, default=3, help="etcd members on this machine")
    parser.add_argument("--apiservers", type=int, default=2, help="API servers, each on its own port")
    parser.add_argument("--apiserver-workers", type=int, default=1, help="processes per API server")
    parser.add_argument("--latency-pods", type=int, default=None,
                        help="pods of the latency phase (default: max(500, nodes), as upstream)")
    parser.add_argument("--latency-qps", type=float, default=LATENCY_QPS, help="their creation rate")
    parser.add_argument("--profile", action="store_true",
                        help="always print where the CPU went inside each part (py-spy), not only on a miss")
    args = parser.parse_args(argv)
    topology = Topology(args.etcd_members, args.apiservers, args.apiserver_workers)
    with (
        tempfile.TemporaryDirectory(prefix="kprov-bench-density-") as tmp,
        asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner,
    ):
        runner.run(run(Path(tmp), args.nodes, args.pods_per_node, topology, args.profile,
                       args.latency_pods, args.latency_qps))


if __name__ == "__main__":
    main()
