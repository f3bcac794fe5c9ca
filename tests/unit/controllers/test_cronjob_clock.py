"""The CronJob controller on a clock the test holds: no Job before the scheduled minute, the
key looked at again just after it, the Job made at it (name, annotation, owner,
lastScheduleTime), and none made twice for one scheduled time.

The integration test (tests/integration/controllers/test_jobs.py) runs the real controller
manager against a real API server on the wall clock; there the first Job comes from a run
the CronJob's status says was missed, so that test need not wait for a minute to turn.
What it cannot show without that wait, the controller making the Job when the minute comes
round and waking itself for it, is asserted here on a clock the test moves.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
from typing import Any

import pytest

from kprov.cluster.client.resources import CRONJOBS, JOBS, Resource
from kprov.cluster.controllers.base import ControllerContext
from kprov.cluster.controllers.informers import SharedInformers
from kprov.cluster.controllers.workloads.cronjob import CronJobController

Obj = dict[str, Any]
CREATED = dt.datetime(2026, 3, 1, 12, 0, 20, tzinfo=dt.UTC)
KEY = "jobs/every"


class _Client:
    """Jobs created and statuses written are recorded; nothing reaches the caches by itself."""

    def __init__(self) -> None:
        self.jobs: list[Obj] = []
        self.statuses: list[Obj] = []

    async def create(self, resource: Resource, body: Obj, namespace: str | None = None) -> Obj:
        assert resource is JOBS
        job = copy.deepcopy(body)
        job["metadata"]["uid"] = f"uid-{job['metadata']['name']}"
        job["metadata"]["creationTimestamp"] = "2026-03-01T12:01:00Z"
        self.jobs.append(job)
        return job

    async def update_status(self, resource: Resource, body: Obj) -> Obj:
        assert resource is CRONJOBS
        self.statuses.append(copy.deepcopy(body["status"]))
        return body


class _Recorder:
    def __init__(self) -> None:
        self.reasons: list[str] = []

    async def record(self, obj: Obj, event_type: str, reason: str, message: str) -> None:
        self.reasons.append(reason)


class _Clock:
    def __init__(self, moment: dt.datetime) -> None:
        self.moment = moment

    def __call__(self) -> dt.datetime:
        return self.moment


def _cronjob(status: Obj | None = None) -> Obj:
    pod = {"containers": [{"name": "c", "image": "i"}]}
    return {
        "metadata": {"name": "every", "namespace": "jobs", "uid": "cj-uid",
                     "creationTimestamp": "2026-03-01T12:00:20Z"},
        "spec": {"schedule": "*/1 * * * *", "timeZone": "Etc/UTC", "concurrencyPolicy": "Forbid",
                 "jobTemplate": {"metadata": {"labels": {"from": "cron"}},
                                 "spec": {"template": {"spec": pod}}}},
        "status": status or {},
    }


def _controller(at: dt.datetime) -> tuple[CronJobController, _Client, _Recorder, SharedInformers, _Clock]:
    client, recorder, clock = _Client(), _Recorder(), _Clock(at)
    informers = SharedInformers(client)  # type: ignore[arg-type]
    ctx = ControllerContext(client=client, informers=informers, recorder=recorder)  # type: ignore[arg-type]
    controller = CronJobController(ctx, now=clock)
    informers.get(CRONJOBS).store.put(_cronjob())
    return controller, client, recorder, informers, clock


def test_nothing_before_the_minute_and_a_look_just_after_it() -> None:
    controller, client, _, _, _ = _controller(CREATED + dt.timedelta(seconds=10))  # 12:00:30
    again = asyncio.run(controller.reconcile(KEY))
    assert client.jobs == [] and client.statuses == []
    assert again == pytest.approx(30.1)  # 12:01:00, and a tenth of a second


def test_the_job_is_made_at_the_scheduled_minute_and_only_once() -> None:
    minute = dt.datetime(2026, 3, 1, 12, 1, tzinfo=dt.UTC)
    controller, client, recorder, informers, clock = _controller(minute + dt.timedelta(seconds=0.1))
    again = asyncio.run(controller.reconcile(KEY))
    assert again == pytest.approx(60.0)
    [job] = client.jobs
    meta = job["metadata"]
    assert meta["name"] == f"every-{int(minute.timestamp()) // 60}"
    assert meta["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"] == "2026-03-01T12:01:00Z"
    assert meta["labels"] == {"from": "cron"}
    owner = meta["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["uid"]) == ("CronJob", "every", "cj-uid")
    assert owner["controller"]
    status = client.statuses[-1]
    assert status["lastScheduleTime"] == "2026-03-01T12:01:00Z"
    assert [ref["name"] for ref in status["active"]] == [meta["name"]]
    assert recorder.reasons == ["SuccessfulCreate"]
    # the caches catch up; a look later in the same minute makes nothing more
    informers.get(JOBS)._apply("ADDED", copy.deepcopy(job))
    informers.get(CRONJOBS).store.put(_cronjob(status))
    clock.moment = minute + dt.timedelta(seconds=30)
    asyncio.run(controller.reconcile(KEY))
    assert len(client.jobs) == 1


def test_the_wall_clock_is_the_default() -> None:
    client, recorder = _Client(), _Recorder()
    informers = SharedInformers(client)  # type: ignore[arg-type]
    ctx = ControllerContext(client=client, informers=informers, recorder=recorder)  # type: ignore[arg-type]
    before = dt.datetime.now(dt.UTC)
    got = CronJobController(ctx).now()
    assert before <= got <= dt.datetime.now(dt.UTC) and got.tzinfo is not None
