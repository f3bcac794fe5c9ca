"""Node loss as upstream (issue 76): a worker powered off, its pods evicted and replaced.

A ReplicaSet whose pods prefer one worker and tolerate the not-ready and unreachable
NoExecute taints for ``toleration_s`` runs there; the worker is powered off (the lab host
stopped). What upstream's node lifecycle controller and taint manager do, observed through
the API every ``poll_s``:

- after the grace period the node's Ready condition is Unknown and it carries the
  ``node.kubernetes.io/unreachable`` NoSchedule and NoExecute taints;
- ``toleration_s`` after the NoExecute taint was added its pods are deleted (marked first
  with a DisruptionTarget condition) and stay Terminating: nobody can confirm they stopped;
- the ReplicaSet, which counts only pods not being deleted, has its replacements Running on
  another node; never more than ``replicas`` of its pods are active (not terminating, not
  finished) in any observation;
- the host powered on again rejoins Ready, its taints go, and its kubelet finishes the
  deletion of the evicted pods.

``node_loss_pods_rescheduled_s`` is measured from the NoExecute taint's ``timeAdded`` (when
the tolerations' seconds start counting, as upstream defines them) to every replacement
Running; ``total_s`` from the power-off.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kprov.cluster.api.objects import get_condition, parse_time
from kprov.cluster.client import ApiClient, ApiError, load_kubeconfig, resources
from kprov.lab import Lab

__all__ = ["NodeLossResult", "replica_set", "run_node_loss"]

UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"
APP = "node-loss"


def replica_set(namespace: str, replicas: int, prefer: str, toleration_s: int) -> dict[str, Any]:
    tolerations = [{"key": key, "operator": "Exists", "effect": "NoExecute",
                    "tolerationSeconds": toleration_s} for key in (NOT_READY, UNREACHABLE)]
    affinity = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
        "weight": 100, "preference": {"matchFields": [
            {"key": "metadata.name", "operator": "In", "values": [prefer]}]}}]}}
    return {
        "metadata": {"name": APP, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": APP}},
            "template": {
                "metadata": {"labels": {"app": APP}},
                "spec": {
                    "terminationGracePeriodSeconds": 2,
                    "tolerations": tolerations,
                    "affinity": affinity,
                    "containers": [{"name": "main", "image": "kprov.local/busybox:1",
                                    "imagePullPolicy": "IfNotPresent",
                                    "command": ["sh", "-c", "exec sleep 100000"]}],
                },
            },
        },
    }


@dataclass
class NodeLossResult:
    node: str
    replicas: int
    evicted: list[str] = field(default_factory=list)  # the lost node's pods deleted by the taint manager
    disruption_marked: list[str] = field(default_factory=list)  # ... carrying DisruptionTarget
    replacements: list[str] = field(default_factory=list)
    taints: list[str] = field(default_factory=list)  # key:effect seen on the lost node
    not_ready_s: float = 0.0  # power-off to Ready Unknown
    tainted_s: float = 0.0  # power-off to the NoExecute taint seen
    node_loss_pods_rescheduled_s: float = 0.0  # NoExecute taint's timeAdded to every replacement Running
    total_s: float = 0.0  # power-off to every replacement Running
    rejoined_s: float = 0.0  # power-on to Ready True and the taints gone
    evicted_gone_s: float = 0.0  # power-on to the evicted pods gone (the kubelet finished them)
    max_active: int = 0  # the most active pods of the ReplicaSet in one observation
    observations: int = 0

    def summary(self) -> str:
        return (f"node loss of {self.node}: not_ready_s={self.not_ready_s:.1f} "
                f"tainted_s={self.tainted_s:.1f} "
                f"node_loss_pods_rescheduled_s={self.node_loss_pods_rescheduled_s:.1f} "
                f"total_s={self.total_s:.1f} rejoined_s={self.rejoined_s:.1f} "
                f"evicted_gone_s={self.evicted_gone_s:.1f} evicted={len(self.evicted)} "
                f"max_active={self.max_active}/{self.replicas} taints={sorted(self.taints)}")


def _active(pod: dict[str, Any]) -> bool:
    return not pod["metadata"].get("deletionTimestamp") and \
        (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


def _running_on(pod: dict[str, Any]) -> str | None:
    if _active(pod) and (pod.get("status") or {}).get("phase") == "Running":
        return str((pod.get("spec") or {}).get("nodeName") or "")
    return None


class _Observer:
    def __init__(self, client: ApiClient, namespace: str, result: NodeLossResult) -> None:
        self.client, self.namespace, self.result = client, namespace, result

    async def pods(self) -> list[dict[str, Any]]:
        items, _ = await self.client.list_all(resources.PODS, self.namespace, label_selector=f"app={APP}")
        self.result.observations += 1
        self.result.max_active = max(self.result.max_active, sum(_active(p) for p in items))
        return items

    async def until(self, what: str, check: Any, timeout_s: float, poll_s: float) -> Any:
        deadline = time.monotonic() + timeout_s
        last: object = None
        while time.monotonic() < deadline:
            try:
                value = await check()
                if value:
                    return value
                last = value
            except (TimeoutError, ApiError, OSError) as exc:
                last = exc
            await asyncio.sleep(poll_s)
        raise AssertionError(f"{what} not within {timeout_s:.0f}s (last: {str(last)[:300]}); "
                             f"{self.result.summary()}")


async def _run(lab: Lab, kubeconfig: Path, workers: tuple[str, ...], replicas: int, toleration_s: int,
               bound_s: float, poll_s: float) -> NodeLossResult:
    namespace = f"node-loss-{secrets.token_hex(3)}"
    async with ApiClient(load_kubeconfig(kubeconfig), timeout=5.0) as client:
        await client.create(resources.NAMESPACES, {"metadata": {"name": namespace}})
        try:
            return await _scenario(lab, client, namespace, workers, replicas, toleration_s, bound_s, poll_s)
        finally:
            with contextlib.suppress(ApiError, OSError, TimeoutError):
                await client.delete(resources.NAMESPACES, namespace)


async def _scenario(lab: Lab, client: ApiClient, namespace: str, workers: tuple[str, ...], replicas: int,
                    toleration_s: int, bound_s: float, poll_s: float) -> NodeLossResult:
    target = workers[-1]
    body = replica_set(namespace, replicas, target, toleration_s)
    await client.create(resources.REPLICASETS, body, namespace)
    result = NodeLossResult(target, replicas)
    seen = _Observer(client, namespace, result)

    async def all_running() -> list[dict[str, Any]] | None:
        pods = await seen.pods()
        running = [p for p in pods if _running_on(p)]
        return running if len(running) == replicas else None

    running = await seen.until("the ReplicaSet's pods Running", all_running, bound_s, poll_s)
    on_node: dict[str, list[str]] = {}
    for pod in running:
        on_node.setdefault(str(pod["spec"]["nodeName"]), []).append(pod["metadata"]["name"])
    result.node = lost = max(on_node, key=lambda n: len(on_node[n]))  # the preferred worker, normally
    assert lost in workers, f"the ReplicaSet's pods run on {on_node}, not on a worker"
    doomed = set(on_node[lost])

    off_at = time.monotonic()
    # observed while the host goes down: its kubelet stops within a second of the power-off,
    # but the lab's stop returns only once every process of the host is gone (containerd's
    # shims outlive an orderly shutdown until the lab kills them)
    stopping = asyncio.create_task(asyncio.to_thread(lab.stop, lost))

    async def node_state() -> tuple[str, list[dict[str, Any]]]:
        node = await client.get(resources.NODES, lost)
        await seen.pods()
        ready = (get_condition(node, "Ready") or {}).get("status") or ""
        return ready, list((node.get("spec") or {}).get("taints") or [])

    async def unknown() -> bool:
        ready, _ = await node_state()
        return ready == "Unknown"

    await seen.until(f"{lost} Ready=Unknown", unknown, bound_s, poll_s)
    result.not_ready_s = time.monotonic() - off_at

    async def no_execute() -> dict[str, Any] | None:
        _, taints = await node_state()
        result.taints = sorted({f"{t.get('key')}:{t.get('effect')}" for t in taints})
        return next((t for t in taints
                     if t.get("key") == UNREACHABLE and t.get("effect") == "NoExecute"), None)

    taint = await seen.until(f"{lost} tainted {UNREACHABLE}:NoExecute", no_execute, bound_s, poll_s)
    result.tainted_s = time.monotonic() - off_at
    added = parse_time(taint.get("timeAdded"))
    assert added is not None, f"the NoExecute taint has no timeAdded: {taint}"

    async def replaced() -> list[dict[str, Any]] | None:
        pods = await seen.pods()
        for pod in pods:
            name = pod["metadata"]["name"]
            if name in doomed and pod["metadata"].get("deletionTimestamp") and name not in result.evicted:
                result.evicted.append(name)
                condition = get_condition(pod, "DisruptionTarget") or {}
                if condition.get("reason") == "DeletionByTaintManager":
                    result.disruption_marked.append(name)
        elsewhere = [p for p in pods if (n := _running_on(p)) and n != lost]
        return elsewhere if len(elsewhere) == replicas else None

    fresh = await seen.until("the replacements Running elsewhere", replaced, toleration_s + bound_s, poll_s)
    result.total_s = time.monotonic() - off_at
    result.node_loss_pods_rescheduled_s = (dt.datetime.now(dt.UTC) - added).total_seconds()
    result.replacements = [p["metadata"]["name"] for p in fresh]

    await stopping
    on_at = time.monotonic()
    lab.start(lost)

    async def rejoined() -> bool:
        ready, taints = await node_state()
        return ready == "True" and not any(t.get("key") in (UNREACHABLE, NOT_READY) for t in taints)

    await seen.until(f"{lost} Ready again, untainted", rejoined, bound_s, poll_s)
    result.rejoined_s = time.monotonic() - on_at

    async def evicted_gone() -> bool:
        pods = await seen.pods()
        return not doomed & {p["metadata"]["name"] for p in pods}

    await seen.until("the evicted pods finished by the kubelet", evicted_gone, bound_s, poll_s)
    result.evicted_gone_s = time.monotonic() - on_at
    return result


def run_node_loss(lab: Lab, kubeconfig: Path, workers: tuple[str, ...], *, replicas: int = 2,
                  toleration_s: int = 30, bound_s: float = 120.0, poll_s: float = 0.5) -> NodeLossResult:
    """Power off the worker running a ReplicaSet's pods, watch them replaced, power it on."""
    try:
        return asyncio.run(_run(lab, kubeconfig, workers, replicas, toleration_s, bound_s, poll_s))
    finally:
        for host in workers:  # a failure midway must not leave a host off for the next test
            if lab.host_status(host).state == "stopped":
                lab.start(host)
