"""What a Job's status says next, decided from the Job and its pods alone (no API calls).

The job controller (:mod:`.job`) counts finished pods, then asks these: has the Job failed
(``backoffLimit`` against failures plus, under ``restartPolicy: OnFailure``, the active pods'
container restarts; ``activeDeadlineSeconds`` from ``startTime``), when to look again before
the deadline, has it met its success criteria (Indexed: every index completed; with
``completions``: that many succeeded; without: one succeeded and none active), and the
status fields upstream leaves out when they are zero or empty. Pure, so they are
table-tested (tests/unit/controllers/test_job_verdicts.py).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from kprov.cluster.api.objects import format_time, parse_time
from kprov.cluster.controllers.workloads.jobstate import TRACKING_FINALIZER

__all__ = [
    "REACHED",
    "condition",
    "failure_verdict",
    "is_active",
    "is_terminating",
    "is_tracked",
    "success_reached",
    "tidy_status",
    "true_condition",
    "uncounted_pods",
]

Obj = dict[str, Any]
DEFAULT_BACKOFF_LIMIT = 6
REACHED = "Reached expected number of succeeded pods"  # SuccessCriteriaMet's and Complete's message


def is_tracked(pod: Obj) -> bool:
    """Whether the pod still carries the Job's tracking finalizer (not yet counted)."""
    return TRACKING_FINALIZER in (pod["metadata"].get("finalizers") or [])


def is_terminating(pod: Obj) -> bool:
    phase = (pod.get("status") or {}).get("phase")
    return bool(pod["metadata"].get("deletionTimestamp")) and phase not in ("Succeeded", "Failed")


def is_active(pod: Obj) -> bool:
    phase = (pod.get("status") or {}).get("phase")
    return not pod["metadata"].get("deletionTimestamp") and phase not in ("Succeeded", "Failed")


def condition(kind: str, reason: str, message: str, now: str) -> dict[str, Any]:
    """A ``True`` Job condition stamped ``now``."""
    return {
        "type": kind,
        "status": "True",
        "reason": reason,
        "message": message,
        "lastProbeTime": now,
        "lastTransitionTime": now,
    }


def true_condition(status: Obj, kind: str) -> dict[str, Any] | None:
    """A copy of the status's condition of ``kind`` if it is ``True``."""
    for cond in status.get("conditions") or []:
        if cond.get("type") == kind and cond.get("status") == "True":
            return dict(cond)
    return None


def failure_verdict(
    spec: Obj, status: Obj, active: list[Obj], now: dt.datetime
) -> tuple[dict[str, Any] | None, float | None]:
    """The FailureTarget condition the Job earns now (backoff limit or deadline), if any, and
    else the seconds left before its deadline (None without one)."""
    stamp = format_time(now)
    restarts = 0
    if ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy") == "OnFailure":
        restarts = sum(
            int(c.get("restartCount") or 0)
            for p in active
            for c in (p.get("status") or {}).get("containerStatuses") or []
        )
    given_limit = spec.get("backoffLimit")
    limit = int(given_limit if given_limit is not None else DEFAULT_BACKOFF_LIMIT)
    if int(status.get("failed") or 0) + restarts > limit:
        reached = "Job has reached the specified backoff limit"
        return condition("FailureTarget", "BackoffLimitExceeded", reached, stamp), None
    deadline = spec.get("activeDeadlineSeconds")
    started = parse_time(status.get("startTime"))
    if deadline is None or started is None:
        return None, None
    left = (started + dt.timedelta(seconds=int(deadline)) - now).total_seconds()
    if left <= 0:
        passed = "Job was active longer than specified deadline"
        return condition("FailureTarget", "DeadlineExceeded", passed, stamp), None
    return None, left


def success_reached(spec: Obj, status: Obj, completed: set[int], active: list[Obj]) -> bool:
    """Whether the Job has met its success criteria (as upstream, before Complete is set)."""
    completions = spec.get("completions")
    if spec.get("completionMode") == "Indexed":
        return completions is not None and len(completed) >= int(completions)
    succeeded = int(status.get("succeeded") or 0)
    if completions is not None:
        return succeeded >= int(completions)
    return succeeded > 0 and not active


def tidy_status(status: Obj, *, indexed: bool) -> None:
    """Drop the counters upstream omits when zero (and an empty completedIndexes) in place;
    ``uncountedTerminatedPods`` is always present."""
    status.setdefault("uncountedTerminatedPods", {})
    for field in ("active", "succeeded", "failed"):
        if not status.get(field):
            status.pop(field, None)
    if indexed and not status.get("completedIndexes"):
        status.pop("completedIndexes", None)


def uncounted_pods(succeeded: list[str], failed: list[str]) -> dict[str, list[str]]:
    """``status.uncountedTerminatedPods`` of these uids (empty lists left out, as upstream)."""
    out: dict[str, list[str]] = {}
    if succeeded:
        out["succeeded"] = succeeded
    if failed:
        out["failed"] = failed
    return out
