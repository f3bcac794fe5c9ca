"""Table printers for batch/v1 Jobs (STATUS, COMPLETIONS, DURATION as upstream's printJob) and
CronJobs (SCHEDULE, TIMEZONE, SUSPEND, ACTIVE, LAST SCHEDULE)."""

from __future__ import annotations

from typing import Any

from kprov.cluster.api.objects import get_path, parse_time
from kprov.cluster.api.printers.columns import (
    AGE,
    NAME,
    NONE,
    Age,
    Column,
    Printer,
    created,
    human_duration,
    name_of,
)
from kprov.cluster.api.printers.workloads import CONTAINERS, IMAGES, SELECTOR, containers_of, selector_of

__all__ = ["CRONJOB", "JOB"]


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


def _cronjob_row(obj: dict[str, Any], age: Age) -> list[Any]:
    containers = get_path(obj, "spec.jobTemplate.spec.template.spec.containers", []) or []
    last = get_path(obj, "status.lastScheduleTime")
    return [
        name_of(obj),
        str(get_path(obj, "spec.schedule", "")),
        get_path(obj, "spec.timeZone") or NONE,
        "True" if get_path(obj, "spec.suspend") else "False",
        len(get_path(obj, "status.active", []) or []),
        age(last) if last else NONE,
        created(obj, age),
        ",".join(str(c.get("name", "")) for c in containers),
        ",".join(str(c.get("image", "")) for c in containers),
        selector_of({"spec": {"selector": get_path(obj, "spec.jobTemplate.spec.selector")}}),
    ]


CRONJOB = Printer(
    (
        NAME,
        Column(
            "Schedule", description="The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron."
        ),
        Column("Timezone", description="The time zone name for the given schedule."),
        Column("Suspend", "boolean", "This flag tells the controller to suspend subsequent executions."),
        Column("Active", "integer", "A list of pointers to currently running jobs."),
        Column(
            "Last Schedule",
            description="Information when was the last time the job was successfully scheduled.",
        ),
        AGE,
        CONTAINERS,
        IMAGES,
        SELECTOR,
    ),
    _cronjob_row,
)
