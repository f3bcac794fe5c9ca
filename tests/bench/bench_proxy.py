"""Benchmark of kprov-proxy's rule pipeline against real nft in a fresh network namespace.

    python tests/bench/bench_proxy.py        (root; needs nft and `ip netns`)

proxy_full_sync_s    1,000 Services x 10 ready endpoints: API objects fed to the tracker ->
                     service ports -> ruleset -> full `nft -f` transaction in the namespace
proxy_one_change_ms  one endpoint of one Service replaced in that set: the daemon's path
                     (tracker marks one service dirty, compiler reuses the other fragments,
                     incremental transaction); median of several changes
proxy_rules_count    chains + map elements in the applied table (sanity figure)
The namespace is deleted at the end.
"""

from __future__ import annotations

import statistics
import subprocess
import time
import uuid
from typing import Any

from kprov.cluster.nftables.apply import NftApplier
from kprov.cluster.proxy.rules import ProxySettings, RulesCompiler, table_name
from kprov.cluster.proxy.tracker import ServiceTracker

SERVICES = 1000
ENDPOINTS = 10
CHANGES = 7


def _service(i: int) -> dict[str, Any]:
    return {
        "metadata": {"namespace": f"ns{i % 10}", "name": f"svc{i}"},
        "spec": {
            "type": "NodePort" if i % 4 == 0 else "ClusterIP",
            "clusterIP": f"10.96.{i // 250}.{i % 250 + 1}",
            "ports": [
                {"name": "http", "port": 80, "protocol": "TCP", "nodePort": 30000 + i if i % 4 == 0 else None}
            ],
        },
    }


def _slice(i: int, generation: int = 0) -> dict[str, Any]:
    return {
        "metadata": {
            "namespace": f"ns{i % 10}",
            "name": f"svc{i}-abcde",
            "labels": {"kubernetes.io/service-name": f"svc{i}"},
        },
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": [
            {
                "addresses": [f"10.244.{(i * ENDPOINTS + e) // 250 % 250}.{(i * ENDPOINTS + e) % 250 + 2}"]
                if not (generation and e == 0)
                else [f"10.245.{generation}.{i % 250 + 2}"],
                "conditions": {"ready": True},
                "nodeName": f"node{e % 3}",
            }
            for e in range(ENDPOINTS)
        ],
    }


def main() -> None:
    netns = f"kprov-bench-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", netns], check=True)
    try:
        settings = ProxySettings(node_ips=("10.77.4.11",), cluster_cidr="10.244.0.0/16")
        applier = NftApplier(["ip", "netns", "exec", netns], table=table_name(4))
        tracker, compiler = ServiceTracker(), RulesCompiler(settings)

        objects = [(_service(i), _slice(i)) for i in range(SERVICES)]
        start = time.perf_counter()
        for svc, eps in objects:
            tracker.set_service(svc)
            tracker.set_slice(eps)
        ruleset = compiler.compute(tracker.service_ports())
        kind = applier.apply(ruleset)
        full = time.perf_counter() - start
        assert kind == "full", kind

        timings = []
        for change in range(1, CHANGES + 1):
            changed = _slice(change * 37, generation=change)
            start = time.perf_counter()
            tracker.set_slice(changed)
            ruleset = compiler.compute(tracker.service_ports())
            kind = applier.apply(ruleset)
            timings.append(time.perf_counter() - start)
            assert kind == "delta", kind
        listed = subprocess.run(
            ["ip", "netns", "exec", netns, "nft", "list", "table", "ip", "kprov"],
            check=True, capture_output=True, text=True,
        ).stdout
        assert "10.245.1." in listed, "the incremental change did not reach the kernel"
        count = len(ruleset.chains) + sum(len(v) for v in ruleset.elements.values())
        print(f"proxy_full_sync_s = {full:.3f}")
        print(f"proxy_one_change_ms = {statistics.median(timings) * 1000:.1f}")
        print(f"proxy_rules_count = {count}")
    finally:
        subprocess.run(["ip", "netns", "del", netns], check=False)


if __name__ == "__main__":
    main()
