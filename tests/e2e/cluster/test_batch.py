"""Jobs on a real cluster (real kubelets, containerd, busybox): 5 completions with
parallelism 2 give exactly 5 succeeded pods; a failing Job stops at backoffLimit and is
Failed; an Indexed Job's pods see their index; ttlSecondsAfterFinished removes a Job."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.e2e.cluster.conftest import Cluster, wait_for

IMAGE = "kprov.local/busybox:1"


def _job(name: str, command: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "terminationGracePeriodSeconds": 1,
                    "containers": [
                        {"name": "main", "image": IMAGE, "imagePullPolicy": "IfNotPresent",
                         "command": ["sh", "-c", command]}
                    ],
                }
            },
            **spec,
        },
    }


def _apply(cluster: Cluster, tmp_path: Path, body: dict[str, Any]) -> None:
    manifest = tmp_path / f"{body['metadata']['name']}.json"
    manifest.write_text(json.dumps(body))
    cluster.kubectl("apply", "-f", str(manifest))


def _condition(cluster: Cluster, name: str, kind: str) -> dict[str, Any] | None:
    job = cluster.kubectl_json("get", "job", name)
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond["type"] == kind and cond["status"] == "True":
            return job
    return None


def test_job_of_five_completions_two_at_a_time(cluster: Cluster, tmp_path: Path) -> None:
    _apply(cluster, tmp_path, _job("five", "sleep 1", completions=5, parallelism=2))
    job = wait_for("job five Complete", lambda: _condition(cluster, "five", "Complete"), 180)
    assert job["status"]["succeeded"] == 5 and "failed" not in job["status"]
    pods = cluster.kubectl_json("get", "pods", "-l", "batch.kubernetes.io/job-name=five")["items"]
    assert len(pods) == 5 and all(p["status"]["phase"] == "Succeeded" for p in pods)
    assert not any(p["metadata"].get("finalizers") for p in pods)


def test_failing_job_stops_at_backoff_limit(cluster: Cluster, tmp_path: Path) -> None:
    _apply(cluster, tmp_path, _job("fails", "exit 3", backoffLimit=1))
    job = wait_for("job fails Failed", lambda: _condition(cluster, "fails", "Failed"), 180)
    assert job["status"]["failed"] == 2
    failed = next(c for c in job["status"]["conditions"] if c["type"] == "Failed")
    assert failed["reason"] == "BackoffLimitExceeded"


def test_indexed_pods_see_their_index_and_ttl_removes_the_job(cluster: Cluster, tmp_path: Path) -> None:
    body = _job(
        "idx",
        'test "$JOB_COMPLETION_INDEX" = "$(hostname | sed s/idx-//)"',
        completions=3,
        parallelism=3,
        completionMode="Indexed",
        ttlSecondsAfterFinished=5,
    )
    _apply(cluster, tmp_path, body)
    job = wait_for("job idx Complete", lambda: _condition(cluster, "idx", "Complete"), 180)
    assert job["status"]["completedIndexes"] == "0-2"

    def gone() -> bool:
        listed = cluster.kubectl("get", "jobs", "-o", "name", check=False)
        return "job.batch/idx" not in listed.stdout

    wait_for("the idx job removed by its TTL", gone, 60)
