"""The /openapi/v2 document: built-in definitions and custom resources' definitions as
kube-apiserver publishes them (names, the v2 form of structural schemas, the added fields)."""

from __future__ import annotations

import copy
import json
from typing import Any

from kprov.cluster.api.crd.definition import accepted_status, default_crd, infos_from_crd
from kprov.cluster.api.schema.openapi_v2 import crd_definition, document, v2_schema

NOW = "2026-01-01T00:00:00Z"
FOO = {
    "description": "Foo CRD for Testing",
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "description": "Specification of Foo",
            "properties": {
                "bars": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {
                            "name": {"type": "string"},
                            "feeling": {"type": "string", "enum": ["Great", "Down"]},
                            "quxType": {"type": "string", "pattern": "in-tree|out-of-tree"},
                        },
                    },
                }
            },
        }
    },
}


def _info(schema: dict[str, Any] | None, group: str = "crd-publish-openapi-test-foo.example.com"):
    crd = {
        "metadata": {"name": f"foos.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "foos", "kind": "e2e-test-crd-publish-openapi-1-crd"},
            "versions": [
                {"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}},
                {"name": "v2", "served": False, "storage": False, "schema": {"openAPIV3Schema": schema}},
            ],
        },
    }
    default_crd(crd)
    crd["status"] = accepted_status(crd, {}, NOW)
    (info,) = infos_from_crd(crd)
    return info


def _without_added(definition: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(definition)
    for key in ("metadata", "apiVersion", "kind"):
        out["properties"].pop(key)
    out.pop("x-kubernetes-group-version-kind")
    return out


def test_definition_is_the_schema_plus_type_meta_and_gvk():
    definition = crd_definition(_info(FOO))
    assert definition["x-kubernetes-group-version-kind"] == [
        {
            "group": "crd-publish-openapi-test-foo.example.com",
            "version": "v1",
            "kind": "e2e-test-crd-publish-openapi-1-crd",
        }
    ]
    assert definition["properties"]["metadata"]["$ref"] == (
        "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    )
    assert definition["properties"]["apiVersion"]["type"] == "string"
    assert _without_added(definition) == FOO


def test_schema_preserving_unknown_fields_at_the_root_is_a_bare_object():
    for schema in ({"type": "object", "x-kubernetes-preserve-unknown-fields": True}, None):
        definition = crd_definition(_info(schema))
        assert definition == {
            "type": "object",
            "x-kubernetes-group-version-kind": [
                {
                    "group": "crd-publish-openapi-test-foo.example.com",
                    "version": "v1",
                    "kind": "e2e-test-crd-publish-openapi-1-crd",
                }
            ],
        }


def test_v2_form_drops_what_v2_cannot_say():
    schema = {
        "type": "object",
        "required": ["a", "b"],
        "properties": {
            "a": {"type": "string", "nullable": True},
            "b": {
                "type": "object",
                "x-kubernetes-preserve-unknown-fields": True,
                "properties": {"c": {"type": "string"}},
                "description": "kept",
            },
            "d": {"type": "array", "x-kubernetes-preserve-unknown-fields": True, "items": {"type": "string"}},
            "e": {"anyOf": [{"type": "integer"}, {"type": "string"}], "x-kubernetes-int-or-string": True},
        },
    }
    out = v2_schema(schema)
    assert out["required"] == ["b"]
    assert out["properties"]["a"] == {}
    assert out["properties"]["b"] == {
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
        "description": "kept",
    }
    assert out["properties"]["d"] == {"x-kubernetes-preserve-unknown-fields": True}
    assert out["properties"]["e"] == {"x-kubernetes-int-or-string": True}
    assert "nullable" in json.dumps(schema)  # the input is not changed


def test_document_names_definitions_as_upstream_and_refers_within_itself():
    doc = document([_info(FOO), _info(None, group="crd-publish-openapi-test-waldo.example.com")])
    assert doc["swagger"] == "2.0"
    names = set(doc["definitions"])
    assert "com.example.crd-publish-openapi-test-foo.v1.e2e-test-crd-publish-openapi-1-crd" in names
    assert "com.example.crd-publish-openapi-test-waldo.v1.e2e-test-crd-publish-openapi-1-crd" in names
    assert "io.k8s.api.core.v1.Pod" in names
    text = json.dumps(doc)
    assert "#/components/schemas/" not in text
    meta = doc["definitions"]["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]
    assert meta["properties"]["creationTimestamp"]["description"].startswith(
        "CreationTimestamp is a timestamp"
    )
