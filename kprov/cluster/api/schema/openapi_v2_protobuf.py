"""The ``/openapi/v2`` document in its protobuf form: gnostic's ``openapi.v2.Document``.

kubectl asks for the v2 document only as protobuf
(``Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf``) and only for its
client-side schema validation, which it falls back to where the server's field validation
cannot speak for a kind - above all for a ``kind: List`` (``kubectl create -f``/``apply -f``
of what ``kubectl get -o yaml`` wrote for several objects). Without this form those fail.

Design: the JSON document (:mod:`.openapi_v2`) is translated field by field into the wire
form gnostic's parser gives the same JSON (``openapi_v2.ParseDocument`` then
``proto.Marshal``, what kube-openapi serves): field numbers are gnostic's OpenAPIv2 schema;
``x-`` keys become vendor extensions whose value is ``Any.yaml`` (the value as JSON text,
which is YAML, and what kube-openapi's reader parses back); ``default``, ``example`` and
``enum`` values are ``Any`` likewise; ``type`` is a TypeItem, ``items`` an ItemsItem,
``additionalProperties`` a schema or a boolean. Only the parts the JSON document has are
translated (swagger, info, paths, definitions). Hand-written over :mod:`protowire` rather
than generated message classes: the protobuf package ships no gnostic messages, and the
whole translation is these few tables.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from typing import Any

from kprov.cluster.api.wire.protowire import encode_varint, field_key, length_delimited

__all__ = ["UnencodableSchema", "encode_document"]

# Schema: keyword -> (field number, how it is written)
_SCHEMA_FIELDS: dict[str, tuple[int, str]] = {
    "$ref": (1, "string"),
    "format": (2, "string"),
    "title": (3, "string"),
    "description": (4, "string"),
    "default": (5, "any"),
    "multipleOf": (6, "double"),
    "maximum": (7, "double"),
    "exclusiveMaximum": (8, "bool"),
    "minimum": (9, "double"),
    "exclusiveMinimum": (10, "bool"),
    "maxLength": (11, "int"),
    "minLength": (12, "int"),
    "pattern": (13, "string"),
    "maxItems": (14, "int"),
    "minItems": (15, "int"),
    "uniqueItems": (16, "bool"),
    "maxProperties": (17, "int"),
    "minProperties": (18, "int"),
    "required": (19, "strings"),
    "enum": (20, "anys"),
    "additionalProperties": (21, "additional"),
    "type": (22, "type"),
    "items": (23, "items"),
    "allOf": (24, "schemas"),
    "properties": (25, "properties"),
    "discriminator": (26, "string"),
    "readOnly": (27, "bool"),
    "externalDocs": (29, "docs"),
    "example": (30, "any"),
}
_SCHEMA_VENDOR_EXTENSION = 31
_SCALARS = ("string", "bool", "int", "double")
_INFO_FIELDS = {"title": 1, "version": 2, "description": 3, "termsOfService": 4}
_INFO_VENDOR_EXTENSION = 7


class UnencodableSchema(ValueError):
    """A keyword Swagger 2.0 has no place for (gnostic's parser refuses it too)."""


_key = field_key
_message = length_delimited


def _string(number: int, text: str) -> bytes:
    return _message(number, text.encode())


def _any(number: int, value: Any) -> bytes:
    """An ``Any`` holding ``value`` as YAML text (field 2); JSON is YAML."""
    return _message(number, _string(2, json.dumps(value, separators=(",", ":"))))


def _named_any(number: int, name: str, value: Any) -> bytes:
    return _message(number, _string(1, name) + _any(2, value))


def _field(number: int, how: str, value: Any, where: str, strict: bool) -> bytes:
    if how in _SCALARS and not value:
        return b""  # proto3 writes no zero scalar
    if how == "string":
        return _string(number, str(value))
    if how == "bool":
        return _key(number, 0) + encode_varint(1 if value else 0)
    if how == "int":
        return _key(number, 0) + encode_varint(int(value))
    if how == "double":
        return _key(number, 1) + struct.pack("<d", float(value))
    if how == "any":
        return _any(number, value)
    if how == "anys":
        return b"".join(_any(number, item) for item in value)
    if how == "strings":
        return b"".join(_string(number, str(item)) for item in value)
    if how == "type":  # TypeItem: repeated string value = 1
        names = value if isinstance(value, list) else [value]
        return _message(number, b"".join(_string(1, str(name)) for name in names))
    if how == "items":  # ItemsItem: repeated Schema schema = 1
        schemas = value if isinstance(value, list) else [value]
        return _message(number, b"".join(_message(1, _schema(s, f"{where}.items", strict)) for s in schemas))
    if how == "schemas":
        return b"".join(_message(number, _schema(s, where, strict)) for s in value)
    if how == "additional":  # AdditionalPropertiesItem: Schema schema = 1 | bool boolean = 2
        if isinstance(value, bool):
            return _message(number, _key(2, 0) + encode_varint(1 if value else 0))
        return _message(number, _message(1, _schema(value, f"{where}.additionalProperties", strict)))
    if how == "properties":  # Properties: repeated NamedSchema additional_properties = 1
        return _message(number, _named_schemas(value, f"{where}.properties", strict))
    if how == "docs":  # ExternalDocs: description = 1, url = 2
        parts = (_field(1, "string", value.get("description"), where, strict)
                 + _field(2, "string", value.get("url"), where, strict))
        return _message(number, parts)
    raise AssertionError(how)


def _named_schemas(schemas: Mapping[str, Any], where: str, strict: bool) -> bytes:
    """NamedSchema entries (name = 1, value = 2), each as field 1 of the enclosing message."""
    return b"".join(
        _message(1, _string(1, name) + _message(2, _schema(schema, f"{where}.{name}", strict)))
        for name, schema in schemas.items()
    )


def _schema(schema: Mapping[str, Any], where: str, strict: bool) -> bytes:
    """One Schema message, its fields in field-number order (as proto.Marshal writes them).
    A keyword Swagger 2.0 has no field for is an error when ``strict``, else left out (a
    custom resource's ``id`` or ``$schema``: v2 readers have no use for them)."""
    fields: list[tuple[int, bytes]] = []
    extensions = b""
    for keyword, value in schema.items():
        if keyword.startswith("x-"):
            extensions += _named_any(_SCHEMA_VENDOR_EXTENSION, keyword, value)
            continue
        spec = _SCHEMA_FIELDS.get(keyword)
        if spec is None:
            if strict:
                raise UnencodableSchema(f"{where}: {keyword!r} is not a Swagger 2.0 schema keyword")
            continue
        fields.append((spec[0], _field(spec[0], spec[1], value, where, strict)))
    fields.sort(key=lambda item: item[0])
    return b"".join(data for _, data in fields) + extensions


def _info(info: Mapping[str, Any]) -> bytes:
    out = b""
    for keyword, number in _INFO_FIELDS.items():
        if keyword in info:
            out += _string(number, str(info[keyword]))
    for keyword, value in info.items():
        if keyword.startswith("x-"):
            out += _named_any(_INFO_VENDOR_EXTENSION, keyword, value)
    return out


def encode_document(document: Mapping[str, Any], strict: bool = False) -> bytes:
    """gnostic's Document for a Swagger 2.0 document holding swagger, info, paths (empty
    here) and definitions. With ``strict``, a keyword Swagger 2.0 has no field for raises
    :class:`UnencodableSchema` naming its definition path (tests hold the built-in
    definitions to that); served documents leave such keywords out."""
    out = _string(1, str(document.get("swagger", "2.0")))
    if "info" in document:
        out += _message(2, _info(document["info"]))
    if "paths" in document:
        if document["paths"]:
            raise UnencodableSchema("paths: only an empty paths object is encoded")
        out += _message(8, b"")
    if "definitions" in document:
        out += _message(9, _named_schemas(document["definitions"], "definitions", strict))
    return out
