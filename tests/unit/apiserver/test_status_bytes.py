"""Status replies are kube-apiserver's bytes: metav1.Status's Go field order, empty fields
left out, Go's HTML escapes and the json.Encoder's trailing newline."""

from __future__ import annotations

import json

import orjson

from kprov.cluster.api.errors import Cause
from kprov.cluster.api.resources import REGISTRY, ResourceInfo
from kprov.cluster.apiserver.request.negotiation import (
    go_body,
    go_list_body,
    json_response,
    prettified,
    wants_pretty,
)
from kprov.cluster.apiserver.request.status import forbidden, invalid, not_found, status_body, success_status


def _info(group: str, resource: str) -> ResourceInfo:
    info = REGISTRY.get(group, "v1", resource)
    assert info is not None
    return info


PODS = _info("", "pods")
DEPLOYMENTS = _info("apps", "deployments")


def _wire(body: dict[str, object]) -> bytes:
    return go_body(orjson.dumps(body))


def test_not_found_on_a_core_kind_is_upstreams_bytes() -> None:
    # metav1.Status: kind, apiVersion, metadata, status, message, reason, details, code;
    # StatusDetails: name, group (omitempty: left out for the core group), kind.
    expected = (
        b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
        b'"message":"pods \\"web\\" not found","reason":"NotFound",'
        b'"details":{"name":"web","kind":"pods"},"code":404}\n'
    )
    assert _wire(status_body(not_found(PODS, "web"))) == expected


def test_group_follows_name_in_details() -> None:
    body = status_body(not_found(DEPLOYMENTS, "web"))
    assert list(body) == ["kind", "apiVersion", "metadata", "status", "message", "reason", "details", "code"]
    assert list(body["details"].items()) == [("name", "web"), ("group", "apps"), ("kind", "deployments")]


def test_causes_come_after_kind_and_drop_empty_fields() -> None:
    error = invalid(PODS, "web", [Cause("", "FieldValueRequired", "Required value")])
    details = status_body(error)["details"]
    assert list(details) == ["name", "kind", "causes"]
    assert details["causes"] == [{"reason": "FieldValueRequired", "message": "Required value"}]


def test_forbidden_without_name_has_group_and_kind_only() -> None:
    body = status_body(forbidden("u", "list", "pods", "", "ns"))
    assert body["details"] == {"kind": "pods"}


def test_success_status_omits_the_empty_group() -> None:
    body = success_status(PODS, "web", "u-1")
    assert body["details"] == {"name": "web", "kind": "pods", "uid": "u-1"}


def test_go_body_escapes_html_characters_and_ends_with_a_newline() -> None:
    raw = go_body(orjson.dumps({"m": "a<b>&c\u2028"}))
    assert raw == b'{"m":"a\\u003cb\\u003e\\u0026c\\u2028"}\n'


class _Request:
    def __init__(self, query: dict[str, str], agent: str) -> None:
        self.query = query
        self.query_string = "&".join(f"{k}={v}" for k, v in query.items())
        self.headers = {"User-Agent": agent}


def test_pretty_as_kube_apiservers_is_pretty_print() -> None:
    assert wants_pretty(_Request({}, "curl/8.5.0")) and wants_pretty(_Request({}, "Mozilla/5.0 (X11)"))
    assert not wants_pretty(_Request({}, "kubectl/v1.32.4"))
    assert wants_pretty(_Request({"pretty": "true"}, "kubectl/v1.32.4"))
    assert not wants_pretty(_Request({"pretty": "false"}, "curl/8.5.0"))


def test_prettified_is_marshal_indent_without_a_newline() -> None:
    reply = prettified(json_response({"kind": "Status", "metadata": {}, "m": "<"}, 404))
    assert reply.body == b'{\n  "kind": "Status",\n  "metadata": {},\n  "m": "\\u003c"\n}'


def test_go_body_escapes_exactly_what_go_escapes_among_other_three_byte_characters() -> None:
    """U+2028 and U+2029 share their first byte (E2) with the euro sign, the ellipsis and
    other characters Go writes as they are: only the two separators and <, >, & change."""
    import random

    pool = ["a", "<", ">", "&", "\u2028", "\u2029", "\u2026", "\u20ac", "\u2027", "\u202a", "é", "\u2800"]
    rng = random.Random(7)
    for _ in range(300):
        text = "".join(rng.choice(pool) for _ in range(rng.randint(0, 12)))
        expected = json.dumps({"m": text}, ensure_ascii=False, separators=(",", ":"))
        for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                              ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
            expected = expected.replace(char, escaped)
        assert go_body(orjson.dumps({"m": text})) == expected.encode() + b"\n"


def test_a_list_spliced_from_encoded_items_is_the_go_body_of_the_whole_list() -> None:
    head = {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "7"}}
    items = [{"metadata": {"name": "a", "annotations": {"x": "<b> & \u2028"}}}, {"metadata": {"name": "b"}}]
    for listed in (items, items[:1], []):
        whole = go_body(orjson.dumps({**head, "items": listed}))
        assert go_list_body(orjson.dumps(head), (orjson.dumps(i) for i in listed)) == whole
    assert go_list_body(orjson.dumps(head), iter([])).endswith(b',"items":[]}\n')
