"""ResourceQuota: keep each quota's ``status.hard`` (its spec's) and ``status.used`` true, as
kube-controller-manager's resourcequota controller does.

Design: usage is recomputed from the informer caches of the kinds a quota can name here
(pods, services, configmaps, secrets, replicationcontrollers, resourcequotas,
persistentvolumeclaims, and the apps/batch workload kinds for their ``count/...`` names)
with the same rules admission charges by (:func:`kprov.cluster.api.kinds.quota.usage`), so a
charge for a create that failed, or an object since deleted or finished, is given back. A
deletion, or an update that changes what an object is charged, re-queues the quotas of its
namespace (a create does not: admission charged it); every quota is also re-read every five
minutes. A ``count/<plural>.<group>`` name of another kind (a custom resource) is counted
from an informer started for it when a quota first names it (discovery finds the kind), its
deletions re-queue the namespace's quotas; until it has listed, and for a kind not served,
the used value admission charged stands. A
scoped quota counts only the pods its scopes match
(:func:`kprov.cluster.api.kinds.quota.matches_scopes`).
"""

from __future__ import annotations

import math
import time
from decimal import Decimal
from typing import Any

from kprov.cluster.api.kinds.quota import fmt, matches_scopes, usage
from kprov.cluster.client.errors import NotFound
from kprov.cluster.client.informer import EventHandler, Informer
from kprov.cluster.client.resources import (
    CONFIGMAPS,
    CRONJOBS,
    DAEMONSETS,
    DEPLOYMENTS,
    JOBS,
    PERSISTENT_VOLUME_CLAIMS,
    PODS,
    REPLICASETS,
    REPLICATION_CONTROLLERS,
    RESOURCE_QUOTAS,
    SECRETS,
    SERVICES,
    STATEFULSETS,
    Resource,
)
from kprov.cluster.client.store import index_by_namespace
from kprov.cluster.controllers.base import Controller, Obj

__all__ = ["ResourceQuotaController"]

RESYNC_S = 300.0
REDISCOVERY_S = 10.0  # a kind a quota names but discovery lacks: asked again at most this often
_COUNTED = (
    PODS,
    SERVICES,
    CONFIGMAPS,
    SECRETS,
    REPLICATION_CONTROLLERS,
    RESOURCE_QUOTAS,
    PERSISTENT_VOLUME_CLAIMS,
    REPLICASETS,
    DEPLOYMENTS,
    STATEFULSETS,
    DAEMONSETS,
    JOBS,
    CRONJOBS,
)


class ResourceQuotaController(Controller):
    name = "resourcequota"
    identity = "resourcequota-controller"

    def setup(self) -> None:
        self.quotas = self.ctx.informers.get(RESOURCE_QUOTAS, {"namespace": index_by_namespace})
        self.quotas.add_handler(EventHandler(self.enqueue, lambda o, n: self._changed(o, n), lambda _o: None))
        self.counted = {
            res: self.ctx.informers.get(res, {"namespace": index_by_namespace}) for res in _COUNTED
        }
        for res, informer in self.counted.items():
            if res is RESOURCE_QUOTAS:
                continue
            informer.add_handler(EventHandler(lambda _o: None, self._releases(res), self._touch))
        # other kinds a quota names (count/<plural>.<group>: custom resources), watched once named
        self.named: dict[str, Informer] = {}
        self._served: dict[str, Resource] = {}
        self._discovered_at = -math.inf

    async def _named_informer(self, counted: str) -> Informer | None:
        """The informer of the kind ``count/<counted>`` names (``<plural>.<group>``, or a core
        plural), started on first use; None when the server serves no such kind."""
        found = self.named.get(counted)
        if found is not None:
            return found
        if counted not in self._served and time.monotonic() - self._discovered_at > REDISCOVERY_S:
            self._discovered_at = time.monotonic()
            served = await self.client.discover()
            self._served = {f"{r.plural}.{r.group}" if r.group else r.plural: r for r in served
                            if {"list", "watch"} <= set(r.verbs)}
        res = self._served.get(counted)
        if res is None:
            return None
        informer = self.named[counted] = self.ctx.informers.get(res, {"namespace": index_by_namespace})
        informer.add_handler(EventHandler(lambda _o: None, lambda _o, _n: None, self._touch))
        return informer

    def _releases(self, res: Any) -> Any:
        """An update re-queues the namespace's quotas only when it changes what the object is
        charged (a pod that finished, resized requests). A create never does: admission has
        charged it, and recounting from a pod cache that has not seen the namespace's latest
        creates yet would give back what they were charged (upstream's replenishment also
        reacts to releases only)."""

        def changed(old: Obj, new: Obj) -> None:
            if usage(res.plural, res.group, old) != usage(res.plural, res.group, new):
                self._touch(new)

        return changed

    def _changed(self, old: Obj, new: Obj) -> None:
        if (old.get("spec") or {}) != (new.get("spec") or {}) or not (new.get("status") or {}).get("hard"):
            self.enqueue(new)

    def _touch(self, obj: Obj) -> None:
        namespace = (obj.get("metadata") or {}).get("namespace", "")
        for quota in self.quotas.store.by_index("namespace", namespace):
            self.enqueue(quota)

    def used_in(self, namespace: str, quota: Obj | None = None) -> dict[str, Decimal]:
        total: dict[str, Decimal] = {}
        for res, informer in self.counted.items():
            for obj in informer.store.by_index("namespace", namespace):
                if (obj.get("metadata") or {}).get("deletionTimestamp") and res is PODS:
                    continue
                if quota is not None and not matches_scopes(quota, res.plural, res.group, obj):
                    continue
                for key, amount in usage(res.plural, res.group, obj).items():
                    total[key] = total.get(key, Decimal(0)) + amount
        return total

    async def reconcile(self, key: str) -> float | None:
        quota = self.quotas.store.get(key)
        if quota is None:
            return None
        quota = {"apiVersion": "v1", "kind": "ResourceQuota", **quota}
        hard: dict[str, Any] = dict((quota.get("spec") or {}).get("hard") or {})
        namespace = quota["metadata"]["namespace"]
        measured = self.used_in(namespace, quota)
        previous = (quota.get("status") or {}).get("used") or {}
        used: dict[str, str] = {}
        again: float | None = RESYNC_S
        for name in hard:
            if (
                name in measured
                or not name.startswith("count/")
                or name.split("/", 1)[1].split(".")[0] in {r.plural for r in _COUNTED}
            ):
                used[name] = fmt(name, measured.get(name, Decimal(0)))
                continue
            informer = await self._named_informer(name.split("/", 1)[1])
            if informer is None or not informer.has_synced.is_set():
                used[name] = str(previous.get(name, "0"))  # admission's charge stands meanwhile
                again = 1.0 if informer is not None else again
            else:
                used[name] = str(len(informer.store.by_index("namespace", namespace)))
        status = {"hard": hard, "used": used}
        if status != quota.get("status"):
            try:
                await self.client.update_status(RESOURCE_QUOTAS, {**quota, "status": status})
            except NotFound:
                return None
        return again
