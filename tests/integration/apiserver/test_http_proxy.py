"""pods/proxy and services/proxy on the local control plane: requests reach a real HTTP
server (standing in for a pod at 127.0.0.1) with their path, query, method and body, without
the caller's credentials; a Service picks a ready endpoint of the named port; no endpoint is
upstream's 503."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.integration.apiserver._http import ssl_context


class _Recorder(BaseHTTPRequestHandler):
    seen: list[dict[str, Any]]

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        self.seen.append({"method": self.command, "path": self.path, "body": body,
                          "authorization": self.headers.get("Authorization")})
        html = self.path.startswith("/page")
        payload = (b'<a href="/rewriteme">test</a> <img src="//cdn/x.png">' if html
                   else json.dumps({"path": self.path, "method": self.command}).encode())
        self.send_response(201 if self.command == "POST" else 200)
        self.send_header("Content-Type", "text/html; charset=utf-8" if html else "application/json")
        self.send_header("X-Backend", "recorder")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_DELETE = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def backend() -> Iterator[tuple[int, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []
    handler = type("Handler", (_Recorder,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], seen
    server.shutdown()


def _json(obj: Any) -> bytes:
    return json.dumps(obj).encode()


@pytest.fixture
def redirect(control_plane):  # type: ignore[no-untyped-def]
    """(status, Location) of a request whose redirect is not followed."""
    context = ssl_context(control_plane.admin_kubeconfig, control_plane.ca_file)
    host, port = control_plane.server.removeprefix("https://").rsplit(":", 1)

    def send(method: str, path: str) -> tuple[int, str | None]:
        connection = http.client.HTTPSConnection(host, int(port), context=context, timeout=30)
        try:
            connection.request(method, path)
            reply = connection.getresponse()
            return reply.status, reply.getheader("Location")
        finally:
            connection.close()
    return send


def test_pod_proxy_relays_path_query_method_and_body(admin, redirect, namespace, backend) -> None:
    port, seen = backend
    pod = {"metadata": {"name": "web"}, "spec": {"containers": [
        {"name": "c", "image": "x", "ports": [{"containerPort": port}]}]}}
    assert admin("POST", f"/api/v1/namespaces/{namespace}/pods", _json(pod))[0] == 201
    status_path = f"/api/v1/namespaces/{namespace}/pods/web/status"
    _, _, current = admin("GET", f"/api/v1/namespaces/{namespace}/pods/web")
    current["status"] = {"phase": "Running", "podIP": "127.0.0.1", "podIPs": [{"ip": "127.0.0.1"}]}
    assert admin("PUT", status_path, _json(current))[0] == 200

    base = f"/api/v1/namespaces/{namespace}/pods"
    status, headers, body = admin("GET", f"{base}/web/proxy/results/a@b?x=1")  # first declared port
    assert status == 200 and body == {"path": "/results/a@b?x=1", "method": "GET"}
    assert headers.get("X-Backend") == "recorder"
    status, _, body = admin("POST", f"{base}/web:{port}/proxy/", b"hello", "text/plain")
    assert status == 201 and body["path"] == "/"
    assert seen[-1]["body"] == "hello"
    assert all(s["authorization"] is None for s in seen)  # the caller's credentials stay here

    for method in ("GET", "HEAD"):  # .../proxy itself: 301 to .../proxy/, the query kept
        status, location = redirect(method, f"{base}/web/proxy?method={method}")
        assert (status, location) == (301, f"{base}/web/proxy/?method={method}")
    status, _, page = admin("GET", f"{base}/web:{port}/proxy/page")
    assert page == (f'<a href="{base}/web:{port}/proxy/rewriteme">test</a> '  # root-relative links
                    '<img src="//cdn/x.png">')  # go through the proxy; others are left alone


def test_service_proxy_picks_a_ready_endpoint_of_the_named_port(admin, namespace, backend) -> None:
    port, _ = backend
    ports = [{"name": "http", "port": 80, "protocol": "TCP"}]
    service = {"metadata": {"name": "svc"}, "spec": {"ports": ports}}
    assert admin("POST", f"/api/v1/namespaces/{namespace}/services", _json(service))[0] == 201
    base = f"/api/v1/namespaces/{namespace}/services"
    status, _, body = admin("GET", f"{base}/svc:80/proxy/")
    assert status == 503 and body["reason"] == "ServiceUnavailable"
    assert body["message"] == 'no endpoints available for service "svc:80"'
    endpoint_slice = {
        "metadata": {"name": "svc-1", "labels": {"kubernetes.io/service-name": "svc"}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": port, "protocol": "TCP"}],
        "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}],
    }
    path = f"/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices"
    assert admin("POST", path, _json(endpoint_slice))[0] == 201
    for name in ("svc:80", "svc:http", "http:svc:http"):
        for _ in range(50):  # the API server's cache hears of the slice by watch
            status, _, body = admin("GET", f"{base}/{name}/proxy/ping")
            if status == 200:
                break
        assert status == 200 and body["path"] == "/ping", (name, body)
    status, _, body = admin("GET", f"{base}/svc:81/proxy/")
    assert status == 503 and body["message"] == 'no service port 81 found for service "svc"'
