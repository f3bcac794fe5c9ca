"""What CEL rules cost a custom object's create through a real API server.

Prints:
  crd_create_with_rules_per_s     HTTPRoute creates/s against Gateway API v1.6.1's HTTPRoute
                                  CRD (tests/data/gateway-api-v1.6.1) with its CEL rules
  crd_create_without_rules_per_s  the same routes against the same CRD with every
                                  x-kubernetes-validations removed (served under another group)
  crd_create_with_rules_ratio     with ÷ without (the issue's target >= 0.8)
  crd_rules_cpu_us_per_create     the API server's CPU time per create with the rules minus
                                  without (from /proc/<pid>/stat around each side's rounds):
                                  steadier than the rates on a shared machine
  crd_create_cpu_ratio            the server's CPU per create without ÷ with
Both CRDs are served by one API server over one etcd (a local control plane, HTTPS), the
creates 64 concurrent through aiohttp, in alternating rounds of the same run (each side
first in every other round) so a busy
moment of the shared machine falls on both sides alike. Each route has four rules, as the
in-process bench_cel_httproute.py's. The routes' specs are all the same (the issue's "that
HTTPRoute"), so after the first create the rules' answer for the spec is kept by value
(api/crd/fold_answers.py); with --varied each route has its own path and hostname, so every
create evaluates the rules: the figure for objects that differ. The machine is shared: the
figures are indications.
Run: .venv/bin/python tests/bench/bench_crd_rules.py [--routes 4000] [--rounds 8] [--varied]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import aiohttp
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script: the repo root

from kprov.local import LocalControlPlane  # noqa: E402
from kprov.local.processes import pid_of  # noqa: E402
from tests.bench.bench_apiserver import CONCURRENCY, _creates, _ssl  # noqa: E402
from tests.unit.api.test_gateway_api_cel import BUNDLE, httproute  # noqa: E402

PLAIN_GROUP = "norules.gateway.example.com"
NAMESPACE = "routes"


def _without_rules(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _without_rules(v) for k, v in schema.items() if k != "x-kubernetes-validations"}
    if isinstance(schema, list):
        return [_without_rules(v) for v in schema]
    return schema


def _crds() -> tuple[dict[str, Any], dict[str, Any]]:
    text = (BUNDLE / "gateway.networking.k8s.io_httproutes.yaml").read_text(encoding="utf-8")
    (crd,) = [d for d in yaml.safe_load_all(text) if d and d.get("kind") == "CustomResourceDefinition"]
    plain = _without_rules(copy.deepcopy(crd))
    plain["metadata"] = {"name": f"httproutes.{PLAIN_GROUP}"}
    plain["spec"]["group"] = PLAIN_GROUP
    return crd, plain


def _route(group: str, name: str, varied: bool = False) -> dict[str, Any]:
    route = httproute(f"/api/{name}") if varied else httproute()
    route["apiVersion"] = f"{group}/v1"
    route["metadata"] = {"name": name, "namespace": NAMESPACE}
    if varied:
        route["spec"]["hostnames"] = [f"{name}.example.com"]
    route["spec"]["rules"] *= 4
    return route


async def _post(session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> None:
    async with session.post(url, json=body) as reply:
        if reply.status != 201:
            raise RuntimeError(f"create failed: {reply.status} {await reply.text()}")


async def _served(session: aiohttp.ClientSession, url: str) -> None:
    for _ in range(2000):
        async with session.get(url) as reply:
            await reply.read()
            if reply.status == 200:
                return
        await asyncio.sleep(0.01)
    raise RuntimeError(f"{url} never served")


def _cpu_s(pid: int) -> float:
    """The process's user + system CPU seconds so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _measure(
    server: str, session: aiohttp.ClientSession, routes: int, rounds: int, pid: int, varied: bool
) -> None:
    with_rules, plain = _crds()
    crds = f"{server}/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    await _post(session, crds, with_rules)
    await _post(session, crds, plain)
    await _post(session, f"{server}/api/v1/namespaces", {"metadata": {"name": NAMESPACE}})
    urls = {
        group: f"{server}/apis/{group}/v1/namespaces/{NAMESPACE}/httproutes"
        for group in ("gateway.networking.k8s.io", PLAIN_GROUP)
    }
    for url in urls.values():
        await _served(session, url)
    per_round = max(routes // rounds, CONCURRENCY)
    seconds = dict.fromkeys(urls, 0.0)
    cpu = dict.fromkeys(urls, 0.0)
    for r in range(rounds):
        sides = list(urls.items())
        for group, url in sides if r % 2 == 0 else sides[::-1]:  # both sides every round, each first in turn
            names = [f"r{r}-{i:05d}" for i in range(per_round)]
            before = _cpu_s(pid)
            rate = await _creates(session, url, lambda n, g=group: _route(g, n, varied), names)
            cpu[group] += _cpu_s(pid) - before
            seconds[group] += per_round / rate
    total = per_round * rounds
    with_rate, plain_rate = total / seconds["gateway.networking.k8s.io"], total / seconds[PLAIN_GROUP]
    print(f"crd_create_with_rules_per_s = {with_rate:.0f}")
    print(f"crd_create_without_rules_per_s = {plain_rate:.0f}")
    print(f"crd_create_with_rules_ratio = {with_rate / plain_rate:.2f}")
    with_cpu, plain_cpu = cpu["gateway.networking.k8s.io"] / total, cpu[PLAIN_GROUP] / total
    print(f"crd_create_with_rules_cpu_us = {with_cpu * 1e6:.0f}")
    print(f"crd_create_without_rules_cpu_us = {plain_cpu * 1e6:.0f}")
    print(f"crd_rules_cpu_us_per_create = {(with_cpu - plain_cpu) * 1e6:.0f}")
    print(f"crd_create_cpu_ratio = {plain_cpu / with_cpu:.2f}")


async def run(args: argparse.Namespace, workdir: Path) -> None:
    plane = LocalControlPlane(workdir / "plane", start_components=False)
    info = plane.up()
    try:
        context = _ssl(Path(info.admin_kubeconfig), workdir)
        connector = aiohttp.TCPConnector(ssl=context, limit=2 * CONCURRENCY)
        async with aiohttp.ClientSession(connector=connector) as session:
            pid = pid_of(plane.dir, "apiserver")
            if pid is None:
                raise RuntimeError("the API server is not running")
            await _measure(info.server, session, args.routes, args.rounds, pid, args.varied)
    finally:
        plane.down()


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--routes", type=int, default=4000, help="creates per side")
    parser.add_argument("--rounds", type=int, default=8, help="alternating rounds")
    parser.add_argument("--varied", action="store_true", help="every route's spec its own")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(args, Path(tmp)))


if __name__ == "__main__":
    main()
