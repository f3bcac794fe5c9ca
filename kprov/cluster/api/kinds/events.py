"""Events in two API groups: core/v1 Events and their events.k8s.io/v1 view (pure).

Design: as in kube-apiserver, an Event is stored once, as a core/v1 object under
``/registry/events/<namespace>/<name>``, and ``events.k8s.io/v1`` is another view of the same
objects: the API server converts to core/v1 on every write through that group and back on
every read (:func:`convert`, wired as a built-in conversion). The view renames fields —
``regarding``/``involvedObject``, ``note``/``message``, ``deprecatedSource``/``source``,
``deprecatedFirstTimestamp``/``firstTimestamp``, ``deprecatedLastTimestamp``/
``lastTimestamp``, ``deprecatedCount``/``count``, ``reportingController``/
``reportingComponent`` — and shares the rest (eventTime, series, action, reason, related,
type, reportingInstance). Field selectors of the view are translated to the core names
(:data:`V1_FIELD_LABELS`, upstream's table); ``source`` matches ``source.component``, or the
reporting controller when the event has no source, as upstream's selectable fields do.

Validation is upstream's, on the core form with core field paths (``involvedObject.namespace``,
``message``): every event passes the legacy rules (an event without ``eventTime`` must sit
in its object's namespace; one with it names its reporting controller, instance, action and
reason, within upstream's lengths); writes through events.k8s.io/v1 are also held to the
strict rules (``eventTime`` required, type Normal or Warning, the deprecated fields unset on
create, a valid ``series`` when it changes, the identifying fields immutable on update).
One deviation: ``note`` may change on update, which upstream's update rules list as immutable
(``message``), because the upstream conformance spec "Events API should ensure that an event
can be fetched, patched, deleted, and listed" patches it through events.k8s.io/v1 and expects
success; kube-apiserver passes that spec, so this is what it observably does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from kprov.cluster.api.validation.field_errors import Errors
from kprov.cluster.api.validation.names import dns1123_subdomain_errors, qualified_name_errors

__all__ = ["CORE", "V1", "V1_FIELD_LABELS", "convert", "core_field_label", "to_core", "to_v1", "validate"]

CORE = "v1"
V1 = "events.k8s.io/v1"

# events.k8s.io/v1 field label -> the core/v1 one the stored object is matched on (upstream's table)
V1_FIELD_LABELS = {
    "reason": "reason",
    "regarding.kind": "involvedObject.kind",
    "regarding.namespace": "involvedObject.namespace",
    "regarding.name": "involvedObject.name",
    "regarding.uid": "involvedObject.uid",
    "regarding.apiVersion": "involvedObject.apiVersion",
    "regarding.resourceVersion": "involvedObject.resourceVersion",
    "regarding.fieldPath": "involvedObject.fieldPath",
    "reportingController": "reportingComponent",
    "source": "source",
    "type": "type",
    "metadata.namespace": "metadata.namespace",
    "metadata.name": "metadata.name",
}

# (events.k8s.io/v1 name, core/v1 name) of the renamed fields
_RENAMED = (
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
    ("reportingController", "reportingComponent"),
)
_SHARED = ("eventTime", "series", "action", "reason", "related", "type", "reportingInstance")

_REPORTING_INSTANCE_LIMIT = 128
_ACTION_LIMIT = 128
_REASON_LIMIT = 128
_NOTE_LIMIT = 1024


def _present(value: Any) -> bool:
    return value not in (None, "", 0, {})


def to_core(event: Mapping[str, Any]) -> dict[str, Any]:
    """An events.k8s.io/v1 Event as the core/v1 object it is stored as."""
    out: dict[str, Any] = {"apiVersion": CORE, "kind": "Event", "metadata": event.get("metadata") or {}}
    for theirs, ours in _RENAMED:
        if _present(event.get(theirs)):
            out[ours] = event[theirs]
    for name in _SHARED:
        if _present(event.get(name)):
            out[name] = event[name]
    out.setdefault("involvedObject", {})
    out.setdefault("source", {})
    out.setdefault("reportingComponent", "")
    out.setdefault("reportingInstance", "")
    return out


def to_v1(event: Mapping[str, Any]) -> dict[str, Any]:
    """A stored core/v1 Event as events.k8s.io/v1 shows it."""
    out: dict[str, Any] = {"apiVersion": V1, "kind": "Event", "metadata": event.get("metadata") or {}}
    for theirs, ours in _RENAMED:
        if _present(event.get(ours)):
            out[theirs] = event[ours]
    for name in _SHARED:
        if _present(event.get(name)):
            out[name] = event[name]
    out.setdefault("regarding", {})
    out.setdefault("deprecatedSource", {})
    return out


def convert(event: dict[str, Any], api_version: str) -> dict[str, Any]:
    """``event`` (either form) in ``api_version`` (``v1`` or ``events.k8s.io/v1``)."""
    current = str(event.get("apiVersion") or "")
    if current == api_version:
        return event
    if api_version == CORE:
        return to_core(event) if current == V1 else event
    return to_v1(to_core(event) if current == V1 else event)


def core_field_label(label: str) -> str:
    """The core/v1 field label an events.k8s.io/v1 one is matched as."""
    return V1_FIELD_LABELS.get(label, label)


# -- validation (core/v1 form, core field paths) --------------------------------------------
def validate(errors: Errors, event: Mapping[str, Any], old: Mapping[str, Any] | None, strict: bool) -> None:
    """Upstream's rules for ``event`` (core/v1 form; ``old`` on update); ``strict`` for writes
    through events.k8s.io/v1."""
    _legacy(errors, event, strict)
    if not strict:
        return
    if old is None:
        _strict_create(errors, event)
    else:
        _strict_update(errors, event, old)


def _legacy(errors: Errors, event: Mapping[str, Any], strict: bool) -> None:
    meta = event.get("metadata") or {}
    namespace = str(meta.get("namespace") or "")
    involved = event.get("involvedObject") or {}
    involved_ns = str(involved.get("namespace") or "")
    controller_field = "reportingController" if strict else "reportingComponent"
    if not event.get("eventTime"):
        agree = namespace in ("", "default") if not involved_ns else namespace == involved_ns
        if not agree:
            errors.invalid("involvedObject.namespace", involved_ns, "does not match event.namespace")
    else:
        if not involved_ns and namespace not in ("default", "kube-system"):
            errors.invalid("involvedObject.namespace", involved_ns, "does not match event.namespace")
        controller = str(event.get("reportingComponent") or "")
        if not controller:
            errors.required(controller_field)
        errors.each(controller_field, controller, qualified_name_errors(controller))
        instance = event.get("reportingInstance")
        _required_within(errors, "reportingInstance", instance, _REPORTING_INSTANCE_LIMIT)
        _required_within(errors, "action", event.get("action"), _ACTION_LIMIT)
        _required_within(errors, "reason", event.get("reason"), _REASON_LIMIT)
        if len(str(event.get("message") or "")) > _NOTE_LIMIT:
            errors.invalid("message", "", f"can have at most {_NOTE_LIMIT} characters")
    errors.each("namespace", namespace, dns1123_subdomain_errors(namespace))


def _required_within(errors: Errors, path: str, value: Any, limit: int) -> None:
    text = str(value or "")
    if not text:
        errors.required(path)
    if len(text) > limit:
        errors.invalid(path, "", f"can have at most {limit} characters")


def _series(errors: Errors, event: Mapping[str, Any]) -> None:
    series = event.get("series")
    if not series:
        return
    count = series.get("count") or 0
    if not isinstance(count, int) or count < 2:
        errors.invalid("series.count", "", "should be at least 2")
    if not series.get("lastObservedTime"):
        errors.required("series.lastObservedTime")


def _strict_create(errors: Errors, event: Mapping[str, Any]) -> None:
    _series(errors, event)
    if not event.get("eventTime"):
        errors.required("eventTime")
    if event.get("type") not in ("Normal", "Warning"):
        errors.invalid("type", "", f"has invalid value: {event.get('type') or ''}")
    for name in ("firstTimestamp", "lastTimestamp", "count"):
        if _present(event.get(name)):
            errors.invalid(name, "", "needs to be unset")
    source = event.get("source") or {}
    if source.get("component") or source.get("host"):
        errors.invalid("source", "", "needs to be unset")


_IMMUTABLE = (
    "involvedObject",
    "reason",
    "source",
    "firstTimestamp",
    "lastTimestamp",
    "count",
    "type",
    "eventTime",
    "action",
    "related",
    "reportingComponent",
    "reportingInstance",
)
_PATHS = {"reportingComponent": "reportingController"}  # the internal name upstream's paths use


def _instant(value: Any) -> Any:
    """A timestamp's instant to the microsecond (clients may write it with other digits)."""
    if not isinstance(value, str):
        return value
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        return value


def _strict_update(errors: Errors, event: Mapping[str, Any], old: Mapping[str, Any]) -> None:
    if (event.get("series") or None) != (old.get("series") or None):
        _series(errors, event)
    for name in _IMMUTABLE:
        new_value, old_value = event.get(name), old.get(name)
        new_seen = _instant(new_value) if _present(new_value) else None
        old_seen = _instant(old_value) if _present(old_value) else None
        if new_seen != old_seen:
            errors.immutable(_PATHS.get(name, name), new_value if new_value is not None else "")
