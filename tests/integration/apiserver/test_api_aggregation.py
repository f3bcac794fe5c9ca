"""API aggregation against a real API server: a small HTTPS extension server run by the test
serves wardle.example.com/v1alpha1 behind an APIService. It trusts only callers presenting a
certificate from the front-proxy CA the API server publishes in
kube-system/extension-apiserver-authentication, and reads the caller from X-Remote-*.
Requests reach it through the API server, discovery lists it, and the APIService's Available
condition (and the 503) follow the backend going away."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from kprov.local.ports import free_port
from kprov.pki import issue_cert, new_ca, write_pair

from ._http import request, ssl_context

_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
GROUP, VERSION = "wardle.example.com", "v1alpha1"
NAME = f"{VERSION}.{GROUP}"
SERVICE_NS, SERVICE = "default", "wardle-api"
LATE_GROUP = "late.example.com"  # registered by one test, behind the same backend
DISCOVERY = {
    "kind": "APIResourceList",
    "apiVersion": "v1",
    "groupVersion": f"{GROUP}/{VERSION}",
    "resources": [
        {"name": "flunders", "singularName": "flunder", "namespaced": True, "kind": "Flunder",
         "verbs": ["get", "list"], "shortNames": ["fl"]},
    ],
}

OPENAPI = {"openapi": "3.0.0", "info": {"title": "wardle", "version": VERSION}, "paths": {
    f"/apis/{GROUP}/{VERSION}/namespaces/{{namespace}}/flunders": {"get": {"operationId": "listFlunder"}}},
    "components": {"schemas": {"com.example.wardle.v1alpha1.Flunder": {"type": "object"}}}}


class _Backend(BaseHTTPRequestHandler):
    seen: list[dict[str, Any]] = []

    def do_GET(self) -> None:  # noqa: N802 - the http.server hook
        cert = self.connection.getpeercert()  # type: ignore[attr-defined]
        cn = dict(x[0] for x in cert["subject"])["commonName"] if cert else ""
        type(self).seen.append({
            "path": self.path, "cn": cn, "user": self.headers.get("X-Remote-User"),
            "groups": self.headers.get_all("X-Remote-Group") or [],
            "authorization": self.headers.get("Authorization"),
            "forwarded_for": self.headers.get("X-Forwarded-For"),
        })
        if cn != "front-proxy-client":
            self._json(401, {"kind": "Status", "code": 401})
            return
        path = self.path.split("?")[0]
        if path == f"/apis/{GROUP}/{VERSION}":
            self._json(200, DISCOVERY)
        elif path == f"/openapi/v3/apis/{GROUP}/{VERSION}":
            self._json(200, OPENAPI)
        elif path == f"/apis/{LATE_GROUP}/v1":
            self._json(200, {**DISCOVERY, "groupVersion": f"{LATE_GROUP}/v1"})
        elif path == f"/apis/{GROUP}/{VERSION}/namespaces/default/flunders":
            item = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Flunder",
                    "metadata": {"name": "one", "namespace": "default",
                                 "creationTimestamp": "2026-01-01T00:00:00Z"}}
            self._json(200, {"apiVersion": f"{GROUP}/{VERSION}", "kind": "FlunderList",
                             "metadata": {"resourceVersion": "1"}, "items": [item],
                             "servedTo": self.headers.get("X-Remote-User")})
        elif path.endswith("/websocket") and self.headers.get("Upgrade", "").lower() == "websocket":
            self._websocket_echo()
        elif path.endswith("/spdy") and self.headers.get("Upgrade", "").lower().startswith("spdy/"):
            self.send_response(101)
            self.send_header("Connection", "Upgrade")
            self.send_header("Upgrade", "SPDY/3.1")
            self.end_headers()
            self.wfile.flush()
            data = self.connection.recv(1024)
            self.connection.sendall(b"echo:" + data)
            self.close_connection = True
        elif path == f"/apis/{GROUP}/{VERSION}/stream":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"one\n", b"two\n"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        else:
            self._json(404, {"kind": "Status", "code": 404})

    do_POST = do_GET  # noqa: N815 - exec-like upgrades are POSTs

    def _websocket_echo(self) -> None:
        """The server side of one WebSocket message: the handshake, then one (masked) frame
        from the client echoed back unmasked, with the subprotocol the client offered first."""
        key = self.headers["Sec-WebSocket-Key"]
        accept = base64.b64encode(hashlib.sha1((key + _WS_GUID).encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        offered = self.headers.get("Sec-WebSocket-Protocol", "")
        if offered:
            self.send_header("Sec-WebSocket-Protocol", offered.split(",")[0].strip())
        self.end_headers()
        self.wfile.flush()
        head = self.rfile.read(2)
        length = head[1] & 0x7F
        mask = self.rfile.read(4)
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(self.rfile.read(length)))
        reply = b"echo:" + payload + b":" + (self.headers.get("X-Remote-User") or "").encode()
        self.wfile.write(bytes([0x82, len(reply)]) + reply)
        self.wfile.write(bytes([0x88, 0]))
        self.wfile.flush()
        self.close_connection = True

    def _json(self, code: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


def _admin(control_plane):  # type: ignore[no-untyped-def]
    context = ssl_context(control_plane.admin_kubeconfig, control_plane.ca_file)

    def call(method: str, path: str, body: Any = None) -> tuple[int, dict[str, str], Any]:
        data = None if body is None else json.dumps(body).encode()
        return request(control_plane.server, context, method, path, data)

    return call


def _start_backend(work: Path, port: int, client_ca_pem: str) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", port), _Backend)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(work / "serving.crt"), str(work / "serving.key"))
    context.verify_mode = ssl.CERT_OPTIONAL
    context.load_verify_locations(cadata=client_ca_pem)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def wardle(control_plane) -> Iterator[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """The backend running behind a registered APIService; yields what the tests need."""
    call = _admin(control_plane)
    configmaps = "/api/v1/namespaces/kube-system/configmaps"
    code, _, published = call("GET", f"{configmaps}/extension-apiserver-authentication")
    assert code == 200, published
    work = Path(tempfile.mkdtemp(prefix="wardle-"))
    ca = new_ca("wardle-ca")
    serving = issue_cert(ca, "wardle", dns_names=[f"{SERVICE}.{SERVICE_NS}.svc"], server=True)
    write_pair(work, "serving", serving)
    port = free_port()
    front_proxy_ca = published["data"]["requestheader-client-ca-file"]
    state: dict[str, Any] = {"port": port, "work": work, "published": published["data"],
                             "server": _start_backend(work, port, front_proxy_ca)}
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": SERVICE, "namespace": SERVICE_NS},
               "spec": {"ports": [{"port": 443, "targetPort": port}]}}
    slice_ = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
              "metadata": {"name": f"{SERVICE}-1", "namespace": SERVICE_NS,
                           "labels": {"kubernetes.io/service-name": SERVICE}},
              "addressType": "IPv4",
              "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}],
              "ports": [{"name": "", "port": port, "protocol": "TCP"}]}
    apiservice = {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService", "metadata": {"name": NAME},
                  "spec": {"group": GROUP, "version": VERSION,
                           "groupPriorityMinimum": 2000, "versionPriority": 10,
                           "service": {"name": SERVICE, "namespace": SERVICE_NS},
                           "caBundle": base64.b64encode(ca.cert_pem).decode()}}
    for path, obj in (("/api/v1/namespaces/default/services", service),
                      ("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices", slice_),
                      ("/apis/apiregistration.k8s.io/v1/apiservices", apiservice)):
        code, _, body = call("POST", path, obj)
        assert code == 201, body
    _wait_available(call, "True")
    try:
        yield state
    finally:
        state["server"].shutdown()
        call("DELETE", f"/apis/apiregistration.k8s.io/v1/apiservices/{NAME}")
        call("DELETE", f"/api/v1/namespaces/default/services/{SERVICE}")
        call("DELETE", f"/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/{SERVICE}-1")


def _condition(call) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    _, _, obj = call("GET", f"/apis/apiregistration.k8s.io/v1/apiservices/{NAME}")
    conditions = (obj.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == "Available"), {})


def _wait_available(call, status: str, timeout: float = 20) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        condition = _condition(call)
        if condition.get("status") == status or time.monotonic() > deadline:
            assert condition.get("status") == status, condition
            return condition
        time.sleep(0.3)


def test_extension_auth_configmap_is_published(wardle):
    data = wardle["published"]
    assert "BEGIN CERTIFICATE" in data["client-ca-file"]
    assert "BEGIN CERTIFICATE" in data["requestheader-client-ca-file"]
    assert data["requestheader-allowed-names"] == '["front-proxy-client"]'
    assert data["requestheader-username-headers"] == '["X-Remote-User"]'
    assert data["requestheader-group-headers"] == '["X-Remote-Group"]'
    assert data["requestheader-extra-headers-prefix"] == '["X-Remote-Extra-"]'


def test_local_apiservices_are_registered(control_plane, kubectl):
    out = kubectl("get", "apiservices").stdout
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "SERVICE", "AVAILABLE", "AGE"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows["v1."][1:3] == ["Local", "True"]
    assert rows["v1.apps"][1:3] == ["Local", "True"]
    assert rows["v1.apiregistration.k8s.io"][1:3] == ["Local", "True"]
    _, _, obj = _admin(control_plane)("GET", "/apis/apiregistration.k8s.io/v1/apiservices/v1.apps")
    assert obj["spec"]["groupPriorityMinimum"] == 17800 and obj["spec"].get("service") is None
    assert obj["status"]["conditions"][0]["reason"] == "Local"


def test_invalid_apiservice_is_rejected(control_plane):
    call = _admin(control_plane)
    code, _, body = call("POST", "/apis/apiregistration.k8s.io/v1/apiservices", {
        "apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService", "metadata": {"name": "v1.wrong"},
        "spec": {"group": "right.example.com", "version": "v1", "groupPriorityMinimum": 100,
                 "versionPriority": 10, "insecureSkipTLSVerify": True}})
    assert code == 422, body
    causes = {c["field"]: c["message"] for c in body["details"]["causes"]}
    assert 'must be `spec.version+"."+spec.group`: "v1.right.example.com"' in causes["metadata.name"]
    assert "local APIServices may not have insecureSkipTLSVerify" in causes["spec.insecureSkipTLSVerify"]


def test_request_is_proxied_with_the_callers_identity(control_plane, wardle, kubectl):
    _Backend.seen.clear()
    out = kubectl("get", "--raw", f"/apis/{GROUP}/{VERSION}/namespaces/default/flunders").stdout
    listed = json.loads(out)
    assert listed["items"][0]["metadata"]["name"] == "one"
    assert listed["servedTo"] == "kubernetes-admin"
    call = next(s for s in _Backend.seen if s["path"].endswith("/flunders"))
    assert call["cn"] == "front-proxy-client"
    assert "system:masters" in call["groups"] and "system:authenticated" in call["groups"]
    assert call["authorization"] is None
    assert call["forwarded_for"] == "127.0.0.1"


def test_python_client_reaches_the_backend(control_plane, wardle):
    from kubernetes import client, config

    api_client = config.new_client_from_config(config_file=str(control_plane.admin_kubeconfig))
    api = client.CustomObjectsApi(api_client)
    listed = api.list_namespaced_custom_object(GROUP, VERSION, "default", "flunders")
    assert [i["metadata"]["name"] for i in listed["items"]] == ["one"]
    registration = client.ApiregistrationV1Api(api_client)
    found = registration.read_api_service(NAME)
    assert found.spec.service.name == SERVICE and found.spec.service.port == 443
    assert found.status.conditions[0].type == "Available"


def test_streamed_reply_is_relayed(control_plane, wardle):
    code, _, body = _admin(control_plane)("GET", f"/apis/{GROUP}/{VERSION}/stream")
    assert code == 200 and body == "one\ntwo\n"


def test_websocket_upgrade_is_relayed(control_plane, wardle):
    import aiohttp

    context = ssl_context(control_plane.admin_kubeconfig, control_plane.ca_file)
    url = f"{control_plane.server}/apis/{GROUP}/{VERSION}/namespaces/default/flunders/one/websocket"

    async def exchange() -> tuple[str | None, bytes]:
        async with aiohttp.ClientSession() as session, session.ws_connect(
            url, ssl=context, protocols=("v5.channel.k8s.io",)
        ) as ws:
            await ws.send_bytes(b"\x00hello")
            message = await ws.receive(timeout=10)
            return ws.protocol, message.data

    protocol, data = asyncio.run(exchange())
    assert protocol == "v5.channel.k8s.io"
    assert data == b"echo:\x00hello:kubernetes-admin"


def test_spdy_upgrade_is_spliced(control_plane, wardle):
    context = ssl_context(control_plane.admin_kubeconfig, control_plane.ca_file)
    host, port = control_plane.server.removeprefix("https://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as raw, context.wrap_socket(
        raw, server_hostname=host
    ) as conn:
        path = f"/apis/{GROUP}/{VERSION}/namespaces/default/flunders/one/spdy"
        conn.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\n"
                     "Upgrade: SPDY/3.1\r\nContent-Length: 0\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += conn.recv(1024)
        assert head.startswith(b"HTTP/1.1 101"), head
        conn.sendall(b"frames")
        assert conn.recv(1024) == b"echo:frames"


def test_unauthorized_caller_is_stopped_before_the_backend(control_plane, wardle):
    nobody = control_plane.kubeconfig_for("nobody")
    context = ssl_context(nobody, control_plane.ca_file)
    _Backend.seen.clear()
    code, _, body = request(control_plane.server, context, "GET",
                            f"/apis/{GROUP}/{VERSION}/namespaces/default/flunders")
    assert code == 403, body
    assert not [s for s in _Backend.seen if s["path"].endswith("/flunders")]


def test_discovery_lists_the_aggregated_group(control_plane, wardle, kubectl):
    call = _admin(control_plane)
    _, _, groups = call("GET", "/apis")
    wardle_group = next(g for g in groups["groups"] if g["name"] == GROUP)
    assert wardle_group["preferredVersion"]["version"] == VERSION
    out = kubectl("api-resources", "--api-group", GROUP).stdout
    assert "flunders" in out and "Flunder" in out and "fl" in out.split()


def test_openapi_v3_publishes_the_backends_document_while_its_apiservice_exists(control_plane, wardle):
    call = _admin(control_plane)
    path = f"apis/{GROUP}/{VERSION}"

    def listed() -> dict[str, Any]:
        return call("GET", "/openapi/v3")[2]["paths"]

    deadline = time.monotonic() + 10
    while path not in listed() and time.monotonic() < deadline:
        time.sleep(0.2)
    url = listed()[path]["serverRelativeURL"]
    assert url.startswith(f"/openapi/v3/{path}?hash=")
    code, _, document = call("GET", url)
    assert (code, document) == (200, OPENAPI)  # the backend's, as it served it
    assert "apis/apps/v1" in listed()  # beside the server's own
    _, _, existing = call("GET", f"/apis/apiregistration.k8s.io/v1/apiservices/{NAME}")
    assert call("DELETE", f"/apis/apiregistration.k8s.io/v1/apiservices/{NAME}")[0] == 200
    try:
        deadline = time.monotonic() + 10
        while path in listed() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert path not in listed() and call("GET", f"/openapi/v3/{path}")[0] == 404
    finally:
        again = {k: existing[k] for k in ("apiVersion", "kind", "spec")}
        assert call("POST", "/apis/apiregistration.k8s.io/v1/apiservices",
                    {**again, "metadata": {"name": NAME}})[0] == 201


def test_the_openapi_document_is_not_fetched_again_on_every_availability_check(control_plane, wardle):
    """The availability check runs every 2 s; the OpenAPI document is refreshed once a minute
    (upstream's aggregation controller), not with each check."""
    path = f"/openapi/v3/apis/{GROUP}/{VERSION}"
    discovery = f"/apis/{GROUP}/{VERSION}"
    start = len(_Backend.seen)
    time.sleep(7)  # three check intervals or more
    window = [s["path"].split("?")[0] for s in _Backend.seen[start:]]
    assert window.count(discovery) >= 3  # the checks kept running
    assert window.count(path) <= 1, window


def test_a_new_apiservice_is_discovered_at_once(control_plane, wardle):
    """A discovery request right after an APIService is registered lists its group: the
    server checks the backend then, not at its next periodic round (behind a load balancer
    the request may reach a server whose round has not come yet)."""
    call = _admin(control_plane)
    _, _, existing = call("GET", f"/apis/apiregistration.k8s.io/v1/apiservices/{NAME}")
    late = {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
            "metadata": {"name": f"v1.{LATE_GROUP}"},
            "spec": {**existing["spec"], "group": LATE_GROUP, "version": "v1"}}
    code, _, body = call("POST", "/apis/apiregistration.k8s.io/v1/apiservices", late)
    assert code == 201, body
    try:
        _, _, groups = call("GET", "/apis")
        assert LATE_GROUP in {g["name"] for g in groups["groups"]}
    finally:
        call("DELETE", f"/apis/apiregistration.k8s.io/v1/apiservices/v1.{LATE_GROUP}")


def test_backend_gone_flips_available_and_answers_503(control_plane, wardle, kubectl):
    call = _admin(control_plane)
    wardle["server"].shutdown()
    wardle["server"].server_close()
    condition = _wait_available(call, "False")
    assert condition["reason"] == "FailedDiscoveryCheck", condition
    assert condition["message"].startswith(f"failing or missing response from https://127.0.0.1:{wardle['port']}")
    code, head, body = call("GET", f"/apis/{GROUP}/{VERSION}/namespaces/default/flunders")
    assert code == 503 and body == "service unavailable\n"
    _, _, groups = call("GET", "/apis")
    assert GROUP not in {g["name"] for g in groups["groups"]}
    out = kubectl("get", "apiservices", NAME).stdout
    assert "False (FailedDiscoveryCheck)" in out
    wardle["server"] = _start_backend(wardle["work"], wardle["port"],
                                      wardle["published"]["requestheader-client-ca-file"])
    assert _wait_available(call, "True")["reason"] == "Passed"


def test_missing_endpoints_reason(control_plane, wardle):
    call = _admin(control_plane)
    path = f"/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/{SERVICE}-1"
    _, _, piece = call("GET", path)
    piece["endpoints"][0]["conditions"]["ready"] = False
    code, _, body = call("PUT", path, piece)
    assert code == 200, body
    condition = _wait_available(call, "False")
    assert condition["reason"] == "MissingEndpoints"
    assert condition["message"] == (
        f'endpointslices for service/{SERVICE} in "{SERVICE_NS}" have no addresses with port name ""'
    )
    _, _, piece = call("GET", path)
    piece["endpoints"][0]["conditions"]["ready"] = True
    call("PUT", path, piece)
    _wait_available(call, "True")
