"""StatefulSet: pods with stable names ``<set>-0 .. <set>-(n-1)``, created in order.

The ordinals start at ``spec.ordinals.start`` (0 by default): ``<set>-s .. <set>-(s+n-1)``;
a pod outside that range is surplus (removed highest first), and the partition counts from s.
With the default OrderedReady policy pod *i* is created only when pods 0..i-1 are
Running and Ready, and scale-down removes the highest ordinal first, one at a time, and
halts while a lower surplus pod is unhealthy (:func:`condemned_now`); Parallel creates and
deletes without waiting. Each pod gets hostname = its name,
subdomain = spec.serviceName, and the labels ``statefulset.kubernetes.io/pod-name`` and
``controller-revision-hash`` (``<set>-<template hash>``). A RollingUpdate replaces pods
whose revision differs, highest ordinal first, one at a time, down to the partition;
pods below the partition are (re)made from the current revision's template, which the
set's ControllerRevisions keep (:mod:`.statefulset_history`).
Failed and Succeeded pods are deleted and recreated under the same name. Claims from
volumeClaimTemplates are made before their pod and outlive it (:mod:`.statefulset_claims`).
Pods are claimed as upstream's ClaimPods does for a StatefulSet: a pod without a controller
that the selector matches and that is named for this set (``<set>-<ordinal>``) is adopted,
and an owned pod whose labels no longer match is released (:mod:`.pod_claims`).
"""

from __future__ import annotations

import contextlib

from kprov.cluster.api.objects import controller_ref
from kprov.cluster.api.selectors import label_selector_from_object
from kprov.cluster.client.errors import AlreadyExists, Conflict, NotFound
from kprov.cluster.client.informer import EventHandler
from kprov.cluster.client.resources import CONTROLLER_REVISIONS, PERSISTENT_VOLUME_CLAIMS, PODS, STATEFULSETS
from kprov.cluster.client.store import object_key
from kprov.cluster.controllers.base import Controller, Obj
from kprov.cluster.controllers.informers import index_by_controller_uid, index_orphans_by_namespace
from kprov.cluster.controllers.workloads.pod_claims import adopt_orphans, release_unmatched
from kprov.cluster.controllers.workloads.pods import is_available, is_ready, pod_from_template
from kprov.cluster.controllers.workloads.statefulset_claims import (
    condemn_claims,
    ensure_claims,
    with_claim_volumes,
)
from kprov.cluster.controllers.workloads.statefulset_history import History, sync_history

__all__ = ["StatefulSetController", "condemned_now", "ordinal_of"]

REVISION_LABEL = "controller-revision-hash"
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"


def start_ordinal(sts: Obj) -> int:
    """The first ordinal (``spec.ordinals.start``; StatefulSetStartOrdinal, GA in 1.31)."""
    return int((sts["spec"].get("ordinals") or {}).get("start") or 0)


def ordinal_of(set_name: str, pod_name: str) -> int | None:
    prefix = f"{set_name}-"
    if not pod_name.startswith(prefix) or not pod_name[len(prefix) :].isdigit():
        return None
    return int(pod_name[len(prefix) :])


def _running_ready(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and is_ready(pod)


def _unavailable(pod: Obj, min_ready_s: int) -> bool:
    return (bool(pod["metadata"].get("deletionTimestamp")) or not _running_ready(pod)
            or not is_available(pod, min_ready_s))


def condemned_now(pods: dict[int, Obj], wanted: range, ordered: bool, min_ready_s: int) -> list[int]:
    """The surplus ordinals (outside ``wanted``) to delete in this sync, as upstream's
    processCondemned. Parallel: every one not yet terminating. OrderedReady: at most the
    highest, and none while a condemned pod is still terminating, or while the highest is
    unavailable and another is the first unavailable (lowest ordinal): an unhealthy set's
    scale-down halts until its pods are healthy again, except for the unhealthy pod itself
    when it is the only or the lowest one that is."""
    surplus = sorted((o for o in pods if o not in wanted), reverse=True)
    if not ordered:
        return [o for o in surplus if not pods[o]["metadata"].get("deletionTimestamp")]
    if not surplus:
        return []
    highest = pods[surplus[0]]
    if highest["metadata"].get("deletionTimestamp"):
        return []
    first_unavailable = next((o for o in sorted(surplus) if _unavailable(pods[o], min_ready_s)), None)
    if _unavailable(highest, min_ready_s) and first_unavailable != surplus[0]:
        return []
    return [surplus[0]]


class StatefulSetController(Controller):
    name = "statefulset"
    identity = "statefulset-controller"

    def setup(self) -> None:
        self.sets = self.ctx.informers.get(STATEFULSETS)
        self.pods = self.ctx.informers.get(PODS, {"controller": index_by_controller_uid,
                                                  "orphans": index_orphans_by_namespace})
        self.claims = self.ctx.informers.get(PERSISTENT_VOLUME_CLAIMS)
        self.revisions = self.ctx.informers.get(CONTROLLER_REVISIONS, {"controller": index_by_controller_uid})
        self.sets.add_handler(EventHandler(self.enqueue, lambda _o, n: self.enqueue(n), None))
        self.pods.add_handler(EventHandler(self._pod, self._pod_updated, self._pod))

    def _pod(self, pod: Obj) -> None:
        ref = controller_ref(pod)
        if ref is not None and ref.get("kind") == "StatefulSet":
            self.queue.add(f"{pod['metadata']['namespace']}/{ref['name']}")
        elif ref is None:
            self._maybe_adopt(pod)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        self._pod(new)
        if controller_ref(new) is not None or controller_ref(old) is not None:
            self._pod(old)  # released or orphaned: its set looks again (and may take it back)

    def _maybe_adopt(self, pod: Obj) -> None:
        """Queue the sets that would adopt this controller-less pod."""
        meta = pod["metadata"]
        for sts in self.sets.store.items():
            if sts["metadata"].get("namespace") != meta.get("namespace"):
                continue
            if ordinal_of(sts["metadata"]["name"], meta["name"]) is not None and label_selector_from_object(
                sts["spec"].get("selector")
            ).matches(meta.get("labels")):
                self.queue.add(object_key(sts))

    @staticmethod
    def _revision_for(sts: Obj, ordinal: int, history: History) -> str:
        """Below a RollingUpdate's partition (with no rollingUpdate given: below
        status.currentReplicas) a pod is made at the current revision, as upstream's
        newVersionedStatefulSetPod; any other (OnDelete's recreated pods too) at the update
        revision."""
        strategy = sts["spec"].get("updateStrategy") or {}
        index = ordinal - start_ordinal(sts)  # partitions count from spec.ordinals.start
        rolling = strategy.get("rollingUpdate")
        if strategy.get("type", "RollingUpdate") != "RollingUpdate":
            below = False
        elif rolling is None:
            below = index < int((sts.get("status") or {}).get("currentReplicas") or 0)
        else:
            below = index < int(rolling.get("partition") or 0)
        return history.current if below and history.current in history.templates else history.update

    def _new_pod(self, sts: Obj, ordinal: int, history: History) -> Obj:
        name = f"{sts['metadata']['name']}-{ordinal}"
        revision = self._revision_for(sts, ordinal, history)
        pod = pod_from_template(
            sts,
            history.templates[revision],
            name=name,
            extra_labels={POD_NAME_LABEL: name, REVISION_LABEL: revision},
        )
        pod["spec"]["hostname"] = name
        if sts["spec"].get("serviceName"):
            pod["spec"]["subdomain"] = sts["spec"]["serviceName"]
        return with_claim_volumes(sts, pod, ordinal)

    async def reconcile(self, key: str) -> float | None:
        sts = self.sets.store.get(key)
        if sts is None or sts["metadata"].get("deletionTimestamp"):
            return None
        spec = sts["spec"]
        name, ns = sts["metadata"]["name"], sts["metadata"]["namespace"]
        replicas = int(spec.get("replicas", 1))
        ordered = spec.get("podManagementPolicy", "OrderedReady") != "Parallel"
        pods: dict[int, Obj] = {}
        for pod in self.pods.store.by_index("controller", sts["metadata"]["uid"]):
            ordinal = ordinal_of(name, pod["metadata"]["name"])
            if ordinal is not None and pod["metadata"].get("namespace") == ns:
                pods[ordinal] = pod
        owned = [
            r
            for r in self.revisions.store.by_index("controller", sts["metadata"]["uid"])
            if r["metadata"].get("namespace") == ns
        ]
        used = {str((p["metadata"].get("labels") or {}).get(REVISION_LABEL, "")) for p in pods.values()}
        sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", **sts}
        selector = label_selector_from_object(spec.get("selector"))
        orphans = [p for p in self.pods.store.by_index("orphans", ns)
                   if ordinal_of(name, p["metadata"]["name"]) is not None]
        await adopt_orphans(self.client, sts, selector, orphans)
        kept = await release_unmatched(self.client, sts, selector, list(pods.values()))
        pods = {o: p for o, p in pods.items() if p in kept}
        try:
            history = await sync_history(self.client, sts, owned, used)
            await self._converge(sts, pods, replicas, history, ordered)
        except Conflict:
            return 0.5
        return await self._status(sts, pods, replicas, history.update)

    async def _converge(
        self, sts: Obj, pods: dict[int, Obj], replicas: int, history: History, ordered: bool
    ) -> None:
        ns = sts["metadata"]["namespace"]
        revision = history.update
        start = start_ordinal(sts)
        wanted = range(start, start + replicas)
        for ordinal in wanted:
            pod = pods.get(ordinal)
            if (
                pod is not None
                # Succeeded too (upstream: an evicted or stopped pod's phase is its exit code's)
                and (pod.get("status") or {}).get("phase") in ("Failed", "Succeeded")
                and not pod["metadata"].get("deletionTimestamp")
            ):
                with contextlib.suppress(NotFound):
                    await self.client.delete(PODS, pod["metadata"]["name"], ns)
                return
            if pod is None:
                await ensure_claims(self.client, sts, ordinal, self.claims.store)
                with contextlib.suppress(AlreadyExists):
                    await self.client.create(PODS, self._new_pod(sts, ordinal, history))
                    await self.ctx.recorder.record(
                        sts,
                        "Normal",
                        "SuccessfulCreate",
                        f"create Pod {sts['metadata']['name']}-{ordinal} in StatefulSet "
                        f"{sts['metadata']['name']} successful",
                    )
                if ordered:
                    return
                continue
            if ordered and (
                pod["metadata"].get("deletionTimestamp")
                or not _running_ready(pod)
                or not is_available(pod, int(sts["spec"].get("minReadySeconds") or 0))
            ):  # the next ordinal waits for this one to be available (upstream's monotonic)
                return
        for ordinal in condemned_now(pods, wanted, ordered, int(sts["spec"].get("minReadySeconds") or 0)):
            pod = pods[ordinal]
            await condemn_claims(self.client, sts, pod, ordinal, self.claims.store)
            with contextlib.suppress(NotFound):
                await self.client.delete(PODS, pod["metadata"]["name"], ns)
        if any(o not in wanted for o in pods):
            return
        strategy = sts["spec"].get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") != "RollingUpdate":
            return
        partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
        if any(p["metadata"].get("deletionTimestamp") or not _running_ready(p) for p in pods.values()):
            return  # one pod at a time
        for ordinal in range(start + replicas - 1, start + partition - 1, -1):
            pod = pods.get(ordinal)
            if pod is not None and (pod["metadata"].get("labels") or {}).get(REVISION_LABEL) != revision:
                with contextlib.suppress(NotFound):
                    await self.client.delete(PODS, pod["metadata"]["name"], ns)
                return

    async def _status(self, sts: Obj, pods: dict[int, Obj], replicas: int, revision: str) -> float | None:
        """Write the status; when a ready pod is not yet available (spec.minReadySeconds), the
        seconds after which to look again."""
        live = [p for p in pods.values() if not p["metadata"].get("deletionTimestamp")]
        updated = [p for p in live if (p["metadata"].get("labels") or {}).get(REVISION_LABEL) == revision]
        old_status = sts.get("status") or {}
        current_revision = old_status.get("currentRevision") or revision
        if len(updated) == replicas and len(live) == replicas:
            current_revision = revision
        current = [
            p for p in live if (p["metadata"].get("labels") or {}).get(REVISION_LABEL) == current_revision
        ]
        ready = [p for p in live if is_ready(p)]
        min_ready = int(sts["spec"].get("minReadySeconds") or 0)
        available = [p for p in ready if is_available(p, min_ready)]
        status = {
            **old_status,
            "observedGeneration": sts["metadata"].get("generation", 1),
            "replicas": len(live),
            "readyReplicas": len(ready),
            "availableReplicas": len(available),
            "currentReplicas": len(current),
            "updatedReplicas": len(updated),
            "currentRevision": current_revision,
            "updateRevision": revision,
            "collisionCount": 0,
        }
        if status != old_status:
            with contextlib.suppress(NotFound):
                await self.client.update_status(STATEFULSETS, {**sts, "status": status})
        return float(min_ready) if len(available) < len(ready) else None
