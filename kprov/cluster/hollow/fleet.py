"""A fleet of hollow nodes in one process (kubemark's idea): N node agents sharing one client.

Each hollow node does what a kubelet does to the control plane, and nothing on a host:
registers its Node (the kubelet's own :func:`node_object`/:func:`node_status` with
made-up machine facts), renews its Lease in kube-node-lease every ``lease_period_s``,
posts its status every ``status_period_s`` and on change (a Node informer sees its Ready
condition differ from what the node would report, e.g. the node lifecycle controller set
it Unknown: the real kubelet posts when its computed status differs from the Node's), and
"runs" the pods bound to it
(:mod:`.podlife` decides; one shared pod informer and one work queue keyed by pod serve
every node). Renewals are spread evenly over the period so 2,000 nodes make a steady 200
lease writes a second rather than a burst, and as a kubelet's loop a node's next renewal
(or status post) waits for its last one: a slow API server gets one renewal a node, not a
growing backlog. Requests in flight are bounded (``concurrency``, the load a real fleet's
many connections would spread out), heartbeats (Leases, node status) apart from pod work, as
the kubelet's own heartbeat client keeps them: a pod's status never waits behind thousands
of renewals.
Several fleets can share a cluster (one per API server, as behind a load balancer):
``first_index`` numbers this fleet's nodes (names and node/pod IPs) after the others'.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import logging
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from kprov.cluster.client import ApiClient, NotFound, resources
from kprov.cluster.client.errors import AlreadyExists, Conflict
from kprov.cluster.client.informer import EventHandler, Informer, strip_managed_fields
from kprov.cluster.client.lease_renewal import renew_lease
from kprov.cluster.client.runner import run_workers
from kprov.cluster.client.workqueue import WorkQueue
from kprov.cluster.hollow.podlife import Finalize, PostStatus, Wait, decide, pod_ip
from kprov.cluster.kubelet.node.registration import HostFacts, lease_object, node_object, node_status

__all__ = ["FleetConfig", "HollowFleet"]

log = logging.getLogger(__name__)
_NODE_NET = int(ipaddress.IPv4Address("100.96.0.0"))
_RUNTIME = "hollow://0.1"


@dataclass(frozen=True)
class FleetConfig:
    count: int
    prefix: str = "hollow-node-"
    cpus: int = 4
    memory_gib: int = 16
    labels: dict[str, str] = field(default_factory=dict)
    lease_period_s: float = 10.0
    status_period_s: float = 300.0
    complete_after_s: float = 1.0
    concurrency: int = 64
    workers: int = 16
    first_index: int = 0


class HollowFleet:
    """Register, heartbeat and run pods for ``config.count`` hollow nodes through ``client``."""

    def __init__(self, client: ApiClient, config: FleetConfig) -> None:
        self.client = client
        self.config = config
        first = config.first_index
        self.names = [f"{config.prefix}{first + i}" for i in range(config.count)]
        self._index = {name: first + i for i, name in enumerate(self.names)}
        self._nodes: dict[str, dict[str, Any]] = {}
        self._leases: dict[str, dict[str, Any]] = {}
        self._ips: dict[str, str] = {}  # pod uid -> IP
        self._free_slots: dict[str, list[int]] = {name: list(range(253, -1, -1)) for name in self.names}
        self._slot_of: dict[str, tuple[str, int]] = {}
        heartbeats = max(1, config.concurrency // 4)
        self._heartbeat_limit = asyncio.Semaphore(heartbeats)
        self._limit = asyncio.Semaphore(max(1, config.concurrency - heartbeats))  # pod work
        self._queue = WorkQueue()
        self.pods = Informer(client, resources.PODS, transform=strip_managed_fields)
        self.pods.add_handler(
            EventHandler(
                on_add=self._enqueue, on_update=lambda _old, new: self._enqueue(new), on_delete=self._gone
            )
        )
        self.nodes = Informer(client, resources.NODES, label_selector="kprov.io/hollow=true",
                              transform=strip_managed_fields)
        self.nodes.add_handler(EventHandler(on_update=lambda _old, new: self._node_changed(new)))
        self._posting: set[str] = set()
        self.lease_renewals = 0
        self.status_posts = 0

    # ---- identity ----------------------------------------------------------------------

    def node_ip(self, name: str) -> str:
        return str(ipaddress.IPv4Address(_NODE_NET + 1 + self._index[name]))

    def _facts(self, name: str) -> HostFacts:
        return HostFacts(
            cpus=self.config.cpus,
            memory_bytes=self.config.memory_gib << 30,
            kernel="hollow",
            os_image="kprov hollow node",
            architecture="amd64",
            machine_id=f"{self._index[name]:032x}",
            boot_id=f"{self._index[name]:032x}",
            disk_bytes=100 << 30,
        )

    # ---- nodes and leases ------------------------------------------------------------

    async def _register(self, name: str) -> None:
        async with self._limit:
            body = node_object(name, self._facts(name), {"kprov.io/hollow": "true", **self.config.labels}, [])
            try:
                node = await self.client.create(resources.NODES, body)
            except AlreadyExists:
                node = await self.client.get(resources.NODES, name)
            self._nodes[name] = node
        await self._post_status(name)

    async def _post_status(self, name: str) -> None:
        async with self._heartbeat_limit:
            for _ in range(5):
                node = self._nodes[name]
                old = (node.get("status") or {}).get("conditions")
                node["status"] = node_status(
                    name, self._facts(name), self.node_ip(name), _RUNTIME, True, "hollow node is ready", old
                )
                try:
                    self._nodes[name] = await self.client.update_status(resources.NODES, node)
                    self.status_posts += 1
                    return
                except Conflict:  # e.g. the pod CIDR allocator wrote the node meanwhile
                    self._nodes[name] = await self.client.get(resources.NODES, name)
        raise RuntimeError(f"could not post the status of hollow node {name}")

    def _node_changed(self, node: dict[str, Any]) -> None:
        """Post at once if the Node no longer says what this node would (its Ready condition)."""
        name = (node.get("metadata") or {}).get("name", "")
        if name not in self._nodes or name in self._posting:
            return
        conditions = (node.get("status") or {}).get("conditions") or []
        if any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions):
            return
        self._nodes[name] = node
        self._posting.add(name)
        task = asyncio.create_task(self._post_status(name))

        def posted(done: asyncio.Task[None]) -> None:
            self._posting.discard(name)
            _log_failure(done)

        task.add_done_callback(posted)

    async def _renew(self, name: str) -> None:
        async with self._heartbeat_limit:
            body = lease_object(name, name, datetime.now(UTC))
            lease = await renew_lease(self.client, body, self._leases.get(name))
        if lease is None:
            self._leases.pop(name, None)  # read afresh next round
            return
        self._leases[name] = lease
        self.lease_renewals += 1

    async def _every(self, period: float, action: Any) -> None:
        """Call ``action(name)`` for every node once per ``period``, spread evenly over it; a
        node whose last call has not ended yet is skipped this round."""
        gap = period / max(1, len(self.names))
        running: set[str] = set()

        def ended(name: str, task: asyncio.Task[None]) -> None:
            running.discard(name)
            _log_failure(task)

        while True:
            for name in self.names:
                if name not in running:
                    running.add(name)
                    task = asyncio.create_task(action(name))
                    task.add_done_callback(functools.partial(ended, name))
                await asyncio.sleep(gap)

    # ---- pods ------------------------------------------------------------------------

    def _enqueue(self, pod: dict[str, Any]) -> None:
        if (pod.get("spec") or {}).get("nodeName") in self._index:
            meta = pod["metadata"]
            self._queue.add((meta.get("namespace", ""), meta["name"]))

    def _gone(self, pod: dict[str, Any]) -> None:
        uid = (pod.get("metadata") or {}).get("uid", "")
        self._release(uid)

    def _release(self, uid: str) -> None:
        self._ips.pop(uid, None)
        owner = self._slot_of.pop(uid, None)
        if owner is not None:
            self._free_slots[owner[0]].append(owner[1])

    def _ip_for(self, pod: dict[str, Any]) -> str:
        uid = pod["metadata"].get("uid", "")
        ip = self._ips.get(uid)
        if ip is None:
            node = pod["spec"]["nodeName"]
            slots = self._free_slots[node]
            slot = slots.pop() if slots else len(self._slot_of) % 254
            self._slot_of[uid] = (node, slot)
            ip = self._ips[uid] = pod_ip(self._index[node], slot)
        return ip

    async def _reconcile(self, key: Hashable) -> float | None:
        namespace, name = cast(tuple[str, str], key)  # as _enqueue queues it
        pod = self.pods.store.get(f"{namespace}/{name}")
        if pod is None or pod.get("spec", {}).get("nodeName") not in self._index:
            return None
        node = pod["spec"]["nodeName"]
        action = decide(
            pod, now=datetime.now(UTC), pod_ips=[self._ip_for(pod)], host_ip=self.node_ip(node),
            complete_after_s=self.config.complete_after_s,
        )
        if isinstance(action, Wait):
            return action.seconds
        async with self._limit:
            if isinstance(action, PostStatus):
                await self.client.update_status(resources.PODS, {**pod, "status": action.status})
            elif isinstance(action, Finalize):
                with contextlib.suppress(NotFound, Conflict):
                    await self.client.delete(
                        resources.PODS, name, namespace, uid=action.uid, grace_period_seconds=0
                    )
                self._release(action.uid)
        return None

    # ---- run -------------------------------------------------------------------------

    async def register_all(self) -> None:
        await asyncio.gather(*(self._register(name) for name in self.names))
        await asyncio.gather(*(self._renew(name) for name in self.names))

    async def run(self) -> None:
        """Register every node, then heartbeat and run pods until cancelled."""
        await self.register_all()
        log.info("%d hollow nodes registered", len(self.names))
        tasks = [
            asyncio.create_task(self.pods.run()),
            asyncio.create_task(self.nodes.run()),
            asyncio.create_task(self._every(self.config.lease_period_s, self._renew)),
            asyncio.create_task(self._every(self.config.status_period_s, self._post_status)),
            asyncio.create_task(
                run_workers("hollow-pods", self._queue, self._reconcile, self.config.workers)
            ),
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            self._queue.shutdown()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("hollow node request failed: %s", task.exception())
