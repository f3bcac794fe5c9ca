"""ttl-after-finished: delete a finished Job ``spec.ttlSecondsAfterFinished`` after it finished.

Design: as upstream's ttlafterfinished controller. The finish time is the Complete/Failed
condition's lastTransitionTime (completionTime as a fallback). A Job not yet due is looked
at again when it will be; a due one is re-read from the API server first (the TTL may have
been changed since the cache saw it) and deleted with Foreground propagation and a uid
precondition, so its pods go first and a same-named newer Job is never hit.
"""

from __future__ import annotations

import datetime as dt
import logging

from kprov.cluster.api.objects import parse_time
from kprov.cluster.client.errors import Conflict, NotFound
from kprov.cluster.client.informer import EventHandler
from kprov.cluster.client.resources import JOBS
from kprov.cluster.controllers.base import Controller, Obj
from kprov.cluster.controllers.workloads.jobstate import finished_condition

__all__ = ["TTLAfterFinishedController", "seconds_left"]

log = logging.getLogger(__name__)


def seconds_left(job: Obj, now: dt.datetime) -> float | None:
    """Seconds until ``job`` is due for deletion (<= 0: due); None when it never is (yet)."""
    ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
    if ttl is None or (job.get("metadata") or {}).get("deletionTimestamp"):
        return None
    cond = finished_condition(job)
    if cond is None:
        return None
    finished = parse_time(cond.get("lastTransitionTime")) or parse_time(
        (job.get("status") or {}).get("completionTime")
    )
    if finished is None:
        return None
    return (finished + dt.timedelta(seconds=int(ttl)) - now).total_seconds()


class TTLAfterFinishedController(Controller):
    name = "ttl-after-finished"
    identity = "ttl-after-finished-controller"

    def setup(self) -> None:
        self.jobs = self.ctx.informers.get(JOBS)
        self.jobs.add_handler(EventHandler(self._maybe, lambda _o, n: self._maybe(n), lambda _o: None))

    def _maybe(self, job: Obj) -> None:
        if (job.get("spec") or {}).get("ttlSecondsAfterFinished") is not None and finished_condition(job):
            self.enqueue(job)

    async def reconcile(self, key: str) -> float | None:
        job = self.jobs.store.get(key)
        if job is None:
            return None
        now = dt.datetime.now(dt.UTC)
        left = seconds_left(job, now)
        if left is None:
            return None
        if left > 0:
            return left
        namespace, _, name = key.partition("/")
        try:
            fresh = await self.client.get(JOBS, name, namespace)
        except NotFound:
            return None
        left = seconds_left(fresh, now)
        if left is None:
            return None
        if left > 0:
            return left
        try:
            await self.client.delete(
                JOBS, name, namespace, propagation_policy="Foreground", uid=fresh["metadata"].get("uid")
            )
        except (NotFound, Conflict):
            return None
        log.info("deleted job %s: %ss after it finished", key, fresh["spec"]["ttlSecondsAfterFinished"])
        return None
