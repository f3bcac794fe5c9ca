"""What the Job controller decides, as pure functions over a Job and its pods.

Design: nothing here talks to the API server. The controller (:mod:`.job`) feeds a Job
and the pods it owns in and writes what comes out. Kept apart so the rules that decide
counts, indexes, back-off and the podFailurePolicy outcome are unit-tested without a
cluster. Wording (condition reasons and messages, index list syntax) is upstream's.

- Completed indexes are kept as upstream's interval text ``"0-2,4,7-9"``.
- A failed pod's fate under ``spec.podFailurePolicy`` is the first matching rule's action
  (FailJob, FailIndex, Ignore, Count); no rule matching means Count.
- Back-off before re-creating pods after failures is 10 s doubled per consecutive
  failure, at most 10 minutes (upstream's DefaultJobPodFailureBackOff and its maximum).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "BACKOFF_BASE_S",
    "BACKOFF_MAX_S",
    "COMPLETION_INDEX",
    "TRACKING_FINALIZER",
    "FailureVerdict",
    "backoff_delay",
    "finished_condition",
    "format_indexes",
    "is_finished",
    "is_pod_failed",
    "is_pod_succeeded",
    "judge_failed_pod",
    "parse_indexes",
    "pod_index",
]

TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
BACKOFF_BASE_S = 10.0
BACKOFF_MAX_S = 600.0

Obj = Mapping[str, Any]


def parse_indexes(text: str | None, limit: int | None = None) -> set[int]:
    """``"0-2,4"`` -> {0, 1, 2, 4}; malformed parts and indexes >= ``limit`` are dropped."""
    found: set[int] = set()
    for part in (text or "").split(","):
        first, sep, last = part.strip().partition("-")
        try:
            low = int(first)
            high = int(last) if sep else low
        except ValueError:
            continue
        found.update(i for i in range(low, high + 1) if limit is None or i < limit)
    return found


def format_indexes(indexes: Iterable[int]) -> str:
    """{0, 1, 2, 4} -> ``"0-2,4"`` (runs of two are written ``"5,6"``, as upstream)."""
    ordered = sorted(set(indexes))
    parts: list[str] = []
    start = 0
    while start < len(ordered):
        end = start
        while end + 1 < len(ordered) and ordered[end + 1] == ordered[end] + 1:
            end += 1
        if end == start:
            parts.append(str(ordered[start]))
        elif end == start + 1:
            parts.append(f"{ordered[start]},{ordered[end]}")
        else:
            parts.append(f"{ordered[start]}-{ordered[end]}")
        start = end + 1
    return ",".join(parts)


def pod_index(pod: Obj) -> int | None:
    """The completion index of an Indexed Job's pod (annotation first, then label)."""
    meta = pod.get("metadata") or {}
    for source in (meta.get("annotations") or {}, meta.get("labels") or {}):
        value = source.get(COMPLETION_INDEX)
        if value is not None:
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _condition_true(job: Obj, kind: str) -> bool:
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind and cond.get("status") == "True":
            return True
    return False


def is_finished(job: Obj) -> bool:
    """Complete or Failed (the Job will never run a pod again)."""
    return _condition_true(job, "Complete") or _condition_true(job, "Failed")


def finished_condition(job: Obj) -> dict[str, Any] | None:
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") in ("Complete", "Failed") and cond.get("status") == "True":
            return dict(cond)
    return None


def is_pod_succeeded(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") == "Succeeded"


def is_pod_failed(pod: Obj, *, wait_terminal: bool) -> bool:
    """Failed, or (unless ``wait_terminal``, as with a podFailurePolicy) being deleted unfinished."""
    phase = (pod.get("status") or {}).get("phase")
    if phase == "Failed":
        return True
    if wait_terminal:
        return False
    return bool((pod.get("metadata") or {}).get("deletionTimestamp")) and phase != "Succeeded"


def backoff_delay(consecutive_failures: int) -> float:
    """Seconds to wait before creating pods again after ``consecutive_failures`` failures."""
    if consecutive_failures <= 0:
        return 0.0
    return min(BACKOFF_BASE_S * 2 ** (consecutive_failures - 1), BACKOFF_MAX_S)


@dataclass(frozen=True)
class FailureVerdict:
    """What a failed pod means for its Job: the rule's action and, for FailJob, a message."""

    action: str  # FailJob | FailIndex | Ignore | Count
    message: str = ""


def _exit_code_rule_matches(rule: Obj, pod: Obj) -> tuple[str, int] | None:
    on = rule.get("onExitCodes") or {}
    operator = on.get("operator")
    values = set(on.get("values") or [])
    wanted = on.get("containerName")
    statuses = [
        *((pod.get("status") or {}).get("initContainerStatuses") or []),
        *((pod.get("status") or {}).get("containerStatuses") or []),
    ]
    for status in statuses:
        if wanted and status.get("name") != wanted:
            continue
        terminated = (status.get("state") or {}).get("terminated")
        if not terminated:
            continue
        code = int(terminated.get("exitCode") or 0)
        if code == 0:
            continue  # exit code 0 never matches, In or NotIn (upstream)
        if (operator == "In" and code in values) or (operator == "NotIn" and code not in values):
            return str(status.get("name", "")), code
    return None


def _condition_rule_matches(rule: Obj, pod: Obj) -> str | None:
    conditions = (pod.get("status") or {}).get("conditions") or []
    for pattern in rule.get("onPodConditions") or []:
        for cond in conditions:
            if cond.get("type") == pattern.get("type") and cond.get("status") == pattern.get(
                "status", "True"
            ):
                return str(cond.get("type"))
    return None


def judge_failed_pod(job: Obj, pod: Obj) -> FailureVerdict:
    """The first podFailurePolicy rule matching a failed pod decides; none matching: Count."""
    policy = (job.get("spec") or {}).get("podFailurePolicy") or {}
    meta = pod.get("metadata") or {}
    who = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
    for index, rule in enumerate(policy.get("rules") or []):
        action = str(rule.get("action", ""))
        if rule.get("onExitCodes"):
            hit = _exit_code_rule_matches(rule, pod)
            if hit is not None:
                name, code = hit
                return FailureVerdict(
                    action,
                    f"Container {name} for pod {who} failed with exit code {code} "
                    f"matching {action} rule at index {index}",
                )
        elif rule.get("onPodConditions"):
            cond = _condition_rule_matches(rule, pod)
            if cond is not None:
                return FailureVerdict(
                    action, f"Pod {who} has condition {cond} matching {action} rule at index {index}"
                )
    return FailureVerdict("Count")
