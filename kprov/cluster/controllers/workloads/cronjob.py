"""CronJob: create a Job at each scheduled time, as kube-controller-manager's cronjob controller.

Design. One reconcile per CronJob key: (1) bring ``status.active`` in line with the Jobs it
owns (finished ones leave it with a SawCompletedJob event; a Complete one moves
``lastSuccessfulTime``; one gone from the API server leaves with MissingJob), (2) delete the
oldest finished Jobs beyond ``successfulJobsHistoryLimit`` / ``failedJobsHistoryLimit``,
(3) unless suspended, find the latest scheduled time since ``lastScheduleTime`` (or
creation; no earlier than ``startingDeadlineSeconds`` ago) in ``spec.timeZone`` and, if it
has no Job yet, create ``<name>-<minutes since the epoch>`` after applying the
concurrencyPolicy (Forbid skips while one runs, Replace deletes the running ones). The key
is looked at again just after the next scheduled time. Events and their wording are
upstream's. Cron arithmetic is :mod:`kprov.cluster.api.kinds.cron` (croniter). "Now" comes
from the clock the controller is built with (the wall clock unless a test gives its own, as
upstream's controller has its ``now`` function replaced in its tests).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from kprov.cluster.api.kinds.cron import latest_in, next_after, zone
from kprov.cluster.api.objects import controller_ref, format_time, new_controller_ref, parse_time
from kprov.cluster.client.errors import AlreadyExists, NotFound
from kprov.cluster.client.informer import EventHandler
from kprov.cluster.client.resources import CRONJOBS, JOBS
from kprov.cluster.client.store import object_key
from kprov.cluster.controllers.base import Controller, ControllerContext, Obj
from kprov.cluster.controllers.informers import index_by_controller_uid
from kprov.cluster.controllers.workloads.jobstate import finished_condition

__all__ = ["CronJobController", "job_name", "scheduled_timestamp", "wall_clock"]

log = logging.getLogger(__name__)

SCHEDULED_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp"
_TOO_MANY_MISSED = 100


def job_name(cronjob: str, scheduled: dt.datetime) -> str:
    """``<cronjob>-<scheduled time in minutes since the epoch>`` (upstream's naming)."""
    return f"{cronjob}-{int(scheduled.timestamp()) // 60}"


def scheduled_timestamp(scheduled: dt.datetime) -> str:
    """RFC 3339 in the schedule's zone (``Z`` for UTC), as the annotation carries it."""
    text = scheduled.replace(microsecond=0).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _ref(job: Obj) -> dict[str, Any]:
    meta = job["metadata"]
    return {
        "kind": "Job",
        "namespace": meta["namespace"],
        "name": meta["name"],
        "uid": meta.get("uid", ""),
        "apiVersion": "batch/v1",
        "resourceVersion": meta.get("resourceVersion", ""),
    }


def _rfc1123z(moment: dt.datetime) -> str:
    return moment.strftime("%a, %d %b %Y %H:%M:%S %z")


def wall_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class CronJobController(Controller):
    name = "cronjob"
    identity = "cronjob-controller"

    def __init__(self, ctx: ControllerContext, now: Callable[[], dt.datetime] = wall_clock) -> None:
        self.now = now
        super().__init__(ctx)

    def setup(self) -> None:
        self.cronjobs = self.ctx.informers.get(CRONJOBS)
        self.jobs = self.ctx.informers.get(JOBS, {"controller": index_by_controller_uid})
        self.cronjobs.add_handler(EventHandler(self.enqueue, lambda _o, n: self.enqueue(n), lambda _o: None))
        self.jobs.add_handler(
            EventHandler(self._job_event, lambda _o, n: self._job_event(n), self._job_event)
        )

    def _job_event(self, job: Obj) -> None:
        ref = controller_ref(job)
        if ref is not None and ref.get("kind") == "CronJob":
            self.queue.add(f"{job['metadata']['namespace']}/{ref['name']}")

    async def reconcile(self, key: str) -> float | None:
        cached = self.cronjobs.store.get(key)
        if cached is None or cached["metadata"].get("deletionTimestamp"):
            return None
        cj: Obj = {"apiVersion": "batch/v1", "kind": "CronJob", **cached}
        now = self.now()
        status: dict[str, Any] = {**(cj.get("status") or {})}
        jobs = [
            j
            for j in self.jobs.store.by_index("controller", cj["metadata"].get("uid", ""))
            if j["metadata"].get("namespace") == cj["metadata"]["namespace"]
        ]
        active = await self._sync_active(cj, jobs, status)
        await self._prune_history(cj, jobs)
        again = await self._schedule(cj, jobs, active, status, now)
        if active:
            status["active"] = active
        else:
            status.pop("active", None)
        if status != (cj.get("status") or {}):
            try:
                await self.client.update_status(CRONJOBS, {**cj, "status": status})
            except NotFound:
                return None
        return again

    async def _sync_active(self, cj: Obj, jobs: list[Obj], status: dict[str, Any]) -> list[dict[str, Any]]:
        by_uid = {j["metadata"].get("uid"): j for j in jobs}
        listed = {ref.get("uid") for ref in status.get("active") or []}
        active: list[dict[str, Any]] = []
        for ref in status.get("active") or []:
            job = by_uid.get(ref.get("uid"))
            if job is None:
                try:
                    fresh = await self.client.get(JOBS, ref.get("name", ""), ref.get("namespace"))
                except NotFound:
                    await self.ctx.recorder.record(
                        cj, "Normal", "MissingJob", f"Active job went missing: {ref.get('name')}"
                    )
                    continue
                if fresh["metadata"].get("uid") != ref.get("uid"):
                    continue
                job = fresh
            if finished_condition(job) is None:
                active.append(_ref(job))
        for job in jobs:
            finished = finished_condition(job)
            if finished is None and job["metadata"].get("uid") not in listed:
                active.append(_ref(job))
            if finished is not None and job["metadata"].get("uid") in listed:
                await self.ctx.recorder.record(
                    cj,
                    "Normal",
                    "SawCompletedJob",
                    f"Saw completed job: {job['metadata']['name']}, condition: {finished['type']}",
                )
            if finished is not None and finished["type"] == "Complete":
                done = (job.get("status") or {}).get("completionTime") or finished.get("lastTransitionTime")
                last = parse_time(status.get("lastSuccessfulTime"))
                moment = parse_time(done)
                if moment is not None and (last is None or moment > last):
                    status["lastSuccessfulTime"] = format_time(moment)
        return active

    async def _prune_history(self, cj: Obj, jobs: list[Obj]) -> None:
        spec = cj.get("spec") or {}
        for kind, field in (("Complete", "successfulJobsHistoryLimit"), ("Failed", "failedJobsHistoryLimit")):
            limit = spec.get(field)
            if limit is None:
                continue
            done = [j for j in jobs if (finished_condition(j) or {}).get("type") == kind]
            if len(done) <= int(limit):
                continue
            done.sort(
                key=lambda j: (j.get("status") or {}).get("startTime") or j["metadata"]["creationTimestamp"]
            )
            await asyncio.gather(*(self._delete_job(cj, j) for j in done[: len(done) - int(limit)]))

    async def _delete_job(self, cj: Obj, job: Obj) -> None:
        name = job["metadata"]["name"]
        try:
            await self.client.delete(
                JOBS, name, job["metadata"]["namespace"], propagation_policy="Background"
            )
        except NotFound:
            return
        await self.ctx.recorder.record(cj, "Normal", "SuccessfulDelete", f"Deleted job {name}")

    async def _schedule(
        self,
        cj: Obj,
        jobs: list[Obj],
        active: list[dict[str, Any]],
        status: dict[str, Any],
        now: dt.datetime,
    ) -> float | None:
        spec = cj.get("spec") or {}
        if spec.get("suspend"):
            return None
        schedule = str(spec.get("schedule") or "")
        try:
            tz = zone(spec.get("timeZone"))
        except (ValueError, KeyError) as exc:
            await self.ctx.recorder.record(cj, "Warning", "UnknownTimeZone", f"invalid timeZone: {exc}")
            return None
        earliest = parse_time(status.get("lastScheduleTime")) or parse_time(
            cj["metadata"]["creationTimestamp"]
        )
        assert earliest is not None
        deadline = spec.get("startingDeadlineSeconds")
        if deadline is not None:
            earliest = max(earliest, now - dt.timedelta(seconds=int(deadline)))
        scheduled, missed = latest_in(schedule, earliest, now, tz, _TOO_MANY_MISSED)
        again = (next_after(schedule, now, tz) - now).total_seconds() + 0.1
        if scheduled is None:
            return again
        if missed > _TOO_MANY_MISSED:
            await self.ctx.recorder.record(
                cj,
                "Warning",
                "TooManyMissedTimes",
                f"too many missed start times: {missed}. Set or decrease .spec.startingDeadlineSeconds "
                "or check clock skew",
            )
        if deadline is not None and scheduled + dt.timedelta(seconds=int(deadline)) < now:
            await self.ctx.recorder.record(
                cj, "Warning", "MissSchedule", f"Missed scheduled time to start a job: {_rfc1123z(scheduled)}"
            )
            return again
        name = job_name(cj["metadata"]["name"], scheduled)
        if any(j["metadata"]["name"] == name for j in jobs) or any(r.get("name") == name for r in active):
            return again
        policy = spec.get("concurrencyPolicy", "Allow")
        if policy == "Forbid" and active:
            await self.ctx.recorder.record(
                cj,
                "Normal",
                "JobAlreadyActive",
                "Not starting job because prior execution is running and concurrency policy is Forbid",
            )
            return again
        if policy == "Replace" and active:
            for ref in list(active):
                await self._delete_job(cj, {"metadata": {"name": ref["name"], "namespace": ref["namespace"]}})
            active.clear()
        created = await self._create_job(cj, name, scheduled)
        if created is not None:
            active.append(_ref(created))
        status["lastScheduleTime"] = format_time(scheduled.astimezone(dt.UTC))
        return again

    async def _create_job(self, cj: Obj, name: str, scheduled: dt.datetime) -> Obj | None:
        template = (cj.get("spec") or {}).get("jobTemplate") or {}
        meta_t = template.get("metadata") or {}
        body = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": name,
                "namespace": cj["metadata"]["namespace"],
                "labels": dict(meta_t.get("labels") or {}),
                "annotations": {
                    **(meta_t.get("annotations") or {}),
                    SCHEDULED_ANNOTATION: scheduled_timestamp(scheduled),
                },
                "ownerReferences": [new_controller_ref(cj)],
            },
            "spec": template.get("spec") or {},
        }
        try:
            job = await self.client.create(JOBS, body)
        except AlreadyExists:
            return None
        except Exception as exc:
            await self.ctx.recorder.record(cj, "Warning", "FailedCreate", f"Error creating job: {exc}")
            raise
        await self.ctx.recorder.record(cj, "Normal", "SuccessfulCreate", f"Created job {name}")
        log.info("cronjob %s: created job %s for %s", object_key(cj), name, scheduled.isoformat())
        return job
