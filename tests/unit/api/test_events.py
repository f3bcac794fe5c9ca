"""Events stored once as core/v1 and shown through events.k8s.io/v1: conversion both ways,
field labels, and upstream's legacy and strict validation (core field paths)."""

from __future__ import annotations

from typing import Any

from kprov.cluster.api.kinds import events
from kprov.cluster.api.resources import REGISTRY
from kprov.cluster.api.validation.core import validate

V1_EVENT: dict[str, Any] = {
    "apiVersion": "events.k8s.io/v1",
    "kind": "Event",
    "metadata": {"name": "e", "namespace": "ns", "labels": {"a": "true"}},
    "regarding": {"namespace": "ns"},
    "eventTime": "2017-09-19T13:49:16.000000Z",
    "note": "This is e",
    "action": "Do",
    "reason": "Test",
    "type": "Normal",
    "reportingController": "test-controller",
    "reportingInstance": "test-node",
}


def test_the_core_form_renames_the_fields_and_reads_back_the_same():
    core = events.to_core(V1_EVENT)
    assert core["apiVersion"] == "v1" and core["kind"] == "Event"
    assert core["involvedObject"] == {"namespace": "ns"} and core["message"] == "This is e"
    assert core["reportingComponent"] == "test-controller" and core["source"] == {}
    assert "note" not in core and "regarding" not in core
    assert events.convert(core, events.V1) == V1_EVENT | {"deprecatedSource": {}}
    assert events.convert(core, events.CORE) is core


def test_a_core_event_shows_its_deprecated_fields_in_the_v1_view():
    core = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "p.1", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"},
        "message": "pulled",
        "source": {"component": "kubelet", "host": "h1"},
        "firstTimestamp": "2026-01-01T00:00:00Z",
        "lastTimestamp": "2026-01-01T00:00:05Z",
        "count": 3,
        "reportingComponent": "",
        "reportingInstance": "",
    }
    shown = events.to_v1(core)
    assert shown["regarding"]["name"] == "p" and shown["note"] == "pulled"
    assert shown["deprecatedSource"] == {"component": "kubelet", "host": "h1"}
    assert shown["deprecatedCount"] == 3 and shown["deprecatedLastTimestamp"] == "2026-01-01T00:00:05Z"
    assert "reportingController" not in shown


def test_v1_field_labels_are_matched_on_the_core_names():
    assert events.core_field_label("regarding.name") == "involvedObject.name"
    assert events.core_field_label("reportingController") == "reportingComponent"
    assert events.core_field_label("metadata.name") == "metadata.name"


def _causes(
    obj: dict[str, Any], old: dict[str, Any] | None = None, group: str = "events.k8s.io"
) -> list[str]:
    info = REGISTRY.get(group, "v1", "events")
    assert info is not None
    return [f"{c.field}: {c.message}" for c in validate(info, obj, old)]


def test_a_valid_v1_event_passes_and_the_strict_rules_apply_on_create():
    assert _causes(V1_EVENT) == []
    bad = {**V1_EVENT, "type": "Odd", "deprecatedCount": 2, "series": {"count": 1}}
    del bad["eventTime"]
    causes = _causes(bad)
    assert 'type: Invalid value: "": has invalid value: Odd' in causes
    assert "eventTime: Required value" in causes
    assert 'count: Invalid value: "": needs to be unset' in causes
    assert 'series.count: Invalid value: "": should be at least 2' in causes
    assert "series.lastObservedTime: Required value" in causes


def test_the_legacy_rules_name_core_fields():
    missing = {k: v for k, v in V1_EVENT.items() if k not in ("reportingController", "action")}
    causes = _causes(missing)
    assert "reportingController: Required value" in causes and "action: Required value" in causes
    core = events.to_core(missing)
    assert "reportingComponent: Required value" in _causes(core, group="")
    elsewhere = {**V1_EVENT, "regarding": {"namespace": "other"}}
    assert _causes(elsewhere) == []  # with eventTime, only an empty regarding.namespace is judged
    old_style = {
        "metadata": {"name": "x", "namespace": "ns"},
        "involvedObject": {"namespace": "other"},
    }
    assert _causes(old_style, group="") == [
        'involvedObject.namespace: Invalid value: "other": does not match event.namespace'
    ]


def test_v1_updates_keep_the_identifying_fields_but_may_add_a_series_and_change_the_note():
    series = {"count": 100, "lastObservedTime": "2017-09-19T13:49:16.000000Z"}
    assert _causes({**V1_EVENT, "series": series, "note": "patched"}, V1_EVENT) == []
    causes = _causes({**V1_EVENT, "reason": "Other", "reportingInstance": "n2"}, V1_EVENT)
    assert causes == [
        'reason: Invalid value: "Other": field is immutable',
        'reportingInstance: Invalid value: "n2": field is immutable',
    ]
    same_instant = {**V1_EVENT, "eventTime": "2017-09-19T13:49:16Z"}
    assert _causes(same_instant, V1_EVENT) == []


def test_core_writes_are_not_held_to_the_strict_rules():
    core = events.to_core(V1_EVENT)
    assert _causes({**core, "count": 5, "source": {"component": "x"}}, group="") == []
    assert _causes({**core, "message": "changed"}, core, group="") == []
