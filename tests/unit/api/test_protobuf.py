"""Protobuf request bodies: the bytes kubectl 1.32 really sends, decoded to JSON objects."""

import base64
import struct

import pytest

from kprov.cluster.api.errors import UnsupportedMediaType
from kprov.cluster.api.wire.protobuf_decode import (
    MAGIC,
    ProtobufError,
    UnsupportedKind,
    decode_message,
    decode_object,
)

from ._kubectl_capture import capture_posts, kubectl_available

# `kubectl create namespace foo`, as KUBECTL.md recorded it
NAMESPACE_FOO = (
    b'k8s\x00\n\x0f\n\x02v1\x12\tNamespace\x12\x1b\n\x13\n\x03foo\x12\x00\x1a\x00"\x00*\x002\x008\x00B\x00'
    b'\x12\x00\x1a\x02\n\x00\x1a\x00"\x00'
)


def test_decodes_create_namespace_bytes():
    assert decode_object(NAMESPACE_FOO) == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "foo"},
        "spec": {},
        "status": {},
    }


# --- a tiny encoder, to build bodies with field shapes kubectl's create never sends ----------------


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def field(number: int, payload: bytes | int, wire: int = 2) -> bytes:
    key = varint(number << 3 | wire)
    if wire == 0:
        return key + varint(payload)
    if wire == 1:
        return key + payload
    return key + varint(len(payload)) + payload


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    type_meta = field(1, api_version.encode()) + field(2, kind.encode())
    return MAGIC + field(1, type_meta) + field(2, raw)


def test_special_types_int_or_string_time_quantity_negative_and_pointer_zero():
    meta = field(1, b"web") + field(8, field(1, 1700000000, 0))  # creationTimestamp
    port = field(3, 80, 0)  # containerPort (name empty -> dropped)
    resources = field(1, field(1, b"cpu") + field(2, field(1, b"100m")))  # limits {cpu: 100m}
    probe = field(1, field(2, field(1, b"/") + field(2, field(1, 1, 0) + field(3, b"http"))))  # httpGet
    container = field(1, b"c") + field(2, b"img") + field(6, port) + field(8, resources) + field(11, probe)
    pod_spec = field(2, container) + field(4, -5 & 0xFFFFFFFFFFFFFFFF, 0)  # terminationGracePeriodSeconds=-5
    template = field(1, b"") + field(2, pod_spec)
    spec = field(1, 0, 0) + field(3, template) + field(5, 0, 0)  # replicas=0 (pointer), minReadySeconds=0
    obj = decode_object(envelope("apps/v1", "Deployment", field(1, meta) + field(2, spec)))
    assert obj["metadata"] == {"name": "web", "creationTimestamp": "2023-11-14T22:13:20Z"}
    assert obj["spec"]["replicas"] == 0
    assert "minReadySeconds" not in obj["spec"]
    pod = obj["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == -5
    container_out = pod["containers"][0]
    assert container_out["ports"] == [{"containerPort": 80}]
    assert container_out["resources"] == {"limits": {"cpu": "100m"}}
    assert container_out["readinessProbe"]["httpGet"] == {"path": "/", "port": "http"}


def test_secret_bytes_become_base64_and_wrong_wire_type_is_an_error():
    secret = field(1, field(1, b"s")) + field(2, field(1, b"p") + field(2, b"\x00\xffbin"))
    obj = decode_object(envelope("v1", "Secret", secret))
    assert base64.b64decode(obj["data"]["p"]) == b"\x00\xffbin"
    with pytest.raises(ProtobufError, match="wire type 1"):
        decode_message(field(1, struct.pack("<d", 0.5), wire=1), "core.WeightedPodAffinityTerm")


def test_errors_unknown_kind_bad_magic_and_truncation():
    with pytest.raises(UnsupportedKind) as err:
        decode_object(envelope("example.com/v1", "Widget", b""))
    assert err.value.code == 415
    with pytest.raises(ProtobufError):
        decode_object(b"{}")
    with pytest.raises(UnsupportedMediaType):
        decode_object(NAMESPACE_FOO[:-3] + b"\x12\x7f")


# --- the real client --------------------------------------------------------------------------------


@pytest.mark.skipif(not kubectl_available(), reason="needs the kubectl binary")
def test_real_kubectl_typed_create_bodies_decode(tmp_path):
    posts = capture_posts(
        [
            ["create", "namespace", "foo"],
            ["create", "deployment", "web", "--image=nginx:1.27", "--replicas=0", "--port=80"],
            ["create", "configmap", "cfg", "--from-literal=a=b", "--from-literal=c=d"],
            ["create", "secret", "generic", "s", "--from-literal=p=secret"],
            ["auth", "can-i", "get", "pods"],
        ],
        tmp_path,
    )
    assert all(ctype == "application/vnd.kubernetes.protobuf" for _, ctype, _ in posts)
    decoded = {obj["kind"]: obj for obj in (decode_object(body) for _, _, body in posts)}
    assert decoded["Namespace"]["metadata"] == {"name": "foo"}
    deployment = decoded["Deployment"]
    assert deployment["apiVersion"] == "apps/v1"
    assert deployment["spec"]["replicas"] == 0
    assert deployment["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    assert deployment["spec"]["template"]["metadata"]["labels"] == {"app": "web"}
    assert deployment["spec"]["template"]["spec"]["containers"] == [
        {"name": "nginx", "image": "nginx:1.27", "ports": [{"containerPort": 80}], "resources": {}}
    ]
    assert decoded["ConfigMap"]["data"] == {"a": "b", "c": "d"}
    assert decoded["Secret"]["data"] == {"p": base64.b64encode(b"secret").decode()}
    review = decoded["SelfSubjectAccessReview"]
    assert review["spec"]["resourceAttributes"]["verb"] == "get"
    assert review["spec"]["resourceAttributes"]["resource"] == "pods"
