"""ReplicaSet: keep ``spec.replicas`` active pods that the set controls, and report status.

Pods are found through the pod informer's controller-uid index. Creations and deletions
are recorded as expectations so a second pass never acts on a cache that has not yet seen
the first pass's writes. Surplus pods go in :func:`~.pods.deletion_rank` order. Orphan
pods that match the selector are adopted (given a controller ownerReference); owned pods
whose labels no longer match it are released (that reference removed), as upstream's
ClaimPods does. A create or delete that the API server refuses (a quota, say) is reported
as the ``ReplicaFailure`` condition (reason FailedCreate/FailedDelete, the error as
message) until a later pass succeeds.
"""

from __future__ import annotations

import asyncio
import logging
from typing import ClassVar

from kprov.cluster.api.objects import controller_ref, now_rfc3339
from kprov.cluster.api.selectors import LabelSelector, label_selector_from_object
from kprov.cluster.client.errors import ApiError, NotFound
from kprov.cluster.client.informer import EventHandler
from kprov.cluster.client.resources import PODS, REPLICASETS, Resource
from kprov.cluster.client.store import Indexer, index_by_namespace, object_key
from kprov.cluster.controllers.base import Controller, Expectations, Obj
from kprov.cluster.controllers.informers import index_by_controller_uid, index_orphans_by_namespace
from kprov.cluster.controllers.workloads.pod_claims import adopt_orphans, release_unmatched
from kprov.cluster.controllers.workloads.pods import (
    deletion_rank,
    is_active,
    is_available,
    is_ready,
    pod_from_template,
)

__all__ = ["ReplicaSetController"]

log = logging.getLogger(__name__)

BURST = 250


class ReplicaSetController(Controller):
    name = "replicaset"
    identity = "replicaset-controller"
    resource: ClassVar[Resource] = REPLICASETS

    def setup(self) -> None:
        self.expectations = Expectations()
        indexers: dict[str, Indexer] = {
            "controller": index_by_controller_uid, "namespace": index_by_namespace,
            "orphans": index_orphans_by_namespace,
        }
        self.pods = self.ctx.informers.get(PODS, indexers)
        self.sets = self.ctx.informers.get(self.resource, {"uid": lambda o: [o["metadata"].get("uid", "")]})
        self.sets.add_handler(EventHandler(self.enqueue, lambda _o, n: self.enqueue(n), self._set_deleted))
        self.pods.add_handler(EventHandler(self._pod_added, self._pod_updated, self._pod_deleted))

    def _set_deleted(self, rs: Obj) -> None:
        self.expectations.forget(object_key(rs))
        self.enqueue(rs)

    def _owner_key(self, pod: Obj) -> str | None:
        ref = controller_ref(pod)
        if ref is None or ref.get("kind") != self.resource.kind:
            return None
        return f"{pod['metadata']['namespace']}/{ref['name']}"

    def _pod_added(self, pod: Obj) -> None:
        key = self._owner_key(pod)
        if key is None:
            self._maybe_adopt(pod)
            return
        self.expectations.observe_event(key, None, pod)
        self.queue.add(key)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        key = self._owner_key(new)
        if key is None and (old["metadata"].get("labels") != new["metadata"].get("labels")):
            self._maybe_adopt(new)
        if key is not None:
            self.expectations.observe_event(key, old, new)
            self.queue.add(key)
        old_key = self._owner_key(old)
        if old_key is not None and old_key != key:
            self.queue.add(old_key)

    def _pod_deleted(self, pod: Obj) -> None:
        key = self._owner_key(pod)
        if key is not None:
            self.expectations.observe_event(key, pod, None)
            self.queue.add(key)

    def _maybe_adopt(self, pod: Obj) -> None:
        if not is_active(pod) or controller_ref(pod) is not None:
            return
        labels = pod["metadata"].get("labels") or {}
        for rs in self.sets.store.items():
            if rs["metadata"].get("namespace") != pod["metadata"].get("namespace"):
                continue
            if self.selector(rs).matches(labels):
                self.queue.add(object_key(rs))

    def selector(self, rs: Obj) -> LabelSelector:
        """The set's pod selector (a LabelSelector object; ReplicationControllers override)."""
        return label_selector_from_object(rs["spec"].get("selector"))

    def owned_pods(self, rs: Obj) -> list[Obj]:
        return [
            p
            for p in self.pods.store.by_index("controller", rs["metadata"]["uid"])
            if p["metadata"].get("namespace") == rs["metadata"]["namespace"]
        ]

    async def reconcile(self, key: str) -> float | None:
        rs = self.sets.store.get(key)
        if rs is None:
            self.expectations.forget(key)
            return None
        rs = {"apiVersion": self.resource.api_version, "kind": self.resource.kind, **rs}
        selector = self.selector(rs)
        orphans = self.pods.store.by_index("orphans", rs["metadata"]["namespace"])
        await adopt_orphans(self.client, rs, selector, orphans)
        owned = await release_unmatched(self.client, rs, selector, self.owned_pods(rs))
        pods = [p for p in owned if is_active(p)]
        wanted = int(rs["spec"].get("replicas", 1))
        failure: tuple[str, ApiError] | None = None
        managed = self.expectations.satisfied(key) and not rs["metadata"].get("deletionTimestamp")
        if managed:
            diff = len(pods) - wanted
            try:
                if diff < 0:
                    await self._create(rs, key, min(-diff, BURST))
                elif diff > 0:
                    await self._delete(rs, key, sorted(pods, key=deletion_rank)[:diff])
            except ApiError as exc:
                failure = ("FailedCreate" if diff < 0 else "FailedDelete", exc)
        selector = self.selector(rs)
        matching = [p for p in self.owned_pods(rs) if selector.matches(p["metadata"].get("labels"))]
        after = await self._update_status(rs, matching, failure, managed)
        if failure is not None:
            raise failure[1]
        return after

    async def _create(self, rs: Obj, key: str, count: int) -> None:
        self.expectations.expect(key, adds=count)
        template = rs["spec"].get("template") or {}

        async def one() -> None:
            try:
                pod = await self.client.create(PODS, pod_from_template(rs, template))
            except ApiError as exc:
                self.expectations.observed_add(key)
                log.warning("replicaset %s: create pod failed: %s", key, exc)
                await self.ctx.recorder.record(
                    rs, "Warning", "FailedCreate", f"Error creating: {exc.message}"
                )
                raise
            await self.ctx.recorder.record(
                rs, "Normal", "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}"
            )

        results = await asyncio.gather(*(one() for _ in range(count)), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]

    async def _delete(self, rs: Obj, key: str, victims: list[Obj]) -> None:
        self.expectations.expect(key, deletes=len(victims))

        async def one(pod: Obj) -> None:
            name = pod["metadata"]["name"]
            try:
                await self.client.delete(PODS, name, pod["metadata"]["namespace"])
            except NotFound:
                self.expectations.observed_delete(key)
                return
            await self.ctx.recorder.record(rs, "Normal", "SuccessfulDelete", f"Deleted pod: {name}")

        await asyncio.gather(*(one(p) for p in victims))

    @staticmethod
    def _conditions(rs: Obj, failure: tuple[str, ApiError] | None, managed: bool = True) -> list[Obj]:
        """The status conditions with ReplicaFailure set (kept if already set) or cleared once
        a pass has created/deleted without error (a pass that waited on expectations keeps it)."""
        current = [c for c in (rs.get("status") or {}).get("conditions") or [] if isinstance(c, dict)]
        others = [c for c in current if c.get("type") != "ReplicaFailure"]
        if failure is None:
            return others if managed else current
        existing = [c for c in current if c.get("type") == "ReplicaFailure"]
        if existing:
            return current
        reason, exc = failure
        condition = {
            "type": "ReplicaFailure",
            "status": "True",
            "lastTransitionTime": now_rfc3339(),
            "reason": reason,
            "message": exc.message,
        }
        return [*others, condition]

    async def _update_status(
        self, rs: Obj, owned: list[Obj], failure: tuple[str, ApiError] | None = None, managed: bool = True
    ) -> float | None:
        min_ready = int(rs["spec"].get("minReadySeconds") or 0)
        active = [p for p in owned if is_active(p)]
        template_labels = ((rs["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {}
        ready = [p for p in active if is_ready(p)]
        available = [p for p in active if is_available(p, min_ready)]
        status = {
            **(rs.get("status") or {}),
            "replicas": len(active),
            "fullyLabeledReplicas": sum(
                1
                for p in active
                if all((p["metadata"].get("labels") or {}).get(k) == v for k, v in template_labels.items())
            ),
            "readyReplicas": len(ready),
            "availableReplicas": len(available),
            "observedGeneration": rs["metadata"].get("generation", 1),
        }
        conditions = self._conditions(rs, failure, managed)
        if conditions:
            status["conditions"] = conditions
        else:
            status.pop("conditions", None)
        if status != rs.get("status"):
            try:
                await self.client.update_status(self.resource, {**rs, "status": status})
            except NotFound:
                return None
        # pods that are ready but not yet available need another look after minReadySeconds
        return float(min_ready) if min_ready and len(ready) > len(available) else None
