"""Disruption: keep each PodDisruptionBudget's status true, as kube-controller-manager's
disruption controller does, so the eviction API can decide from it.

Design. A budget selects pods of its namespace. ``minAvailable`` as a number wants that many
healthy and expects the selected pods; ``maxUnavailable`` or a percentage is relative to the
scale of the pods' controllers (ReplicaSet - or its Deployment -, ReplicationController,
StatefulSet), summed once per controller, percentages rounded up; a selected pod without a
controller then makes the budget SyncFailed with no disruptions allowed. Healthy is Ready,
not being deleted and not recently evicted (``disruptedPods`` entries, kept two minutes or
until the pod is seen deleted). ``disruptionsAllowed`` = healthy - desired, at least 0, and
the DisruptionAllowed condition says SufficientPods / InsufficientPods.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from kprov.cluster.api.objects import controller_ref, format_time, is_pod_ready, parse_time, set_condition
from kprov.cluster.api.selectors import SelectorError, label_selector_from_object
from kprov.cluster.client.errors import NotFound
from kprov.cluster.client.informer import EventHandler
from kprov.cluster.client.resources import (
    DEPLOYMENTS,
    POD_DISRUPTION_BUDGETS,
    PODS,
    REPLICASETS,
    REPLICATION_CONTROLLERS,
    STATEFULSETS,
)
from kprov.cluster.client.store import index_by_namespace
from kprov.cluster.controllers.base import Controller, Obj

__all__ = ["DisruptionController", "resolve"]

_DISRUPTED_TIMEOUT = dt.timedelta(minutes=2)
_UID = {"uid": lambda o: [o["metadata"].get("uid", "")]}


def resolve(value: int | str, total: int) -> int:
    """An int-or-percent against ``total``, percentages rounded up (as upstream)."""
    if isinstance(value, str) and value.endswith("%"):
        return math.ceil(int(value[:-1]) * total / 100)
    return int(value)


class _NoController(Exception):
    pass


class DisruptionController(Controller):
    name = "disruption"
    identity = "disruption-controller"

    def setup(self) -> None:
        self.pdbs = self.ctx.informers.get(POD_DISRUPTION_BUDGETS, {"namespace": index_by_namespace})
        self.pods = self.ctx.informers.get(PODS, {"namespace": index_by_namespace})
        self.owners: dict[str, Any] = {
            kind: self.ctx.informers.get(res, _UID)
            for kind, res in (
                ("ReplicaSet", REPLICASETS),
                ("Deployment", DEPLOYMENTS),
                ("StatefulSet", STATEFULSETS),
                ("ReplicationController", REPLICATION_CONTROLLERS),
            )
        }
        self.pdbs.add_handler(EventHandler(self.enqueue, lambda _o, n: self.enqueue(n), lambda _o: None))
        self.pods.add_handler(
            EventHandler(
                self._pod_event, self._pod_update, self._pod_event
            )
        )
        for kind in ("ReplicaSet", "Deployment", "StatefulSet", "ReplicationController"):
            self.owners[kind].add_handler(
                EventHandler(self._scale_event, lambda _o, n: self._scale_event(n), self._scale_event)
            )

    def _matching(self, namespace: str, labels: dict[str, str]) -> list[Obj]:
        found = []
        for pdb in self.pdbs.store.by_index("namespace", namespace):
            try:
                if label_selector_from_object((pdb.get("spec") or {}).get("selector") or {}).matches(labels):
                    found.append(pdb)
            except SelectorError:
                continue
        return found

    def _pod_update(self, old: Obj, new: Obj) -> None:
        self._pod_event(old)
        self._pod_event(new)

    def _pod_event(self, pod: Obj) -> None:
        meta = pod.get("metadata") or {}
        for pdb in self._matching(meta.get("namespace", ""), meta.get("labels") or {}):
            self.enqueue(pdb)

    def _scale_event(self, owner: Obj) -> None:
        for pdb in self.pdbs.store.by_index("namespace", owner["metadata"].get("namespace", "")):
            self.enqueue(pdb)

    def _scale_of(self, pod: Obj) -> tuple[str, int]:
        ref = controller_ref(pod)
        if ref is None:
            raise _NoController(f'found no controller ref for pod "{pod["metadata"]["name"]}"')
        kind = ref.get("kind", "")
        informer = self.owners.get(kind)
        owner = informer.store.by_index("uid", ref.get("uid", "")) if informer else []
        if not owner:
            raise _NoController(f'found no controllers for pod "{pod["metadata"]["name"]}"')
        if kind == "ReplicaSet":
            parent = controller_ref(owner[0])
            if parent is not None and parent.get("kind") == "Deployment":
                deployment = self.owners["Deployment"].store.by_index("uid", parent.get("uid", ""))
                if deployment:
                    owner = deployment
        replicas = (owner[0].get("spec") or {}).get("replicas")
        return owner[0]["metadata"]["uid"], int(replicas if replicas is not None else 1)

    def _expected(self, pdb: Obj, pods: list[Obj]) -> tuple[int, int]:
        spec = pdb.get("spec") or {}
        min_available, max_unavailable = spec.get("minAvailable"), spec.get("maxUnavailable")
        if max_unavailable is None and (min_available is None or isinstance(min_available, int)):
            return len(pods), int(min_available or 0)
        scales = dict(self._scale_of(p) for p in pods)
        expected = sum(scales.values())
        if max_unavailable is not None:
            return expected, max(expected - resolve(max_unavailable, expected), 0)
        assert min_available is not None  # both unset returned first
        return expected, resolve(min_available, expected)

    async def reconcile(self, key: str) -> float | None:
        pdb = self.pdbs.store.get(key)
        if pdb is None or pdb["metadata"].get("deletionTimestamp"):
            return None
        pdb = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", **pdb}
        namespace = pdb["metadata"]["namespace"]
        now = dt.datetime.now(dt.UTC)
        stamp = format_time(now)
        try:
            selector = label_selector_from_object((pdb.get("spec") or {}).get("selector") or {})
        except SelectorError:
            return None
        pods = [
            p
            for p in self.pods.store.by_index("namespace", namespace)
            if selector.matches(p["metadata"].get("labels") or {})
        ]
        old = pdb.get("status") or {}
        status: dict[str, Any] = {**old, "observedGeneration": pdb["metadata"].get("generation", 1)}
        live = {p["metadata"]["name"]: p for p in pods}
        disrupted: dict[str, str] = {}
        again: float | None = None
        for name, when in (old.get("disruptedPods") or {}).items():
            moment = parse_time(when)
            pod = live.get(name)
            if moment is None or pod is None or pod["metadata"].get("deletionTimestamp"):
                continue
            left = (moment + _DISRUPTED_TIMEOUT - now).total_seconds()
            if left > 0:
                disrupted[name] = when
                again = left if again is None else min(again, left)
        try:
            expected, desired = self._expected(pdb, pods)
        except _NoController as exc:
            status.update(disruptionsAllowed=0, disruptedPods=disrupted or None)
            set_condition(
                status,
                {
                    "type": "DisruptionAllowed",
                    "status": "False",
                    "reason": "SyncFailed",
                    "message": str(exc),
                    "observedGeneration": status["observedGeneration"],
                },
                stamp,
            )
            await self._write(pdb, status)
            return 15.0
        healthy = sum(
            1
            for p in pods
            if is_pod_ready(p)
            and not p["metadata"].get("deletionTimestamp")
            and p["metadata"]["name"] not in disrupted
        )
        allowed = max(healthy - desired, 0)
        status.update(
            disruptionsAllowed=allowed,
            currentHealthy=healthy,
            desiredHealthy=desired,
            expectedPods=expected,
        )
        if disrupted:
            status["disruptedPods"] = disrupted
        else:
            status.pop("disruptedPods", None)
        condition = {
            "type": "DisruptionAllowed",
            "status": "True" if allowed > 0 else "False",
            "reason": "SufficientPods" if allowed > 0 else "InsufficientPods",
            "message": "",
            "observedGeneration": status["observedGeneration"],
        }
        set_condition(status, condition, stamp)
        await self._write(pdb, status)
        return again

    async def _write(self, pdb: Obj, status: dict[str, Any]) -> None:
        status = {k: v for k, v in status.items() if v is not None}
        if status == (pdb.get("status") or {}):
            return
        try:
            await self.client.update_status(POD_DISRUPTION_BUDGETS, {**pdb, "status": status})
        except NotFound:
            return
