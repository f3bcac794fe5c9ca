"""Benchmark: kprov-proxy's full sync of 1,000 dual-stack Services against the same 1,000
IPv4-only, in one run, each against real nft in a fresh network namespace.

    python tests/bench/bench_proxy_dual_stack.py        (root; needs nft and `ip netns`)

proxy_full_sync_s            1,000 IPv4-only Services x 10 ready endpoints (bench_proxy.py's
                             objects): tracker -> service ports -> ruleset -> `nft -f`
proxy_full_sync_dual_s       the same Services PreferDualStack (an IPv6 cluster IP each) with an
                             IPv6 EndpointSlice beside each IPv4 one: both families' pipelines
                             (kprov/cluster/proxy/families.py), tables ``ip`` and ``ip6 kprov``
proxy_full_sync_dual_ratio   the second over the first (issue 74 asks <= 1.5)
Each figure is the median of RUNS runs; the namespaces are deleted at the end.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from kprov.cluster.proxy.families import FamilyProxier, family_settings, sync_families
from kprov.cluster.proxy.tracker import ServiceTracker

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.bench.bench_proxy import SERVICES, _service, _slice  # noqa: E402

RUNS = 3
NODE_IPS = ("10.77.4.11", "fd77:77:4::11")
CLUSTER_CIDRS = ("10.244.0.0/16", "fd00:10:244::/56")


def _dual_service(i: int) -> dict[str, Any]:
    svc = _service(i)
    spec = svc["spec"]
    spec.update(ipFamilyPolicy="PreferDualStack", ipFamilies=["IPv4", "IPv6"],
                clusterIPs=[spec["clusterIP"], f"fd00:10:96::{i + 1:x}"])
    return svc


def _slice6(i: int) -> dict[str, Any]:
    eps = _slice(i)
    eps["metadata"]["name"] = f"svc{i}-v6abc"
    eps["addressType"] = "IPv6"
    for e, endpoint in enumerate(eps["endpoints"]):
        endpoint["addresses"] = [f"fd00:10:244:{e % 3}::{i * 16 + e + 2:x}"]
    return eps


def _full_sync(families: tuple[int, ...], objects: list[dict[str, Any]]) -> float:
    netns = f"kprov-bench-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", netns], check=True)
    try:
        proxiers = [FamilyProxier(f) for f in families]
        for proxier in proxiers:
            proxier.applier.command[:0] = ["ip", "netns", "exec", netns]
        start = time.perf_counter()
        tracker = ServiceTracker(families)
        for obj in objects:
            (tracker.set_slice if "addressType" in obj else tracker.set_service)(obj)
        settings = [family_settings(p.family, NODE_IPS, CLUSTER_CIDRS, "node0") for p in proxiers]
        changes = tracker.take_changes()
        outcomes = sync_families(proxiers, settings, lambda family: tracker.ports(family, changes))
        assert outcomes == ["full"] * len(proxiers)  # as the daemon
        elapsed = time.perf_counter() - start
        for proxier in proxiers:
            family, name = proxier.table.split()
            listed = subprocess.run(["ip", "netns", "exec", netns, "nft", "list", "map", family, name,
                                     "service-ips"], check=True, capture_output=True, text=True).stdout
            assert listed.count("goto svc-") == SERVICES, f"{proxier.table}: not every Service programmed"
        return elapsed
    finally:
        subprocess.run(["ip", "netns", "del", netns], check=False)


def main() -> None:
    single = [obj for i in range(SERVICES) for obj in (_service(i), _slice(i))]
    dual = [obj for i in range(SERVICES) for obj in (_dual_service(i), _slice(i), _slice6(i))]
    v4, both = [], []
    for _ in range(RUNS):  # interleaved, so a busy moment weighs on both
        v4.append(_full_sync((4,), single))
        both.append(_full_sync((4, 6), dual))
    v4_s, dual_s = statistics.median(v4), statistics.median(both)
    print(f"proxy_full_sync_s = {v4_s:.3f}")
    print(f"proxy_full_sync_dual_s = {dual_s:.3f}")
    print(f"proxy_full_sync_dual_ratio = {dual_s / v4_s:.2f}")


if __name__ == "__main__":
    main()
