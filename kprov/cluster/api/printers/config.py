"""Table printers for configmaps, secrets, serviceaccounts, leases and events."""

from __future__ import annotations

from typing import Any

from kprov.cluster.api.objects import get_path
from kprov.cluster.api.printers.columns import AGE, NAME, NONE, Age, Column, Printer, created, name_of

__all__ = ["CONFIGMAP", "EVENT", "LEASE", "SECRET", "SERVICEACCOUNT", "event_fields"]

CONFIGMAP = Printer(
    (NAME, Column("Data", "integer", "Number of data entries."), AGE),
    lambda obj, age: [
        name_of(obj),
        len(obj.get("data") or {}) + len(obj.get("binaryData") or {}),
        created(obj, age),
    ],
)

SECRET = Printer(
    (
        NAME,
        Column("Type", description="The type of the secret"),
        Column("Data", "integer", "Number of data entries."),
        AGE,
    ),
    lambda obj, age: [name_of(obj), obj.get("type", ""), len(obj.get("data") or {}), created(obj, age)],
)

SERVICEACCOUNT = Printer(
    (NAME, Column("Secrets", "integer", "Number of secrets."), AGE),
    lambda obj, age: [name_of(obj), len(obj.get("secrets") or []), created(obj, age)],
)

LEASE = Printer(
    (NAME, Column("Holder", description="The holder of the lease."), AGE),
    lambda obj, age: [name_of(obj), get_path(obj, "spec.holderIdentity", ""), created(obj, age)],
)


def event_fields(event: dict[str, Any]) -> dict[str, Any]:
    """An events.k8s.io/v1 Event in core/v1 field names (the printer reads those)."""
    if not str(event.get("apiVersion", "")).startswith("events.k8s.io/"):
        return event
    return {
        "metadata": event.get("metadata") or {},
        "involvedObject": event.get("regarding") or {},
        "message": event.get("note", ""),
        "reason": event.get("reason", ""),
        "type": event.get("type", ""),
        "count": event.get("deprecatedCount", 0),
        "firstTimestamp": event.get("deprecatedFirstTimestamp"),
        "lastTimestamp": event.get("deprecatedLastTimestamp"),
        "eventTime": event.get("eventTime"),
        "series": event.get("series"),
        "source": event.get("deprecatedSource") or {"component": event.get("reportingController", "")},
    }


def _event_row(raw: dict[str, Any], age: Age) -> list[Any]:
    event = event_fields(raw)
    first_time = event.get("firstTimestamp") or event.get("eventTime")
    first = age(first_time)
    last = age(event.get("lastTimestamp")) if event.get("lastTimestamp") else first
    count = int(event.get("count") or 0)
    series = event.get("series")
    if series:
        last = age(series.get("lastObservedTime"))
        count = int(series.get("count") or 0)
    elif count > 1:
        last = f"{last} (x{count} over {first})"
    involved = event.get("involvedObject") or {}
    source = event.get("source") or {}
    source_text = source.get("component", "") or event.get("reportingComponent", "")
    if source.get("host"):
        source_text += ", " + source["host"]
    return [
        last,
        event.get("type", ""),
        event.get("reason", ""),
        f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}",
        involved.get("fieldPath", ""),
        source_text,
        event.get("message", ""),
        first,
        count,
        name_of(raw) or NONE,
    ]


EVENT = Printer(
    (
        Column("Last Seen", description="Time when last event occurred"),
        Column("Type", description="Type of this event."),
        Column("Reason", description="Reason why this event was generated."),
        Column("Object", description="Object this event is about."),
        Column("Subobject", description="Subobject this event is about.", priority=1),
        Column("Source", description="Who generated this event.", priority=1),
        Column("Message", description="A human-readable description of the status of this operation."),
        Column("First Seen", description="Time when first event occurred", priority=1),
        Column("Count", "integer", "The number of times this event has occurred", priority=1),
        Column("Name", format="name", description="Name of the event", priority=1),
    ),
    _event_row,
)
