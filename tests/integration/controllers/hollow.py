"""Hollow nodes and pod-status helpers for integration tests and the scheduler benchmark.

A hollow node is a Node object created through the API (Ready, with allocatable) plus a
tiny heartbeat loop renewing its Lease in kube-node-lease; there is no kubelet, so tests
mark pods Running/Ready themselves through pods/status. Components under test run as
real processes (:func:`start_component`) with their own identities.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from kprov.cluster.client import ApiClient, NotFound, resources
from kprov.cluster.client.errors import AlreadyExists, Conflict
from kprov.cluster.client.timeutil import format_micro_time, format_time


def node_body(
    name: str,
    cpu: str = "4",
    memory: str = "8Gi",
    pods: int = 110,
    labels: dict[str, str] | None = None,
    taints: list[dict] | None = None,
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": {"taints": taints or []},
    }


def node_status(cpu: str = "4", memory: str = "8Gi", pods: int = 110, ready: str = "True") -> dict[str, Any]:
    stamp = format_time()
    capacity = {"cpu": cpu, "memory": memory, "pods": str(pods)}
    return {
        "capacity": capacity,
        "allocatable": capacity,
        "conditions": [
            {
                "type": "Ready",
                "status": ready,
                "reason": "KubeletReady",
                "message": "hollow",
                "lastHeartbeatTime": stamp,
                "lastTransitionTime": stamp,
            }
        ],
        "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
    }


async def create_node(
    client: ApiClient,
    name: str,
    *,
    cpu: str = "4",
    memory: str = "8Gi",
    pods: int = 110,
    labels: dict[str, str] | None = None,
    taints: list[dict] | None = None,
) -> dict:
    node = await client.create(resources.NODES, node_body(name, labels=labels, taints=taints))
    for _ in range(5):
        node["status"] = node_status(cpu, memory, pods)
        try:
            return await client.update_status(resources.NODES, node)
        except Conflict:  # e.g. the pod CIDR allocator wrote the node meanwhile
            node = await client.get(resources.NODES, name)
    raise AssertionError(f"could not set the status of node {name}")


async def report_ready(client: ApiClient, name: str) -> dict:
    """What a kubelet that comes back does: post a fresh Ready=True status."""
    for _ in range(5):
        node = await client.get(resources.NODES, name)
        status = node.get("status") or {}
        node["status"] = {**node_status(), **{k: v for k, v in status.items() if k != "conditions"}}
        try:
            return await client.update_status(resources.NODES, node)
        except Conflict:
            continue
    raise AssertionError(f"could not report node {name} ready")


async def renew_lease(client: ApiClient, node: str) -> None:
    body = {
        "metadata": {"name": node, "namespace": "kube-node-lease"},
        "spec": {"holderIdentity": node, "leaseDurationSeconds": 40, "renewTime": format_micro_time()},
    }
    try:
        lease = await client.get(resources.LEASES, node, "kube-node-lease")
    except NotFound:
        with contextlib.suppress(AlreadyExists):
            await client.create(resources.LEASES, body)
        return
    lease["spec"] = {**lease.get("spec", {}), "renewTime": format_micro_time()}
    with contextlib.suppress(Conflict):
        await client.update(resources.LEASES, lease)


async def heartbeat(client: ApiClient, nodes: Callable[[], list[str]], period: float = 2.0) -> None:
    """Renew every listed node's lease each period until cancelled."""
    while True:
        await asyncio.gather(*(renew_lease(client, n) for n in nodes()), return_exceptions=True)
        await asyncio.sleep(period)


async def ensure_namespace(client: ApiClient, name: str) -> None:
    with contextlib.suppress(AlreadyExists):
        await client.create(resources.NAMESPACES, {"metadata": {"name": name}})


async def mark_running(client: ApiClient, pod: dict, ip: str, ready: bool = True) -> dict:
    """What a kubelet would report: phase Running, a pod IP, Ready condition."""
    for _ in range(5):
        stamp = format_time()
        status = {
            **(pod.get("status") or {}),
            "phase": "Running",
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "hostIP": "127.0.0.1",
            "startTime": stamp,
            "conditions": [
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": stamp},
                {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": stamp},
                {
                    "type": "ContainersReady",
                    "status": "True" if ready else "False",
                    "lastTransitionTime": stamp,
                },
            ],
        }
        try:
            return await client.update_status(resources.PODS, {**pod, "status": status})
        except Conflict:
            pod = await client.get(resources.PODS, pod["metadata"]["name"], pod["metadata"]["namespace"])
    raise AssertionError(f"could not update the status of {pod['metadata']['name']}")


def simple_pod(
    name: str,
    namespace: str = "default",
    labels: dict | None = None,
    cpu: str = "",
    memory: str = "",
    **spec: Any,
) -> dict:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    container: dict[str, Any] = {
        "name": "c",
        "image": "registry.invalid/pause:1",
        "resources": {"requests": requests} if requests else {},
    }
    if "ports" in spec:
        container["ports"] = spec.pop("ports")
    return {
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "spec": {"containers": [container], **spec},
    }


async def wait_for(
    check: Callable[[], Awaitable[Any]], timeout: float = 20.0, interval: float = 0.2, what: str = "condition"
) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def start_component(module: str, kubeconfig: Path, log_dir: Path, name: str, *args: str) -> subprocess.Popen:
    """Run ``python -m module --kubeconfig ...`` as a real process; its log goes to log_dir/name.log."""
    log = open(log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process by stop_component
    proc = subprocess.Popen(
        [sys.executable, "-m", module, "--kubeconfig", str(kubeconfig), *args],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    proc.log_file = log  # type: ignore[attr-defined]
    return proc


def stop_component(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    proc.log_file.close()  # type: ignore[attr-defined]
