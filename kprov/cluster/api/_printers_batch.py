"""Table printers for batch/v1 Jobs (STATUS, COMPLETIONS, DURATION as upstream's printJob)."""

from __future__ import annotations

from typing import Any

from kprov.cluster.api._printers_workloads import CONTAINERS, IMAGES, SELECTOR, containers_of, selector_of
from kprov.cluster.api._printing import AGE, NAME, Age, Column, Printer, created, human_duration, name_of
from kprov.cluster.api.objects import get_path, parse_time

__all__ = ["JOB"]


def _has(obj: dict[str, Any], kind: str) -> bool:
    return any(
        c.get("type") == kind and c.get("status") == "True"
        for c in get_path(obj, "status.conditions", []) or []
    )


def job_status(obj: dict[str, Any]) -> str:
    """The STATUS cell: the first of Complete, Failed, Terminating, Suspended, FailureTarget,
    SuccessCriteriaMet that applies, else Running."""
    if _has(obj, "Complete"):
        return "Complete"
    if _has(obj, "Failed"):
        return "Failed"
    if get_path(obj, "metadata.deletionTimestamp"):
        return "Terminating"
    for kind in ("Suspended", "FailureTarget", "SuccessCriteriaMet"):
        if _has(obj, kind):
            return kind
    return "Running"


def _completions(obj: dict[str, Any]) -> str:
    succeeded = int(get_path(obj, "status.succeeded", 0) or 0)
    completions = get_path(obj, "spec.completions")
    if completions is not None:
        return f"{succeeded}/{completions}"
    parallelism = int(get_path(obj, "spec.parallelism", 0) or 0)
    return f"{succeeded}/1 of {parallelism}" if parallelism > 1 else f"{succeeded}/1"


def _duration(obj: dict[str, Any], age: Age) -> str:
    started = get_path(obj, "status.startTime")
    finished = parse_time(get_path(obj, "status.completionTime"))
    start = parse_time(started)
    if start is None:
        return ""
    if finished is not None:
        return human_duration(finished - start)
    return age(started)


def _job_row(obj: dict[str, Any], age: Age) -> list[Any]:
    names, images = containers_of(obj)
    return [
        name_of(obj),
        job_status(obj),
        _completions(obj),
        _duration(obj, age),
        created(obj, age),
        names,
        images,
        selector_of(obj),
    ]


JOB = Printer(
    (
        NAME,
        Column("Status", description="Status of the job."),
        Column(
            "Completions",
            description="The desired number of successfully finished pods the job should be run with.",
        ),
        Column("Duration", description="Time required to complete the job."),
        AGE,
        CONTAINERS,
        IMAGES,
        SELECTOR,
    ),
    _job_row,
)
