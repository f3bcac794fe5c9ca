"""horizontal-pod-autoscaler: scale a workload's replicas to its pods' CPU utilization.

Design: as upstream's HPA controller for autoscaling/v1 objects. Each HPA is reconciled
when it changes and every ``sync_period`` (15 s) after: read the target's ``scale``
subresource (replicas and the pod selector), the pods from the shared pod cache, their
usage from ``metrics.k8s.io`` (served by the API server from the kubelets' summaries), and
let :mod:`.replica_calc` propose and bound the replica count. A change is written through
the scale subresource with a ``SuccessfulRescale`` event; the status (current/desired
replicas, utilization, lastScaleTime) is written every time. A target scaled to zero is
left alone (autoscaling is off for it, as upstream); a pod without a CPU request, or no
metrics at all, leaves the count as it is with a warning event.

The downscale stabilization window's recommendations are kept per HPA in this controller
(lost on restart: the window then starts empty, as upstream's). Targets: Deployments,
ReplicaSets, StatefulSets and ReplicationControllers; a custom resource's scale
subresource is not followed yet.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import deque

from kprov.cluster.api.objects import cpu_millis, is_pod_ready
from kprov.cluster.api.selectors import SelectorError, parse_label_selector
from kprov.cluster.client.errors import ApiError, NotFound
from kprov.cluster.client.informer import EventHandler
from kprov.cluster.client.resources import (
    DEPLOYMENTS,
    HORIZONTAL_POD_AUTOSCALERS,
    PODS,
    REPLICASETS,
    REPLICATION_CONTROLLERS,
    STATEFULSETS,
    Resource,
)
from kprov.cluster.client.store import index_by_namespace
from kprov.cluster.controllers.base import Controller, Obj
from kprov.cluster.controllers.replica_calc import (
    DEFAULT_CPU_TARGET,
    MissingRequest,
    NoMetrics,
    PodSample,
    normalize,
    propose,
)

__all__ = ["PodAutoscalerController"]

log = logging.getLogger(__name__)

_TARGETS: dict[tuple[str, str], Resource] = {
    (r.group, r.kind): r for r in (DEPLOYMENTS, REPLICASETS, STATEFULSETS, REPLICATION_CONTROLLERS)
}
_METRICS_PATH = "/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods"


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pod_request_milli(pod: Obj) -> int:
    total = 0
    for container in (pod.get("spec") or {}).get("containers") or []:
        cpu = ((container.get("resources") or {}).get("requests") or {}).get("cpu")
        if cpu is None:
            return 0
        total += cpu_millis(cpu)
    return total


def _usage_milli(metrics: Obj) -> int:
    return sum(cpu_millis(((c.get("usage") or {}).get("cpu")) or 0) for c in metrics.get("containers") or [])


class PodAutoscalerController(Controller):
    name = "horizontal-pod-autoscaler"
    sync_period = 15.0
    downscale_stabilization = 300.0

    def setup(self) -> None:
        self.hpas = self.ctx.informers.get(HORIZONTAL_POD_AUTOSCALERS)
        self.pods = self.ctx.informers.get(PODS, {"namespace": index_by_namespace})
        self.hpas.add_handler(EventHandler(self.enqueue, lambda _o, n: self.enqueue(n), lambda _o: None))
        self.downscale_stabilization = self.ctx.options.hpa_downscale_stabilization
        self._recommendations: dict[str, deque[tuple[float, int]]] = {}

    async def reconcile(self, key: str) -> float | None:
        hpa = self.hpas.store.get(key)
        if hpa is None or (hpa.get("metadata") or {}).get("deletionTimestamp"):
            self._recommendations.pop(key, None)
            return None
        namespace = hpa["metadata"]["namespace"]
        spec = hpa.get("spec") or {}
        ref = spec.get("scaleTargetRef") or {}
        found = await self._scale(hpa, ref, namespace)
        if found is None:
            return self.sync_period
        target, scale = found
        current = int((scale.get("spec") or {}).get("replicas") or 0)
        status: Obj = {"currentReplicas": int((scale.get("status") or {}).get("replicas") or 0),
                       "desiredReplicas": current}
        if current == 0:  # scaled to zero by hand: autoscaling is off for it
            await self._write_status(hpa, status)
            return self.sync_period
        desired = await self._desired(key, hpa, scale, current, status)
        if desired != current:
            scale["spec"]["replicas"] = desired
            await self.client.update(target, scale, subresource="scale")
            direction = "above" if desired > current else "below"
            await self.ctx.recorder.record(hpa, "Normal", "SuccessfulRescale",
                                           f"New size: {desired}; reason: cpu resource utilization "
                                           f"(percentage of request) {direction} target")
            status["lastScaleTime"] = _now()
            log.info("hpa %s: %s/%s %d -> %d", key, target.kind, ref.get("name"), current, desired)
        status["desiredReplicas"] = desired
        await self._write_status(hpa, status)
        return self.sync_period

    async def _scale(self, hpa: Obj, ref: Obj, namespace: str) -> tuple[Resource, Obj] | None:
        """The target's resource and scale subresource, or None (with a warning event)."""
        group = str(ref.get("apiVersion") or "").rpartition("/")[0]
        target = _TARGETS.get((group, str(ref.get("kind") or "")))
        prefix = "the HPA controller was unable to get the target's current scale"
        if target is None:
            await self._warn(hpa, "FailedGetScale", f"{prefix}: no scale subresource known for "
                             f"{ref.get('apiVersion')}/{ref.get('kind')}")
            return None
        try:
            return target, await self.client.get(target, str(ref.get("name")), namespace, subresource="scale")
        except NotFound:
            await self._warn(hpa, "FailedGetScale", f"{prefix}: {target.plural}.{target.group or 'core'} "
                             f"\"{ref.get('name')}\" not found")
            return None

    async def _desired(self, key: str, hpa: Obj, scale: Obj, current: int, status: Obj) -> int:
        """The bounded replica count the pods' utilization asks for (``current`` without metrics)."""
        spec = hpa.get("spec") or {}
        minimum = int(spec.get("minReplicas") or 1)
        maximum = int(spec.get("maxReplicas") or minimum)
        target = int(spec.get("targetCPUUtilizationPercentage") or DEFAULT_CPU_TARGET)
        selector = str((scale.get("status") or {}).get("selector") or "")
        try:
            proposal = propose(current, await self._samples(hpa["metadata"]["namespace"], selector), target)
        except (MissingRequest, NoMetrics, SelectorError) as exc:
            await self._warn(hpa, "FailedGetResourceMetric", f"failed to get cpu utilization: {exc}")
            return max(minimum, min(maximum, current))
        except ApiError as exc:
            await self._warn(hpa, "FailedGetResourceMetric",
                             f"failed to get cpu utilization: unable to get metrics for resource cpu: {exc}")
            return max(minimum, min(maximum, current))
        status["currentCPUUtilizationPercentage"] = proposal.utilization
        return normalize(current, proposal.replicas, minimum, maximum, self._window(key, proposal.replicas))

    def _window(self, key: str, replicas: int) -> list[int]:
        """Record this recommendation; the window's recommendations, this one included."""
        now = time.monotonic()
        history = self._recommendations.setdefault(key, deque())
        history.append((now, replicas))
        while history and history[0][0] < now - self.downscale_stabilization:
            history.popleft()
        return [r for _, r in history]

    async def _samples(self, namespace: str, selector_text: str) -> list[PodSample]:
        selector = parse_label_selector(selector_text)
        if selector.empty:
            raise SelectorError("the target's scale has no pod selector")
        pods = [p for p in self.pods.store.by_index("namespace", namespace)
                if selector.matches_object(p) and not (p.get("metadata") or {}).get("deletionTimestamp")
                and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
        listed = await self.client.request("GET", _METRICS_PATH.format(namespace=namespace))
        usage = {m["metadata"]["name"]: _usage_milli(m) for m in listed.get("items") or []}
        return [PodSample(p["metadata"]["name"], is_pod_ready(p), _pod_request_milli(p),
                          usage.get(p["metadata"]["name"])) for p in pods]

    async def _write_status(self, hpa: Obj, status: Obj) -> None:
        old = hpa.get("status") or {}
        if "lastScaleTime" not in status and old.get("lastScaleTime"):
            status["lastScaleTime"] = old["lastScaleTime"]
        status["observedGeneration"] = (hpa.get("metadata") or {}).get("generation")
        if {k: v for k, v in old.items()} == status:
            return
        try:
            await self.client.update_status(HORIZONTAL_POD_AUTOSCALERS, {**hpa, "status": status})
        except ApiError as exc:  # a conflict: the next sync writes it again
            log.debug("hpa status %s: %s", hpa["metadata"]["name"], exc)

    async def _warn(self, hpa: Obj, reason: str, message: str) -> None:
        await self.ctx.recorder.record(hpa, "Warning", reason, message)
