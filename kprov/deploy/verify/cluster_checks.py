"""Cluster checks through the API: every API server ready, every node Ready, the smoke test.

Each API server is asked on its own (not through failover) so a dead one shows as a failed
row. The smoke test creates a throw-away namespace, waits for 2 ready pods on 2 different
workers, fetches the Service's ClusterIP from a node (every backend must answer) and the
NodePort on every worker from this machine, asks the cluster DNS (through the kube-dns
ClusterIP, as pods do) for the Service's name from a worker, then deletes the namespace.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import secrets
import time
from collections.abc import Callable, Collection
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from kprov.cluster.client import ApiClient, ApiError, ClientConfig, resources
from kprov.deploy.verify.clock_checks import served_window_detail
from kprov.deploy.verify.diagnose import describe_error, primary_cause
from kprov.deploy.verify.dns_probe import dns_probe_command, parse_probe_output
from kprov.deploy.verify.host_checks import served_certificate
from kprov.deploy.verify.report import Check
from kprov.deploy.verify.smoke import smoke_deployment, smoke_namespace, smoke_service

__all__ = ["check_api_servers", "check_cluster_dns", "check_nodes", "smoke_test"]

RemoteRun = Callable[[str, str], tuple[int, str]]  # (host, shell command) -> (rc, stdout)
_POLL_S = 0.25  # waiting for nodes / pods to be Ready: a list of a few objects per poll


async def _check_api_server(config: ClientConfig, server: str) -> Check:
    single = dataclasses.replace(config, servers=(server,))
    try:
        async with ApiClient(single, timeout=5.0) as client:
            body = await client.request("GET", "/readyz")
        ready = str(body).strip() == "ok"
        return Check("cluster", f"API server {server} ready", ready, str(body)[:80])
    except Exception as exc:  # noqa: BLE001 - every failure is this server's failed row, with its cause
        detail = describe_error(exc)
        if primary_cause(exc).kind in ("cert-not-yet-valid", "cert-expired", "tls"):
            url = urlsplit(server)
            window = await asyncio.to_thread(served_window_detail, url.hostname or "", url.port or 443,
                                             dt.datetime.now(dt.UTC), served_certificate)
            detail = f"{window} ({detail})" if window else detail
        return Check("cluster", f"API server {server} ready", False, detail)


async def check_api_servers(config: ClientConfig) -> list[Check]:
    """Each API server asked on its own (all at once)."""
    return list(await asyncio.gather(*(_check_api_server(config, s) for s in config.servers)))


def _ready(obj: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (obj.get("status") or {}).get("conditions") or [])


def _ready_detail(node: dict[str, Any]) -> str:
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return f"Ready={cond.get('status')} {cond.get('reason', '')} {cond.get('message', '')}".strip()
    return "no Ready condition yet"


async def check_nodes(client: ApiClient, expected: list[str], wait_s: float = 60.0,
                      unreachable: Collection[str] = ()) -> list[Check]:
    """Every expected node registered and Ready (a node just joined gets ``wait_s`` to get there;
    a host that did not answer verify's probe gets no wait: its row is as the API has it now)."""
    deadline = time.monotonic() + wait_s
    awaited = [name for name in expected if name not in unreachable]
    while True:
        nodes, _ = await client.list_all(resources.NODES)
        by_name = {n["metadata"]["name"]: n for n in nodes}
        if all(name in by_name and _ready(by_name[name]) for name in awaited) or time.monotonic() > deadline:
            break
        await asyncio.sleep(_POLL_S)
    checks = []
    for name in expected:
        node = by_name.get(name)
        if node is None:
            checks.append(Check("cluster", f"node {name} Ready", False, "not registered"))
        else:
            checks.append(Check("cluster", f"node {name} Ready", _ready(node), _ready_detail(node)))
    return checks


async def _wait_pods(client: ApiClient, namespace: str, count: int, timeout: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    pods: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        pods, _ = await client.list_all(resources.PODS, namespace)
        ready = [p for p in pods if _ready(p) and not p["metadata"].get("deletionTimestamp")]
        if len(ready) >= count:
            return ready
        await asyncio.sleep(_POLL_S)
    states = ", ".join(f"{p['metadata']['name']}@{p['spec'].get('nodeName', '-')}:"
                       f"{(p.get('status') or {}).get('phase', '?')}" for p in pods)
    raise TimeoutError(f"{count} ready pods not seen within {timeout:.0f}s ({states or 'no pods'})")


async def _http_get(session: aiohttp.ClientSession, url: str) -> str:
    async with session.get(url, timeout=aiohttp.ClientTimeout(total=3)) as resp:
        return (await resp.text()).strip()


async def check_cluster_dns(client: ApiClient, service: dict[str, Any], worker: str, remote_run: RemoteRun,
                            domain: str = "cluster.local", wait_s: float = 30.0) -> Check:
    """The Service's FQDN resolves to its ClusterIP through kube-system/kube-dns."""
    meta = service["metadata"]
    fqdn = f"{meta['name']}.{meta['namespace']}.svc.{domain}"
    title = f"cluster DNS resolves {fqdn} (from {worker})"
    try:
        dns_ip = (await client.get(resources.SERVICES, "kube-dns", "kube-system"))["spec"]["clusterIP"]
    except ApiError as exc:
        return Check("cluster", title, False, f"kube-system/kube-dns: {exc}")
    deadline = time.monotonic() + wait_s
    while True:
        rc, out = await asyncio.to_thread(remote_run, worker, dns_probe_command(fqdn, dns_ip))
        rcode, ips = parse_probe_output(out)
        ok = rc == 0 and ips == [service["spec"]["clusterIP"]]
        if ok or time.monotonic() > deadline:
            return Check("cluster", title, ok, f"{dns_ip}: {rcode} {' '.join(ips)}".strip())
        await asyncio.sleep(1.0)


async def smoke_test(client: ApiClient, workers: list[str], node_ips: dict[str, str],
                     remote_run: RemoteRun, timeout: float = 120.0,
                     domain: str = "cluster.local") -> list[Check]:
    """Deploy, probe through ClusterIP (from a node) and NodePort (from here), delete.

    One pod per worker on up to two workers (two show traffic crossing nodes); a cluster
    with one worker is smoke-tested on that one. Without a worker there is nowhere to run
    it: control-plane hosts carry the NoSchedule taint unless also listed as workers."""
    if not workers:
        return [Check("cluster", "smoke deployment", False,
                      "no worker to run it on: list a host under workers (a control-plane host "
                      "listed there too takes pods), or verify with --no-smoke")]
    replicas = min(2, len(workers))
    title = f"smoke pods ready on {replicas} worker{'s' if replicas > 1 else ''}"
    namespace = f"kprov-verify-{secrets.token_hex(3)}"
    checks: list[Check] = []
    await client.create(resources.NAMESPACES, smoke_namespace(namespace))
    try:
        await client.create(resources.DEPLOYMENTS, smoke_deployment(namespace, workers, replicas), namespace)
        service = await client.create(resources.SERVICES, smoke_service(namespace), namespace)
        try:
            pods = await _wait_pods(client, namespace, replicas, timeout)
        except TimeoutError as exc:
            return [Check("cluster", title, False, str(exc))]
        hosts = {p["metadata"]["name"]: p["spec"].get("nodeName") for p in pods}
        spread = len(set(hosts.values())) == replicas
        checks.append(Check("cluster", title, spread, ", ".join(f"{k}@{v}" for k, v in hosts.items())))
        cluster_ip = service["spec"]["clusterIP"]
        node_port = service["spec"]["ports"][0]["nodePort"]
        script = ("python3 -c \"import urllib.request as u,sys\nfor _ in range(20):\n"
                  f" print(u.urlopen('http://{cluster_ip}/', timeout=2).read().decode().strip())\"")
        rc, out = await asyncio.to_thread(remote_run, workers[0], script)
        answered = set(out.split())
        checks.append(Check("cluster", f"ClusterIP {cluster_ip} answers from every pod (from {workers[0]})",
                            rc == 0 and set(hosts) <= answered, f"answers: {sorted(answered)}"))
        checks.append(await check_cluster_dns(client, service, workers[-1], remote_run, domain))
        async with aiohttp.ClientSession() as session:
            for worker in workers:
                url = f"http://{node_ips[worker]}:{node_port}/"
                try:
                    body = await _http_get(session, url)
                    checks.append(Check("cluster", f"NodePort {url}", body in hosts, body))
                except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                    checks.append(Check("cluster", f"NodePort {url}", False, str(exc) or type(exc).__name__))
    finally:
        with contextlib.suppress(ApiError):
            await client.delete(resources.NAMESPACES, namespace)
    return checks


