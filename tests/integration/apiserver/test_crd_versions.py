"""Custom resources across versions on a real API server: the /openapi/v2 document follows
CRDs (definitions named as upstream, 304 on a matching ETag, a version that stops being
served leaves it); a default added to a CRD shows on objects stored before; a conversion
webhook (HTTPS on loopback with its own CA, the agnhost converter's v1 hostPort <-> v2
host/port rule) converts on read, write and list, also across a storage version switch."""

from __future__ import annotations

import base64
import json
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from kprov.local.ports import free_port

from ._http import request, ssl_context


def _raw(control_plane, method: str, path: str, body: Any = None, content_type: str = "application/json"):  # type: ignore[no-untyped-def]
    context = ssl_context(control_plane.admin_kubeconfig, control_plane.ca_file)
    data = None if body is None else json.dumps(body).encode()
    return request(control_plane.server, context, method, path, data, content_type)


def _wait(predicate, timeout: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


def _version(name: str, storage: bool, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "served": True,
        "storage": storage,
        "schema": {"openAPIV3Schema": {"type": "object", "properties": properties}},
    }


def _crd(
    group: str, versions: list[dict[str, Any]], conversion: dict[str, Any] | None = None
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "group": group,
        "scope": "Namespaced",
        "names": {"plural": "e2e-test-things", "kind": "e2e-test-thing"},
        "versions": versions,
    }
    if conversion is not None:
        spec["conversion"] = conversion
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"e2e-test-things.{group}"},
        "spec": spec,
    }


def _create_crd(control_plane, crd: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
    status, _, body = _raw(
        control_plane, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd
    )
    assert status == 201, body
    group = crd["spec"]["group"]
    version = crd["spec"]["versions"][0]["name"]
    assert _wait(lambda: _raw(control_plane, "GET", f"/apis/{group}/{version}")[0] == 200)


def _openapi_v2(control_plane, etag: str = "") -> tuple[int, str, Any]:  # type: ignore[no-untyped-def]
    context = ssl_context(control_plane.admin_kubeconfig, control_plane.ca_file)
    headers = {"If-None-Match": f'"{etag}"'} if etag else {}
    req = urllib.request.Request(control_plane.server + "/openapi/v2", headers=headers)
    try:
        with urllib.request.urlopen(req, context=context, timeout=30) as reply:
            return reply.status, reply.headers["ETag"].strip('"'), json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, (exc.headers["ETag"] or "").strip('"'), None


def test_openapi_v2_follows_crds(control_plane, kubectl):  # type: ignore[no-untyped-def]
    group = f"t{uuid.uuid4().hex[:6]}.example.com"
    name = ".".join(reversed(group.split(".")))
    schema = {
        "spec": {"type": "object", "description": "Specification", "properties": {"n": {"type": "integer"}}}
    }
    _create_crd(control_plane, _crd(group, [_version("v2", True, schema), _version("v3", False, schema)]))

    status, etag, doc = _openapi_v2(control_plane)
    assert status == 200
    for version in ("v2", "v3"):
        definition = doc["definitions"][f"{name}.{version}.e2e-test-thing"]
        assert definition["x-kubernetes-group-version-kind"] == [
            {"group": group, "version": version, "kind": "e2e-test-thing"}
        ]
        assert definition["properties"]["spec"] == schema["spec"]
        assert definition["properties"]["metadata"]["$ref"].endswith("meta.v1.ObjectMeta")
    assert _openapi_v2(control_plane, etag)[0] == 304
    context = ssl_context(control_plane.admin_kubeconfig, control_plane.ca_file)
    as_protobuf = urllib.request.Request(  # kubectl's ask: gnostic's protobuf Document
        control_plane.server + "/openapi/v2",
        headers={"Accept": "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"},
    )
    with urllib.request.urlopen(as_protobuf, context=context, timeout=30) as reply:
        assert reply.headers["Content-Type"] == "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
        assert reply.headers["ETag"].strip('"') == etag
        encoded = reply.read()
    assert f"{name}.v3.e2e-test-thing".encode() in encoded and b"e2e-test-thing" in encoded
    refused = urllib.request.Request(
        control_plane.server + "/openapi/v2", headers={"Accept": "application/yaml"}
    )
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(refused, context=context, timeout=30)
    assert error.value.code == 406

    # a version no longer served leaves the document; the ETag changes with it
    patch = [{"op": "replace", "path": "/spec/versions/1/served", "value": False}]
    status, _, body = _raw(
        control_plane,
        "PATCH",
        f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/e2e-test-things.{group}",
        patch,
        "application/json-patch+json",
    )
    assert status == 200, body
    assert _wait(lambda: f"{name}.v3.e2e-test-thing" not in _openapi_v2(control_plane)[2]["definitions"])
    assert _openapi_v2(control_plane, etag)[0] == 200
    assert f"{name}.v2.e2e-test-thing" in _openapi_v2(control_plane)[2]["definitions"]

    # kubectl explain reads the v3 document: the described metadata and ObjectMeta's fields
    explained = kubectl("explain", "e2e-test-things.metadata", "--api-version", f"{group}/v2").stdout
    assert "Standard object's metadata" in explained
    assert "CreationTimestamp is a timestamp" in explained

    kubectl("delete", "crd", f"e2e-test-things.{group}")
    assert _wait(lambda: f"{name}.v2.e2e-test-thing" not in _openapi_v2(control_plane)[2]["definitions"], 10)


def test_defaults_added_later_show_on_stored_objects(control_plane, namespace):  # type: ignore[no-untyped-def]
    group = f"t{uuid.uuid4().hex[:6]}.example.com"
    crd = _crd(group, [_version("v1", True, {"a": {"type": "string"}, "b": {"type": "string"}})])
    _create_crd(control_plane, crd)
    base = f"/apis/{group}/v1/namespaces/{namespace}/e2e-test-things"
    thing = {"apiVersion": f"{group}/v1", "kind": "e2e-test-thing", "metadata": {"name": "one"}}
    assert _raw(control_plane, "POST", base, thing)[0] == 201
    crd_path = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/e2e-test-things.{group}"
    add = [
        {"op": "add", "path": "/spec/versions/0/schema/openAPIV3Schema/properties/a/default", "value": "A"}
    ]
    assert _raw(control_plane, "PATCH", crd_path, add, "application/json-patch+json")[0] == 200
    assert _wait(lambda: _raw(control_plane, "GET", f"{base}/one")[2].get("a") == "A")
    assert [i.get("a") for i in _raw(control_plane, "GET", base)[2]["items"]] == ["A"]
    # the default is only shown: storage still lacks it until the object is written
    changed = [
        {"op": "remove", "path": "/spec/versions/0/schema/openAPIV3Schema/properties/a/default"},
        {"op": "add", "path": "/spec/versions/0/schema/openAPIV3Schema/properties/b/default", "value": "B"},
    ]
    assert _raw(control_plane, "PATCH", crd_path, changed, "application/json-patch+json")[0] == 200
    assert _wait(lambda: _raw(control_plane, "GET", f"{base}/one")[2].get("b") == "B")
    assert "a" not in _raw(control_plane, "GET", f"{base}/one")[2]
    _raw(control_plane, "DELETE", crd_path)


class _Converter(BaseHTTPRequestHandler):
    """The agnhost crd-conversion-webhook rule: v1 hostPort "h:p" <-> v2 host "h", port "p"."""

    def do_POST(self) -> None:  # noqa: N802 - the http.server hook
        review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        req = review["request"]
        converted = []
        for obj in req["objects"]:
            out = dict(obj)
            if req["desiredAPIVersion"].endswith("/v2") and "hostPort" in out:
                out["host"], out["port"] = out.pop("hostPort").split(":")
            elif req["desiredAPIVersion"].endswith("/v1") and "host" in out:
                out["hostPort"] = f"{out.pop('host')}:{out.pop('port')}"
            out["apiVersion"] = req["desiredAPIVersion"]
            converted.append(out)
        response = {"uid": req["uid"], "convertedObjects": converted, "result": {"status": "Success"}}
        body = json.dumps(
            {"apiVersion": review["apiVersion"], "kind": "ConversionReview", "response": response}
        )
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def converter(tmp_path_factory) -> Iterator[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(URL, caBundle) of the conversion webhook on loopback."""
    work: Path = tmp_path_factory.mktemp("converter")
    key, crt = work / "tls.key", work / "tls.crt"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(crt),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), _Converter)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(crt), str(key))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"https://127.0.0.1:{port}/crdconvert", base64.b64encode(crt.read_bytes()).decode()
    finally:
        server.shutdown()


def test_conversion_webhook_on_read_write_and_list(control_plane, namespace, converter):  # type: ignore[no-untyped-def]
    url, ca = converter
    group = f"t{uuid.uuid4().hex[:6]}.example.com"
    v1 = {"hostPort": {"type": "string"}}
    v2 = {"host": {"type": "string"}, "port": {"type": "string"}}
    webhook = {
        "strategy": "Webhook",
        "webhook": {
            "clientConfig": {"url": url, "caBundle": ca},
            "conversionReviewVersions": ["v1", "v1beta1"],
        },
    }
    crd = _crd(group, [_version("v1", True, v1), _version("v2", False, v2)], webhook)
    _create_crd(control_plane, crd)

    def path(version: str, name: str = "") -> str:
        return f"/apis/{group}/{version}/namespaces/{namespace}/e2e-test-things" + (
            f"/{name}" if name else ""
        )

    def thing(version: str, name: str, **fields: str) -> dict[str, Any]:
        obj = {"apiVersion": f"{group}/{version}", "kind": "e2e-test-thing", "metadata": {"name": name}}
        return {**obj, **fields}

    status, _, made = _raw(control_plane, "POST", path("v1"), thing("v1", "one", hostPort="localhost:8080"))
    assert status == 201, made
    status, _, read = _raw(control_plane, "GET", path("v2", "one"))
    assert status == 200, read
    assert (read["apiVersion"], read["host"], read["port"]) == (f"{group}/v2", "localhost", "8080")
    assert "hostPort" not in read and read["metadata"]["uid"] == made["metadata"]["uid"]

    # a watch through v2 shows the v1 object converted
    watched = _raw(control_plane, "GET", path("v2") + "?watch=true&resourceVersion=0&timeoutSeconds=1")[2]
    events = (
        [watched]  # one event: the helper decoded it
        if isinstance(watched, dict)
        else [json.loads(line) for line in str(watched).splitlines() if line.strip()]
    )
    assert [(e["type"], e["object"]["apiVersion"], e["object"].get("host")) for e in events] == [
        ("ADDED", f"{group}/v2", "localhost")
    ]

    # written through v2: stored (and read back through v1) as v1
    status, _, made2 = _raw(control_plane, "POST", path("v2"), thing("v2", "two", host="example", port="80"))
    assert status == 201, made2
    assert (made2["apiVersion"], made2["host"]) == (f"{group}/v2", "example")
    assert _raw(control_plane, "GET", path("v1", "two"))[2]["hostPort"] == "example:80"

    # storage switched to v2: a new object is stored as v2, lists convert both ways
    crd_path = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/e2e-test-things.{group}"
    switch = [
        {"op": "replace", "path": "/spec/versions/0/storage", "value": False},
        {"op": "replace", "path": "/spec/versions/1/storage", "value": True},
    ]
    assert _raw(control_plane, "PATCH", crd_path, switch, "application/json-patch+json")[0] == 200
    assert _wait(lambda: "v2" in _raw(control_plane, "GET", crd_path)[2]["status"]["storedVersions"])
    status, _, made3 = _raw(control_plane, "POST", path("v1"), thing("v1", "three", hostPort="h3:3"))
    assert status == 201, made3
    listed_v1 = _raw(control_plane, "GET", path("v1"))[2]["items"]
    assert sorted(i["hostPort"] for i in listed_v1) == ["example:80", "h3:3", "localhost:8080"]
    assert {i["apiVersion"] for i in listed_v1} == {f"{group}/v1"}
    listed_v2 = _raw(control_plane, "GET", path("v2"))[2]["items"]
    assert sorted(i["host"] for i in listed_v2) == ["example", "h3", "localhost"]
    assert all("hostPort" not in i for i in listed_v2)

    # an update through v1 of an object stored as v1 is converted to the storage version v2
    one = _raw(control_plane, "GET", path("v1", "one"))[2]
    one["hostPort"] = "changed:1"
    status, _, updated = _raw(control_plane, "PUT", path("v1", "one"), one)
    assert status == 200 and updated["hostPort"] == "changed:1", updated
    assert _raw(control_plane, "GET", path("v2", "one"))[2]["port"] == "1"
    _raw(control_plane, "DELETE", crd_path)
