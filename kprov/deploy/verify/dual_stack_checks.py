"""verify on a dual-stack cluster: pod to pod and pod to Service over IPv6, and DNS AAAA.

A cluster is dual-stack when a Node's ``spec.podCIDRs`` has both families (the node IPAM
controller gives every node a range of each configured family); an IPv4-only cluster gets no
rows from here. The check deploys into a throw-away namespace the smoke workload's httpd pods
(:mod:`.smoke`) behind a ``PreferDualStack`` Service, then a one-shot client pod that fetches
each server pod's IPv6 address and the Service's IPv6 cluster IP (and, as a control, the
IPv4 one) and prints one line per URL; its log is the verdict. The Service's name is asked
AAAA of the cluster DNS (through the kube-dns cluster IP, from a worker) and must answer the
IPv6 cluster IP. The namespace is deleted at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import secrets
import time
from collections.abc import Callable, Iterable
from typing import Any

from kprov.cluster.client import ApiClient, ApiError, resources
from kprov.deploy.verify.dns_probe import dns_probe_command, parse_probe_output
from kprov.deploy.verify.report import Check
from kprov.deploy.verify.smoke import SMOKE_IMAGE, SMOKE_PORT, smoke_deployment, smoke_namespace

__all__ = ["check_dual_stack", "dual_stack_service", "is_dual_stack", "parse_fetches", "probe_pod"]

RemoteRun = Callable[[str, str], tuple[int, str]]
_POLL_S = 0.5
_MARK = "kprov-fetch"


def is_dual_stack(nodes: Iterable[dict[str, Any]]) -> bool:
    """Whether some node has a pod range of each family."""
    for node in nodes:
        cidrs = (node.get("spec") or {}).get("podCIDRs") or []
        versions = set()
        for cidr in cidrs:
            with contextlib.suppress(ValueError):
                versions.add(ipaddress.ip_network(str(cidr), strict=False).version)
        if versions == {4, 6}:
            return True
    return False


def _ipv6(addresses: Iterable[str]) -> str:
    return next((a for a in addresses if ":" in a), "")


def dual_stack_service(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kprov-verify6", "namespace": namespace},
        "spec": {"ipFamilyPolicy": "PreferDualStack", "selector": {"app": "kprov-verify"},
                 "ports": [{"port": 80, "targetPort": SMOKE_PORT, "protocol": "TCP"}]},
    }


def _url(ip: str, port: int) -> str:
    return f"http://[{ip}]:{port}/" if ":" in ip else f"http://{ip}:{port}/"


def probe_pod(namespace: str, node: str, urls: list[str]) -> dict[str, Any]:
    """A one-shot busybox pod printing ``kprov-fetch URL ANSWER`` (or ``FAILED``) per URL."""
    # timeout(1), not wget's -T: busybox's wget crashes with its own timeout (tests/e2e notes it too)
    fetch = "timeout 3 wget -q -O- {} 2>/dev/null | head -n 1"
    lines = [f'echo "{_MARK} {u} $({fetch.format(u)})"' for u in urls]
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "kprov-verify6-client", "namespace": namespace},
        "spec": {
            "nodeName": node, "restartPolicy": "Never", "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "fetch", "image": SMOKE_IMAGE, "imagePullPolicy": "IfNotPresent",
                            "command": ["sh", "-c", "; ".join(lines)]}],
        },
    }


def parse_fetches(log: str) -> dict[str, str]:
    """URL -> the first line it answered ("" when it did not answer)."""
    found: dict[str, str] = {}
    for line in log.splitlines():
        words = line.split(maxsplit=2)
        if len(words) >= 2 and words[0] == _MARK:
            found[words[1]] = words[2].strip() if len(words) == 3 else ""
    return found


async def _until(what: str, probe: Callable[[], Any], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await probe()
        if value:
            return value
        await asyncio.sleep(_POLL_S)
    raise TimeoutError(f"{what}: not within {timeout:.0f}s")


async def _ready_pods(client: ApiClient, namespace: str, count: int) -> list[dict[str, Any]] | None:
    pods, _ = await client.list_all(resources.PODS, namespace)
    ready = [p for p in pods if p["metadata"]["name"].startswith("kprov-verify-") and len(
        (p.get("status") or {}).get("podIPs") or []) == 2 and any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in p["status"].get("conditions") or [])]
    return ready if len(ready) >= count else None


async def _dns_aaaa(client: ApiClient, fqdn: str, want: str, worker: str, remote_run: RemoteRun) -> Check:
    title = f"cluster DNS answers AAAA for {fqdn} (from {worker})"
    try:
        dns_ip = (await client.get(resources.SERVICES, "kube-dns", "kube-system"))["spec"]["clusterIP"]
    except ApiError as exc:
        return Check("cluster", title, False, f"kube-system/kube-dns: {exc}")
    deadline = time.monotonic() + 30
    while True:
        rc, out = await asyncio.to_thread(remote_run, worker, dns_probe_command(fqdn, dns_ip, qtype="AAAA"))
        rcode, ips = parse_probe_output(out)
        if (rc == 0 and ips == [want]) or time.monotonic() > deadline:
            detail = f"{dns_ip}: {rcode} {' '.join(ips)}".strip()
            return Check("cluster", title, rc == 0 and ips == [want], detail)
        await asyncio.sleep(1.0)


async def check_dual_stack(client: ApiClient, workers: list[str], remote_run: RemoteRun,
                           domain: str = "cluster.local", timeout: float = 120.0) -> list[Check]:
    """The rows above on a dual-stack cluster; none on an IPv4-only one."""
    nodes, _ = await client.list_all(resources.NODES)
    if not is_dual_stack(nodes):
        return []
    if not workers:
        return [Check("cluster", "dual-stack checks", False, "no worker to run them on")]
    namespace = f"kprov-verify6-{secrets.token_hex(3)}"
    replicas = min(2, len(workers))
    checks: list[Check] = []
    await client.create(resources.NAMESPACES, smoke_namespace(namespace))
    try:
        await client.create(resources.DEPLOYMENTS, smoke_deployment(namespace, workers, replicas), namespace)
        service = await client.create(resources.SERVICES, dual_stack_service(namespace), namespace)
        cluster_ips = service["spec"].get("clusterIPs") or []
        service6 = _ipv6(cluster_ips)
        checks.append(Check("cluster", "PreferDualStack Service gets a cluster IP of each family",
                            len(cluster_ips) == 2 and bool(service6), " ".join(cluster_ips)))
        try:
            pods = await _until("dual-stack smoke pods ready",
                                lambda: _ready_pods(client, namespace, replicas), timeout)
        except TimeoutError as exc:
            return [*checks, Check("cluster", "dual-stack smoke pods ready", False, str(exc))]
        targets = {p["metadata"]["name"]: _ipv6(a["ip"] for a in p["status"]["podIPs"]) for p in pods}
        urls = [_url(ip, SMOKE_PORT) for ip in targets.values()]
        service_urls = [_url(ip, 80) for ip in cluster_ips]
        await client.create(resources.PODS, probe_pod(namespace, workers[-1], urls + service_urls), namespace)

        async def finished() -> str | None:
            pod = await client.get(resources.PODS, "kprov-verify6-client", namespace)
            if (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
                return None
            log = await client.request("GET", f"/api/v1/namespaces/{namespace}/pods/kprov-verify6-client/log")
            return str(log) or "(empty log)"

        try:
            fetched = parse_fetches(await _until("the IPv6 client pod", finished, timeout))
        except TimeoutError as exc:
            return [*checks, Check("cluster", "pod to pod over IPv6", False, str(exc))]
        for (name, ip), url in zip(targets.items(), urls, strict=True):
            answer = fetched.get(url, "")
            checks.append(Check("cluster", f"pod to pod over IPv6: {name} at {ip}", answer == name, answer))
        for url in service_urls:
            answer = fetched.get(url, "")
            checks.append(Check("cluster", f"pod to Service {url}", answer in targets, answer))
        if service6:
            fqdn = f"kprov-verify6.{namespace}.svc.{domain}"
            checks.append(await _dns_aaaa(client, fqdn, service6, workers[-1], remote_run))
    finally:
        with contextlib.suppress(ApiError):
            await client.delete(resources.NAMESPACES, namespace)
    return checks
