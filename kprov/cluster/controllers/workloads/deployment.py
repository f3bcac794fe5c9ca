"""Deployment: roll a pod template out through ReplicaSets.

The ReplicaSet whose template equals the Deployment's (ignoring ``pod-template-hash``)
is the *new* one; every other owned ReplicaSet is *old*. A missing new ReplicaSet is
created as ``<name>-<hash>`` with the hash label on its selector and template, and the
revision annotation one above every old revision (an undo that brings back an old
template gives that ReplicaSet the next revision, as in Kubernetes).

RollingUpdate scales the new set up while the total stays within replicas + maxSurge, and
old sets down while at least replicas - maxUnavailable pods stay available. Recreate
scales old sets to zero, waits for their pods to be gone, then scales the new one up.
Old sets beyond revisionHistoryLimit that have no replicas are deleted. A change of
``replicas`` in the middle of a rollout (or while paused) is spread over the active sets
first (:mod:`.deployment_scale`). Orphan ReplicaSets the selector matches are adopted,
owned ones it no longer matches released, as upstream's ClaimReplicaSets. Status
(observedGeneration, replicas, updated/ready/available/unavailable, the Available and
Progressing conditions) is what ``kubectl rollout status`` waits on.
"""

from __future__ import annotations

import contextlib
import copy
import logging

from kprov.cluster.api.objects import controller_ref, new_controller_ref, now_rfc3339
from kprov.cluster.api.selectors import label_selector_from_object
from kprov.cluster.client.errors import AlreadyExists, Conflict, NotFound
from kprov.cluster.client.informer import EventHandler
from kprov.cluster.client.resources import DEPLOYMENTS, REPLICASETS
from kprov.cluster.client.store import index_by_namespace
from kprov.cluster.controllers.base import Controller, Obj
from kprov.cluster.controllers.informers import index_by_controller_uid, index_orphans_by_namespace
from kprov.cluster.controllers.workloads.deployment_scale import (
    DESIRED,
    MAX,
    active_or_latest,
    is_saturated,
    is_scaling_event,
    proportional_sizes,
)
from kprov.cluster.controllers.workloads.deployment_status import deployment_status, stat
from kprov.cluster.controllers.workloads.rollout import (
    HASH_LABEL,
    REVISION,
    max_revision,
    resolve_surge_unavailable,
    revision_of,
    same_template,
    template_hash,
)

__all__ = ["DeploymentController"]

log = logging.getLogger(__name__)

_SKIP_ANNOTATIONS = {
    REVISION,
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deployment.kubernetes.io/revision-history",
}


def _replicas(rs: Obj) -> int:
    return int((rs.get("spec") or {}).get("replicas") or 0)


def _available(rs: Obj) -> int:
    return stat(rs, "availableReplicas")


class DeploymentController(Controller):
    name = "deployment"
    identity = "deployment-controller"

    def setup(self) -> None:
        self.deployments = self.ctx.informers.get(DEPLOYMENTS, {"namespace": index_by_namespace})
        self.sets = self.ctx.informers.get(
            REPLICASETS, {"controller": index_by_controller_uid, "namespace": index_by_namespace,
                          "orphans": index_orphans_by_namespace}
        )
        self.deployments.add_handler(EventHandler(self.enqueue, lambda _o, n: self.enqueue(n), self.enqueue))
        self.sets.add_handler(
            EventHandler(self._rs_changed, lambda _o, n: self._rs_changed(n), self._rs_changed)
        )

    def _rs_changed(self, rs: Obj) -> None:
        ref = controller_ref(rs)
        if ref is not None and ref.get("kind") == "Deployment":
            self.queue.add(f"{rs['metadata']['namespace']}/{ref['name']}")
        elif ref is None and not rs["metadata"].get("deletionTimestamp"):
            labels = rs["metadata"].get("labels") or {}
            for d in self.deployments.store.by_index("namespace", rs["metadata"].get("namespace", "")):
                selector = label_selector_from_object((d.get("spec") or {}).get("selector"))
                if not selector.empty and selector.matches(labels):
                    self.enqueue(d)

    async def _claim(self, d: Obj) -> bool:
        """Adopt matching orphan ReplicaSets; release owned ones the selector stopped matching.
        True when a set changed hands (the cache has not seen it yet: look again then)."""
        changed = False
        selector = label_selector_from_object((d.get("spec") or {}).get("selector"))
        namespace, uid = d["metadata"]["namespace"], d["metadata"]["uid"]
        # the sets it may adopt or release: no one's, and its own (never the namespace's every set)
        for rs in [*self.sets.store.by_index("orphans", namespace), *self.owned_sets(d)]:
            meta = rs["metadata"]
            ref = controller_ref(rs)
            matches = selector.matches(meta.get("labels") or {})
            refs = list(meta.get("ownerReferences") or [])
            if ref is None and matches and not meta.get("deletionTimestamp"):
                refs.append(new_controller_ref({"apiVersion": "apps/v1", "kind": "Deployment", **d}))
            elif ref is not None and ref.get("uid") == uid and not matches:
                refs = [r for r in refs if r.get("uid") != uid]
            else:
                continue
            patch = {"metadata": {"ownerReferences": refs, "resourceVersion": meta["resourceVersion"]}}
            with contextlib.suppress(Conflict, NotFound):
                await self.client.patch(REPLICASETS, meta["name"], patch, namespace)
                changed = True
        return changed

    def owned_sets(self, d: Obj) -> list[Obj]:
        return [
            rs
            for rs in self.sets.store.by_index("controller", d["metadata"]["uid"])
            if rs["metadata"].get("namespace") == d["metadata"]["namespace"]
        ]

    async def reconcile(self, key: str) -> float | None:
        d = self.deployments.store.get(key)
        if d is None or d["metadata"].get("deletionTimestamp"):
            return None
        spec = d.get("spec") or {}
        if label_selector_from_object(spec.get("selector")).empty:
            await self.ctx.recorder.record(
                d, "Warning", "SelectingAll", "This deployment is selecting all pods."
            )
            return None
        if await self._claim(d):
            return 1.0
        sets = self.owned_sets(d)
        new = next(
            (
                rs
                for rs in sets
                if same_template(rs["spec"].get("template") or {}, spec.get("template") or {})
            ),
            None,
        )
        old = [rs for rs in sets if rs is not new]
        if spec.get("paused") or is_scaling_event(d, sets):
            await self._scale_all(d, new, old)
            await self._sync_status(d, new, old)
            return None
        new = await self._ensure_new(d, new, old)
        if (spec.get("strategy") or {}).get("type") == "Recreate":
            await self._recreate(d, new, old)
        else:
            await self._rolling(d, new, old)
        await self._cleanup(d, old)
        await self._sync_status(d, new, old)
        return None

    # ---- the new ReplicaSet ------------------------------------------------------------

    def _annotations(self, d: Obj, revision: int, replicas: int, surge: int) -> dict[str, str]:
        own = {
            k: v for k, v in (d["metadata"].get("annotations") or {}).items() if k not in _SKIP_ANNOTATIONS
        }
        return {
            **own,
            REVISION: str(revision),
            "deployment.kubernetes.io/desired-replicas": str(replicas),
            "deployment.kubernetes.io/max-replicas": str(replicas + surge),
        }

    async def _ensure_new(self, d: Obj, new: Obj | None, old: list[Obj]) -> Obj:
        spec = d["spec"]
        replicas = int(spec.get("replicas", 1))
        surge = (
            resolve_surge_unavailable(spec.get("strategy") or {}, replicas)[0]
            if (spec.get("strategy") or {}).get("type") != "Recreate"
            else 0
        )
        next_revision = max_revision(old) + 1
        if new is not None:
            if revision_of(new) <= max_revision(old):  # e.g. after a rollout undo
                annotations = {
                    **(new["metadata"].get("annotations") or {}),
                    **self._annotations(d, next_revision, replicas, surge),
                }
                new = await self.client.update(
                    REPLICASETS, {**new, "metadata": {**new["metadata"], "annotations": annotations}}
                )
            await self._set_deployment_revision(d, revision_of(new))
            return new
        collision = int((d.get("status") or {}).get("collisionCount") or 0)
        template = copy.deepcopy(spec.get("template") or {})
        hash_ = template_hash(template, collision)
        template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = hash_
        selector = copy.deepcopy(spec.get("selector") or {})
        selector.setdefault("matchLabels", {})[HASH_LABEL] = hash_
        first = replicas if not old and (spec.get("strategy") or {}).get("type") != "Recreate" else 0
        body = {
            "metadata": {
                "name": f"{d['metadata']['name']}-{hash_}",
                "namespace": d["metadata"]["namespace"],
                "labels": {**(template["metadata"].get("labels") or {})},
                "annotations": self._annotations(d, next_revision, replicas, surge),
                "ownerReferences": [new_controller_ref(d)],
            },
            "spec": {
                "replicas": min(first, replicas),
                "minReadySeconds": int(spec.get("minReadySeconds") or 0),
                "selector": selector,
                "template": template,
            },
        }
        try:
            created = await self.client.create(REPLICASETS, body)
        except AlreadyExists:
            existing = await self.client.get(
                REPLICASETS, body["metadata"]["name"], d["metadata"]["namespace"]
            )
            if same_template(existing["spec"].get("template") or {}, spec.get("template") or {}):
                return existing
            status = {**(d.get("status") or {}), "collisionCount": collision + 1}
            await self.client.update_status(DEPLOYMENTS, {**d, "status": status})
            raise
        await self.ctx.recorder.record(
            d,
            "Normal",
            "ScalingReplicaSet",
            f"Scaled up replica set {created['metadata']['name']} from 0 to {_replicas(created)}",
        )
        await self._set_deployment_revision(d, next_revision)
        return created

    async def _set_deployment_revision(self, d: Obj, revision: int) -> None:
        annotations = d["metadata"].get("annotations") or {}
        if annotations.get(REVISION) == str(revision):
            return
        # an update, as upstream's (its role may update deployments, not patch them)
        meta = {**d["metadata"], "annotations": {**annotations, REVISION: str(revision)}}
        d2 = await self.client.update(DEPLOYMENTS, {**d, "metadata": meta})
        d["metadata"] = d2["metadata"]

    async def _scale(self, d: Obj, rs: Obj, replicas: int, force: bool = False) -> Obj:
        """Set a set's replicas and its desired/max-replicas annotations (``force``: write
        the annotations even when the size stays)."""
        current = _replicas(rs)
        wanted = int(d["spec"].get("replicas", 1))
        surge = 0
        if (d["spec"].get("strategy") or {}).get("type") != "Recreate":
            surge = resolve_surge_unavailable(d["spec"].get("strategy") or {}, wanted)[0]
        annotations = {
            **(rs["metadata"].get("annotations") or {}),
            DESIRED: str(wanted),
            MAX: str(wanted + surge),
        }
        if current == replicas and (not force or annotations == rs["metadata"].get("annotations")):
            return rs
        body = {**rs, "spec": {**rs["spec"], "replicas": replicas}}
        body["metadata"] = {**rs["metadata"], "annotations": annotations}
        updated = await self.client.update(REPLICASETS, body)
        if current != replicas:
            verb = "up" if replicas > current else "down"
            await self.ctx.recorder.record(
                d,
                "Normal",
                "ScalingReplicaSet",
                f"Scaled {verb} replica set {rs['metadata']['name']} from {current} to {replicas}",
            )
        rs.update(updated)
        return updated

    async def _scale_all(self, d: Obj, new: Obj | None, old: list[Obj]) -> None:
        """Give a new ``replicas`` to the active sets (see :mod:`.deployment_scale`)."""
        wanted = int(d["spec"].get("replicas", 1))
        only = active_or_latest(new, old)
        if only is not None:
            desired = (only["metadata"].get("annotations") or {}).get(DESIRED)
            if _replicas(only) != wanted or desired != str(wanted):
                await self._scale(d, only, wanted, force=True)
            return
        if is_saturated(d, new):
            for rs in old:
                if _replicas(rs) > 0:
                    await self._scale(d, rs, 0)
            return
        if (d["spec"].get("strategy") or {}).get("type") == "Recreate":
            return
        for rs, size in proportional_sizes(d, new, old):
            await self._scale(d, rs, size, force=True)

    # ---- strategies --------------------------------------------------------------------

    async def _rolling(self, d: Obj, new: Obj, old: list[Obj]) -> None:
        replicas = int(d["spec"].get("replicas", 1))
        surge, unavailable = resolve_surge_unavailable(d["spec"].get("strategy") or {}, replicas)
        all_sets = [new, *old]
        # scale up the new set within the surge budget
        total = sum(_replicas(rs) for rs in all_sets)
        room = replicas + surge - total
        if _replicas(new) < replicas and room > 0:
            await self._scale(d, new, min(replicas, _replicas(new) + room))
        elif _replicas(new) > replicas:
            await self._scale(d, new, replicas)
        # scale old sets down while keeping minAvailable
        live_old = sorted((rs for rs in old if _replicas(rs) > 0), key=revision_of)
        if not live_old:
            return
        min_available = replicas - unavailable
        total = sum(_replicas(rs) for rs in all_sets)
        new_unavailable = max(0, _replicas(new) - _available(new))
        budget = total - min_available - new_unavailable
        # unhealthy old replicas can go at once: they do not count as available anyway
        for rs in live_old:
            if budget <= 0:
                break
            unhealthy = _replicas(rs) - _available(rs)
            cut = min(unhealthy, budget)
            if cut > 0:
                await self._scale(d, rs, _replicas(rs) - cut)
                budget -= cut
        can_remove = sum(_available(rs) for rs in all_sets) - min_available
        for rs in live_old:
            if can_remove <= 0:
                break
            cut = min(_replicas(rs), can_remove)
            if cut > 0:
                await self._scale(d, rs, _replicas(rs) - cut)
                can_remove -= cut

    async def _recreate(self, d: Obj, new: Obj, old: list[Obj]) -> None:
        for rs in old:
            if _replicas(rs) > 0:
                await self._scale(d, rs, 0)
        if any(int((rs.get("status") or {}).get("replicas") or 0) > 0 for rs in old):
            return  # wait for the old pods to go (their status updates requeue us)
        await self._scale(d, new, int(d["spec"].get("replicas", 1)))

    async def _cleanup(self, d: Obj, old: list[Obj]) -> None:
        limit = d["spec"].get("revisionHistoryLimit")
        limit = 10 if limit is None else int(limit)
        idle = sorted(
            (
                rs
                for rs in old
                if _replicas(rs) == 0
                and not (rs.get("status") or {}).get("replicas")
                and not rs["metadata"].get("deletionTimestamp")
            ),
            key=revision_of,
        )
        for rs in idle[: max(0, len(idle) - limit)]:
            with contextlib.suppress(NotFound):
                await self.client.delete(REPLICASETS, rs["metadata"]["name"], rs["metadata"]["namespace"])

    # ---- status ------------------------------------------------------------------------

    async def _sync_status(self, d: Obj, new: Obj | None, old: list[Obj]) -> None:
        status = deployment_status(d, new, old, now_rfc3339())
        if status != (d.get("status") or {}):
            with contextlib.suppress(NotFound):
                await self.client.update_status(DEPLOYMENTS, {**d, "status": status})
