"""Node lifecycle: notice nodes that stopped reporting, taint them, evict their pods.

Every ``node_monitor_period`` each node's last heartbeat is checked: the later of its
Lease (kube-node-lease/<node>) renewTime and its Ready condition's lastHeartbeatTime, as
*observed on this controller's clock* (when either last changed). A node silent for
longer than ``node_monitor_grace_period`` gets its conditions set to Unknown ("Kubelet
stopped posting node status.") and the node.kubernetes.io/unreachable taints (NoSchedule
and NoExecute); a node that reports Ready=False gets the not-ready taints. They are
removed when the node is healthy again.

Taint-based eviction: a pod on a node with a NoExecute taint it does not tolerate is
deleted at once; one tolerating it for tolerationSeconds is deleted that long after the
taint was added, each first marked with a DisruptionTarget condition (DeletionByTaintManager), as
upstream's taint manager does. Pods with no toleration for the not-ready/unreachable taints are treated
as tolerating them for ``default_toleration_seconds`` (what the DefaultTolerationSeconds
admission plugin gives every pod in Kubernetes, 300 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time

from kprov.cluster.api.objects import get_condition, now_rfc3339, parse_time
from kprov.cluster.client.errors import ApiError, NotFound
from kprov.cluster.client.informer import EventHandler
from kprov.cluster.client.resources import LEASES, NODES, PODS
from kprov.cluster.client.store import index_by_node_name
from kprov.cluster.controllers.base import Controller, Obj

__all__ = ["NodeLifecycleController", "eviction_delay"]

log = logging.getLogger(__name__)

UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"
_MANAGED = {UNREACHABLE, NOT_READY}


def _tolerates(toleration: Obj, taint: Obj) -> bool:
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    op = toleration.get("operator") or "Equal"
    if not key:
        return op == "Exists"
    if key != taint.get("key"):
        return False
    return op == "Exists" or (toleration.get("value") or "") == (taint.get("value") or "")


def eviction_delay(pod: Obj, taints: list[Obj], default_seconds: float) -> float | None:
    """Seconds after the taints were added when the pod must go; None = never; 0 = now."""
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    delay: float | None = None
    for taint in taints:
        if taint.get("effect") != "NoExecute":
            continue
        matching = [t for t in tolerations if _tolerates(t, taint)]
        if not matching:
            if taint.get("key") in _MANAGED:
                seconds = default_seconds
            else:
                return 0.0
        else:
            limits = [
                float(t["tolerationSeconds"]) for t in matching if t.get("tolerationSeconds") is not None
            ]
            if len(limits) < len(matching):
                continue  # tolerated forever
            seconds = max(0.0, min(limits))
        delay = seconds if delay is None else min(delay, seconds)
    return delay


class NodeLifecycleController(Controller):
    name = "nodelifecycle"
    identity = "node-controller"

    def setup(self) -> None:
        self.nodes = self.ctx.informers.get(NODES)
        self.pods = self.ctx.informers.get(PODS, {"node": index_by_node_name})
        self.leases = self.ctx.informers.get(LEASES)
        self._seen: dict[str, tuple[tuple[str, str], float]] = {}  # node -> (heartbeat stamps, observed at)
        self.nodes.add_handler(EventHandler(self.enqueue, lambda _o, n: self.enqueue(n), self._deleted))
        self.pods.add_handler(EventHandler(self._pod, lambda _o, n: self._pod(n), None))

    def _deleted(self, node: Obj) -> None:
        self._seen.pop(node["metadata"]["name"], None)

    def _pod(self, pod: Obj) -> None:
        node = (pod.get("spec") or {}).get("nodeName")
        if node:
            n = self.nodes.store.get(node)
            if n is not None and any(
                t.get("effect") == "NoExecute" for t in (n.get("spec") or {}).get("taints") or []
            ):
                self.queue.add(node)

    def _heartbeat_age(self, node: Obj) -> float:
        name = node["metadata"]["name"]
        lease = self.leases.store.get(f"kube-node-lease/{name}")
        renew = ((lease or {}).get("spec") or {}).get("renewTime") or ""
        ready = get_condition(node, "Ready") or {}
        stamps = (renew, ready.get("lastHeartbeatTime") or "")
        now = time.monotonic()
        seen = self._seen.get(name)
        if seen is None or seen[0] != stamps:
            self._seen[name] = (stamps, now)
            return 0.0
        return now - seen[1]

    async def reconcile(self, key: str) -> float | None:
        node = self.nodes.store.get(key)
        if node is None:
            return None
        opts = self.ctx.options
        age = self._heartbeat_age(node)
        ready = get_condition(node, "Ready")
        if age > opts.node_monitor_grace_period:
            node = await self._mark_unknown(node)
            want = UNREACHABLE
        elif ready is not None and ready.get("status") == "Unknown":
            want = UNREACHABLE
        elif ready is not None and ready.get("status") == "False":
            want = NOT_READY
        else:
            want = None
        node = await self._set_taints(node, want)
        await self._evict(node)
        return opts.node_monitor_period

    async def _mark_unknown(self, node: Obj) -> Obj:
        conditions = (node.get("status") or {}).get("conditions") or []
        if all(c.get("status") == "Unknown" for c in conditions) and conditions:
            return node
        stamp = now_rfc3339()
        fresh = []
        for cond in conditions or [{"type": "Ready"}]:
            if cond.get("status") == "Unknown":
                fresh.append(cond)
                continue
            fresh.append(
                {
                    **cond,
                    "status": "Unknown",
                    "reason": "NodeStatusUnknown",
                    "message": "Kubelet stopped posting node status.",
                    "lastTransitionTime": stamp,
                }
            )
        log.info("node %s: no heartbeat for the grace period; marking it Unknown", node["metadata"]["name"])
        updated = await self.client.update_status(
            NODES, {**node, "status": {**(node.get("status") or {}), "conditions": fresh}}
        )
        await self.ctx.recorder.record(
            node, "Normal", "NodeNotReady", f"Node {node['metadata']['name']} status is now: NodeNotReady"
        )
        return updated

    async def _set_taints(self, node: Obj, want: str | None) -> Obj:
        taints = list((node.get("spec") or {}).get("taints") or [])
        keep = [t for t in taints if t.get("key") not in _MANAGED or t.get("key") == want]
        if want is not None:
            for effect in ("NoSchedule", "NoExecute"):
                if not any(t.get("key") == want and t.get("effect") == effect for t in keep):
                    taint = {"key": want, "effect": effect}
                    if effect == "NoExecute":
                        taint["timeAdded"] = now_rfc3339()
                    keep.append(taint)
        if keep == taints:
            return node
        body = {**node, "spec": {**(node.get("spec") or {}), "taints": keep}}
        return await self.client.update(NODES, body)

    async def _evict(self, node: Obj) -> None:
        taints = [t for t in (node.get("spec") or {}).get("taints") or [] if t.get("effect") == "NoExecute"]
        if not taints:
            return
        added = [parse_time(t.get("timeAdded")) for t in taints]
        since = min((a for a in added if a is not None), default=dt.datetime.now(dt.UTC))
        elapsed = (dt.datetime.now(dt.UTC) - since).total_seconds()
        victims = []
        for pod in self.pods.store.by_index("node", node["metadata"]["name"]):
            if pod["metadata"].get("deletionTimestamp"):
                continue
            delay = eviction_delay(pod, taints, self.ctx.options.default_toleration_seconds)
            if delay is not None and elapsed >= delay:
                victims.append(pod)
        for pod in victims:
            meta = pod["metadata"]
            log.info(
                "evicting %s/%s from tainted node %s",
                meta["namespace"],
                meta["name"],
                node["metadata"]["name"],
            )
            condition = {
                "type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager",
                "message": "Taint manager: deleting due to NoExecute taint",
                "lastTransitionTime": now_rfc3339(),
            }
            with contextlib.suppress(NotFound, ApiError):  # merged by type, as upstream marks it first
                await self.client.patch(PODS, meta["name"], {"status": {"conditions": [condition]}},
                                        meta["namespace"], patch_type="strategic", subresource="status")
            with contextlib.suppress(NotFound, ApiError):
                await self.client.delete(PODS, meta["name"], meta["namespace"])
                await self.ctx.recorder.record(
                    pod,
                    "Normal",
                    "TaintManagerEviction",
                    f"Marking for deletion Pod {meta['namespace']}/{meta['name']}",
                )
        if victims:
            await asyncio.sleep(0)
