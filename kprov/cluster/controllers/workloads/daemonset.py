"""DaemonSet: one pod on every node that matches the set's node selector/affinity and
whose NoSchedule/NoExecute taints the pod tolerates.

As in Kubernetes, a daemon pod is pinned to its node through required node affinity on
``metadata.name`` (matchFields) and left to the scheduler, and it gets the standard
daemon tolerations (not-ready, unreachable, disk/memory/pid pressure, unschedulable). Pods
on nodes that no longer qualify are deleted. The set's templates are kept as
ControllerRevisions (:mod:`.daemonset_history`); a RollingUpdate replaces pods whose
``controller-revision-hash`` is not the current revision's, delete-first up to
maxUnavailable at a time or create-first up to maxSurge (:mod:`.daemonset_update`).

A daemon pod that failed (a kubelet that rejected it, a container that exited) is deleted
and a new one created, as upstream does; per DaemonSet and node the deletions back off
exponentially (1 s doubling to 15 min), so a node that keeps failing the pod is not hot-looped.

Creates and deletes are recorded as expectations (:class:`..base.Expectations`, as the
ReplicaSet controller and upstream's daemon controller do): until the pod informer has seen
every pod a pass created and every deletion it asked for, a new pass only writes status. A
pass acting on a cache that has not caught up would create a second pod for the same node.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import time

from kprov.cluster.api.objects import controller_ref
from kprov.cluster.client.errors import ApiError, NotFound
from kprov.cluster.client.informer import EventHandler
from kprov.cluster.client.resources import CONTROLLER_REVISIONS, DAEMONSETS, NODES, PODS
from kprov.cluster.client.store import object_key
from kprov.cluster.controllers.base import Controller, Expectations, Obj
from kprov.cluster.controllers.informers import index_by_controller_uid
from kprov.cluster.controllers.workloads.daemonset_history import (
    HASH_LABEL,
    current_hash,
    sync_daemon_history,
)
from kprov.cluster.controllers.workloads.daemonset_update import (
    extra_pods,
    is_daemon_pod_available,
    max_surge,
    oldest_first,
    plan_rolling_update,
)
from kprov.cluster.controllers.workloads.pods import is_active, is_ready, pod_from_template
from kprov.cluster.scheduler.cache import NodeInfo
from kprov.cluster.scheduler.plugins.node_affinity import node_matches_pod_affinity
from kprov.cluster.scheduler.plugins.taint_toleration import tolerates
from kprov.cluster.scheduler.podinfo import PodInfo

_FAILED_BACKOFF_FIRST_S = 1.0
_FAILED_BACKOFF_MAX_S = 900.0

__all__ = ["DaemonSetController", "daemon_tolerations", "pinned_affinity"]

_DAEMON_TOLERATIONS = (
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
)


def daemon_tolerations(existing: list[Obj], host_network: bool = False) -> list[Obj]:
    """The template's tolerations plus upstream's daemon ones (a host-network daemon also
    tolerates network-unavailable: it does not need the pod network)."""
    out = list(existing)
    extra = (("node.kubernetes.io/network-unavailable", "NoSchedule"),) if host_network else ()
    for key, effect in (*_DAEMON_TOLERATIONS, *extra):
        if not any(t.get("key") == key and t.get("effect") == effect for t in out):
            out.append({"key": key, "operator": "Exists", "effect": effect})
    return out


def pinned_affinity(affinity: Obj | None, node_name: str) -> Obj:
    """The pod's affinity with the required node terms replaced by metadata.name = node."""
    result = copy.deepcopy(affinity or {})
    node_aff = result.setdefault("nodeAffinity", {})
    node_aff["requiredDuringSchedulingIgnoredDuringExecution"] = {
        "nodeSelectorTerms": [
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node_name]}]}
        ]
    }
    return result


def _failed(pod: Obj) -> bool:
    """A daemon pod that failed and is not being deleted yet."""
    return (not pod["metadata"].get("deletionTimestamp")
            and (pod.get("status") or {}).get("phase") == "Failed")


def _failed_slot(key: str, pod: Obj) -> tuple[str, str]:
    """The (set, node) a failed pod's deletions back off on."""
    return key, _pinned_node(pod) or pod["spec"].get("nodeName") or ""


def _grown_backoff(delay: float) -> float:
    """The back-off after one more failed-pod deletion (1 s doubling to 15 min)."""
    return min(max(delay * 2, _FAILED_BACKOFF_FIRST_S), _FAILED_BACKOFF_MAX_S)


def _pinned_node(pod: Obj) -> str | None:
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return str(spec["nodeName"])
    terms = (
        ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution"
        )
        or {}
    ).get("nodeSelectorTerms") or []
    for term in terms:
        for field in term.get("matchFields") or []:
            if field.get("key") == "metadata.name" and field.get("values"):
                return str(field["values"][0])
    return None


class DaemonSetController(Controller):
    name = "daemonset"
    identity = "daemon-set-controller"

    def setup(self) -> None:
        # (daemonset key, node) -> (current delay, monotonic time of the last failed-pod deletion)
        self.failed_backoff: dict[tuple[str, str], tuple[float, float]] = {}
        self.expectations = Expectations()
        self.sets = self.ctx.informers.get(DAEMONSETS)
        self.nodes = self.ctx.informers.get(NODES)
        self.pods = self.ctx.informers.get(PODS, {"controller": index_by_controller_uid})
        self.revisions = self.ctx.informers.get(CONTROLLER_REVISIONS, {"controller": index_by_controller_uid})
        self.sets.add_handler(EventHandler(self.enqueue, lambda _o, n: self.enqueue(n), self._set_deleted))
        # as upstream: a set's own new revision needs no sync (the sync made it, or a client
        # copied one, which the set's next sync de-duplicates); a changed or deleted one does
        self.revisions.add_handler(EventHandler(None, lambda _o, n: self._owned(n), self._owned))
        self.pods.add_handler(EventHandler(lambda pod: self._pod_event(None, pod), self._pod_event,
                                           lambda pod: self._pod_event(pod, None)))
        self.nodes.add_handler(EventHandler(self._all, self._node_updated, self._all))

    def _set_deleted(self, ds: Obj) -> None:
        self.expectations.forget(object_key(ds))
        self.enqueue(ds)

    @staticmethod
    def _owner_key(obj: Obj) -> str | None:
        ref = controller_ref(obj)
        if ref is None or ref.get("kind") != "DaemonSet":
            return None
        return f"{obj['metadata']['namespace']}/{ref['name']}"

    def _owned(self, obj: Obj) -> None:
        key = self._owner_key(obj)
        if key is not None:
            self.queue.add(key)

    def _pod_event(self, old: Obj | None, new: Obj | None) -> None:
        key = self._owner_key(new or old or {})
        if key is not None:
            self.expectations.observe_event(key, old, new)
            self.queue.add(key)

    def _node_updated(self, old: Obj, new: Obj) -> None:
        shape = lambda n: (n["metadata"].get("labels"), (n.get("spec") or {}).get("taints"))  # noqa: E731
        if shape(old) != shape(new):
            self._all(new)

    def _all(self, _node: Obj) -> None:
        for ds in self.sets.store.items():
            self.enqueue(ds)

    def _should_run(self, template_pod: PodInfo, node: Obj, *, continuing: bool = False) -> bool:
        """Whether a daemon pod belongs on ``node``. A pod already there only has to tolerate
        the node's NoExecute taints (upstream's shouldContinueRunning): the NoSchedule taints a
        NotReady or unreachable node gets keep new pods away, not the ones it has."""
        info = NodeInfo(name=node["metadata"]["name"], node=node)
        info.set_node(node)
        if not node_matches_pod_affinity(template_pod, info):
            return False
        effects = ("NoExecute",) if continuing else ("NoSchedule", "NoExecute")
        for taint in info.taints:
            if taint.get("effect") in effects and not any(
                tolerates(t, taint) for t in template_pod.tolerations
            ):
                return False
        return True

    async def reconcile(self, key: str) -> float | None:
        ds = self.sets.store.get(key)
        if ds is None or ds["metadata"].get("deletionTimestamp"):
            for slot in [s for s in self.failed_backoff if s[0] == key]:
                del self.failed_backoff[slot]
            return None
        ns = ds["metadata"]["namespace"]
        template = copy.deepcopy(ds["spec"].get("template") or {})
        template.setdefault("spec", {})["tolerations"] = daemon_tolerations(
            template["spec"].get("tolerations") or [], bool(template["spec"].get("hostNetwork"))
        )
        probe = PodInfo.of(
            {"metadata": {"namespace": ns, **(template.get("metadata") or {})}, "spec": template["spec"]}
        )
        uid = ds["metadata"]["uid"]
        own_pods = self.pods.store.by_index("controller", uid)
        own_revisions = [r for r in self.revisions.store.by_index("controller", uid)
                         if r["metadata"].get("namespace") == ns]
        cur = await sync_daemon_history(
            self.client, {"apiVersion": "apps/v1", "kind": "DaemonSet", **ds}, own_revisions, own_pods
        )
        if cur is None:  # hash collision counted: sync again with the new count
            return 0.1
        hash_ = current_hash(cur)
        by_node: dict[str, list[Obj]] = {}
        failed: list[Obj] = []
        for pod in own_pods:
            if is_active(pod):
                by_node.setdefault(_pinned_node(pod) or "", []).append(pod)
            elif _failed(pod):
                failed.append(pod)
        wanted = {n["metadata"]["name"] for n in self.nodes.store.items() if self._should_run(probe, n)}
        wanted |= {
            n["metadata"]["name"] for n in self.nodes.store.items()
            if n["metadata"]["name"] in by_node and self._should_run(probe, n, continuing=True)
        }
        retry: float | None = None
        if self.expectations.satisfied(key):
            retry = await self._manage(key, ds, template, hash_, by_node, wanted, failed)
        recheck = await self._status(ds, by_node, wanted, hash_)
        return min((t for t in (retry, recheck) if t is not None), default=None)

    async def _manage(self, key: str, ds: Obj, template: Obj, hash_: str, by_node: dict[str, list[Obj]],
                      wanted: set[str], failed: list[Obj]) -> float | None:
        """Create the missing pods and delete the failed, extra, misplaced and stale ones, all
        counted as expectations first; the seconds until a held-back failed-pod deletion."""
        failed_victims, retry = self._failed_to_delete(key, failed)
        failed_names = {p["metadata"]["name"] for p in failed_victims}
        victims = list(failed_victims)
        surging = max_surge(ds, len(wanted)) > 0
        for node_name, pods in by_node.items():
            victims += extra_pods(pods, hash_, surging) if node_name in wanted else pods
        update = plan_rolling_update(ds, by_node, wanted, hash_)
        victims += update.victims
        unique = list({p["metadata"]["name"]: p for p in victims}.values())
        missing = sorted(wanted - set(by_node)) + update.surge_nodes
        self.expectations.expect(key, adds=len(missing), deletes=len(unique))
        for pod in unique:
            try:
                await self.client.delete(PODS, pod["metadata"]["name"], pod["metadata"]["namespace"])
            except NotFound:  # gone already: as good as deleted
                self.expectations.observed_delete(key)
            if pod["metadata"]["name"] in failed_names:  # any other error raised: no back-off step
                self._failed_pod_deleted(key, pod)
        for index, node_name in enumerate(missing):
            pod = pod_from_template(ds, template, extra_labels={HASH_LABEL: hash_})
            pod["spec"]["affinity"] = pinned_affinity(pod["spec"].get("affinity"), node_name)
            try:
                await self.client.create(PODS, pod)
            except ApiError:
                for _ in missing[index:]:  # none of the rest is made: none will be observed
                    self.expectations.observed_add(key)
                raise
        return retry

    def _failed_to_delete(self, key: str, failed: list[Obj]) -> tuple[list[Obj], float | None]:
        """The failed daemon pods to delete now, each (set, node) at most once per its
        back-off, and the seconds until a held-back deletion may go (None: none held back).
        Only decides: the back-off advances when a deletion is made (:meth:`_failed_pod_deleted`)."""
        now = time.monotonic()
        retry: float | None = None
        victims: list[Obj] = []
        chosen: set[tuple[str, str]] = set()
        for pod in failed:
            slot = _failed_slot(key, pod)
            delay, last = self.failed_backoff.get(slot, (0.0, 0.0))
            if slot in chosen:  # one deletion per (set, node) a pass: the next waits its back-off
                wait: float | None = _grown_backoff(delay)
            elif delay and now - last < delay:
                wait = delay - (now - last)
            else:
                wait = None
            if wait is not None:
                retry = wait if retry is None else min(retry, wait)
                continue
            chosen.add(slot)
            victims.append(pod)
        return victims, retry

    def _failed_pod_deleted(self, key: str, pod: Obj) -> None:
        """A failed pod's deletion was made: its (set, node) back-off grows from now."""
        slot = _failed_slot(key, pod)
        delay, _last = self.failed_backoff.get(slot, (0.0, 0.0))
        self.failed_backoff[slot] = (_grown_backoff(delay), time.monotonic())

    async def _status(
        self, ds: Obj, by_node: dict[str, list[Obj]], wanted: set[str], hash_: str
    ) -> float | None:
        """Write the set's status counted as upstream's: per node that should run it, its oldest
        pod; "available" after ``minReadySeconds`` of readiness. The seconds until a ready pod
        becomes available (the set is synced again then), or None."""
        scheduled = [n for n in wanted if by_node.get(n)]
        pods = [oldest_first(by_node[n])[0] for n in scheduled]
        ready = [p for p in pods if is_ready(p)]
        is_available_now = is_daemon_pod_available(ds, dt.datetime.now(dt.UTC))
        available = sum(1 for p in ready if is_available_now(p))
        min_ready = int(ds["spec"].get("minReadySeconds") or 0)
        status = {
            **(ds.get("status") or {}),
            "observedGeneration": ds["metadata"].get("generation", 1),
            "desiredNumberScheduled": len(wanted),
            "currentNumberScheduled": len(scheduled),
            "numberMisscheduled": sum(1 for n in by_node if n not in wanted),
            "numberReady": len(ready),
            "numberAvailable": available,
            "numberUnavailable": len(wanted) - available,
            "updatedNumberScheduled": sum(
                1 for p in pods if (p["metadata"].get("labels") or {}).get(HASH_LABEL) == hash_
            ),
        }
        if status != ds.get("status"):
            with contextlib.suppress(NotFound):
                await self.client.update_status(DAEMONSETS, {**ds, "status": status})
        return float(min_ready) if min_ready > 0 and available != len(ready) else None
