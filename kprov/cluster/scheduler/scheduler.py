"""The scheduling loop: watch pods and nodes, place pending pods, bind them.

Informers keep the :class:`~.cache.SchedulerCache` current (nodes; pods bound to nodes).
Pending pods of this scheduler (no nodeName, our schedulerName) go on a work queue. One
loop takes a pod at a time and runs :func:`~.algorithm.schedule`; a chosen node is
*assumed* at once and the binding (POST pods/binding) runs in the background, with many
bindings in flight. A failed binding forgets the assumption and retries the pod. Events
(Scheduled, FailedScheduling) go through an :class:`~kprov.cluster.client.event_queue.EventQueue`:
written in the background by a few writers, they never hold up a binding.

A pod that fits nowhere gets PodScheduled=False (reason Unschedulable) and a
FailedScheduling event, and waits in the unschedulable set until the cluster changes in a
way that could help (a node added or changed, a pod deleted); then it is retried. They
are also retried every ``unschedulable_retry`` seconds regardless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from typing import Any

from kprov.cluster.api.objects import now_rfc3339, set_condition
from kprov.cluster.client.errors import ApiError, Conflict, NotFound
from kprov.cluster.client.event_queue import EventQueue
from kprov.cluster.client.events import EventRecorder
from kprov.cluster.client.informer import EventHandler, Informer, strip_managed_fields
from kprov.cluster.client.resources import (
    NODES,
    PERSISTENT_VOLUME_CLAIMS,
    PERSISTENT_VOLUMES,
    PODS,
    STORAGE_CLASSES,
)
from kprov.cluster.client.rest import ApiClient
from kprov.cluster.client.store import object_key
from kprov.cluster.client.workqueue import QueueShutDown, WorkQueue
from kprov.cluster.scheduler.algorithm import failure_message, schedule
from kprov.cluster.scheduler.cache import SchedulerCache
from kprov.cluster.scheduler.metrics import SchedulerStats
from kprov.cluster.scheduler.nominator import Nominator
from kprov.cluster.scheduler.plugins import build_plugins
from kprov.cluster.scheduler.plugins.default_preemption import (
    Candidate,
    DefaultPreemption,
    eligible_to_preempt,
)
from kprov.cluster.scheduler.plugins.volume_binding import StorageView, pre_bind
from kprov.cluster.scheduler.podinfo import PodInfo

__all__ = ["Scheduler"]

log = logging.getLogger(__name__)

Obj = dict[str, Any]


def _node_shape(node: Obj) -> tuple[Any, ...]:
    """The parts of a node that scheduling depends on (heartbeats change none of them)."""
    spec = node.get("spec") or {}
    return (
        (node.get("metadata") or {}).get("labels"), spec.get("taints"), spec.get("unschedulable"),
        (node.get("status") or {}).get("allocatable"),
    )


def _terminal(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


class Scheduler:
    def __init__(
        self,
        client: ApiClient,
        scheduler_name: str = "default-scheduler",
        *,
        plugins: tuple[str, ...] | None = None,
        percentage_of_nodes_to_score: int = 0,
        bind_concurrency: int = 128,
        unschedulable_retry: float = 60.0,
        record_scheduled_events: bool = True,
        event_writers: int = 2,
    ) -> None:
        self.client = client
        self.scheduler_name = scheduler_name
        self.plugins = build_plugins(plugins) if plugins else build_plugins()
        self.preemption = DefaultPreemption()
        self.nominator = Nominator()
        self.percentage = percentage_of_nodes_to_score
        self.cache = SchedulerCache()
        self.queue = WorkQueue(base_delay=0.5, max_delay=10.0, name="scheduler")
        self.stats = SchedulerStats()
        self.unschedulable: dict[str, int] = {}  # pod key -> cache generation when it failed
        self.recorder = EventRecorder(client, scheduler_name)
        self.events = EventQueue(self.recorder, writers=event_writers)
        self.pods = Informer(client, PODS, transform=strip_managed_fields)
        self.nodes = Informer(client, NODES, transform=strip_managed_fields)
        self.bound = 0
        self._bind_slots = asyncio.Semaphore(bind_concurrency)
        self._background: set[asyncio.Task[None]] = set()
        self._start = 0
        self._rng = random.Random()
        self._flush_handle: asyncio.TimerHandle | None = None
        self._unschedulable_retry = unschedulable_retry
        self._record_scheduled = record_scheduled_events
        self.pods.add_handler(EventHandler(self._pod_added, self._pod_updated, self._pod_deleted))
        # claims, volumes and classes for VolumeBinding; a change may make a waiting pod fit
        self.storage_informers = [
            Informer(client, r) for r in (PERSISTENT_VOLUME_CLAIMS, PERSISTENT_VOLUMES, STORAGE_CLASSES)
        ]
        claims, volumes, classes = (i.store for i in self.storage_informers)
        self.cache.storage = StorageView(claims, volumes, classes)
        for informer in self.storage_informers:
            informer.add_handler(
                EventHandler(self._storage_changed, lambda _o, _n: self._storage_changed(None), None)
            )
        self.nodes.add_handler(EventHandler(self._node_added, self._node_updated, self._node_deleted))

    # ---- informer handlers -------------------------------------------------------------

    def _responsible(self, pod: Obj) -> bool:
        spec = pod.get("spec") or {}
        return (spec.get("schedulerName") or "default-scheduler") == self.scheduler_name

    def _pod_added(self, pod: Obj) -> None:
        key = object_key(pod)
        node = (pod.get("spec") or {}).get("nodeName")
        self.nominator.observe(key, pod)
        if node:
            self.unschedulable.pop(key, None)
            if _terminal(pod):
                self.cache.remove_pod(key)
            elif key in self.cache.assumed and self.cache.pod_node.get(key) == node:
                self.cache.confirm(key)
                self.cache.refresh(key, pod)
            elif self.cache.pod_node.get(key) != node:
                self.cache.add_pod(PodInfo.of(pod), node)
            else:
                self.cache.refresh(key, pod)
            return
        deleting = (pod.get("metadata") or {}).get("deletionTimestamp")
        if self._responsible(pod) and not deleting and key not in self.unschedulable:
            self.queue.add(key)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        was_terminal = _terminal(old)
        self._pod_added(new)
        if not was_terminal and _terminal(new) and (new.get("spec") or {}).get("nodeName"):
            self._cluster_changed()

    def _pod_deleted(self, pod: Obj) -> None:
        key = object_key(pod)
        self.unschedulable.pop(key, None)
        self.nominator.observe(key, None)
        if self.cache.is_assigned(key):
            self.cache.remove_pod(key)
            self._cluster_changed()

    def _storage_changed(self, _obj: Obj | None) -> None:
        self.cache.generation += 1
        self._cluster_changed()

    def _node_added(self, node: Obj) -> None:
        self.cache.set_node(node)
        self._cluster_changed()

    def _node_updated(self, old: Obj, new: Obj) -> None:
        if _node_shape(old) != _node_shape(new):
            self.cache.set_node(new)
            self._cluster_changed()
        else:
            self.cache.nodes[new["metadata"]["name"]].node = new

    def _node_deleted(self, node: Obj) -> None:
        self.cache.remove_node(node["metadata"]["name"])

    def _cluster_changed(self) -> None:
        """Something that may help unschedulable pods happened: retry them shortly."""
        if self.unschedulable and self._flush_handle is None:
            self._flush_handle = asyncio.get_running_loop().call_later(0.2, self._flush_unschedulable)

    def _flush_unschedulable(self) -> None:
        self._flush_handle = None
        keys = list(self.unschedulable)
        self.unschedulable.clear()
        for key in keys:
            self.queue.add(key)

    # ---- the loop ----------------------------------------------------------------------

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def pending_counts(self) -> dict[str, int]:
        """scheduler_pending_pods: waiting in the queue (active), waiting out a backoff, or
        parked until the cluster changes (unschedulable)."""
        return {
            "active": len(self.queue),
            "backoff": self.queue.delayed(),
            "unschedulable": len(self.unschedulable),
        }

    async def schedule_one(self, key: str) -> str | None:
        """One attempt: "scheduled" (assumed, binding under way), "unschedulable", or None
        when there was nothing to do."""
        pod = self.pods.store.get(key)
        if pod is None or (pod.get("spec") or {}).get("nodeName") or self.cache.is_assigned(key):
            return None
        if (pod.get("metadata") or {}).get("deletionTimestamp") or not self._responsible(pod):
            return None
        try:
            info = PodInfo.of(pod)
        except ValueError as exc:
            await self._unschedulable(pod, key, f"invalid pod: {exc}", self.cache.generation)
            return "unschedulable"
        generation = self.cache.generation
        candidate: Candidate | None = None
        with self.nominator.counted_for(info, self.cache):
            result = schedule(info, self.cache, self.plugins, start=self._start,
                              percentage=self.percentage, rng=self._rng)
            nominated = str((pod.get("status") or {}).get("nominatedNodeName") or "")
            if result.node is None and eligible_to_preempt(info, nominated, self.cache, self.pods.store.get):
                candidate = self.preemption.post_filter(info, self.cache, self.plugins)
        self._start = result.next_start
        if result.node is None:
            if candidate is not None:
                pod = await self._preempt(pod, candidate)
            await self._unschedulable(pod, key, failure_message(result), generation)
            return "unschedulable"
        self.cache.assume(info, result.node)
        await self._bind_slots.acquire()
        self._spawn(self._bind(pod, info, result.node))
        return "scheduled"

    async def _preempt(self, pod: Obj, candidate: Candidate) -> Obj:
        """Nominate the node for ``pod`` and evict the victims (DisruptionTarget, then delete)."""
        meta = pod["metadata"]
        with contextlib.suppress(ApiError):
            nominated = {"status": {"nominatedNodeName": candidate.node}}
            pod = await self.client.patch(
                PODS, meta["name"], nominated, meta["namespace"], subresource="status"
            )
            self.nominator.observe(object_key(pod), pod)  # before the watch brings it
        scheduler = (pod.get("spec") or {}).get("schedulerName") or "default-scheduler"
        for victim in candidate.victims:
            self._spawn(self._evict_victim(victim.pod, scheduler, meta.get("uid", ""), candidate.node))
        return pod

    async def _evict_victim(self, victim: Obj, scheduler: str, preemptor_uid: str, node: str) -> None:
        vmeta = victim["metadata"]
        condition = {
            "type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler",
            "message": f"{scheduler}: preempting to accommodate a higher priority pod",
            "lastTransitionTime": now_rfc3339(),
        }
        with contextlib.suppress(ApiError):  # merged by type: no stale-copy conflict
            await self.client.patch(PODS, vmeta["name"], {"status": {"conditions": [condition]}},
                                    vmeta["namespace"], patch_type="strategic", subresource="status")
        self.events.emit(victim, "Normal", "Preempted", f"Preempted by pod {preemptor_uid} on node {node}")
        with contextlib.suppress(NotFound):
            await self.client.delete(PODS, vmeta["name"], vmeta["namespace"])

    async def _bind(self, pod: Obj, info: PodInfo, node: str) -> None:
        meta = pod["metadata"]
        try:
            await pre_bind(self.client, self.cache.storage, pod, node)
            await self.client.bind(meta["namespace"], meta["name"], node, meta.get("uid"))
        except (NotFound, Conflict) as exc:
            log.info("binding %s to %s: %s", info.key, node, exc)
            self.cache.forget(info.key)
            return
        except Exception as exc:  # noqa: BLE001 - any failure (an API error, a client timeout on
            # a busy server, a reset connection) leaves the pod unbound: forget the assumption and
            # schedule it again, as upstream's binding cycle does; a bind that did land meanwhile
            # shows as the pod's nodeName, and the retry then finds nothing to do
            log.warning("binding %s to %s failed: %s; retrying", info.key, node, exc or type(exc).__name__)
            self.cache.forget(info.key)
            self.queue.add_rate_limited(info.key)
            return
        finally:
            self._bind_slots.release()
        self.bound += 1
        if self._record_scheduled:
            where = f"{meta['namespace']}/{meta['name']}"
            self.events.emit(pod, "Normal", "Scheduled", f"Successfully assigned {where} to {node}")

    async def _unschedulable(self, pod: Obj, key: str, message: str, generation: int) -> None:
        if generation != self.cache.generation:
            self.queue.add_after(key, 0.05)  # the cluster changed during the cycle: try again
            return
        self.unschedulable[key] = generation
        self._spawn(self._report_unschedulable(pod, message))

    async def _report_unschedulable(self, pod: Obj, message: str) -> None:
        log.info("%s unschedulable: %s", object_key(pod), message)
        status = dict(pod.get("status") or {})
        status["conditions"] = [dict(c) for c in status.get("conditions") or []]
        changed = set_condition(status, {
            "type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message,
            "lastProbeTime": None,
        })
        if changed:
            with contextlib.suppress(ApiError):
                await self.client.update_status(PODS, {**pod, "status": status})
        self.events.emit(pod, "Warning", "FailedScheduling", message)

    async def _loop(self) -> None:
        while True:
            try:
                key = await self.queue.get()
            except QueueShutDown:
                return
            started = time.perf_counter()
            try:
                outcome = await self.schedule_one(str(key))
            except Exception:
                outcome = "error"
                log.exception("scheduling %s failed", key)
                self.queue.add_rate_limited(key)
            finally:
                self.queue.done(key)
            if outcome is not None:
                self.stats.attempt(outcome, time.perf_counter() - started)
            await asyncio.sleep(0)  # let bindings and watch events run between cycles

    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(min(5.0, self._unschedulable_retry))
            self.cache.expire_assumed()
            if self.unschedulable:
                self._flush_unschedulable()
                await asyncio.sleep(max(0.0, self._unschedulable_retry - 5.0))

    async def run(self) -> None:
        informers = [
            asyncio.create_task(i.run()) for i in (self.nodes, self.pods, *self.storage_informers)
        ]
        informers.append(asyncio.create_task(self.events.run()))
        try:
            await self.nodes.wait_synced()
            await self.pods.wait_synced()
            for informer in self.storage_informers:
                await informer.wait_synced()
            log.info("scheduler %s: caches synced (%d nodes, %d pods)", self.scheduler_name,
                     len(self.cache.nodes), len(self.pods.store))
            await asyncio.gather(self._loop(), self._housekeeping())
        finally:
            for task in [*informers, *self._background]:
                task.cancel()
            await asyncio.gather(*informers, *self._background, return_exceptions=True)
            self.queue.shutdown()
