"""Cluster DNS benchmark, dual-stack: AAAA against A queries/s over the same names.

One kprov-dns server on loopback fed by a real local control plane whose API server has both
service ranges (``--service-cluster-ip-range 10.96.0.0/12,fd00:10:96::/112``), holding
2,000 PreferDualStack Services (every fifth headless, with an EndpointSlice of each family,
5 endpoints each). ``dnsperf`` (``apt-get install dnsperf``) drives one query file of A
questions and one of AAAA questions for the same names (80 % ClusterIP Services, 20 %
headless), alternately, ROUNDS times each; the figures are the medians.

Prints:
  dns_queries_per_s_a      UDP answers/s, A questions
  dns_queries_per_s_aaaa   the same names, AAAA questions
  dns_aaaa_over_a          the ratio (issue 74 asks AAAA equal to A within 10 %)

Run: python tests/bench/bench_dns_aaaa.py [--services 2000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import sys
from pathlib import Path
from typing import Any

from kprov.cluster.client import ApiClient, resources

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.bench.bench_dns import QPS, bench_plane, dnsperf, figure, serving_dns  # noqa: E402

ROUNDS = 3
RANGES = ("--service-cluster-ip-range", "10.96.0.0/12,fd00:10:96::/112")


def service(i: int, headless: bool) -> dict[str, Any]:
    spec: dict[str, Any] = {"ipFamilyPolicy": "PreferDualStack",
                            "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}
    if headless:
        spec["clusterIP"] = "None"
    return {"metadata": {"name": f"svc-{i}", "namespace": "bench"}, "spec": spec}


def endpoint_slice(i: int, per: int, family: int) -> dict[str, Any]:
    def address(j: int) -> str:
        return f"10.{100 + i // 250}.{i % 250}.{j + 1}" if family == 4 else f"fd00:10:244:{i:x}::{j + 1:x}"

    return {
        "metadata": {"name": f"svc-{i}-v{family}", "namespace": "bench",
                     "labels": {"kubernetes.io/service-name": f"svc-{i}"}},
        "addressType": f"IPv{family}",
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": [{"addresses": [address(j)], "conditions": {"ready": True}} for j in range(per)],
    }


async def load(client: ApiClient, services: int, per: int) -> None:
    await client.create(resources.NAMESPACES, {"metadata": {"name": "bench"}})
    sem = asyncio.Semaphore(32)

    async def one(i: int) -> None:
        async with sem:
            created = await client.create(resources.SERVICES, service(i, i % 5 == 0), "bench")
            if i == 1:
                assert len(created["spec"]["clusterIPs"]) == 2, created["spec"]
            for family in (4, 6):
                await client.create(resources.ENDPOINTSLICES, endpoint_slice(i, per, family), "bench")

    await asyncio.gather(*(one(i) for i in range(services)))


def query_files(work: Path, services: int, count: int = 20000) -> dict[str, Path]:
    rng = random.Random(7)
    names = [f"svc-{rng.randrange(services)}.bench.svc.cluster.local" for _ in range(count)]
    files = {}
    for qtype in ("A", "AAAA"):
        path = work / f"queries-{qtype}.txt"
        path.write_text("".join(f"{name} {qtype}\n" for name in names))
        files[qtype] = path
    return files


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--services", type=int, default=2000)
    parser.add_argument("--endpoints-per-service", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    if not shutil.which("dnsperf"):
        raise SystemExit("dnsperf is not installed (apt-get install dnsperf)")
    with bench_plane("kprov-bench-dns-aaaa-", RANGES) as (info, work):
        async with ApiClient.from_kubeconfig(info.admin_kubeconfig) as client:
            await load(client, args.services, args.endpoints_per_service)
        last = f"svc-{args.services - 1}.bench.svc.cluster.local"
        async with serving_dns(info.admin_kubeconfig, last) as (port, _server):
            files = query_files(work, args.services)
            rates: dict[str, list[float]] = {"A": [], "AAAA": []}
            for _ in range(ROUNDS):  # alternating, so a busy moment weighs on both
                for qtype, path in files.items():
                    rates[qtype].append(figure(dnsperf(port, path, args.seconds), QPS))
            a, aaaa = statistics.median(rates["A"]), statistics.median(rates["AAAA"])
            print(f"dns_queries_per_s_a = {a:.0f}")
            print(f"dns_queries_per_s_aaaa = {aaaa:.0f}")
            print(f"dns_aaaa_over_a = {aaaa / a:.3f}")


if __name__ == "__main__":
    asyncio.run(main())
