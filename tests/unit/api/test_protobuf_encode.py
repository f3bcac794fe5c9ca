"""Protobuf responses: what the encoder writes decodes back to the same JSON object.

The decoder is the one proven on kubectl's own bytes (test_protobuf.py), so a round trip
through it checks field numbers, wire types and the special types' shapes; the conformance
suite in protobuf mode checks the same bytes against client-go's decoder.
"""

import struct

import pytest

from kprov.cluster.api.wire.protobuf_decode import MAGIC, UnsupportedKind, decode_object
from kprov.cluster.api.wire.protobuf_encode import encodable, encode_object, watch_frame

from .test_protobuf import NAMESPACE_FOO

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "name": "web-0",
        "namespace": "default",
        "uid": "0f5bcdee-0b5b-442b-abf7-688554425912",
        "resourceVersion": "892",
        "generation": 2,
        "creationTimestamp": "2026-11-23T08:33:10Z",
        "labels": {"app": "web", "tier": "front"},
        "annotations": {"note": ""},
        "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "uid": "u-1", "controller": True}
        ],
        "managedFields": [
            {"manager": "kubectl", "operation": "Apply", "apiVersion": "v1", "time": "2026-11-23T08:33:10Z",
             "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:labels": {}}}}
        ],
    },
    "spec": {
        "containers": [
            {
                "name": "app",
                "image": "busybox:1.36",
                "args": ["sh", "-c", "sleep 1"],
                "ports": [{"containerPort": 80, "protocol": "TCP", "name": "http"}],
                "resources": {"limits": {"cpu": "1250m", "memory": "64Mi"}, "requests": {"cpu": "250m"}},
                "livenessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 3},
                "readinessProbe": {"tcpSocket": {"port": 80}},
                "securityContext": {"runAsUser": -1, "privileged": False},
            }
        ],
        "volumes": [
            {"name": "data", "emptyDir": {"medium": "Memory", "sizeLimit": "1Gi"}},
            {"name": "cfg",
             "configMap": {"name": "cfg", "defaultMode": 420, "items": [{"key": "a", "path": "a"}]}},
        ],
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "activeDeadlineSeconds": 0,  # a pointer: its zero survives (hostNetwork: false would not, as in Go)
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}],
    },
    "status": {
        "phase": "Running",
        "podIP": "10.244.1.5",
        "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-11-23T08:33:12Z"}],
        "containerStatuses": [
            {"name": "app", "ready": True, "restartCount": 0, "image": "busybox:1.36", "imageID": "",
             "state": {"running": {"startedAt": "2026-11-23T08:33:11Z"}}}
        ],
    },
}

LEASE = {
    "apiVersion": "coordination.k8s.io/v1",
    "kind": "Lease",
    "metadata": {"name": "h1", "namespace": "kube-node-lease"},
    "spec": {"holderIdentity": "h1", "leaseDurationSeconds": 40, "renewTime": "2026-11-23T08:33:10.123456Z",
             "acquireTime": "0001-01-01T00:00:02.000000Z"},  # what the conformance Lease test sends
}

SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "type": "Opaque",
          "data": {"key": "AAEC/w=="}}

CLUSTER_ROLE = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "ClusterRole",
    "metadata": {"name": "view"},
    "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}],
    "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"rbac.example.com/aggregate": "true"}}]},
}

JOB = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {"name": "pi"},
    "spec": {"completions": 5, "parallelism": 2, "backoffLimit": 6, "completionMode": "Indexed",
             "template": {"spec": {"containers": [{"name": "pi", "image": "busybox"}],
                                   "restartPolicy": "Never"}}},
    "status": {"succeeded": 5, "startTime": "2026-11-23T08:33:10Z"},
}

TOKEN_REVIEW = {
    "apiVersion": "authentication.k8s.io/v1",
    "kind": "TokenReview",
    "metadata": {},
    "spec": {"token": "x"},
    "status": {"authenticated": True,
               "user": {"username": "u", "groups": ["g"], "extra": {"scopes": ["a", "b"]}}},
}


@pytest.mark.parametrize("obj", [POD, LEASE, SECRET, CLUSTER_ROLE, JOB, TOKEN_REVIEW],
                         ids=["pod", "lease", "secret", "clusterrole", "job", "tokenreview"])
def test_objects_round_trip(obj: dict) -> None:
    encoded = encode_object(obj)
    assert encoded.startswith(MAGIC)
    assert decode_object(encoded) == obj


def test_kubectls_own_namespace_bytes_survive_a_round_trip() -> None:
    decoded = decode_object(NAMESPACE_FOO)
    assert decode_object(encode_object(decoded)) == decoded


def test_a_list_carries_list_meta_and_items() -> None:
    pods = {"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "9", "continue": "c"},
            "items": [{"metadata": {"name": "a"}}, {"metadata": {"name": "b"}}]}
    assert decode_object(encode_object(pods)) == pods


def test_meta_kinds_in_a_group_version_use_metas_schema() -> None:
    status = {"apiVersion": "v1", "kind": "Status", "metadata": {}, "status": "Success", "code": 200,
              "details": {"name": "ns", "kind": "namespaces", "uid": "u"}}
    assert decode_object(encode_object(status)) == status
    options = {"apiVersion": "apps/v1", "kind": "DeleteOptions", "propagationPolicy": "Foreground",
               "gracePeriodSeconds": 0}
    assert decode_object(encode_object(options)) == options


def test_a_watch_frame_is_length_prefixed_and_wraps_the_envelope() -> None:
    frame = watch_frame("ADDED", LEASE)
    (length,) = struct.unpack(">I", frame[:4])
    assert length == len(frame) - 4
    event = dict(_length_delimited(frame[4:]))  # WatchEvent{1: type, 2: RawExtension{1: raw}}
    assert event[1] == b"ADDED"
    raw = dict(_length_delimited(event[2]))[1]
    assert decode_object(raw) == LEASE


def _length_delimited(message: bytes) -> list[tuple[int, bytes]]:
    """(field number, bytes) of a message whose fields are all short length-delimited ones."""
    out, pos = [], 0
    while pos < len(message):
        key, length = message[pos], message[pos + 1]
        if length & 0x80:  # a two-byte length
            length, pos = (length & 0x7F) | message[pos + 2] << 7, pos + 1
        out.append((key >> 3, message[pos + 2 : pos + 2 + length]))
        pos += 2 + length
    return out


def test_unknown_fields_and_kinds() -> None:
    with_extra = {**SECRET, "bogus": 1, "metadata": {"name": "s", "nope": "x"}}
    assert decode_object(encode_object(with_extra)) == SECRET
    assert not encodable("stable.example.com/v1", "CronTab")
    with pytest.raises(UnsupportedKind):
        encode_object({"apiVersion": "stable.example.com/v1", "kind": "CronTab"})
