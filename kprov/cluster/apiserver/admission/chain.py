"""The admission chain: one ordered list of named plugins, run from one function.

Design (upstream's ``admission.chainAdmissionHandler``): a :class:`Plugin` is a name and
its :class:`Step` s; a step says at which :class:`Stage` of a write it runs, for which
operations (CREATE, UPDATE, DELETE, CONNECT) and which resources (``handles``), and what
it does (an async function of the context and the attributes; a mutating step may return
a new object). :meth:`AdmissionChain.run` is the only caller of any step: the handlers
name the stage, the chain runs the steps of that stage in the plugins' order.

The stages are where the handlers stop to admit a write:

- ``MUTATE``: after defaulting, before the object's validation (LimitRanger, mutating
  webhooks); upstream's admit step;
- ``VALIDATE``: after the object's validation (Pod Security, the CSR checks,
  ValidatingAdmissionPolicy, validating webhooks); upstream's validate step;
- ``STORE``: as the write is about to be stored, after managedFields are recorded: the
  built-in plugins that look things up or allocate (namespace lifecycle, ServiceAccount,
  Priority, RuntimeClass, default classes, ResourceQuota's charge) and the storage
  strategies' checks (RBAC escalation, a CRD's names, a Service's addresses). Upstream runs
  the built-in mutating plugins before the webhooks; kprov kept the order its handlers
  always had (see docs/decisions/0054-admission-chain-and-handler-table.md).

What a request pays: the steps that apply to one (stage, operation, resource) are chosen
once and kept (:class:`_Plan`, found by dictionary reads of strings the request already
holds, no key built); running them is a loop over a tuple. A CREATE of a subresource (a
pod's ``binding``) has plans of its own: its object is the subresource's kind (a Binding),
so only the steps that say they admit such an object (``subresource_creates``) run for it,
as upstream's plugins that look at a pod ignore a subresource. With metrics on, each step is
timed (one clock read) into histograms chosen with the plan, as upstream's
``apiserver_admission_controller_admission_duration_seconds`` and
``apiserver_admission_step_admission_duration_seconds``.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from time import perf_counter
from typing import TYPE_CHECKING, Any

from kprov.cluster.api.resources import ResourceInfo
from kprov.cluster.apiserver.admission.metrics import ADMISSION_BUCKETS, AdmissionMetrics, Timing
from kprov.cluster.apiserver.attributes import AdmissionAttributes, Stage
from kprov.cluster.client.metrics import Histogram

if TYPE_CHECKING:
    from kprov.cluster.apiserver.context import ApiContext

__all__ = ["ALL_OPERATIONS", "AdmissionChain", "Plugin", "Stage", "Step", "any_resource"]

ALL_OPERATIONS = frozenset({"CREATE", "UPDATE", "DELETE", "CONNECT"})
# the plans' key for a CREATE of a subresource (never an operation's name)
_SUBRESOURCE_CREATE = "CREATE/subresource"
_FIRST_BOUND = ADMISSION_BUCKETS[0]  # (the histograms' first bucket: where nearly every step falls)

StepFunction = Callable[["ApiContext", AdmissionAttributes], Awaitable[Any]]


def any_resource(info: ResourceInfo) -> bool:
    return True


@dataclass(frozen=True)
class Step:
    stage: Stage
    operations: frozenset[str]
    run: StepFunction  # a mutating step returns the new object (None or the same: unchanged)
    handles: Callable[[ResourceInfo], bool] = any_resource
    # runs for a CREATE of a subresource too (its object is the subresource's kind, a
    # Binding): the webhooks, the policies, the namespace's lifecycle
    subresource_creates: bool = False
    # runs for a CREATE of a subresource only (NodeRestriction's eviction check): no cost to
    # the resource's own creates
    only_subresource_creates: bool = False


@dataclass(frozen=True)
class Plugin:
    name: str  # upstream's name where upstream has the plugin; the metrics' ``name``
    steps: tuple[Step, ...]
    # on or off by its name in the enabled set (--enable/--disable-admission-plugins); False
    # for a storage strategy's check that upstream runs outside admission, and for a plugin
    # that carries several upstream plugins and switches each inside: always in the chain
    switchable: bool = True


@dataclass(frozen=True)
class _Plan:
    info: ResourceInfo  # the plan is for this very object (a CRD's new version is another)
    steps: tuple[StepFunction, ...]
    # per step, when metrics are on: the step and its plugin's (admitted, rejected) histograms
    timed: tuple[tuple[StepFunction, Histogram, Histogram], ...]
    stage: Timing | None


class AdmissionChain:
    """The ordered plugins of one API server; :meth:`run` admits one stage of one write.
    ``enabled`` names the switchable plugins that are on (:func:`.names.enabled_plugins`);
    None keeps every plugin."""

    def __init__(
        self,
        plugins: Sequence[Plugin],
        enabled: Collection[str] | None = None,
        metrics: AdmissionMetrics | None = None,
    ) -> None:
        self.plugins = tuple(
            p for p in plugins if enabled is None or not p.switchable or p.name in enabled
        )
        self.metrics = metrics
        # stage -> operation -> group -> resource -> plan
        self._plans: dict[Stage, dict[str, dict[str, dict[str, _Plan]]]] = {
            stage: {op: {} for op in (*ALL_OPERATIONS, _SUBRESOURCE_CREATE)} for stage in Stage
        }

    def names(self, stage: Stage, operation: str, info: ResourceInfo, subresource: str = "") -> list[str]:
        """The plugins whose steps ``run`` would call, in order (for tests and docs)."""
        return [p.name for p, _ in self._chosen(stage, operation, info, subresource)]

    def _chosen(
        self, stage: Stage, operation: str, info: ResourceInfo, subresource: str
    ) -> list[tuple[Plugin, Step]]:
        subresource_create = bool(subresource) and operation == "CREATE"
        return [
            (plugin, step)
            for plugin in self.plugins
            for step in plugin.steps
            if step.stage is stage
            and operation in step.operations
            and step.handles(info)
            and (step.subresource_creates or not subresource_create)
            and (subresource_create or not step.only_subresource_creates)
        ]

    def _plan(self, stage: Stage, operation: str, info: ResourceInfo, subresource: str, key: str) -> _Plan:
        """The plan, kept under ``key`` (the operation, or a subresource create's own key)."""
        chosen = self._chosen(stage, operation, info, subresource)
        metrics = self.metrics
        timed: tuple[tuple[StepFunction, Histogram, Histogram], ...] = ()
        stage_timing = None
        if metrics is not None:
            timings = [metrics.plugin(p.name, stage.metric_type, operation) for p, _ in chosen]
            timed = tuple(
                (step.run, timing.admitted, timing.rejected)
                for (_, step), timing in zip(chosen, timings, strict=True)
            )
            stage_timing = metrics.step(stage.metric_type, operation)
        plan = _Plan(info, tuple(step.run for _, step in chosen), timed, stage_timing)
        self._plans[stage][key].setdefault(info.group, {})[info.resource] = plan
        return plan

    async def run(self, ctx: ApiContext, stage: Stage, attrs: AdmissionAttributes) -> AdmissionAttributes:
        """Run the stage's steps for this write, in order; returns the attributes with the
        object the mutating steps made (a refusal raises the plugin's error)."""
        info, operation = attrs.info, attrs.operation
        key = _SUBRESOURCE_CREATE if attrs.subresource and operation == "CREATE" else operation
        by_group = self._plans[stage][key].get(info.group)
        plan = by_group.get(info.resource) if by_group is not None else None
        if plan is None or plan.info is not info:
            plan = self._plan(stage, operation, info, attrs.subresource, key)
        whole = plan.stage
        if whole is None:
            for step in plan.steps:
                new = await step(ctx, attrs)
                if new is not None and new is not attrs.obj:
                    attrs = attrs.with_object(new)
            return attrs
        # Each step timed, here rather than in a helper coroutine (one await less a stage):
        # one clock read per step (a step's time runs from the previous one's end), so the
        # metrics add one read and one observation a plugin.
        # An admitted step's observation is Histogram.observe written out (no call; the
        # bisection only past the first bucket): a dozen of them a pod create.
        started = begun = perf_counter()
        for step, admitted, rejected in plan.timed:
            try:
                new = await step(ctx, attrs)
            except BaseException:
                ended = perf_counter()
                rejected.observe(ended - begun)
                whole.rejected.observe(ended - started)
                raise
            ended = perf_counter()
            took = ended - begun
            admitted.counts[0 if took <= _FIRST_BOUND else bisect_left(ADMISSION_BUCKETS, took)] += 1
            admitted.total += took
            begun = ended
            if new is not None and new is not attrs.obj:
                attrs = attrs.with_object(new)
        took = begun - started
        stage_admitted = whole.admitted
        stage_admitted.counts[0 if took <= _FIRST_BOUND else bisect_left(ADMISSION_BUCKETS, took)] += 1
        stage_admitted.total += took
        return attrs
