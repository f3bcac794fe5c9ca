"""Job: run pods until ``spec.completions`` succeed, or fail the Job, as kube-controller-manager's
job controller does.

Design. Every pod the controller creates carries the ``batch.kubernetes.io/job-tracking``
finalizer, so a finished pod stays visible until it is counted. Counting is three steps,
each safe to repeat after a crash: (1) the uids of newly finished pods go into
``status.uncountedTerminatedPods`` (Indexed Jobs record succeeded indexes in
``completedIndexes`` instead), (2) their finalizers are removed, (3) the uncounted uids move
into ``succeeded``/``failed``. A pod without the finalizer is never counted, so nothing is
counted twice; uids whose finalizer removal is under way are remembered so a pod cache that
lags the Job cache cannot count a pod again.

Pods are created up to ``parallelism`` (fewer when fewer completions remain), after failures
only once the exponential back-off has passed (:func:`.jobstate.backoff_delay`). Failure
(backoffLimit, activeDeadlineSeconds, a podFailurePolicy FailJob rule) first sets
FailureTarget and deletes the active pods (counted failed); Failed follows once none is left.
Success sets SuccessCriteriaMet, then Complete with completionTime. ``spec.suspend`` removes
the active pods (not counted) and sets Suspended; resuming restarts ``startTime``.
Orphans the selector matches are adopted (with the tracking finalizer) and owned pods it
no longer matches released (without it), as upstream's pod claiming (:mod:`.pod_claims`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from typing import Any

from kprov.cluster.api.objects import controller_ref, format_time, set_condition
from kprov.cluster.api.selectors import LabelSelector, label_selector_from_object
from kprov.cluster.client.errors import ApiError, NotFound
from kprov.cluster.client.informer import EventHandler
from kprov.cluster.client.resources import JOBS, PODS
from kprov.cluster.client.runner import run_workers
from kprov.cluster.client.store import index_by_namespace, object_key
from kprov.cluster.controllers.base import Controller, Expectations, Obj
from kprov.cluster.controllers.informers import index_by_controller_uid, index_orphans_by_namespace
from kprov.cluster.controllers.workloads.job_verdicts import (
    REACHED,
    condition,
    failure_verdict,
    is_active,
    is_terminating,
    is_tracked,
    success_reached,
    tidy_status,
    true_condition,
    uncounted_pods,
)
from kprov.cluster.controllers.workloads.jobstate import (
    COMPLETION_INDEX,
    TRACKING_FINALIZER,
    backoff_delay,
    format_indexes,
    is_finished,
    is_pod_failed,
    is_pod_succeeded,
    judge_failed_pod,
    parse_indexes,
    pod_index,
)
from kprov.cluster.controllers.workloads.pod_claims import adopt_orphans, release_unmatched
from kprov.cluster.controllers.workloads.pods import deletion_rank, is_ready, pod_from_template

__all__ = ["JobController"]

log = logging.getLogger(__name__)

BURST = 500
SYNC_WORKERS = 16  # a Job's syncs are short chains of API calls: more of them overlap the waits
_ORPHAN = "pod:"


def _selector(job: Obj) -> LabelSelector:
    return label_selector_from_object((job.get("spec") or {}).get("selector"))


class JobController(Controller):
    name = "job"
    identity = "job-controller"

    def setup(self) -> None:
        self.expectations = Expectations()
        self.finalizers_pending: dict[str, set[str]] = {}
        self.backoff: dict[str, tuple[int, float]] = {}
        self.pods = self.ctx.informers.get(PODS, {"controller": index_by_controller_uid,
                                                  "namespace": index_by_namespace,
                                                  "orphans": index_orphans_by_namespace})
        self.jobs = self.ctx.informers.get(JOBS, {"uid": lambda o: [o["metadata"].get("uid", "")]})
        self.jobs.add_handler(EventHandler(self.enqueue, lambda _o, n: self.enqueue(n), self._job_deleted))
        self.pods.add_handler(EventHandler(self._pod_added, self._pod_updated, self._pod_deleted))

    async def run(self) -> None:
        await run_workers(self.name, self.queue, self._reconcile, max(self.ctx.options.workers, SYNC_WORKERS))

    # -- events ----------------------------------------------------------------------------

    def _job_deleted(self, job: Obj) -> None:
        key = object_key(job)
        self.expectations.forget(key)
        self.backoff.pop(key, None)
        self.finalizers_pending.pop(key, None)
        for pod in self.pods.store.by_index("controller", job["metadata"].get("uid", "")):
            if is_tracked(pod):
                self.queue.add(_ORPHAN + object_key(pod))

    def _owner_key(self, pod: Obj) -> str | None:
        ref = controller_ref(pod)
        if ref is None or ref.get("kind") != "Job":
            if is_tracked(pod):  # released by its Job (or adopted away): nobody tracks it now
                self.queue.add(_ORPHAN + object_key(pod))
            if ref is None:
                self._maybe_adopt(pod)
            return None
        if not self.jobs.store.by_index("uid", ref.get("uid", "")):
            if is_tracked(pod):
                self.queue.add(_ORPHAN + object_key(pod))
            return None
        return f"{pod['metadata']['namespace']}/{ref['name']}"

    def _maybe_adopt(self, pod: Obj) -> None:
        """Queue the Jobs whose selector matches a pod without a controller (an orphan)."""
        meta = pod["metadata"]
        for job in self.jobs.store.items():
            same_namespace = job["metadata"].get("namespace") == meta.get("namespace")
            if same_namespace and _selector(job).matches(meta.get("labels")):
                self.queue.add(object_key(job))

    def _pod_added(self, pod: Obj) -> None:
        key = self._owner_key(pod)
        if key is not None:
            self.expectations.observe_event(key, None, pod)
            self.queue.add(key)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        key = self._owner_key(new)
        if key is None:
            return
        if not is_tracked(new):
            self.finalizers_pending.get(key, set()).discard(new["metadata"].get("uid", ""))
        self.queue.add(key)

    def _pod_deleted(self, pod: Obj) -> None:
        key = self._owner_key(pod)
        if key is None:
            return
        self.finalizers_pending.get(key, set()).discard(pod["metadata"].get("uid", ""))
        self.queue.add(key)

    # -- reconcile -------------------------------------------------------------------------

    async def reconcile(self, key: str) -> float | None:
        if key.startswith(_ORPHAN):
            await self._release_orphan(key[len(_ORPHAN) :])
            return None
        job = self.jobs.store.get(key)
        if job is None:
            self.expectations.forget(key)
            return None
        job = {"apiVersion": "batch/v1", "kind": "Job", **job}
        uid = job["metadata"].get("uid", "")
        pods = [
            p
            for p in self.pods.store.by_index("controller", uid)
            if p["metadata"].get("namespace") == job["metadata"]["namespace"]
        ]
        if is_finished(job) or job["metadata"].get("deletionTimestamp"):
            await self._remove_finalizers(key, [p for p in pods if is_tracked(p)])
            return None
        selector = _selector(job)
        orphans = self.pods.store.by_index("orphans", job["metadata"]["namespace"])
        await adopt_orphans(self.client, job, selector, orphans, TRACKING_FINALIZER)
        pods = await release_unmatched(self.client, job, selector, pods, TRACKING_FINALIZER)
        return await self._sync(key, job, pods)

    async def _release_orphan(self, pod_key: str) -> None:
        pod = self.pods.store.get(pod_key)
        if pod is None or not is_tracked(pod):
            return
        ref = controller_ref(pod) or {}
        if self.jobs.store.by_index("uid", ref.get("uid", "")):
            return
        await self._remove_finalizers("", [pod])

    async def _remove_finalizers(self, key: str, pods: list[Obj]) -> None:
        if not pods:
            return
        pending = self.finalizers_pending.setdefault(key, set()) if key else set()

        async def one(pod: Obj) -> None:
            meta = pod["metadata"]
            kept = [f for f in meta.get("finalizers") or [] if f != TRACKING_FINALIZER]
            patch = {"metadata": {"finalizers": kept or None, "resourceVersion": meta["resourceVersion"]}}
            pending.add(meta.get("uid", ""))
            try:
                await self.client.patch(PODS, meta["name"], patch, meta["namespace"])
            except NotFound:
                pending.discard(meta.get("uid", ""))
            except ApiError:
                pending.discard(meta.get("uid", ""))
                raise

        results = await asyncio.gather(*(one(p) for p in pods), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]

    async def _sync(self, key: str, job: Obj, pods: list[Obj]) -> float | None:
        spec = job.get("spec") or {}
        old_status = job.get("status") or {}
        status: dict[str, Any] = {**old_status}
        now = dt.datetime.now(dt.UTC)
        stamp = format_time(now)
        indexed = spec.get("completionMode") == "Indexed"
        completions = spec.get("completions")
        wait_terminal = bool(spec.get("podFailurePolicy")) or spec.get("podReplacementPolicy") == "Failed"
        pending = self.finalizers_pending.get(key, set())
        uncounted = status.get("uncountedTerminatedPods") or {}
        unc_succeeded = list(uncounted.get("succeeded") or [])
        unc_failed = list(uncounted.get("failed") or [])
        recorded = set(unc_succeeded) | set(unc_failed)
        completed = parse_indexes(status.get("completedIndexes"), completions) if indexed else set()
        failure_target = true_condition(status, "FailureTarget")
        new_failures = new_successes = 0
        to_release: list[Obj] = []
        for pod in pods:
            pod_uid = pod["metadata"].get("uid", "")
            if not is_tracked(pod) or pod_uid in pending:
                continue
            if pod_uid in recorded:
                to_release.append(pod)
            elif is_pod_succeeded(pod):
                to_release.append(pod)
                new_successes += 1
                index = pod_index(pod) if indexed else None
                if indexed:
                    if index is not None and completions is not None and 0 <= index < completions:
                        completed.add(index)
                else:
                    unc_succeeded.append(pod_uid)
            elif is_pod_failed(pod, wait_terminal=wait_terminal) or (
                failure_target is not None and pod["metadata"].get("deletionTimestamp")
            ):
                to_release.append(pod)
                verdict = judge_failed_pod(job, pod) if spec.get("podFailurePolicy") else None
                if verdict is not None and verdict.action == "Ignore":
                    continue
                unc_failed.append(pod_uid)
                new_failures += 1
                if verdict is not None and verdict.action == "FailJob" and failure_target is None:
                    failure_target = condition("FailureTarget", "PodFailurePolicy", verdict.message, stamp)
        self._note_backoff(key, new_successes, new_failures)
        if to_release or unc_succeeded or unc_failed:
            # (1) record what is about to be counted, (2) release the pods, (3) count them
            flushed = {
                **status,
                "uncountedTerminatedPods": uncounted_pods(unc_succeeded, unc_failed),
            }
            if indexed:
                flushed["completedIndexes"] = format_indexes(completed)
            if flushed != old_status:
                job = await self.client.update_status(JOBS, {**job, "status": flushed})
                status = {**flushed}
            await self._remove_finalizers(key, to_release)
            status["succeeded"] = int(status.get("succeeded") or 0) + len(unc_succeeded)
            status["failed"] = int(status.get("failed") or 0) + len(unc_failed)
            status["uncountedTerminatedPods"] = {}
        if indexed:
            status["succeeded"] = len(completed)
            status["completedIndexes"] = format_indexes(completed)
        return await self._decide(key, job, pods, status, failure_target, completed, now)

    def _note_backoff(self, key: str, successes: int, failures: int) -> None:
        count, last = self.backoff.get(key, (0, 0.0))
        if successes:
            count = 0
        if failures:
            count, last = count + failures, time.monotonic()
        if count:
            self.backoff[key] = (count, last)
        else:
            self.backoff.pop(key, None)

    async def _decide(
        self,
        key: str,
        job: Obj,
        pods: list[Obj],
        status: dict[str, Any],
        failure_target: dict[str, Any] | None,
        completed: set[int],
        now: dt.datetime,
    ) -> float | None:
        spec = job.get("spec") or {}
        stamp = format_time(now)
        indexed = spec.get("completionMode") == "Indexed"
        given_parallelism = spec.get("parallelism")
        parallelism = int(given_parallelism if given_parallelism is not None else 1)
        active = [p for p in pods if is_active(p)]
        again: float | None = None
        suspended = bool(spec.get("suspend"))

        await self._note_suspension(job, status, suspended, stamp)
        if failure_target is None and not suspended:
            failure_target = true_condition(status, "FailureTarget")
        if failure_target is None and not suspended:
            failure_target, again = failure_verdict(spec, status, active, now)
        if failure_target is not None:
            set_condition(status, {**failure_target, "lastProbeTime": stamp}, stamp)

        success = failure_target is None and success_reached(spec, status, completed, active)
        if success:
            met = condition("SuccessCriteriaMet", "CompletionsReached", REACHED, stamp)
            set_condition(status, met, stamp)

        if failure_target is not None:
            await self._delete_pods(job, active, keep_finalizer=True)
            active = []
        elif success or suspended:
            await self._delete_pods(job, active, keep_finalizer=False)
            active = []
        else:
            active, wait = await self._manage(key, job, active, status, completed, parallelism)
            again = min(again, wait) if again is not None and wait is not None else (again or wait)

        terminating = [p for p in pods if is_terminating(p)]
        if not active and not any(is_tracked(p) and is_terminating(p) for p in pods):
            await self._finish(job, status, failure_target, success, stamp)

        status["active"] = len(active)
        status["ready"] = sum(1 for p in active if is_ready(p))
        status["terminating"] = len(terminating)
        tidy_status(status, indexed=indexed)
        if status != (job.get("status") or {}):
            try:
                await self.client.update_status(JOBS, {**job, "status": status})
            except NotFound:
                return None
        return again

    async def _note_suspension(self, job: Obj, status: dict[str, Any], suspended: bool, stamp: str) -> None:
        """The Suspended condition and the start time: a suspended Job has no start time, a
        resumed one gets a new one (the Job controller's suspend and resume)."""
        if suspended:
            if set_condition(status, condition("Suspended", "JobSuspended", "Job suspended", stamp), stamp):
                await self.ctx.recorder.record(job, "Normal", "Suspended", "Job suspended")
            status.pop("startTime", None)
            return
        if true_condition(status, "Suspended") is not None:
            resumed = {**condition("Suspended", "JobResumed", "Job resumed", stamp), "status": "False"}
            set_condition(status, resumed, stamp)
            await self.ctx.recorder.record(job, "Normal", "Resumed", "Job resumed")
            status.pop("startTime", None)
        status.setdefault("startTime", stamp)

    async def _finish(
        self, job: Obj, status: dict[str, Any], failure_target: Obj | None, success: bool, stamp: str
    ) -> None:
        """The terminal condition, once no pod is active or terminating: Failed from the
        failure target, or Complete (with the completion time) when the success criteria met."""
        if failure_target is not None:
            final = {**failure_target, "type": "Failed", "lastProbeTime": stamp, "lastTransitionTime": stamp}
            if set_condition(status, final, stamp):
                await self.ctx.recorder.record(job, "Warning", final["reason"], final["message"])
        elif success:
            done = condition("Complete", "CompletionsReached", REACHED, stamp)
            if set_condition(status, done, stamp):
                status["completionTime"] = stamp
                await self.ctx.recorder.record(job, "Normal", "Completed", "Job completed")

    async def _manage(
        self,
        key: str,
        job: Obj,
        active: list[Obj],
        status: dict[str, Any],
        completed: set[int],
        parallelism: int,
    ) -> tuple[list[Obj], float | None]:
        """Create or delete pods so the right number run; returns (active pods, requeue after)."""
        spec = job.get("spec") or {}
        completions = spec.get("completions")
        succeeded = int(status.get("succeeded") or 0)
        if not self.expectations.satisfied(key):
            return active, None
        if spec.get("completionMode") == "Indexed":
            by_index: dict[int, list[Obj]] = {}
            for pod in active:
                index = pod_index(pod)
                by_index.setdefault(index if index is not None else -1, []).append(pod)
            surplus = [
                p for i, group in by_index.items() for p in (group if i < 0 or i in completed else group[1:])
            ]
            running = {i for i in by_index if i >= 0 and i not in completed}
            wanted = [i for i in range(int(completions or 0)) if i not in completed and i not in running]
            room = max(parallelism - len(running), 0)
            if surplus:
                await self._delete_pods(job, surplus, keep_finalizer=False)
                active = [p for p in active if p not in surplus]
            if len(running) > parallelism:
                extra = sorted((by_index[i][0] for i in running), key=deletion_rank)[
                    : len(running) - parallelism
                ]
                await self._delete_pods(job, extra, keep_finalizer=False)
                active = [p for p in active if p not in extra]
            to_create: list[int | None] = list(wanted[:room])
        else:
            want = parallelism
            if completions is not None:
                want = min(parallelism, max(int(completions) - succeeded, 0))
            elif succeeded > 0:
                want = len(active)  # after a success, leave whatever runs running (upstream)
            diff = want - len(active)
            if diff < 0:
                extra = sorted(active, key=deletion_rank)[:-diff]
                await self._delete_pods(job, extra, keep_finalizer=False)
                return [p for p in active if p not in extra], None
            to_create = [None] * diff
        if not to_create:
            return active, None
        count, last = self.backoff.get(key, (0, 0.0))
        left = last + backoff_delay(count) - time.monotonic()
        if count and left > 0:
            return active, left
        await self._create(key, job, to_create[:BURST])
        return active, None

    def _new_pod(self, job: Obj, index: int | None) -> Obj:
        name = job["metadata"]["name"]
        template = (job.get("spec") or {}).get("template") or {}
        if index is None:
            pod = pod_from_template(job, template, generate_name=f"{name}-")
        else:
            pod = pod_from_template(
                job, template, generate_name=f"{name}-{index}-", extra_labels={COMPLETION_INDEX: str(index)}
            )
            meta = pod["metadata"]
            meta["annotations"] = {**(meta.get("annotations") or {}), COMPLETION_INDEX: str(index)}
            pod["spec"].setdefault("hostname", f"{name}-{index}")
            env = {
                "name": "JOB_COMPLETION_INDEX",
                "valueFrom": {
                    "fieldRef": {
                        "apiVersion": "v1",
                        "fieldPath": f"metadata.annotations['{COMPLETION_INDEX}']",
                    }
                },
            }
            for group in ("initContainers", "containers"):
                for container in pod["spec"].get(group) or []:
                    variables = container.setdefault("env", [])
                    if not any(v.get("name") == "JOB_COMPLETION_INDEX" for v in variables):
                        variables.append(env)
        pod["metadata"]["finalizers"] = [TRACKING_FINALIZER]
        return pod

    async def _create(self, key: str, job: Obj, indexes: list[int | None]) -> None:
        self.expectations.expect(key, adds=len(indexes))

        async def one(index: int | None) -> None:
            try:
                pod = await self.client.create(PODS, self._new_pod(job, index))
            except ApiError as exc:
                self.expectations.observed_add(key)
                await self.ctx.recorder.record(
                    job, "Warning", "FailedCreate", f"Error creating: {exc.message}"
                )
                raise
            await self.ctx.recorder.record(
                job, "Normal", "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}"
            )

        results = await asyncio.gather(*(one(i) for i in indexes), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]

    async def _delete_pods(self, job: Obj, pods: list[Obj], *, keep_finalizer: bool) -> None:
        """Delete pods; unless ``keep_finalizer`` (they then count as failed) release them first."""
        if not pods:
            return
        if not keep_finalizer:
            await self._remove_finalizers(object_key(job), [p for p in pods if is_tracked(p)])

        async def one(pod: Obj) -> None:
            name = pod["metadata"]["name"]
            with contextlib.suppress(NotFound):
                await self.client.delete(PODS, name, pod["metadata"]["namespace"])
                await self.ctx.recorder.record(job, "Normal", "SuccessfulDelete", f"Deleted pod: {name}")

        await asyncio.gather(*(one(p) for p in pods))

