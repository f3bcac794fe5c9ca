"""Memory per pod: what each control-plane component holds for every pod it caches.

Two parts, both on real pods (density's shape, made by its Deployments):

1. **The real components** (``--pods`` > 0): a loopback control plane in the one-server shape
   (1 etcd member, 1 API server), the real scheduler and controller manager on it and one
   hollow fleet of ``--nodes`` nodes, as ``bench_density.py`` starts them. Resident memory of
   every part is read once the nodes are Ready (the baseline) and again once every pod of
   ``--pods`` runs, a cluster-wide LIST has been served (as density's probe does every few
   seconds) and ``--settle-s`` have passed. ``<part>_kib_per_pod`` = (after - baseline) /
   pods, for ``apiserver``, ``etcd``, ``scheduler``, ``controller_manager``, ``hollow``;
   ``projected_gib_at_150000`` adds each part's baseline and 150,000 times its share.
2. **The API server's watch cache in process**, under tracemalloc: the pods the run made,
   each replayed through :class:`~kprov.cluster.storage.watch_cache.WatchCache` as its
   etcd watch brings them on a density run (created, bound, reported Running: three
   versions; a live watcher of pods; each version this server's own write, adopted), then
   one cluster-wide LIST's encoded replies kept. Prints ``cache_kib_per_pod`` and the top
   allocation sites (``--top``), plus what one pod weighs as JSON (``pod_json_bytes``),
   decoded (``pod_decoded_kib``) and as an informer caches it (``informer_kib_per_pod``,
   managedFields stripped).

RSS is resident pages: it moves with the allocator's fragmentation and the collector's
timing, so figures differ a little from run to run (say so when comparing).

    python tests/bench/bench_memory_per_pod.py [--nodes 100] [--pods 10000] [--top 15]
        [--from-file pods.json]  (part 2 only, on pods saved by an earlier run's --save)
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from kprov.cluster.client import ApiClient, resources  # noqa: E402
from kprov.cluster.client.informer import strip_managed_fields  # noqa: E402
from kprov.cluster.storage.codec import Codec  # noqa: E402
from kprov.cluster.storage.watch_cache import WatchCache  # noqa: E402
from kprov.local import LocalControlPlane  # noqa: E402
from kprov.local.processes import pid_of  # noqa: E402
from kprov.pki import ADMIN_CN, CONTROLLER_MANAGER_CN, MASTERS_GROUP, SCHEDULER_CN  # noqa: E402
from tests.bench.bench_density import (  # noqa: E402
    CLUSTER_CIDR,
    NAMESPACE,
    _ready,
    create_saturation,
    rss_mib,
)
from tests.integration.controllers.hollow import ensure_namespace, start_component, stop_component  # noqa: E402

TARGET_PODS = 150_000


async def _wait_running(client: ApiClient, pods: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listed, _ = await client.list_all(resources.DEPLOYMENTS, NAMESPACE)
        ready = sum(int((d.get("status") or {}).get("readyReplicas") or 0) for d in listed)
        print(f"progress: {ready}/{pods} pods ready", file=sys.stderr, flush=True)
        if ready >= pods:
            return
        await asyncio.sleep(5)
    raise TimeoutError(f"{pods} pods not ready in {timeout:.0f} s")


async def real_components(
    plane_dir: Path, nodes: int, pods: int, settle_s: float
) -> tuple[dict[str, float], list[dict]]:
    plane = LocalControlPlane(plane_dir, start_components=False, apiserver_workers=1,
                              etcd_members=1, apiservers=1)
    plane.up()
    procs = {
        "scheduler": start_component("kprov.cluster.scheduler", plane.kubeconfig_for(SCHEDULER_CN), plane_dir,
                                     "scheduler", "--leader-elect=false"),
        "controller_manager": start_component(
            "kprov.cluster.controllers", plane.kubeconfig_for(CONTROLLER_MANAGER_CN), plane_dir, "cm",
            "--leader-elect=false", "--use-service-account-credentials=true",
            f"--cluster-cidr={CLUSTER_CIDR}"),
    }
    admin_kc = plane.kubeconfig_for(ADMIN_CN, [MASTERS_GROUP])
    procs["hollow"] = start_component("kprov.cluster.hollow", admin_kc, plane_dir, "hollow",
                                      f"--count={nodes}", "--first-index=0", "--cpus=32", "--memory-gib=64")
    etcd_names, server_names = plane.core_names()
    pids = {"apiserver": pid_of(plane_dir, server_names[0]), "etcd": pid_of(plane_dir, etcd_names[0]),
            **{k: p.pid for k, p in procs.items()}}
    client = ApiClient.from_kubeconfig(admin_kc, max_connections=16, lean=True, timeout=120)
    try:
        await ensure_namespace(client, NAMESPACE)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            listed, _ = await client.list_all(resources.NODES)
            if sum(1 for n in listed if _ready(n)) >= nodes:
                break
            await asyncio.sleep(1)
        else:
            raise RuntimeError(f"{nodes} hollow nodes not Ready; see {plane_dir}")
        await asyncio.sleep(settle_s)
        before = {k: rss_mib(p) for k, p in pids.items()}
        await create_saturation(client, pods)
        await _wait_running(client, pods, 1800)
        listed, _ = await client.list_all(resources.PODS)  # as density's probe: a cluster-wide LIST
        await asyncio.sleep(settle_s)
        after = {k: rss_mib(p) for k, p in pids.items()}
        figures: dict[str, float] = {"nodes": nodes, "pods": pods}
        projected = 0.0
        for part, base in before.items():
            per_pod = (after[part] - base) * 1024 / pods
            figures[f"{part}_rss_mib_before"] = base
            figures[f"{part}_rss_mib_after"] = after[part]
            figures[f"{part}_kib_per_pod"] = round(per_pod, 2)
            projected += base / 1024 + per_pod * TARGET_PODS / 2**20
        figures["projected_gib_at_150000"] = round(projected, 1)
        return figures, listed
    finally:
        await client.close()
        for proc in procs.values():
            stop_component(proc)
        plane.down()


def _versions(pod: dict[str, Any]) -> list[dict[str, Any]]:
    """A density pod's three stored versions, from its last: created (no node, status Pending),
    bound (nodeName, PodScheduled), reported Running (as listed)."""
    final = orjson.loads(orjson.dumps(pod))
    final["metadata"].pop("resourceVersion", None)
    status = final.get("status") or {}
    created = {**final, "spec": {k: v for k, v in final["spec"].items() if k != "nodeName"},
               "status": {"phase": "Pending", "qosClass": status.get("qosClass", "Burstable")}}
    scheduled = [c for c in status.get("conditions") or [] if c.get("type") == "PodScheduled"]
    bound = {**final, "status": {**created["status"], "conditions": scheduled}}
    return [created, bound, final]


class _Raw(SimpleNamespace):
    pass


def watch_cache_in_process(pods: list[dict], top: int) -> dict[str, float]:
    gc.collect()
    json_bytes = sum(len(orjson.dumps(p)) for p in pods) / len(pods)
    tracemalloc.start(1)
    one = tracemalloc.take_snapshot()
    decoded = [orjson.loads(orjson.dumps(p)) for p in pods]
    decoded_size = sum(s.size for s in tracemalloc.take_snapshot().compare_to(one, "filename")) / len(pods)
    del decoded
    base = tracemalloc.take_snapshot()
    informer = [strip_managed_fields(orjson.loads(orjson.dumps(p))) for p in pods]
    informer_size = sum(s.size for s in tracemalloc.take_snapshot().compare_to(base, "filename")) / len(pods)
    del informer
    tracemalloc.stop()

    histories = [(f"/registry/pods/{p['metadata']['namespace']}/{p['metadata']['name']}", _versions(p))
                 for p in pods]
    gc.collect()
    tracemalloc.start(4)
    base = tracemalloc.take_snapshot()
    codec = Codec()
    cache = WatchCache(None, codec, lambda key: key.split("/")[2])  # type: ignore[arg-type]
    live = cache.subscribe("/registry/pods/", 0)
    revision = 0
    for step in range(3):  # every pod created, then every pod bound, then every pod running
        for key, versions in histories:
            revision += 1
            obj = orjson.loads(orjson.dumps(versions[step]))  # the object the server wrote
            obj["metadata"]["resourceVersion"] = str(revision)
            cache.adopt(key, revision, obj)
            kv = _Raw(key=key.encode(), value=codec.encode(key, obj), mod_revision=revision, version=step + 1)
            cache._apply(_Raw(type=0, kv=kv))
            for event in live.drain():
                event.json_line()  # a watcher was sent it
    keys, objects, _ = cache.keyed_snapshot("/registry/pods/")
    for key, obj in zip(keys, objects, strict=True):
        cache.encoded(key, obj)  # a cluster-wide LIST's replies, kept
    gc.collect()
    snap = tracemalloc.take_snapshot()
    tracemalloc.stop()
    stats = snap.compare_to(base, "traceback")
    total = sum(s.size_diff for s in stats)
    figures = {
        "pod_json_bytes": round(json_bytes),
        "pod_decoded_kib": round(decoded_size / 1024, 2),
        "informer_kib_per_pod": round(informer_size / 1024, 2),
        "cache_events": len(cache._ring),
        "cache_kib_per_pod": round(total / len(pods) / 1024, 2),
    }
    print("cache_top_sites (KiB per pod, traceback):")
    for s in sorted(stats, key=lambda s: -s.size_diff)[:top]:
        where = " <- ".join(f"{Path(f.filename).name}:{f.lineno}" for f in s.traceback)
        print(f"  {s.size_diff / len(pods) / 1024:7.2f}  {where}")
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--settle-s", type=float, default=15.0)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--save", type=Path, help="write the run's pods here (for --from-file)")
    parser.add_argument("--from-file", type=Path, help="part 2 only, on pods saved by --save")
    args = parser.parse_args(argv)
    figures: dict[str, float] = {}
    if args.from_file:
        pods = orjson.loads(args.from_file.read_bytes())
    else:
        with (
            tempfile.TemporaryDirectory(prefix="kprov-bench-mem-") as tmp,
            asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner,
        ):
            figures, pods = runner.run(real_components(Path(tmp), args.nodes, args.pods, args.settle_s))
        if args.save:
            args.save.write_bytes(orjson.dumps(pods))
    figures.update(watch_cache_in_process(pods, args.top))
    for name, value in figures.items():
        print(f"{name} = {value}", flush=True)


if __name__ == "__main__":
    main()
