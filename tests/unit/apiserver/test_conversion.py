"""Custom objects between versions (no network): defaults from the stored version's schema,
apiVersion rewriting for conversion None, and how a conversion webhook's answer is checked."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kprov.cluster.api.crd.definition import accepted_status, default_crd, infos_from_crd
from kprov.cluster.apiserver.aggregation import conversion
from kprov.cluster.apiserver.request.status import ApiError

NOW = "2026-01-01T00:00:00Z"


def _infos(v1_props: dict[str, Any], webhook: bool = False):  # type: ignore[no-untyped-def]
    crd: dict[str, Any] = {
        "metadata": {"name": "things.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "things", "kind": "Thing"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "properties": v1_props}},
                },
                {
                    "name": "v2",
                    "served": True,
                    "storage": False,
                    "schema": {"openAPIV3Schema": {"type": "object", "properties": {}}},
                },
            ],
        },
    }
    if webhook:
        crd["spec"]["conversion"] = {
            "strategy": "Webhook",
            "webhook": {"clientConfig": {"url": "https://127.0.0.1:1/x"}, "conversionReviewVersions": ["v1"]},
        }
    default_crd(crd)
    crd["status"] = accepted_status(crd, {}, NOW)
    return {i.version: i for i in infos_from_crd(crd)}


def _thing(version: str, **fields: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"example.com/{version}",
        "kind": "Thing",
        "metadata": {"name": "a", "uid": "u"},
        **fields,
    }


def test_read_defaults_by_the_stored_version_then_rewrites_api_version():
    infos = _infos({"a": {"type": "string", "default": "A"}})
    stored = _thing("v1")
    (as_v1,) = asyncio.run(conversion.read(None, infos["v1"], [stored]))  # type: ignore[arg-type]
    assert as_v1["a"] == "A" and "a" not in stored
    (as_v2,) = asyncio.run(conversion.read(None, infos["v2"], [stored]))  # type: ignore[arg-type]
    assert as_v2["apiVersion"] == "example.com/v2" and as_v2["a"] == "A"
    (fresh,) = asyncio.run(conversion.read(None, infos["v1"], [stored], defaults=False))  # type: ignore[arg-type]
    assert fresh is stored
    written = asyncio.run(conversion.to_storage(None, infos["v2"], _thing("v2")))  # type: ignore[arg-type]
    assert written["apiVersion"] == "example.com/v1"


def test_no_defaults_no_copies():
    infos = _infos({"a": {"type": "string"}})
    stored = _thing("v1")
    assert asyncio.run(conversion.read(None, infos["v1"], [stored]))[0] is stored  # type: ignore[arg-type]


def test_webhook_answer_keeps_original_metadata_but_its_labels():
    sent = [_thing("v1", hostPort="h:1")]
    answer = {
        "uid": "x",
        "result": {"status": "Success"},
        "convertedObjects": [
            {**_thing("v2", host="h"), "metadata": {"name": "renamed", "labels": {"l": "1"}}}
        ],
    }
    (out,) = conversion._checked("example.com/v1, Kind=Thing", sent, ("x", answer), "example.com/v2")
    assert out["host"] == "h" and out["metadata"] == {"name": "a", "uid": "u", "labels": {"l": "1"}}


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({"uid": "other", "result": {"status": "Success"}}, "expected response.uid='x'"),
        ({"uid": "x", "result": {"status": "Failure", "message": "no"}}, "returned failure: no"),
        (
            {"uid": "x", "result": {"status": "Success"}, "convertedObjects": []},
            "returned 0 objects, expected 1",
        ),
        (
            {"uid": "x", "result": {"status": "Success"}, "convertedObjects": [_thing("v1")]},
            "invalid converted object at index 0: invalid apiVersion 'example.com/v1'",
        ),
    ],
)
def test_bad_webhook_answers_are_500s(answer, message):
    with pytest.raises(ApiError) as raised:
        conversion._checked("example.com/v1, Kind=Thing", [_thing("v1")], ("x", answer), "example.com/v2")
    assert raised.value.code == 500 and message in str(raised.value)
    assert str(raised.value).startswith(
        "Internal error occurred: conversion webhook for example.com/v1, Kind=Thing"
    )


def test_unreachable_webhook_is_a_500_naming_the_kind():
    infos = _infos({}, webhook=True)

    class _Ctx:  # no service lookups: the webhook has a URL
        pass

    with pytest.raises(ApiError) as raised:
        asyncio.run(conversion.read(_Ctx(), infos["v2"], [_thing("v1")]))  # type: ignore[arg-type]
    assert raised.value.code == 500 and "conversion webhook for example.com/v2, Kind=Thing failed" in str(
        raised.value
    )
