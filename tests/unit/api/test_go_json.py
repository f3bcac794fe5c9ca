"""Go's encoding/json rules for typed values: what kprov writes where clients compare bytes
with their own json.Marshal (a ControllerRevision's data)."""

from __future__ import annotations

from kprov.cluster.api.wire.go_json import canonical_bytes, typed_json
from kprov.cluster.api.wire.protobuf_decode import decode_object
from kprov.cluster.api.wire.protobuf_encode import encode_object


def test_a_pod_template_as_go_marshals_it() -> None:
    template = {
        "metadata": {"labels": {"app": "web"}, "name": ""},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "web:1",
                    "stdin": False,
                    "env": [{"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}}],
                    "madeUp": 1,
                }
            ],
            "hostNetwork": False,
            "terminationGracePeriodSeconds": 0,
            "nodeSelector": {},
            "securityContext": {},
        },
    }
    assert typed_json(template, "core.PodTemplateSpec") == {
        # a zero Time is written as null; an empty omitempty string is left out
        "metadata": {"labels": {"app": "web"}, "creationTimestamp": None},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "web:1",  # stdin false (omitempty) and the unknown field are gone
                    # a non-pointer struct is always written; so is a zero Quantity
                    "env": [{"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu",
                                                                                "divisor": "0"}}}],
                    "resources": {},
                }
            ],
            "terminationGracePeriodSeconds": 0,  # a pointer: kept even when zero
            "securityContext": {},
        },
    }


def test_a_field_without_omitempty_is_written_when_absent() -> None:
    # ContainerPort.containerPort and Container.name have no omitempty
    assert typed_json({"ports": [{}]}, "core.Container") == {
        "name": "", "ports": [{"containerPort": 0}], "resources": {},
    }


def test_canonical_bytes_sort_keys_and_escape_as_go() -> None:
    raw = canonical_bytes({"b": 1, "a": {"z": "x && y <z>", "c": "\u2028"}})
    assert raw == b'{"a":{"c":"\\u2028","z":"x \\u0026\\u0026 y \\u003cz\\u003e"},"b":1}'


def test_a_raw_extension_goes_out_in_go_map_form_in_protobuf() -> None:
    revision = {
        "apiVersion": "apps/v1", "kind": "ControllerRevision",
        "metadata": {"name": "r", "namespace": "ns"},
        "data": {"spec": {"template": {"spec": {"containers": []}, "$patch": "replace"}}},
        "revision": 1,
    }
    body = encode_object(revision)
    assert b'{"spec":{"template":{"$patch":"replace","spec":{"containers":[]}}}}' in body
    assert decode_object(body)["data"] == revision["data"]
