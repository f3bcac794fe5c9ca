"""Protobuf on the wire, as client-go asks for it: objects, lists and watch events come back
as `application/vnd.kubernetes.protobuf` and decode to what the JSON form says; a
client preferring JSON, a Table request and discovery get JSON."""

from __future__ import annotations

import json
import struct
import urllib.request
import uuid

from kprov.cluster.api.wire.protobuf_decode import decode_object
from kprov.cluster.api.wire.protobuf_encode import encode_object
from tests.integration.apiserver._http import request, ssl_context

PROTOBUF = "application/vnd.kubernetes.protobuf"
CLIENT_GO_ACCEPT = "application/vnd.kubernetes.protobuf, */*"


def _get(plane, path: str, accept: str) -> tuple[str, bytes]:
    context = ssl_context(plane.admin_kubeconfig, plane.ca_file)
    req = urllib.request.Request(plane.server + path, headers={"Accept": accept})
    with urllib.request.urlopen(req, context=context, timeout=30) as reply:
        return reply.headers["Content-Type"], reply.read()


def _create_configmap(plane, namespace: str, name: str) -> None:
    context = ssl_context(plane.admin_kubeconfig, plane.ca_file)
    body = encode_object({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
                          "data": {"a": "1"}})
    status, _, reply = request(plane.server, context, "POST", f"/api/v1/namespaces/{namespace}/configmaps",
                               body, PROTOBUF)
    assert status == 201, reply


def test_objects_and_lists_come_back_as_protobuf(control_plane):
    name = f"pb-{uuid.uuid4().hex[:6]}"
    _create_configmap(control_plane, "default", name)
    kind, raw = _get(control_plane, f"/api/v1/namespaces/default/configmaps/{name}", CLIENT_GO_ACCEPT)
    assert kind == PROTOBUF
    obj = decode_object(raw)
    assert obj["kind"] == "ConfigMap" and obj["data"] == {"a": "1"} and obj["metadata"]["name"] == name
    _, as_json = _get(control_plane, f"/api/v1/namespaces/default/configmaps/{name}", "application/json")
    assert json.loads(as_json)["metadata"]["uid"] == obj["metadata"]["uid"]

    kind, raw = _get(control_plane, "/api/v1/namespaces/default/configmaps", CLIENT_GO_ACCEPT)
    listed = decode_object(raw)
    assert kind == PROTOBUF and listed["kind"] == "ConfigMapList"
    assert name in [item["metadata"]["name"] for item in listed["items"]]
    assert int(listed["metadata"]["resourceVersion"]) > 0


def test_json_when_preferred_for_tables_and_for_discovery(control_plane):
    prefers_json = "application/json;q=0.9, application/vnd.kubernetes.protobuf;q=0.5"
    kind, _ = _get(control_plane, "/api/v1/namespaces", prefers_json)
    assert kind.startswith("application/json")
    kind, raw = _get(control_plane, "/api/v1/namespaces",
                     "application/json;as=Table;v=v1;g=meta.k8s.io, " + CLIENT_GO_ACCEPT)
    assert kind.startswith("application/json") and json.loads(raw)["kind"] == "Table"
    kind, _ = _get(control_plane, "/apis", CLIENT_GO_ACCEPT)  # discovery: JSON only
    assert kind.startswith("application/json")


def test_a_watch_streams_length_prefixed_protobuf_events(control_plane):
    name = f"pbw-{uuid.uuid4().hex[:6]}"
    _create_configmap(control_plane, "default", name)
    context = ssl_context(control_plane.admin_kubeconfig, control_plane.ca_file)
    query = f"watch=true&fieldSelector=metadata.name={name}&timeoutSeconds=2"
    path = f"/api/v1/namespaces/default/configmaps?{query}"
    req = urllib.request.Request(control_plane.server + path, headers={"Accept": CLIENT_GO_ACCEPT})
    with urllib.request.urlopen(req, context=context, timeout=30) as reply:
        assert reply.headers["Content-Type"] == PROTOBUF + ";stream=watch"
        (length,) = struct.unpack(">I", reply.read(4))
        frame = reply.read(length)
    assert b"ADDED" in frame[:10]
    envelope = frame[frame.index(b"k8s\x00"):]
    assert decode_object(envelope)["metadata"]["name"] == name
