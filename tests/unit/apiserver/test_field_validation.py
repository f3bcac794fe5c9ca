"""Server-side field validation in kube-apiserver's words: unknown and duplicate fields of a
typed object, undeclared fields of a custom object in server-side apply (root, metadata and
embedded resources), duplicate YAML keys with their line."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from kprov.cluster.api.crd.definition import accepted_status, default_crd, infos_from_crd
from kprov.cluster.api.resources import REGISTRY
from kprov.cluster.apiserver.handlers.field_validation import (
    check_apply,
    check_body,
    json_duplicates,
    yaml_duplicates,
)
from kprov.cluster.apiserver.request.status import ApiError

DEPLOYMENTS = REGISTRY.get("apps", "v1", "deployments")

# the conformance suite's typed object: an unknown field and a key given twice
DEPLOYMENT = b"""{
  "apiVersion": "apps/v1", "kind": "Deployment",
  "metadata": {"name": "my-dep", "labels": {"app": "nginx"}},
  "spec": {
    "unknownField": "foo", "replicas": 2, "replicas": 3,
    "selector": {"matchLabels": {"app": "nginx"}},
    "template": {"metadata": {"labels": {"app": "nginx"}},
                 "spec": {"containers": [{"name": "nginx", "image": "nginx:latest"}]}}
  }
}"""


def _request(body: bytes = b"", **query: str) -> Any:
    return SimpleNamespace(query=query, body=body)


def _info(schema: dict[str, Any]) -> Any:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "noxus.mygroup.example.com"},
        "spec": {
            "group": "mygroup.example.com",
            "scope": "Cluster",
            "names": {"plural": "noxus", "kind": "Noxu"},
            "versions": [
                {"name": "v1beta1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}
            ],
        },
    }
    default_crd(crd)
    crd["status"] = accepted_status(crd, {}, "2026-01-01T00:00:00Z")
    return infos_from_crd(crd)[0]


SPEC_SCHEMA = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": True,
            "properties": {
                "foo": {"type": "string"},
                "template": {
                    "type": "object",
                    "x-kubernetes-embedded-resource": True,
                    "properties": {
                        "metadata": {"type": "object", "properties": {"name": {"type": "string"}}},
                        "spec": {"type": "object"},
                    },
                },
            },
        }
    },
}


def test_json_duplicates_name_their_path():
    assert json_duplicates(DEPLOYMENT) == ["spec.replicas"]
    assert json_duplicates(b'{"a": [{"b": 1, "b": 2}]}') == ["a[0].b"]
    assert json_duplicates(b"not json") == []


def test_a_typed_object_with_unknown_and_duplicate_fields_is_a_400_under_strict():
    obj = orjson.loads(DEPLOYMENT)
    with pytest.raises(ApiError) as refused:
        check_body(_request(DEPLOYMENT, fieldValidation="Strict"), DEPLOYMENTS, obj, "application/json")
    assert refused.value.code == 400 and refused.value.reason == "BadRequest"
    assert refused.value.message == (
        'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: '
        'unknown field "spec.unknownField", duplicate field "spec.replicas"'
    )
    warned = check_body(_request(DEPLOYMENT, fieldValidation="Warn"), DEPLOYMENTS, obj, "application/json")
    assert warned == ['unknown field "spec.unknownField"', 'duplicate field "spec.replicas"']
    assert check_body(_request(DEPLOYMENT), DEPLOYMENTS, obj, "application/json") == []
    meta = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "unknownMeta": "x"}}
    with pytest.raises(ApiError, match='strict decoding error: unknown field "metadata.unknownMeta"'):
        check_body(_request(b"{}", fieldValidation="Strict"), DEPLOYMENTS, meta, "application/json")


def test_apply_of_an_undeclared_custom_field_fails_as_typed_conversion_does():
    info = _info({"type": "object", "properties": {"spec": {"type": "object"}}})
    applied = {
        "apiVersion": "mygroup.example.com/v1beta1",
        "kind": "Noxu",
        "metadata": {"name": "mytest"},
        "unknownField": "unknown",
        "spec": {},
    }
    with pytest.raises(ApiError) as refused:
        check_apply(_request(b"", fieldValidation="Ignore"), info, applied, "")
    assert refused.value.code == 500 and refused.value.reason == ""
    assert refused.value.message == (
        "failed to create typed patch object (/mytest; mygroup.example.com/v1beta1, Kind=Noxu): "
        ".unknownField: field not declared in schema"
    )


def test_unknown_metadata_of_the_root_and_of_embedded_resources():
    info = _info(SPEC_SCHEMA)
    applied = {
        "apiVersion": "mygroup.example.com/v1beta1",
        "kind": "Noxu",
        "metadata": {"name": "mytest", "unknownMeta": "unknown"},
        "spec": {
            "template": {
                "apiVersion": "foo/v1",
                "kind": "Sub",
                "metadata": {"name": "sub", "unknownSubMeta": "unknown"},
            },
            "anything": 1,
        },
    }
    with pytest.raises(ApiError) as refused:
        check_apply(_request(b"", fieldValidation="Strict"), info, applied, "")
    assert ".metadata.unknownMeta: field not declared in schema" in refused.value.message
    assert ".spec.template.metadata.unknownSubMeta: field not declared in schema" in refused.value.message
    assert refused.value.message.count("\n  ") == 2  # "errors:" then one line each


def test_duplicate_yaml_keys_in_an_apply_name_their_line():
    body = b"""
apiVersion: mygroup.example.com/v1beta1
kind: Noxu
metadata:
  name: mytest
  finalizers:
  - test-finalizer
spec:
  unknown: uk1
  foo: foo1
  foo: foo2
"""
    assert yaml_duplicates(body) == ['line 11: key "foo" already set in map']
    info = _info(SPEC_SCHEMA)
    applied = {
        "apiVersion": "mygroup.example.com/v1beta1",
        "kind": "Noxu",
        "metadata": {"name": "mytest", "finalizers": ["test-finalizer"]},
        "spec": {"unknown": "uk1", "foo": "foo2"},
    }
    with pytest.raises(ApiError) as refused:
        check_apply(_request(body, fieldValidation="Strict"), info, applied, "")
    assert refused.value.code == 400
    assert refused.value.message == (
        "error strict decoding YAML: error converting YAML to JSON: yaml: unmarshal errors:\n"
        '  line 11: key "foo" already set in map'
    )
    assert check_apply(_request(body, fieldValidation="Warn"), info, applied, "") == [
        'line 11: key "foo" already set in map'
    ]
    assert check_apply(_request(body), info, applied, "") == []


def test_an_unsupported_directive_is_a_400():
    with pytest.raises(ApiError, match='Unsupported value: "Loose"'):
        check_body(_request(b"{}", fieldValidation="Loose"), DEPLOYMENTS, {}, "application/json")
