"""Jobs against a real API server and controller manager: completions with bounded
parallelism, backoffLimit, Indexed pods, podFailurePolicy, suspend/resume and
ttlSecondsAfterFinished; every pod's tracking finalizer is released once it is counted."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import subprocess
from collections.abc import AsyncIterator

import pytest

from kprov.cluster.api.objects import format_time, parse_time
from kprov.cluster.client import ApiClient, Conflict, NotFound, resources
from tests.integration.controllers.hollow import ensure_namespace, wait_for
from tests.integration.controllers.job_kubelet import JobKubelet

NS = "jobs"
KUBECTL = "/usr/bin/kubectl"
FINALIZER = "batch.kubernetes.io/job-tracking"


def _job(name: str, image: str = "registry.invalid/ok:latest", **spec: object) -> dict:
    return {
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": image}]}
            },
            **spec,
        },
    }


@pytest.fixture
async def admin(control_plane, controller_manager) -> AsyncIterator[ApiClient]:  # type: ignore[no-untyped-def]
    async with ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as client:
        await ensure_namespace(client, NS)
        yield client


@pytest.fixture
async def kubelet(admin: ApiClient) -> AsyncIterator[JobKubelet]:
    fake = JobKubelet(admin, NS)
    fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


async def _finished(admin: ApiClient, name: str, kind: str, timeout: float = 40) -> dict:
    async def done() -> dict | None:
        job = await admin.get(resources.JOBS, name, NS)
        conds = {c["type"]: c for c in (job.get("status") or {}).get("conditions") or []}
        return job if conds.get(kind, {}).get("status") == "True" else None

    return await wait_for(done, timeout, what=f"job {name} {kind}")  # type: ignore[no-any-return]


async def _pods(admin: ApiClient, name: str) -> list[dict]:
    items, _ = await admin.list_all(resources.PODS, NS, label_selector=f"batch.kubernetes.io/job-name={name}")
    return items


async def test_completions_with_parallelism(admin: ApiClient, kubelet: JobKubelet) -> None:
    await admin.create(resources.JOBS, _job("five", completions=5, parallelism=2))
    job = await _finished(admin, "five", "Complete")
    status = job["status"]
    assert status["succeeded"] == 5 and "failed" not in status
    assert status["uncountedTerminatedPods"] == {} and status["completionTime"]
    assert [c["type"] for c in status["conditions"]] == ["SuccessCriteriaMet", "Complete"]
    assert status["conditions"][1]["reason"] == "CompletionsReached"
    pods = await _pods(admin, "five")
    assert len(pods) == 5 and all(p["status"]["phase"] == "Succeeded" for p in pods)
    assert not any(FINALIZER in (p["metadata"].get("finalizers") or []) for p in pods)
    assert kubelet.max_running <= 2


async def test_backoff_limit_fails_the_job(admin: ApiClient, kubelet: JobKubelet) -> None:
    await admin.create(resources.JOBS, _job("fails", "registry.invalid/exit:3", backoffLimit=1))
    job = await _finished(admin, "fails", "Failed", timeout=60)
    status = job["status"]
    assert status["failed"] == 2 and "succeeded" not in status
    failed = next(c for c in status["conditions"] if c["type"] == "Failed")
    assert (failed["reason"], failed["message"]) == (
        "BackoffLimitExceeded",
        "Job has reached the specified backoff limit",
    )
    assert any(c["type"] == "FailureTarget" for c in status["conditions"])
    assert len(await _pods(admin, "fails")) == 2


async def test_indexed_pods_know_their_index(admin: ApiClient, kubelet: JobKubelet) -> None:
    await admin.create(resources.JOBS, _job("idx", completions=3, parallelism=3, completionMode="Indexed"))
    job = await _finished(admin, "idx", "Complete")
    assert job["status"]["completedIndexes"] == "0-2" and job["status"]["succeeded"] == 3
    pods = await _pods(admin, "idx")
    key = "batch.kubernetes.io/job-completion-index"
    indexes = sorted(p["metadata"]["annotations"][key] for p in pods)
    assert indexes == ["0", "1", "2"]
    for pod in pods:
        index = pod["metadata"]["annotations"][key]
        assert pod["metadata"]["labels"][key] == index
        assert pod["spec"]["hostname"] == f"idx-{index}"
        env = {e["name"]: e for e in pod["spec"]["containers"][0]["env"]}
        assert (
            env["JOB_COMPLETION_INDEX"]["valueFrom"]["fieldRef"]["fieldPath"]
            == f"metadata.annotations['{key}']"
        )


async def test_pod_failure_policy_fail_job(admin: ApiClient, kubelet: JobKubelet) -> None:
    policy = {"rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}}]}
    await admin.create(
        resources.JOBS, _job("pfp", "registry.invalid/exit:42", backoffLimit=6, podFailurePolicy=policy)
    )
    job = await _finished(admin, "pfp", "Failed")
    failed = next(c for c in job["status"]["conditions"] if c["type"] == "Failed")
    assert failed["reason"] == "PodFailurePolicy"
    assert failed["message"].startswith("Container main for pod jobs/pfp-")
    assert failed["message"].endswith("failed with exit code 42 matching FailJob rule at index 0")
    assert job["status"]["failed"] == 1


async def test_suspend_then_resume(admin: ApiClient, kubelet: JobKubelet) -> None:
    await admin.create(resources.JOBS, _job("later", suspend=True))

    async def suspended() -> dict | None:
        job = await admin.get(resources.JOBS, "later", NS)
        conds = {c["type"]: c for c in (job.get("status") or {}).get("conditions") or []}
        return job if conds.get("Suspended", {}).get("status") == "True" else None

    job = await wait_for(suspended, 20, what="Suspended")
    assert "startTime" not in job["status"] and await _pods(admin, "later") == []
    await admin.patch(resources.JOBS, "later", {"spec": {"suspend": False}}, NS)
    job = await _finished(admin, "later", "Complete")
    resumed = next(c for c in job["status"]["conditions"] if c["type"] == "Suspended")
    assert (resumed["status"], resumed["reason"]) == ("False", "JobResumed")


async def test_a_released_pod_loses_the_tracking_finalizer(admin: ApiClient) -> None:
    """A pod taken out of its Job (owner reference and labels removed, as the suite's
    adopt/release test does) must not keep the job-tracking finalizer: nobody would remove
    it and the pod, and its namespace, would never finish terminating."""
    await admin.create(resources.JOBS, _job("release", parallelism=1, completions=1))

    async def one_pod() -> dict | None:
        pods = await _pods(admin, "release")
        return pods[0] if pods and FINALIZER in (pods[0]["metadata"].get("finalizers") or []) else None

    pod = await wait_for(one_pod, 20, what="the job's pod")
    name = pod["metadata"]["name"]
    await admin.patch(resources.PODS, name, {"metadata": {"ownerReferences": None, "labels": None}}, NS)

    async def released() -> dict | None:
        current = await admin.get(resources.PODS, name, NS)
        return current if FINALIZER not in (current["metadata"].get("finalizers") or []) else None

    await wait_for(released, 20, what="the tracking finalizer removed")
    await admin.delete(resources.JOBS, "release", NS)
    await admin.delete(resources.PODS, name, NS)


async def test_a_job_adopts_a_matching_orphan_and_releases_a_pod_no_longer_matching(admin: ApiClient) -> None:
    """The suite's "adopt matching orphans and release non-matching pods": a pod whose owner
    reference is removed (labels kept) is adopted back, with the tracking finalizer; a pod whose
    labels stop matching is released, without it."""
    await admin.create(resources.JOBS, _job("adopt", parallelism=2, completions=4))

    async def two_pods() -> list[dict] | None:
        pods = [p for p in await _pods(admin, "adopt") if p["metadata"].get("ownerReferences")]
        return pods if len(pods) == 2 else None

    orphan, other = await wait_for(two_pods, 20, what="the job's two pods")
    job_uid = orphan["metadata"]["ownerReferences"][0]["uid"]
    name = orphan["metadata"]["name"]
    # the replacement the Job makes meanwhile is then strictly newer (creation times are in
    # seconds), so it, not the adopted pod, is the surplus the Job deletes (as in the suite,
    # where the Job's pods run for a while first)
    await asyncio.sleep(1.1)
    await admin.patch(resources.PODS, name, {"metadata": {"ownerReferences": None}}, NS)

    async def adopted() -> dict | None:
        pod = await admin.get(resources.PODS, name, NS)
        refs = pod["metadata"].get("ownerReferences") or []
        owned = [r["uid"] for r in refs if r.get("controller")] == [job_uid]
        return pod if owned and FINALIZER in (pod["metadata"].get("finalizers") or []) else None

    await wait_for(adopted, 20, what="the orphan adopted back with the tracking finalizer")

    released_name = other["metadata"]["name"]
    await admin.patch(resources.PODS, released_name, {"metadata": {"labels": None}}, NS)

    async def released() -> dict | None:
        pod = await admin.get(resources.PODS, released_name, NS)
        meta = pod["metadata"]
        tracked = FINALIZER in (meta.get("finalizers") or [])
        return pod if not meta.get("ownerReferences") and not tracked else None

    await wait_for(released, 20, what="the pod whose labels stopped matching released")
    await admin.delete(resources.JOBS, "adopt", NS, propagation_policy="Background")
    await admin.delete(resources.PODS, released_name, NS)


async def test_ttl_after_finished_deletes_the_job_and_its_pods(admin: ApiClient, kubelet: JobKubelet) -> None:
    # 5 s, not 1: the test must see Complete before the TTL controller deletes the job (a
    # loaded machine once took longer than 1 s between the job finishing and the next poll)
    await admin.create(resources.JOBS, _job("short", ttlSecondsAfterFinished=5))
    await _finished(admin, "short", "Complete")

    async def gone() -> bool:
        try:
            await admin.get(resources.JOBS, "short", NS)
        except NotFound:
            return not await _pods(admin, "short")
        return False

    await wait_for(gone, 30, what="the job and its pods deleted")


async def test_kubectl_create_and_get_jobs(control_plane, admin: ApiClient, kubelet: JobKubelet) -> None:  # type: ignore[no-untyped-def]
    kubeconfig = f"--kubeconfig={control_plane.admin_kubeconfig}"
    made = subprocess.run(
        [KUBECTL, kubeconfig, "-n", NS, "create", "job", "kc", "--image=registry.invalid/ok"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    await _finished(admin, "kc", "Complete")
    got = subprocess.run(
        [KUBECTL, kubeconfig, "-n", NS, "get", "jobs", "kc"], capture_output=True, text=True, timeout=60
    )
    assert got.returncode == 0, got.stderr
    header, row = got.stdout.splitlines()[:2]
    assert header.split() == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    assert row.split()[:3] == ["kc", "Complete", "1/1"]


async def test_cronjob_creates_jobs_on_schedule(control_plane, admin: ApiClient, kubelet: JobKubelet) -> None:  # type: ignore[no-untyped-def]
    body = {
        "metadata": {"name": "every", "namespace": NS},
        "spec": {
            "schedule": "*/1 * * * *",
            "concurrencyPolicy": "Forbid",
            "jobTemplate": {
                "metadata": {"labels": {"from": "cron"}},
                "spec": _job("unused")["spec"],
            },
        },
    }
    made = await admin.create(resources.CRONJOBS, body)
    # Its status says it last ran the minute before the one it was made in: that run's
    # successor is missed, and the controller starts the latest missed run at once (upstream's
    # mostRecentScheduleTime; no startingDeadlineSeconds) rather than at the next minute. The
    # Job made when a minute comes round, on the controller's own wake-up, is asserted on a
    # clock the test moves: tests/unit/controllers/test_cronjob_clock.py.
    created = parse_time(made["metadata"]["creationTimestamp"])
    assert created is not None
    before = created.replace(second=0) - dt.timedelta(minutes=1)
    # (a Conflict: the controller wrote first, a minute having turned: it made that minute's Job)
    missed = {**made, "status": {"lastScheduleTime": format_time(before)}}
    with contextlib.suppress(Conflict):
        await admin.update_status(resources.CRONJOBS, missed)

    async def first_job() -> dict | None:
        items, _ = await admin.list_all(resources.JOBS, NS, label_selector="from=cron")
        return items[0] if items else None

    job = await wait_for(first_job, 75, what="the first scheduled job")
    assert job["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    stamp = job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
    scheduled = parse_time(stamp)
    assert scheduled is not None and scheduled.second == 0 and scheduled > before, stamp
    await _finished(admin, job["metadata"]["name"], "Complete")

    async def recorded() -> dict | None:
        cj = await admin.get(resources.CRONJOBS, "every", NS)
        status = cj.get("status") or {}
        return cj if status.get("lastSuccessfulTime") and not status.get("active") else None

    cj = await wait_for(recorded, 20, what="lastSuccessfulTime")
    assert cj["status"]["lastScheduleTime"][:16] == stamp[:16]
    kubeconfig = f"--kubeconfig={control_plane.admin_kubeconfig}"
    manual = subprocess.run(
        [KUBECTL, kubeconfig, "-n", NS, "create", "job", "by-hand", "--from=cronjob/every"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert manual.returncode == 0, manual.stderr
    made = await admin.get(resources.JOBS, "by-hand", NS)
    assert made["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    got = subprocess.run(
        [KUBECTL, kubeconfig, "-n", NS, "get", "cronjobs"], capture_output=True, text=True, timeout=60
    )
    assert got.stdout.split()[:7] == ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST", "SCHEDULE"]
