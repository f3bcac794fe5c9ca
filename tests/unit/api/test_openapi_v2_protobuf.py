"""The /openapi/v2 document's protobuf form (gnostic's Document) read back at the wire level,
and the Accept negotiation that picks JSON, protobuf or a 406 as kube-openapi does."""

from __future__ import annotations

import json
import struct
from typing import Any

import pytest

from kprov.cluster.api.schema.openapi_v2 import document
from kprov.cluster.api.schema.openapi_v2_protobuf import UnencodableSchema, encode_document
from kprov.cluster.api.wire.protowire import iter_fields
from kprov.cluster.apiserver.handlers.discovery import v2_form


def _fields(data: bytes) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = {}
    for number, _wire, value in iter_fields(data):
        out.setdefault(number, []).append(value)
    return out


def _definitions(doc: dict[str, Any]) -> dict[str, dict[int, list[Any]]]:
    """Definition name -> its Schema's fields, from Document field 9."""
    top = _fields(encode_document(doc, strict=True))
    (definitions,) = top[9]
    named = {}
    for entry in _fields(definitions)[1]:
        parts = _fields(entry)
        named[parts[1][0].decode()] = _fields(parts[2][0])
    return named


def _doc(definitions: dict[str, Any]) -> dict[str, Any]:
    return {"swagger": "2.0", "info": {"title": "Kubernetes", "version": "v1.32.0"}, "paths": {},
            "definitions": definitions}


def test_document_header_fields() -> None:
    top = _fields(encode_document(_doc({})))
    assert top[1] == [b"2.0"]
    info = _fields(top[2][0])
    assert info[1] == [b"Kubernetes"] and info[2] == [b"v1.32.0"]
    assert top[8] == [b""]  # an empty Paths message, as gnostic makes of "paths": {}
    assert top[9] == [b""]


def test_schema_keywords_land_in_gnostics_fields() -> None:
    schema = {
        "description": "A thing.",
        "type": "object",
        "required": ["spec", "kind"],
        "properties": {
            "spec": {"$ref": "#/definitions/x.Spec"},
            "ports": {"type": "array", "items": {"type": "integer", "format": "int32"},
                      "x-kubernetes-patch-merge-key": "port", "x-kubernetes-patch-strategy": "merge"},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "free": {"type": "object", "additionalProperties": True},
            "mode": {"type": "string", "enum": ["A", "B"], "default": "A"},
            "size": {"type": "number", "minimum": 1.5, "maxLength": 0, "readOnly": False},
        },
        "x-kubernetes-group-version-kind": [{"group": "", "kind": "Thing", "version": "v1"}],
    }
    fields = _definitions(_doc({"x.Thing": schema}))["x.Thing"]
    assert fields[4] == [b"A thing."]
    assert fields[19] == [b"spec", b"kind"]
    assert _fields(fields[22][0])[1] == [b"object"]
    (extension,) = fields[31]
    named = _fields(extension)
    assert named[1] == [b"x-kubernetes-group-version-kind"]
    assert json.loads(_fields(named[2][0])[2][0]) == schema["x-kubernetes-group-version-kind"]

    properties = {}
    for entry in _fields(fields[25][0])[1]:
        parts = _fields(entry)
        properties[parts[1][0].decode()] = _fields(parts[2][0])
    assert list(properties) == ["spec", "ports", "labels", "free", "mode", "size"]
    assert properties["spec"] == {1: [b"#/definitions/x.Spec"]}
    items = _fields(_fields(properties["ports"][23][0])[1][0])
    assert _fields(items[22][0])[1] == [b"integer"] and items[2] == [b"int32"]
    assert [_fields(e)[1][0] for e in properties["ports"][31]] == [
        b"x-kubernetes-patch-merge-key", b"x-kubernetes-patch-strategy"]
    value = _fields(_fields(properties["labels"][21][0])[1][0])
    assert _fields(value[22][0])[1] == [b"string"]
    assert _fields(properties["free"][21][0]) == {2: [1]}
    assert [json.loads(_fields(e)[2][0]) for e in properties["mode"][20]] == ["A", "B"]
    assert json.loads(_fields(properties["mode"][5][0])[2][0]) == "A"
    # a double is fixed64 little-endian; proto3 leaves zero scalars (maxLength 0, false) out
    assert struct.unpack("<d", properties["size"][9][0]) == (1.5,)
    assert 11 not in properties["size"] and 27 not in properties["size"]


def test_a_keyword_swagger_2_has_no_field_for_is_named_when_strict_else_left_out() -> None:
    doc = _doc({"x.Thing": {"properties": {"a": {"$schema": "x", "type": "string"}}}})
    with pytest.raises(UnencodableSchema, match=r"definitions\.x\.Thing\.properties\.a: '\$schema'"):
        encode_document(doc, strict=True)
    plain = _doc({"x.Thing": {"properties": {"a": {"type": "string"}}}})
    assert encode_document(doc) == encode_document(plain)


def test_the_served_document_encodes_whole() -> None:
    served = document([])
    encoded = _definitions(served)
    assert set(encoded) == set(served["definitions"])
    pod = encoded["io.k8s.api.core.v1.Pod"]
    kinds = [json.loads(_fields(_fields(e)[2][0])[2][0]) for e in pod[31] if _fields(e)[1] == [
        b"x-kubernetes-group-version-kind"]]
    assert kinds == [[{"group": "", "kind": "Pod", "version": "v1"}]]


@pytest.mark.parametrize(("accept", "form"), [
    ("", "json"),
    ("*/*", "json"),
    ("application/json", "json"),
    ("application/com.github.proto-openapi.spec.v2@v1.0+protobuf", "protobuf"),
    ("application/com.github.proto-openapi.spec.v2.v1.0+protobuf", "protobuf"),
    ("application/com.github.proto-openapi.spec.v2@v1.0+protobuf, application/json;q=0.5", "protobuf"),
    ("application/json;q=0.5, application/com.github.proto-openapi.spec.v2@v1.0+protobuf", "protobuf"),
    ("application/*", "json"),
    ("application/yaml", None),
    ("application/json;q=0", None),
])
def test_accept_negotiation(accept: str, form: str | None) -> None:
    assert v2_form(accept) == form
