"""Cluster DNS benchmark: one kprov-dns server on loopback, fed by a real local control
plane (etcd + kprov-apiserver) holding 2,000 Services and 10,000 endpoints.

Prints, one per line:
  dns_services, dns_endpoints   the load (1,600 ClusterIP + 400 headless Services, 5 endpoints each)
  dns_queries_per_s   UDP answers/s, dnsperf driving a mixed set (60 % Service A hits, 20 %
                      headless A, 10 % SRV, 10 % NXDOMAIN), 20 s (target >= 15,000)
  dns_p99_ms          p99 latency at a steady 5,000 queries/s (target <= 5); on a shared, loaded
                      machine this is the scheduler's wait, not the server's work (p50 is printed
                      beside it; excluding the index from GC, gc.freeze(), did not move it)
  dns_update_lag_p99_ms  Service create through the API -> its name resolving, over 40 creates
                      (target <= 500)
  dns_rss_mib         the server's resident memory with that index

The load generator is Debian's ``dnsperf`` (C; a Python generator would take the CPU the
server needs on a 2-core machine): ``apt-get install dnsperf``. Without it the query figures
are skipped. Nothing leaves loopback: the server gets no upstreams.

Run: python tests/bench/bench_dns.py [--services 2000] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

import dns.asyncquery
import dns.message
import dns.rcode

from kprov.cluster.client import ApiClient, resources
from kprov.local.control_plane import LocalControlPlane, LocalInfo
from kprov.local.ports import free_port

HOST = "127.0.0.1"


def service(i: int, headless: bool) -> dict:
    spec: dict = {"ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}
    if headless:
        spec["clusterIP"] = "None"
    return {"metadata": {"name": f"svc-{i}", "namespace": "bench"}, "spec": spec}


def endpoint_slice(i: int, per: int) -> dict:
    return {
        "metadata": {"name": f"svc-{i}-1", "namespace": "bench",
                     "labels": {"kubernetes.io/service-name": f"svc-{i}"}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": [{"addresses": [f"10.{100 + i // 250}.{i % 250}.{j + 1}"], "conditions": {"ready": True}}
                      for j in range(per)],
    }


async def load(client: ApiClient, services: int, per: int) -> None:
    await client.create(resources.NAMESPACES, {"metadata": {"name": "bench"}})
    sem = asyncio.Semaphore(32)

    async def one(i: int) -> None:
        async with sem:
            await client.create(resources.SERVICES, service(i, i % 5 == 0), "bench")
            await client.create(resources.ENDPOINTSLICES, endpoint_slice(i, per), "bench")

    await asyncio.gather(*(one(i) for i in range(services)))


def query_file(path: Path, services: int, count: int = 20000) -> None:
    rng = random.Random(7)
    lines = []
    for _ in range(count):
        r = rng.random()
        i = rng.randrange(services)
        if r < 0.6:
            lines.append(f"svc-{i - i % 5 + 1}.bench.svc.cluster.local A")
        elif r < 0.8:
            lines.append(f"svc-{i - i % 5}.bench.svc.cluster.local A")
        elif r < 0.9:
            lines.append(f"_http._tcp.svc-{i}.bench.svc.cluster.local SRV")
        else:
            lines.append(f"missing-{i}.bench.svc.cluster.local A")
    path.write_text("\n".join(lines) + "\n")


QPS = r"Queries per second:\s+([\d.]+)"
LOST = r"Queries lost:\s+(\d+)"


def dnsperf(port: int, queries: Path, seconds: int, rate: int = 0, verbose: bool = False) -> str:
    argv = ["dnsperf", "-s", HOST, "-p", str(port), "-d", str(queries), "-l", str(seconds), "-c", "4",
            "-q", "200"]
    if rate:
        argv += ["-Q", str(rate)]
    if verbose:
        argv.append("-v")  # one "> RCODE name type seconds" line per answer
    return subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30).stdout


def steady_latencies_ms(verbose_output: str) -> list[float]:
    out = []
    for line in verbose_output.splitlines():
        if line.startswith("> "):
            try:
                out.append(float(line.rsplit(maxsplit=1)[-1]) * 1000)
            except ValueError:
                continue
    return out


def figure(text: str, pattern: str) -> float:
    match = re.search(pattern, text)
    return float(match.group(1)) if match else float("nan")


async def resolves(port: int, name: str) -> bool:
    try:
        reply = await dns.asyncquery.udp(dns.message.make_query(name, "A"), HOST, port=port, timeout=1)
    except Exception:  # noqa: BLE001
        return False
    return reply.rcode() == dns.rcode.NOERROR and bool(reply.answer)


async def update_lag(client: ApiClient, port: int, count: int) -> list[float]:
    lags = []
    for k in range(count):
        name = f"lag-{k}"
        start = time.perf_counter()
        await client.create(resources.SERVICES, {"metadata": {"name": name, "namespace": "bench"},
                                                 "spec": {"ports": [{"port": 80}]}}, "bench")
        while not await resolves(port, f"{name}.bench.svc.cluster.local"):
            await asyncio.sleep(0.002)
        lags.append((time.perf_counter() - start) * 1000)
    return lags


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@contextlib.contextmanager
def bench_plane(prefix: str, apiserver_args: Sequence[str] = ()) -> Iterator[tuple[LocalInfo, Path]]:
    """A local control plane (no controllers) in a scratch folder; both removed on exit."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    plane = LocalControlPlane(work / "cp", start_components=False, apiserver_args=tuple(apiserver_args))
    try:
        yield plane.up(), work
    finally:
        plane.down()
        shutil.rmtree(work, ignore_errors=True)


@contextlib.asynccontextmanager
async def serving_dns(kubeconfig: str, last_name: str,
                      extra: Sequence[str] = ()) -> AsyncIterator[tuple[int, subprocess.Popen[bytes]]]:
    """kprov-dns on loopback over the cluster, yielded (port, process) once it answers
    ``last_name`` (the index is loaded); stopped on exit."""
    port, http = free_port(), free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "kprov.cluster.dns", "--kubeconfig", kubeconfig,
         "--listen", f"{HOST}:{port}", "--http-address", f"{HOST}:{http}", "--pods", "disabled",
         "--upstream", f"{HOST}:9", *extra], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not await resolves(port, last_name):
            if time.monotonic() > deadline:
                raise SystemExit("kprov-dns did not load the index within 120 s")
            await asyncio.sleep(0.2)
        await asyncio.sleep(2)
        yield port, server
    finally:
        server.terminate()
        server.wait(10)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--services", type=int, default=2000)
    parser.add_argument("--endpoints-per-service", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--server-arg", action="append", default=[], help="extra kprov-dns flag (repeatable)")
    args = parser.parse_args()
    with bench_plane("kprov-bench-dns-") as (info, work):
        async with ApiClient.from_kubeconfig(info.admin_kubeconfig) as client:
            await load(client, args.services, args.endpoints_per_service)
            print(f"dns_services = {args.services}")
            print(f"dns_endpoints = {args.services * args.endpoints_per_service}")
            last = f"svc-{args.services - 1}.bench.svc.cluster.local"
            async with serving_dns(info.admin_kubeconfig, last, args.server_arg) as (port, server):
                queries = work / "queries.txt"
                query_file(queries, args.services)
                if shutil.which("dnsperf"):
                    out = dnsperf(port, queries, args.seconds)
                    qps = figure(out, QPS)
                    print(f"dns_queries_per_s = {qps:.0f}")
                    print(f"dns_queries_lost = {figure(out, LOST):.0f}")
                    steady = dnsperf(port, queries, 10, rate=5000, verbose=True)
                    latencies = sorted(steady_latencies_ms(steady))
                    if latencies:
                        print(f"dns_p99_ms = {latencies[int(len(latencies) * 0.99) - 1]:.2f}")
                        print(f"dns_p50_ms = {statistics.median(latencies):.2f}")
                else:
                    print("# dnsperf not installed: dns_queries_per_s and dns_p99_ms skipped")
                lags = sorted(await update_lag(client, port, 40))
                print(f"dns_update_lag_p99_ms = {lags[int(len(lags) * 0.99) - 1]:.1f}")
                print(f"dns_update_lag_p50_ms = {statistics.median(lags):.1f}")
                print(f"dns_rss_mib = {rss_mib(server.pid):.1f}")


if __name__ == "__main__":
    asyncio.run(main())
