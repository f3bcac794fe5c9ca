"""API server benchmark against a real local control plane (etcd + kprov-apiserver, HTTPS).

Prints, one per line:
  etcd_put_per_s       raw etcd puts/s with aetcd (the library the server uses), 64 concurrent,
                       in rounds alternating with the API creates below (--rounds)
  api_create_per_s     pod creates/s through the API over HTTPS, 64 concurrent keep-alive
                       connections of kprov's client on its lean transport (client.lean_http)
  api_vs_etcd_ratio    the two side by side (target >= 0.5)
  api_create_aiohttp_per_s  the same creates through aiohttp's client, for comparison
  etcd_cpu_us_per_put, api_server_cpu_us_per_create, etcd_cpu_us_per_create,
  bench_cpu_us_per_put, bench_cpu_us_per_create
                       where the CPU went (processes' user+system time / operations)
  create|get|list p50/p99 with creates at a steady 100/s (reads 20/s each),
                       mutating_p99_ms = create p99 (target <= 100)
  watch_fanout_p99_ms  1000 watchers, write -> delivery p99 (target <= 1000)
  list_10k_s           one list of 10,000 pods (target <= 1)
  token_auth_us        API server CPU per request authenticated by a ServiceAccount Bearer
                       token beyond the same request by client certificate (GET /version,
                       64 keep-alive connections each way, alternating rounds; target <= 30)
  api_create_per_s_rbac  pod creates/s by a user outside system:masters whom a RoleBinding
                       lets create pods, with 1,000 Roles and 1,000 RoleBindings (of other
                       users, in 10 namespaces and the user's own) present, 64 concurrent on the
                       lean transport, in rounds alternating with the same creates by the admin
  rbac_vs_admin_ratio  the two side by side (target >= 0.9); rbac_admin_create_per_s is the
                       admin's rate of the same rounds
  token_review_cached_us  in-process cost of one cached token check (signature cache hit,
                       ServiceAccount and bound-object lookups)
  cr_create_per_s      custom object creates/s (a CRD with a 20-field schema: types, bounds,
                       enum, pattern, defaults, a CEL rule), 64 concurrent through aiohttp
  cr_vs_pod_ratio      against pod creates through the same client, in alternating rounds
                       of the same run (target >= 0.8)
  cr_api_server_cpu_us_per_create, pod_api_server_cpu_us_per_create  the first API server's
                       CPU per create of each in those rounds; cr_vs_pod_cpu_ratio = pod ÷ CR
                       (the ratio's cause, less sensitive to a busy machine than the rates)
  crd_established_ms   a CRD's create -> its resource served by both of two API servers
                       (the median of 5; target <= 1000)
  metrics_overhead_ratio  pod creates/s through an API server with its metrics on and the
                       audit log at Metadata ÷ through one with --disable-metrics and no
                       audit log (same etcd), 64 alternating rounds of 1,000 creates a side
                       (target >= 0.95). With 8 rounds of 1,000, two identical servers
                       (both off) measured 1.01, 1.08 and 1.11; with 32, 0.99 and 1.02; with 64,
                       1.01 and 0.98 (the A/B then measured 0.960-0.965 three times running)
  metrics_cpu_us_per_create  the API server CPU per create with metrics on minus off (the same
                       rounds; less sensitive to a busy machine than the rate), and each
                       side's own: metrics_on_server_cpu_us_per_create, metrics_off_...
  apf_overhead_ratio   pod creates/s through an API server with API Priority and Fairness ÷
                       through one with --enable-priority-and-fairness=false, the same
                       alternating rounds (target >= 0.95); apf_cpu_us_per_create the CPU
                       difference per create
  vap_overhead_ratio   pod creates/s with 10 ValidatingAdmissionPolicies bound to every pod
                       create (one CEL validation each) ÷ through a server with the plugin
                       switched off, the same rounds (target >= 0.9); vap_cpu_us_per_create

The API server runs one process by default (``--workers``): on a 2-core machine a second one
makes each worker's etcd transactions half as big (group commit batches what arrives during
one round trip) and doubles the watch messages each receives, and the gRPC completions those
cost outweighed the second core (creates/s 2550-2670 with two, 2880-3220 with one, side by
side). Both clients share this process's event loop (uvloop, as the API server's). On a 2-core
machine the load generator competes with the server and etcd for CPU: aiohttp's client
spends about 280 us per request, more than a third of the server's own cost, so the ratio
is taken with kprov's own lean request transport (kprov.cluster.client.lean_http), which
writes a request whole and reads the reply by its length.

Run: python tests/bench/bench_apiserver.py [--pods 10000] [--watchers 1000] [--only-token-auth] [--only-crd]
     [--only-metrics --metrics-pods 4000] [--only-rbac --rbac-pods 4000] [--only-admission]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import resource
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aetcd
import aiohttp
import uvloop
import yaml

from kprov.cluster.client import ApiClient, resources
from kprov.local import LocalControlPlane, LocalInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script: the repo root
from tests.bench._cpu import tree_cpu_seconds  # noqa: E402
from tests.bench._profile import Profiler  # noqa: E402

CONCURRENCY = 64


def _own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _CpuMeter:
    """CPU spent by etcd, the API server and this process between ``start()`` and ``per(n)``."""

    def __init__(self, plane_dir: Path) -> None:
        self.pids = {
            name: int((plane_dir / "run" / f"{name}.pid").read_text().split()[0])
            for name in ("etcd", "apiserver")
        }
        self._start: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        return {**{name: tree_cpu_seconds(pid) for name, pid in self.pids.items()}, "bench": _own_cpu_s()}

    def start(self) -> None:
        self._start = self._now()

    def per(self, operations: int) -> dict[str, float]:
        """Microseconds of CPU per operation, by process."""
        end = self._now()
        return {name: (end[name] - self._start[name]) / operations * 1e6 for name in end}


def _pod(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "bench", "tier": "web"}},
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": "registry.local/bench:1",
                    "command": ["sleep", "3600"],
                    "ports": [{"containerPort": 8080}],
                    "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                }
            ]
        },
    }


def _ssl(kubeconfig: Path, workdir: Path) -> ssl.SSLContext:
    doc = yaml.safe_load(kubeconfig.read_text())
    user, cluster = doc["users"][0]["user"], doc["clusters"][0]["cluster"]
    for name, field in (
        ("ca.crt", cluster["certificate-authority-data"]),
        ("c.crt", user["client-certificate-data"]),
        ("c.key", user["client-key-data"]),
    ):
        (workdir / name).write_bytes(base64.b64decode(field))
    context = ssl.create_default_context(cafile=str(workdir / "ca.crt"))
    context.load_cert_chain(str(workdir / "c.crt"), str(workdir / "c.key"))
    return context


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def _etcd_puts(etcd: aetcd.Client, first: int, count: int) -> float:
    """``count`` raw puts of 1 KiB values, ``CONCURRENCY`` at a time; the seconds taken."""
    value = b"x" * 1024
    queue = iter(range(first, first + count))

    async def worker() -> None:
        for i in queue:
            await etcd.put(f"/bench-raw/{i:06d}".encode(), value)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return time.perf_counter() - start


async def _lean_creates(client: ApiClient, ns: str, first: int, count: int) -> float:
    """Pod creates through kprov's own client on its lean transport (``ApiClient(lean=True)``):
    ``CONCURRENCY`` keep-alive TLS connections, one request in flight on each; the seconds taken."""
    queue = iter(range(first, first + count))

    async def worker() -> None:
        for i in queue:
            await client.create(resources.PODS, _pod(f"p{i:05d}"), ns)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return time.perf_counter() - start


async def _side_by_side(
    info: LocalInfo, args: argparse.Namespace, meter: _CpuMeter
) -> dict[str, dict[str, float]]:
    """Raw etcd puts and API creates in alternating rounds (the machine's speed drifts by tens
    of percent within a minute; alternating spreads the drift over both): per kind, the total
    operations, seconds, and CPU microseconds per operation by process."""
    host, port = info.etcd_url.removeprefix("http://").split(":")
    totals: dict[str, dict[str, float]] = {"put": {}, "create": {}}
    rounds = max(1, args.rounds)
    async with (
        aetcd.Client(host=host, port=int(port)) as etcd,
        ApiClient.from_kubeconfig(
            Path(info.admin_kubeconfig),
            max_connections=CONCURRENCY,
            lean=True,
        ) as client,
    ):
        for r in range(rounds):
            puts = args.etcd_puts // rounds
            creates = args.pods // rounds
            steps = [("put", puts, lambda r=r, n=puts: _etcd_puts(etcd, r * n, n))]
            steps.append(("create", creates, lambda r=r, n=creates: _lean_creates(client, "bench", r * n, n)))
            for kind, count, run in steps if r % 2 == 0 else reversed(steps):
                meter.start()
                seconds = await run()
                cpu = meter.per(count)
                total = totals[kind]
                total["ops"] = total.get("ops", 0) + count
                total["seconds"] = total.get("seconds", 0.0) + seconds
                for name, us in cpu.items():
                    total[name] = total.get(name, 0.0) + us * count
        await etcd.delete_prefix(b"/bench-raw/")
    for total in totals.values():
        for name in ("etcd", "apiserver", "bench"):
            total[name] /= total["ops"]
    return totals


async def _api_creates(session: aiohttp.ClientSession, server: str, ns: str, count: int) -> float:
    queue = iter(range(count))

    async def worker() -> None:
        for i in queue:
            async with session.post(f"{server}/api/v1/namespaces/{ns}/pods", json=_pod(f"p{i:05d}")) as reply:
                if reply.status != 201:
                    raise RuntimeError(f"create failed: {reply.status} {await reply.text()}")
                await reply.read()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return count / (time.perf_counter() - start)


async def _steady(
    session: aiohttp.ClientSession, server: str, ns: str, seconds: float
) -> dict[str, list[float]]:
    """Creates at a steady 100/s (on a schedule, not as fast as possible); every fifth create
    is followed by a get of it and a 50-item list, so reads run at 20/s each under that load."""
    lat: dict[str, list[float]] = {"create": [], "get": [], "list": []}

    async def one(i: int) -> None:
        t = time.perf_counter()
        async with session.post(f"{server}/api/v1/namespaces/{ns}/pods", json=_pod(f"s{i:05d}")) as r:
            await r.read()
        lat["create"].append((time.perf_counter() - t) * 1000)
        if i % 5:
            return
        t = time.perf_counter()
        async with session.get(f"{server}/api/v1/namespaces/{ns}/pods/s{i:05d}") as r:
            await r.read()
        lat["get"].append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        async with session.get(f"{server}/api/v1/namespaces/{ns}/pods?limit=50") as r:
            await r.read()
        lat["list"].append((time.perf_counter() - t) * 1000)

    tasks = []
    start = time.perf_counter()
    for i in range(int(seconds * 100)):
        await asyncio.sleep(max(0.0, start + i / 100 - time.perf_counter()))
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    return lat


async def _fanout(
    session: aiohttp.ClientSession, server: str, ns: str, watchers: int, events: int
) -> list[float]:
    sent: dict[str, float] = {}
    latencies: list[float] = []
    ready = 0
    all_ready = asyncio.Event()

    async def watch() -> None:
        nonlocal ready
        url = f"{server}/api/v1/namespaces/{ns}/configmaps?watch=true&resourceVersion={rv}&timeoutSeconds=120"
        async with session.get(url) as reply:
            ready += 1
            if ready == watchers:
                all_ready.set()
            seen = 0
            async for line in reply.content:
                name = json.loads(line)["object"]["metadata"]["name"]
                latencies.append((time.perf_counter() - sent[name]) * 1000)
                seen += 1
                if seen == events:
                    return

    async with session.get(f"{server}/api/v1/namespaces/{ns}/configmaps") as reply:
        listed = await reply.json()
    if reply.status != 200:
        raise RuntimeError(f"list failed: {reply.status} {listed}")
    rv = listed["metadata"]["resourceVersion"]
    tasks = [asyncio.create_task(watch()) for _ in range(watchers)]
    await asyncio.wait_for(all_ready.wait(), 120)
    await asyncio.sleep(1.0)
    for i in range(events):
        name = f"fan{i:03d}"
        sent[name] = time.perf_counter()
        async with session.post(
            f"{server}/api/v1/namespaces/{ns}/configmaps",
            json={"metadata": {"name": name}, "data": {"i": str(i)}},
        ) as reply:
            await reply.read()
        await asyncio.sleep(0.2)
    await asyncio.wait_for(asyncio.gather(*tasks), 120)
    return latencies


def _bench_crd(group: str) -> dict:
    """A CRD whose schema has 20 spec fields of every kind the validator handles."""
    fields: dict = {}
    for i in range(5):
        fields[f"s{i}"] = {"type": "string", "maxLength": 64, "pattern": "^[a-z0-9-]*$"}
        fields[f"n{i}"] = {"type": "integer", "minimum": 0, "maximum": 1000, "default": i}
        fields[f"e{i}"] = {"type": "string", "enum": ["a", "b", "c"]}
        fields[f"l{i}"] = {"type": "array", "items": {"type": "string"}, "maxItems": 8}
    spec = {
        "type": "object",
        "properties": fields,
        "x-kubernetes-validations": [{"rule": "self.n0 <= self.n1 + 1000", "message": "n0 too big"}],
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"benches.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "benches", "kind": "Bench"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": spec}}},
                }
            ],
        },
    }


def _bench_cr(group: str, name: str) -> dict:
    spec: dict = {}
    for i in range(5):
        spec[f"s{i}"] = f"value-{i}"
        spec[f"n{i}"] = i * 10
        spec[f"e{i}"] = "abc"[i % 3]
        spec[f"l{i}"] = ["x", "y"]
    return {"apiVersion": f"{group}/v1", "kind": "Bench", "metadata": {"name": name}, "spec": spec}


async def _creates(session: aiohttp.ClientSession, url: str, make, names: list[str]) -> float:  # type: ignore[no-untyped-def]
    queue = iter(names)

    async def worker() -> None:
        for name in queue:
            async with session.post(url, json=make(name)) as reply:
                if reply.status != 201:
                    raise RuntimeError(f"create failed: {reply.status} {await reply.text()}")
                await reply.read()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return len(names) / (time.perf_counter() - start)


async def _served_everywhere(session: aiohttp.ClientSession, servers: list[str], path: str) -> None:
    pending = list(servers)
    while pending:
        async with session.get(pending[0] + path) as reply:
            await reply.read()
            if reply.status == 200:
                pending.pop(0)
                continue
        await asyncio.sleep(0.005)


async def _custom_resources(
    session: aiohttp.ClientSession, servers: list[str], count: int, meter: _CpuMeter, rounds: int = 4
) -> dict[str, float]:
    """cr_create_per_s / pod creates in alternating rounds, the API server's CPU per create of
    each (the same rounds), and crd_established_ms."""
    server = servers[0]
    established = []
    for i in range(5):
        group = f"b{i}.bench.example.com"
        start = time.perf_counter()
        async with session.post(
            f"{server}/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=_bench_crd(group)
        ) as reply:
            if reply.status != 201:
                raise RuntimeError(f"CRD create failed: {reply.status} {await reply.text()}")
        await _served_everywhere(session, servers, f"/apis/{group}/v1/namespaces/crs/benches")
        established.append((time.perf_counter() - start) * 1000)
    group = "b0.bench.example.com"
    cr_url = f"{server}/apis/{group}/v1/namespaces/crs/benches"
    pod_url = f"{server}/api/v1/namespaces/crpods/pods"
    per_round = max(count // rounds, CONCURRENCY)
    cr_time = pod_time = cr_cpu = pod_cpu = 0.0
    for r in range(rounds):
        names = [f"r{r}-{i:05d}" for i in range(per_round)]
        meter.start()
        cr_time += per_round / await _creates(session, cr_url, lambda n: _bench_cr(group, n), names)
        cr_cpu += meter.per(per_round * rounds)["apiserver"]
        meter.start()
        pod_time += per_round / await _creates(session, pod_url, _pod, names)
        pod_cpu += meter.per(per_round * rounds)["apiserver"]
    cr_rate, pod_rate = per_round * rounds / cr_time, per_round * rounds / pod_time
    return {
        "cr_create_per_s": cr_rate,
        "cr_pod_create_per_s": pod_rate,
        "cr_vs_pod_ratio": cr_rate / pod_rate,
        "cr_api_server_cpu_us_per_create": cr_cpu,
        "pod_api_server_cpu_us_per_create": pod_cpu,
        "cr_vs_pod_cpu_ratio": pod_cpu / cr_cpu,
        "crd_established_ms": statistics.median(established),
    }


async def _second_server(plane: LocalControlPlane, info: LocalInfo, workdir: Path, *extra: str):  # type: ignore[no-untyped-def]
    """Another kprov-apiserver on the same etcd (the process and its URL)."""
    from kprov.local.control_plane import apiserver_argv
    from kprov.local.ports import free_port, wait_for_port

    port = free_port()
    log = open(workdir / "second-apiserver.log", "wb")  # noqa: SIM115 - closed with the process
    proc = await asyncio.create_subprocess_exec(
        *apiserver_argv(plane.pki, info.etcd_url, port, *extra), stdout=log, stderr=log
    )
    if not await asyncio.to_thread(wait_for_port, "127.0.0.1", port, 60):
        raise RuntimeError("the second API server did not start")
    return proc, f"https://127.0.0.1:{port}"


async def _crd_phase(
    plane: LocalControlPlane, info: LocalInfo, session: aiohttp.ClientSession, workdir: Path, count: int
) -> None:
    for ns in ("crs", "crpods"):
        async with session.post(f"{info.server}/api/v1/namespaces", json={"metadata": {"name": ns}}) as reply:
            await reply.read()
    proc, second = await _second_server(plane, info, workdir)
    try:
        figures = await _custom_resources(session, [info.server, second], count, _CpuMeter(Path(info.dir)))
    finally:
        proc.terminate()
        await proc.wait()
    for name, value in figures.items():
        print(f"{name} = {value:.2f}" if name.endswith("ratio") else f"{name} = {value:.0f}")


RBAC_ROLES = 1000
RBAC_FILL_NAMESPACES = 10


async def _rbac_fill(session: aiohttp.ClientSession, server: str, own_ns: str) -> None:
    """1,000 Roles and 1,000 RoleBindings, each binding another user to its role, spread over
    ten namespaces and the measured user's own; plus that user's one Role and RoleBinding."""
    namespaces = [f"rbac-fill-{i}" for i in range(RBAC_FILL_NAMESPACES)]
    for ns in [*namespaces, own_ns, "rbac-admin"]:
        async with session.post(f"{server}/api/v1/namespaces", json={"metadata": {"name": ns}}) as reply:
            await reply.read()
    rbac = f"{server}/apis/rbac.authorization.k8s.io/v1/namespaces"
    rule = {"apiGroups": [""], "resources": ["pods"], "verbs": ["create", "get", "list"]}

    def role(name: str) -> dict:
        return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": name},
                "rules": [rule, {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get"]}]}

    def binding(name: str, user: str) -> dict:
        return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": {"name": name},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]}

    spread = [*namespaces, own_ns]
    jobs = iter(range(RBAC_ROLES))

    async def worker() -> None:
        for i in jobs:
            ns = spread[i % len(spread)]
            for path, body in ((f"{rbac}/{ns}/roles", role(f"r{i:04d}")),
                               (f"{rbac}/{ns}/rolebindings", binding(f"r{i:04d}", f"user-{i:04d}"))):
                async with session.post(path, json=body) as reply:
                    if reply.status != 201:
                        raise RuntimeError(f"{path}: {reply.status} {await reply.text()}")
                    await reply.read()

    await asyncio.gather(*(worker() for _ in range(16)))
    for path, body in ((f"{rbac}/{own_ns}/roles", role("pod-creator")),
                       (f"{rbac}/{own_ns}/rolebindings", binding("pod-creator", "bench-user"))):
        async with session.post(path, json=body) as reply:
            if reply.status != 201:
                raise RuntimeError(f"{path}: {reply.status} {await reply.text()}")


async def _rbac_creates(
    plane: LocalControlPlane, info: LocalInfo, session: aiohttp.ClientSession, count: int, rounds: int = 6
) -> tuple[float, float]:
    """Pod creates/s by ``bench-user`` (a client certificate outside system:masters, allowed by
    its RoleBinding) and by the admin (system:masters: the authorizer's first step), in
    alternating rounds of one run: (user's rate, admin's rate)."""
    await _rbac_fill(session, info.server, "rbac-bench")
    user_config = plane.kubeconfig_for("bench-user")
    seconds = {"user": 0.0, "admin": 0.0}
    per_round = count // rounds
    async with (
        ApiClient.from_kubeconfig(user_config, max_connections=CONCURRENCY, lean=True) as user,
        ApiClient.from_kubeconfig(
            Path(info.admin_kubeconfig), max_connections=CONCURRENCY, lean=True
        ) as admin,
    ):
        await _lean_creates(user, "rbac-bench", count, CONCURRENCY * 2)  # connections made, warm
        await _lean_creates(admin, "rbac-admin", count, CONCURRENCY * 2)
        for r in range(rounds):
            steps = [("user", user, "rbac-bench"), ("admin", admin, "rbac-admin")]
            for who, client, ns in steps if r % 2 == 0 else reversed(steps):
                seconds[who] += await _lean_creates(client, ns, r * per_round, per_round)
    total = per_round * rounds
    return total / seconds["user"], total / seconds["admin"]


def _print_rbac(user_rate: float, admin_rate: float) -> None:
    print(f"api_create_per_s_rbac = {user_rate:.0f}")
    print(f"rbac_admin_create_per_s = {admin_rate:.0f}")
    print(f"rbac_vs_admin_ratio = {user_rate / admin_rate:.2f}")


async def _ab_creates(
    plane: LocalControlPlane, info: LocalInfo, session: aiohttp.ClientSession, workdir: Path, count: int,
    rounds: int, sides: dict[str, tuple[str, ...]], profile: Path | None = None,
) -> tuple[dict[str, float], dict[str, float], int]:
    """Pod creates through two extra API servers on the same etcd, each started with its own
    extra flags (``sides``: name → flags; the name is also its namespace; the local plane's
    servers run with ``--disable-admission-plugins=ServiceAccount``, which a side's own
    ``--disable-admission-plugins`` replaces, so it must name it again), in alternating
    rounds (every watch cache follows every write either way, so the two differ only in what
    the flags change): (seconds, server CPU seconds, creates) per side. With ``profile`` (a
    directory) py-spy samples each side's server during the rounds and the functions most of
    its CPU went to are printed (``# <side> NN.N% frame`` lines, not figures)."""
    for ns in sides:
        async with session.post(f"{info.server}/api/v1/namespaces", json={"metadata": {"name": ns}}) as reply:
            await reply.read()
    started = {name: await _second_server(plane, info, workdir, *flags) for name, flags in sides.items()}
    configs = {}
    for name, (_, url) in started.items():
        doc = yaml.safe_load(Path(info.admin_kubeconfig).read_text())
        doc["clusters"][0]["cluster"]["server"] = url
        configs[name] = workdir / f"{name}.kubeconfig"
        configs[name].write_text(yaml.safe_dump(doc))
    seconds = dict.fromkeys(sides, 0.0)
    cpu = dict.fromkeys(sides, 0.0)
    per_round = count // rounds
    try:
        async with contextlib.AsyncExitStack() as stack:
            clients = {name: await stack.enter_async_context(
                ApiClient.from_kubeconfig(configs[name], max_connections=CONCURRENCY, lean=True))
                for name in sides}
            for name, client in clients.items():  # connections made, caches warm
                await _lean_creates(client, name, count, CONCURRENCY * 2)
            steps = list(clients.items())
            profiler = Profiler(profile, rate=100) if profile else None
            for name, (proc, _) in started.items():
                if profiler:
                    profiler.start(name, proc.pid)
            for r in range(rounds):
                for ns, client in steps if r % 2 == 0 else reversed(steps):
                    before = tree_cpu_seconds(started[ns][0].pid)
                    seconds[ns] += await _lean_creates(client, ns, r * per_round, per_round)
                    cpu[ns] += tree_cpu_seconds(started[ns][0].pid) - before
            if profiler:
                profiler.stop()
                for name in sides:
                    for within in ("", "kprov/"):
                        for share, frame in profiler.top([name], 12, within):
                            print(f"# {name}{' (kprov)' if within else ''} {share:5.1f}% {frame}")
    finally:
        for proc, _ in started.values():
            proc.terminate()
            await proc.wait()
    return seconds, cpu, per_round * rounds


async def _metrics_overhead(
    plane: LocalControlPlane, info: LocalInfo, session: aiohttp.ClientSession, workdir: Path, count: int,
    rounds: int,
) -> None:
    """Pod creates through an API server with metrics on and the audit log at Metadata, and
    through one started with ``--disable-metrics`` and no audit log: creates/s on ÷ off, and
    the server CPU microseconds per create on minus off."""
    policy = workdir / "audit-policy.yaml"
    policy.write_text("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n  - level: Metadata\n")
    seconds, cpu, creates = await _ab_creates(plane, info, session, workdir, count, rounds, {
        "metrics-on": (f"--audit-policy-file={policy}", f"--audit-log-path={workdir / 'audit.log'}"),
        "metrics-off": ("--disable-metrics",)})
    print(f"metrics_overhead_ratio = {seconds['metrics-off'] / seconds['metrics-on']:.3f}")
    print(f"metrics_cpu_us_per_create = {(cpu['metrics-on'] - cpu['metrics-off']) / creates * 1e6:.1f}")
    print(f"metrics_on_server_cpu_us_per_create = {cpu['metrics-on'] / creates * 1e6:.1f}")
    print(f"metrics_off_server_cpu_us_per_create = {cpu['metrics-off'] / creates * 1e6:.1f}")


async def _apf_overhead(
    plane: LocalControlPlane, info: LocalInfo, session: aiohttp.ClientSession, workdir: Path, count: int,
    rounds: int, profile: Path | None = None,
) -> None:
    """Pod creates through an API server with API Priority and Fairness (the default) and one
    started with ``--enable-priority-and-fairness=false``: creates/s with ÷ without (target
    >= 0.95), and the server CPU microseconds per create with minus without."""
    seconds, cpu, creates = await _ab_creates(plane, info, session, workdir, count, rounds, {
        "apf-on": (), "apf-off": ("--enable-priority-and-fairness=false",)}, profile)
    print(f"apf_overhead_ratio = {seconds['apf-off'] / seconds['apf-on']:.3f}")
    print(f"apf_cpu_us_per_create = {(cpu['apf-on'] - cpu['apf-off']) / creates * 1e6:.1f}")
    print(f"apf_on_server_cpu_us_per_create = {cpu['apf-on'] / creates * 1e6:.1f}")


VAP_POLICIES = 10


def _vap_policy(i: int) -> dict:
    """A policy on pod creates with one validation every bench pod passes (a container count,
    a name length, the images; the last policy refuses only the probe pod), as the one-rule
    policies of upstream's examples and platform teams' libraries."""
    checks = [
        "object.spec.containers.size() <= 20",
        "size(object.metadata.name) <= 63",
        "object.spec.containers.all(c, c.image != '' && !c.image.endsWith(':latest'))",
    ]
    probe = "!has(object.metadata.labels) || !('vap-probe' in object.metadata.labels)"
    check = probe if i == VAP_POLICIES - 1 else checks[i % len(checks)]
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": f"bench-{i}"},
            "spec": {"failurePolicy": "Fail",
                     "matchConstraints": {"resourceRules": [{
                         "apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
                         "resources": ["pods"]}]},
                     "validations": [{"expression": check, "message": f"bench-{i} refused"}]}}


async def _vap_overhead(
    plane: LocalControlPlane, info: LocalInfo, session: aiohttp.ClientSession, workdir: Path, count: int,
    rounds: int, profile: Path | None = None,
) -> None:
    """Pod creates with ``VAP_POLICIES`` ValidatingAdmissionPolicies bound to every pod create
    (one CEL validation each), through an API server that evaluates them and through one
    started with ``--disable-admission-plugins=ValidatingAdmissionPolicy`` (the same etcd, so
    the same objects, none evaluated): creates/s with ÷ without (target >= 0.9)."""
    api = f"{info.server}/apis/admissionregistration.k8s.io/v1"
    for i in range(VAP_POLICIES):
        async with session.post(f"{api}/validatingadmissionpolicies", json=_vap_policy(i)) as reply:
            assert reply.status == 201, await reply.text()
        binding = {"metadata": {"name": f"bench-{i}"},
                   "spec": {"policyName": f"bench-{i}", "validationActions": ["Deny"]}}
        async with session.post(f"{api}/validatingadmissionpolicybindings", json=binding) as reply:
            assert reply.status == 201, await reply.text()
    probe = {**_pod("probe"), "metadata": {"name": "probe", "labels": {"vap-probe": "x"}}}
    dry_run = f"{info.server}/api/v1/namespaces/default/pods?dryRun=All"
    for _ in range(100):  # the policies are in force once the probe is refused
        async with session.post(dry_run, json=probe) as reply:
            if reply.status == 422:
                break
        await asyncio.sleep(0.05)
    else:
        raise RuntimeError("the bench's policies never refused the probe pod")
    seconds, cpu, creates = await _ab_creates(plane, info, session, workdir, count, rounds, {
        "vap-on": (), "vap-off": ("--disable-admission-plugins=ServiceAccount,ValidatingAdmissionPolicy",)},
        profile)
    print(f"vap_policies = {VAP_POLICIES}")
    print(f"vap_overhead_ratio = {seconds['vap-off'] / seconds['vap-on']:.3f}")
    print(f"vap_cpu_us_per_create = {(cpu['vap-on'] - cpu['vap-off']) / creates * 1e6:.1f}")


async def _list_all(session: aiohttp.ClientSession, server: str, ns: str) -> tuple[float, int]:
    start = time.perf_counter()
    async with session.get(f"{server}/api/v1/namespaces/{ns}/pods") as reply:
        body = await reply.json()
    return time.perf_counter() - start, len(body["items"])


async def _get_many(session: aiohttp.ClientSession, url: str, count: int, headers: dict[str, str]) -> None:
    async def worker(n: int) -> None:
        for _ in range(n):
            async with session.get(url, headers=headers) as reply:
                await reply.read()
                assert reply.status == 200, reply.status

    await asyncio.gather(*(worker(count // CONCURRENCY) for _ in range(CONCURRENCY)))


async def _token_auth(info: LocalInfo, workdir: Path, requests: int, rounds: int = 4) -> float:
    """API server CPU per Bearer-token request minus per client-certificate request (us)."""
    admin_ctx = _ssl(Path(info.admin_kubeconfig), workdir)
    token_ctx = ssl.create_default_context(cafile=str(workdir / "ca.crt"))
    server = info.server
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=admin_ctx)) as admin:
        await admin.post(f"{server}/api/v1/namespaces", json={"metadata": {"name": "tok"}})
        await admin.post(f"{server}/api/v1/namespaces/tok/serviceaccounts", json={"metadata": {"name": "b"}})
        async with admin.post(
            f"{server}/api/v1/namespaces/tok/serviceaccounts/b/token",
            json={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}},
        ) as reply:
            token = (await reply.json())["status"]["token"]
    meter = _CpuMeter(Path(info.dir))
    spent = {"token": 0.0, "cert": 0.0}
    url = f"{server}/version"
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=admin_ctx, limit=CONCURRENCY)) as cert,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=token_ctx, limit=CONCURRENCY)) as bearer,
    ):
        auth = {"Authorization": f"Bearer {token}"}
        await _get_many(cert, url, CONCURRENCY * 4, {})  # connections made, caches warm
        await _get_many(bearer, url, CONCURRENCY * 4, auth)
        for _ in range(rounds):
            for kind, session, headers in (("cert", cert, {}), ("token", bearer, auth)):
                meter.start()
                await _get_many(session, url, requests // rounds, headers)
                spent[kind] += meter.per(requests // rounds)["apiserver"] / rounds
    return spent["token"] - spent["cert"]


def _token_review_cached_us(count: int = 20_000) -> float:
    from cryptography.hazmat.primitives.asymmetric import rsa

    from kprov.cluster.apiserver.authn.chain import Authenticator
    from kprov.cluster.apiserver.satoken import BoundRef, ServiceAccountTokens

    tokens = ServiceAccountTokens(rsa.generate_private_key(public_exponent=65537, key_size=2048), [])
    objects = {
        "/registry/serviceaccounts/ns/sa": {"metadata": {"uid": "u"}},
        "/registry/pods/ns/p": {"metadata": {"uid": "pu"}},
    }
    auth = Authenticator(tokens, objects.get)
    token, _ = tokens.issue("ns", "sa", "u", bound=BoundRef("Pod", "p", "pu"))
    auth.review(token)
    start = time.perf_counter()
    for _ in range(count):
        auth.review(token)
    return (time.perf_counter() - start) / count * 1e6


async def run(args: argparse.Namespace, workdir: Path) -> None:
    plane = LocalControlPlane(workdir / "plane", start_components=False, apiserver_workers=args.workers)
    info = plane.up()
    try:
        if args.only_token_auth:
            print(f"token_auth_us = {await _token_auth(info, workdir, args.token_requests):.1f}")
            print(f"token_review_cached_us = {_token_review_cached_us():.1f}")
            return
        context = _ssl(Path(info.admin_kubeconfig), workdir)
        connector = aiohttp.TCPConnector(ssl=context, limit=args.watchers + 2 * CONCURRENCY)
        timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            server = info.server
            if args.only_metrics:
                await _metrics_overhead(plane, info, session, workdir, args.metrics_pods, args.metrics_rounds)
                return
            if args.only_crd:
                await _crd_phase(plane, info, session, workdir, args.crs)
                return
            if args.only_rbac:
                _print_rbac(*await _rbac_creates(plane, info, session, args.rbac_pods))
                return
            if args.only_admission:
                profile = Path(args.profile) if args.profile else None
                sized = (args.metrics_pods, args.metrics_rounds, profile)
                await _apf_overhead(plane, info, session, workdir, *sized)
                await _vap_overhead(plane, info, session, workdir, *sized)
                return
            for ns in ("bench", "bench-aiohttp", "steady", "fan"):
                async with session.post(
                    f"{server}/api/v1/namespaces", json={"metadata": {"name": ns}}
                ) as reply:
                    await reply.read()
            measured = await _side_by_side(info, args, _CpuMeter(Path(info.dir)))
            put_cpu, create_cpu = measured["put"], measured["create"]
            etcd_rate = put_cpu["ops"] / put_cpu["seconds"]
            api_rate = create_cpu["ops"] / create_cpu["seconds"]
            aiohttp_rate = await _api_creates(session, server, "bench-aiohttp", args.pods // 2)
            print(f"etcd_put_per_s = {etcd_rate:.0f}")
            print(f"api_create_per_s = {api_rate:.0f}")
            print(f"api_vs_etcd_ratio = {api_rate / etcd_rate:.2f}")
            print(f"api_create_aiohttp_per_s = {aiohttp_rate:.0f}")
            print(f"etcd_cpu_us_per_put = {put_cpu['etcd']:.0f}")
            print(f"api_server_cpu_us_per_create = {create_cpu['apiserver']:.0f}")
            print(f"etcd_cpu_us_per_create = {create_cpu['etcd']:.0f}")
            print(f"bench_cpu_us_per_put = {put_cpu['bench']:.0f}")
            print(f"bench_cpu_us_per_create = {create_cpu['bench']:.0f}")
            seconds, count = min([await _list_all(session, server, "bench") for _ in range(3)])
            print(f"list_10k_items = {count}")
            print(f"list_10k_s = {seconds:.3f}")
            lat = await _steady(session, server, "steady", args.steady_seconds)
            for kind in ("create", "get", "list"):
                print(f"{kind}_p50_ms = {statistics.median(lat[kind]):.1f}")
                print(f"{kind}_p99_ms = {_pct(lat[kind], 0.99):.1f}")
            print(f"mutating_p99_ms = {_pct(lat['create'], 0.99):.1f}")
            fan = await _fanout(session, server, "fan", args.watchers, args.fanout_events)
            print(f"watch_fanout_deliveries = {len(fan)}")
            print(f"watch_fanout_p50_ms = {statistics.median(fan):.1f}")
            print(f"watch_fanout_p99_ms = {_pct(fan, 0.99):.1f}")
            print(f"token_auth_us = {await _token_auth(info, workdir, args.token_requests):.1f}")
            print(f"token_review_cached_us = {_token_review_cached_us():.1f}")
            await _crd_phase(plane, info, session, workdir, args.crs)
            _print_rbac(*await _rbac_creates(plane, info, session, args.rbac_pods))
            await _metrics_overhead(plane, info, session, workdir, args.metrics_pods, args.metrics_rounds)
            await _apf_overhead(plane, info, session, workdir, args.metrics_pods, args.metrics_rounds)
            await _vap_overhead(plane, info, session, workdir, args.metrics_pods, args.metrics_rounds)
    finally:
        plane.down()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--dir", default="", help="keep the control plane's files (logs) here")
    parser.add_argument("--workers", type=int, default=1, help="API server processes (SO_REUSEPORT)")
    parser.add_argument("--etcd-puts", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds of puts and creates")
    parser.add_argument("--watchers", type=int, default=1000)
    parser.add_argument("--fanout-events", type=int, default=20)
    parser.add_argument("--steady-seconds", type=float, default=10.0)
    parser.add_argument("--token-requests", type=int, default=20_000, help="GETs per identity")
    parser.add_argument("--only-token-auth", action="store_true", help="measure token_auth_us only")
    parser.add_argument("--crs", type=int, default=4000, help="custom objects (and pods) for cr_vs_pod_ratio")
    parser.add_argument("--only-crd", action="store_true", help="only the custom resource figures")
    parser.add_argument("--metrics-pods", type=int, default=64_000, help="creates per side (metrics ratio)")
    parser.add_argument("--metrics-rounds", type=int, default=64, help="alternating rounds (metrics ratio)")
    parser.add_argument("--rbac-pods", type=int, default=6000, help="creates per side (rbac ratio)")
    parser.add_argument("--only-rbac", action="store_true", help="only the RBAC figures")
    parser.add_argument("--only-metrics", action="store_true", help="only metrics_overhead_ratio")
    parser.add_argument("--profile", default="", help="with --only-admission: py-spy each side into this dir")
    parser.add_argument("--only-admission", action="store_true",
                        help="only apf_overhead_ratio and vap_overhead_ratio (sized by --metrics-*)")
    args = parser.parse_args()
    if args.dir:
        Path(args.dir).mkdir(parents=True, exist_ok=True)
        uvloop.run(run(args, Path(args.dir)))
        return
    with tempfile.TemporaryDirectory(prefix="kprov-bench-") as workdir:
        uvloop.run(run(args, Path(workdir)))


if __name__ == "__main__":
    main()
