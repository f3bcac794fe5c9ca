"""horizontal-pod-autoscaler: scale a workload's replicas to its pods' resource usage (autoscaling/v2).

Design: as upstream's HPA controller. Each HPA (read in autoscaling/v2) is reconciled when
it changes and every ``sync_period`` (15 s) after: read the target's ``scale`` subresource
(replicas and the pod selector), the pods from the shared pod cache and their usage from
``metrics.k8s.io`` (kprov-metrics-server behind its APIService, from the kubelets' summaries). Each metric of
type ``Resource`` (cpu, memory: target ``Utilization`` of the pods' requests or
``AverageValue`` per pod) or ``ContainerResource`` (the same for one named container) gets a
proposal from :mod:`.replica_calc`; the largest wins. :mod:`.hpa_behavior` then stabilizes
and bounds it - the spec's ``behavior`` (per-direction windows and Pods/Percent policies)
when set, else the downscale window and the 2x/+4 scale-up limit. A change is written
through the scale subresource with a ``SuccessfulRescale`` event; the status
(current/desired replicas, ``currentMetrics``, lastScaleTime and the AbleToScale /
ScalingActive / ScalingLimited conditions with upstream's reasons) is written when it
changes. A target scaled to zero by hand is left alone (ScalingActive False,
ScalingDisabled). Pods and External/Object metrics need a custom or external metrics API,
which this cluster does not serve: they fail as upstream's do without one.

Recommendations and scale events are kept per HPA in this controller (lost on restart: the
windows then start empty, as upstream's). Targets: Deployments, ReplicaSets, StatefulSets
and ReplicationControllers.
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from kprov.cluster.api.objects import is_pod_ready, parse_quantity
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
from kprov.cluster.client.timeutil import format_time
from kprov.cluster.controllers.autoscaling import hpa_behavior
from kprov.cluster.controllers.autoscaling.replica_calc import (
    DEFAULT_CPU_TARGET,
    MissingRequest,
    NoMetrics,
    PodSample,
    propose,
)
from kprov.cluster.controllers.base import Controller, Obj

__all__ = ["PodAutoscalerController", "milli_quantity"]

log = logging.getLogger(__name__)

_TARGETS: dict[tuple[str, str], Resource] = {
    (r.group, r.kind): r for r in (DEPLOYMENTS, REPLICASETS, STATEFULSETS, REPLICATION_CONTROLLERS)
}
_METRICS_PATH = "/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods"
_SUFFIXES = ("", "k", "M", "G", "T", "P", "E")


def _milli(value: Any) -> int:
    return int((parse_quantity(value) * 1000).to_integral_value(rounding="ROUND_CEILING"))


def milli_quantity(milli: int) -> str:
    """A milli-unit count as a canonical decimal quantity (``250m``, ``2``, ``12M``)."""
    if milli % 1000:
        return f"{milli}m"
    whole, index = milli // 1000, 0
    while whole and whole % 1000 == 0 and index < len(_SUFFIXES) - 1:
        whole, index = whole // 1000, index + 1
    return f"{whole}{_SUFFIXES[index]}"


@dataclass
class _History:
    recommendations: tuple[hpa_behavior.Recommendation, ...] = ()
    up: tuple[hpa_behavior.ScaleEvent, ...] = ()
    down: tuple[hpa_behavior.ScaleEvent, ...] = ()


@dataclass
class _Computed:
    replicas: int = -1
    name: str = ""  # the metric that asked for the most
    statuses: list[Obj] = field(default_factory=list)
    error: tuple[str, str] | None = None  # the first failure: condition reason, message
    failure: str = ""  # why no count could be computed (the FailedComputeMetricsReplicas event)


def _set_condition(conditions: list[Obj], kind: str, status: str, reason: str, message: str) -> None:
    for cond in conditions:
        if cond.get("type") == kind:
            if cond.get("status") != status:
                cond["lastTransitionTime"] = format_time()
            cond.update(status=status, reason=reason, message=message)
            return
    conditions.append(
        {
            "type": kind,
            "status": status,
            "lastTransitionTime": format_time(),
            "reason": reason,
            "message": message,
        }
    )


class _MetricError(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class PodAutoscalerController(Controller):
    name = "horizontal-pod-autoscaler"
    identity = "horizontal-pod-autoscaler"
    sync_period = 15.0
    downscale_stabilization = 300.0

    def setup(self) -> None:
        self.hpas = self.ctx.informers.get(HORIZONTAL_POD_AUTOSCALERS)
        self.pods = self.ctx.informers.get(PODS, {"namespace": index_by_namespace})
        self.hpas.add_handler(EventHandler(self.enqueue, lambda _o, n: self.enqueue(n), lambda _o: None))
        self.downscale_stabilization = self.ctx.options.hpa_downscale_stabilization
        self._history: dict[str, _History] = {}

    async def reconcile(self, key: str) -> float | None:
        stored = self.hpas.store.get(key)
        if stored is None or (stored.get("metadata") or {}).get("deletionTimestamp"):
            self._history.pop(key, None)
            return None
        hpa = copy.deepcopy(stored)
        namespace = hpa["metadata"]["namespace"]
        spec = hpa.get("spec") or {}
        old_status = hpa.get("status") or {}
        conditions: list[Obj] = copy.deepcopy(old_status.get("conditions") or [])
        status: Obj = {
            "currentReplicas": old_status.get("currentReplicas", 0),
            "desiredReplicas": old_status.get("desiredReplicas", 0),
        }
        ref = spec.get("scaleTargetRef") or {}
        found = await self._scale(hpa, ref, namespace)
        if isinstance(found, str):
            _set_condition(conditions, "AbleToScale", "False", "FailedGetScale", found)
            await self._write_status(hpa, status, conditions)
            return self.sync_period
        target, scale = found
        _set_condition(
            conditions,
            "AbleToScale",
            "True",
            "SucceededGetScale",
            "the HPA controller was able to get the target's current scale",
        )
        current = int((scale.get("spec") or {}).get("replicas") or 0)
        status["currentReplicas"] = current
        outcome = await self._desired(key, hpa, scale, current, status, conditions)
        if outcome is None:  # no replica count from the metrics: said in the conditions
            await self._write_status(hpa, status, conditions)
            return self.sync_period
        desired, reason = outcome
        if desired != current:
            if not await self._rescale(hpa, target, scale, desired, reason, conditions):
                await self._write_status(hpa, status, conditions)
                return self.sync_period
            self._store_event(key, spec.get("behavior"), current, desired)
            status["lastScaleTime"] = format_time()
            log.info("hpa %s: %s/%s %d -> %d", key, target.kind, ref.get("name"), current, desired)
        status["desiredReplicas"] = desired
        await self._write_status(hpa, status, conditions)
        return self.sync_period

    async def _desired(
        self, key: str, hpa: Obj, scale: Obj, current: int, status: Obj, conditions: list[Obj]
    ) -> tuple[int, str] | None:
        """The replica count to scale to and why, within min/max and the behavior's limits;
        None when the metrics give none (conditions and a warning say why)."""
        spec = hpa.get("spec") or {}
        minimum = int(spec.get("minReplicas") or 1)
        maximum = int(spec.get("maxReplicas") or minimum)
        if current == 0 and minimum != 0:
            _set_condition(
                conditions,
                "ScalingActive",
                "False",
                "ScalingDisabled",
                "scaling is disabled since the replica count of the target is zero",
            )
            return 0, ""
        if current > maximum:
            return maximum, "Current number of replicas above Spec.MaxReplicas"
        if current < minimum:
            return minimum, "Current number of replicas below Spec.MinReplicas"
        computed = await self._compute(hpa, scale, current)
        status["currentMetrics"] = computed.statuses
        if computed.replicas < 0:
            error = computed.error or ("FailedGetResourceMetric", "no metrics")
            _set_condition(
                conditions,
                "ScalingActive",
                "False",
                error[0],
                f"the HPA was unable to compute the replica count: {error[1]}",
            )
            await self._warn(hpa, "FailedComputeMetricsReplicas", computed.failure or error[1])
            return None
        _set_condition(
            conditions,
            "ScalingActive",
            "True",
            "ValidMetricFound",
            f"the HPA was able to successfully calculate a replica count from {computed.name}",
        )
        proposed, reason = computed.replicas, ""
        if proposed > current:
            reason = f"{computed.name} above target"
        elif proposed < current:
            reason = "All metrics below target"
        return self._normalize(key, spec, current, proposed, minimum, maximum, conditions), reason

    async def _rescale(
        self, hpa: Obj, target: Any, scale: Obj, desired: int, reason: str, conditions: list[Obj]
    ) -> bool:
        """Write the target's new scale; False (with a warning and the condition) if refused."""
        scale["spec"]["replicas"] = desired
        try:
            await self.client.update(target, scale, subresource="scale")
        except ApiError as exc:
            await self._warn(hpa, "FailedRescale", f"New size: {desired}; reason: {reason}; error: {exc}")
            _set_condition(
                conditions,
                "AbleToScale",
                "False",
                "FailedUpdateScale",
                f"the HPA controller was unable to update the target scale: {exc}",
            )
            return False
        _set_condition(
            conditions,
            "AbleToScale",
            "True",
            "SucceededRescale",
            f"the HPA controller was able to update the target scale to {desired}",
        )
        message = f"New size: {desired}; reason: {reason}"
        await self.ctx.recorder.record(hpa, "Normal", "SuccessfulRescale", message)
        return True

    def _normalize(
        self,
        key: str,
        spec: Obj,
        current: int,
        proposed: int,
        minimum: int,
        maximum: int,
        conditions: list[Obj],
    ) -> int:
        history = self._history.setdefault(key, _History())
        now = time.monotonic()
        behavior = spec.get("behavior")
        if isinstance(behavior, dict):
            result = hpa_behavior.normalize_with_behavior(
                now,
                history.recommendations,
                current,
                proposed,
                minimum,
                maximum,
                behavior,
                self.downscale_stabilization,
                history.up,
                history.down,
            )
        else:
            result = hpa_behavior.normalize_default(
                now,
                history.recommendations,
                current,
                proposed,
                minimum,
                maximum,
                self.downscale_stabilization,
            )
        history.recommendations = result.history
        _set_condition(conditions, "AbleToScale", "True", result.able_reason, result.able_message)
        _set_condition(
            conditions,
            "ScalingLimited",
            "True" if result.limited else "False",
            result.limited_reason,
            result.limited_message,
        )
        return result.replicas

    def _store_event(self, key: str, behavior: Any, current: int, desired: int) -> None:
        if not isinstance(behavior, dict):
            return
        history = self._history.setdefault(key, _History())
        now = time.monotonic()
        if desired > current:
            history.up = hpa_behavior.record_scale_event(
                now, history.up, desired - current, behavior.get("scaleUp") or {}
            )
        else:
            history.down = hpa_behavior.record_scale_event(
                now, history.down, current - desired, behavior.get("scaleDown") or {}
            )

    async def _scale(self, hpa: Obj, ref: Obj, namespace: str) -> tuple[Resource, Obj] | str:
        """The target's resource and scale subresource, or why not (with a warning event)."""
        group = str(ref.get("apiVersion") or "").rpartition("/")[0]
        target = _TARGETS.get((group, str(ref.get("kind") or "")))
        prefix = "the HPA controller was unable to get the target's current scale"
        if target is None:
            message = f"{prefix}: no scale subresource known for {ref.get('apiVersion')}/{ref.get('kind')}"
        else:
            try:
                return target, await self.client.get(
                    target, str(ref.get("name")), namespace, subresource="scale"
                )
            except NotFound:
                message = f'{prefix}: {target.plural}.{target.group or "core"} "{ref.get("name")}" not found'
        await self._warn(hpa, "FailedGetScale", message)
        return message

    async def _compute(self, hpa: Obj, scale: Obj, current: int) -> _Computed:
        """Each metric's proposal and status; the largest proposal (-1 when none worked)."""
        result = _Computed()
        metrics = (hpa.get("spec") or {}).get("metrics") or []
        pods: list[tuple[Obj, Obj | None]] | None = None
        for metric in metrics:
            kind = metric.get("type")
            try:
                if kind not in ("Resource", "ContainerResource"):
                    raise _MetricError(
                        f"FailedGet{kind}Metric",
                        f"unable to get {str(kind).lower()} metric: no custom or external metrics "
                        "API is served",
                    )
                if pods is None:
                    pods = await self._pods(hpa["metadata"]["namespace"], scale)
                replicas, name, metric_status = self._resource_metric(metric, pods, current)
            except _MetricError as exc:
                await self._warn(hpa, exc.reason, str(exc))
                result.error = result.error or (exc.reason, str(exc))
                continue
            result.statuses.append(metric_status)
            if replicas > result.replicas:
                result.replicas, result.name = replicas, name
        invalid = len(metrics) - len(result.statuses)
        # as upstream: with a metric missing, never scale down on the others' word alone
        if result.error is not None and (invalid >= len(metrics) or result.replicas < current):
            result.replicas = -1
            result.failure = (
                f"invalid metrics ({invalid} invalid out of {len(metrics)}), "
                f"first error is: {result.error[1]}"
            )
        return result

    async def _pods(self, namespace: str, scale: Obj) -> list[tuple[Obj, Obj | None]]:
        """The target's live pods with their PodMetrics (None: no sample)."""
        try:
            selector = parse_label_selector(str((scale.get("status") or {}).get("selector") or ""))
        except SelectorError as exc:
            raise _MetricError(
                "InvalidSelector",
                f"couldn't convert selector into a corresponding internal selector object: {exc}",
            ) from None
        if selector.empty:
            raise _MetricError("SelectorRequired", "selector is required")
        pods = [
            p
            for p in self.pods.store.by_index("namespace", namespace)
            if selector.matches_object(p)
            and not (p.get("metadata") or {}).get("deletionTimestamp")
            and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
        ]
        try:
            listed = await self.client.request("GET", _METRICS_PATH.format(namespace=namespace))
        except ApiError as exc:
            raise _MetricError(
                "FailedGetResourceMetric",
                f"unable to get metrics for resource: unable to fetch metrics from resource "
                f"metrics API: {exc}",
            ) from None
        usage = {m["metadata"]["name"]: m for m in listed.get("items") or []}
        return [(p, usage.get(p["metadata"]["name"])) for p in pods]

    def _resource_metric(
        self, metric: Obj, pods: list[tuple[Obj, Obj | None]], current: int
    ) -> tuple[int, str, Obj]:
        field_name = "resource" if metric.get("type") == "Resource" else "containerResource"
        source = metric.get(field_name) or {}
        resource, container = str(source.get("name") or ""), source.get("container")
        target = source.get("target") or {}
        what = f"{resource} container resource" if container else f"{resource} resource"
        reason = "FailedGetContainerResourceMetric" if container else "FailedGetResourceMetric"
        samples = []
        for pod, pod_metrics in pods:
            containers = [
                c
                for c in (pod.get("spec") or {}).get("containers") or []
                if container is None or c.get("name") == container
            ]
            request = 0
            for spec_container in containers:
                value = ((spec_container.get("resources") or {}).get("requests") or {}).get(resource)
                request = -1 if value is None or request < 0 else request + _milli(value)
            usage = None
            if pod_metrics is not None:
                usage = sum(
                    _milli(((c.get("usage") or {}).get(resource)) or 0)
                    for c in pod_metrics.get("containers") or []
                    if container is None or c.get("name") == container
                )
            samples.append((pod, request, usage))
        ready = {id(p): (is_pod_ready(p) if resource == "cpu" else True) for p, _, _ in samples}
        measured = [u for p, _, u in samples if u is not None and ready[id(p)]]
        average = sum(measured) // len(measured) if measured else 0
        try:
            if target.get("averageValue") is not None:
                per_pod = _milli(target["averageValue"])
                proposal = propose(
                    current,
                    [PodSample(p["metadata"]["name"], ready[id(p)], per_pod, u) for p, _, u in samples],
                    100,
                )
                status: Obj = {"averageValue": milli_quantity(average)}
            else:
                if missing := [p["metadata"]["name"] for p, r, _ in samples if r <= 0]:
                    raise MissingRequest(
                        f"missing request for {resource} in container(s) of pod {missing[0]}"
                    )
                percent = int(target.get("averageUtilization") or DEFAULT_CPU_TARGET)
                proposal = propose(
                    current,
                    [PodSample(p["metadata"]["name"], ready[id(p)], r, u) for p, r, u in samples],
                    percent,
                )
                status = {"averageValue": milli_quantity(average), "averageUtilization": proposal.utilization}
                what = f"{what} utilization (percentage of request)"
        except (MissingRequest, NoMetrics) as exc:
            measure = "usage" if target.get("averageValue") is not None else "utilization"
            raise _MetricError(reason, f"failed to get {resource} {measure}: {exc}") from None
        metric_status: Obj = {"name": resource}
        if container:
            metric_status["container"] = container
        metric_status["current"] = status
        return proposal.replicas, what, {"type": metric.get("type"), field_name: metric_status}

    async def _write_status(self, hpa: Obj, status: Obj, conditions: list[Obj]) -> None:
        old = hpa.get("status") or {}
        if "lastScaleTime" not in status and old.get("lastScaleTime"):
            status["lastScaleTime"] = old["lastScaleTime"]
        if "currentMetrics" not in status and old.get("currentMetrics"):
            status["currentMetrics"] = old["currentMetrics"]
        if not status.get("currentMetrics"):
            status.pop("currentMetrics", None)
        status["observedGeneration"] = (hpa.get("metadata") or {}).get("generation")
        if conditions:
            status["conditions"] = conditions
        if old == status:
            return
        try:
            await self.client.update_status(HORIZONTAL_POD_AUTOSCALERS, {**hpa, "status": status})
        except ApiError as exc:  # a conflict: the next sync writes it again
            log.debug("hpa status %s: %s", hpa["metadata"]["name"], exc)

    async def _warn(self, hpa: Obj, reason: str, message: str) -> None:
        await self.ctx.recorder.record(hpa, "Warning", reason, message)
