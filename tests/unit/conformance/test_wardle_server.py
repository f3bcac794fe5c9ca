"""The sample-apiserver stand-in served on loopback over TLS: who may call it (the verified
front-proxy certificate and the X-Remote-* headers, then the authorizer), the health paths
without either, and chunked request bodies as an aggregating proxy may send them."""

from __future__ import annotations

import http.client
import json
import ssl
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from kprov.conformance.wardle.api import WardleAPI
from kprov.conformance.wardle.auth import Caller, RequestHeaders
from kprov.conformance.wardle.server import WardleServer, serving_context
from kprov.conformance.wardle.store import MemoryStore
from kprov.pki.keypair import KeyPair, issue_cert, new_ca

_FLUNDERS = "/apis/wardle.example.com/v1alpha1/namespaces/default/flunders"


@dataclass
class _Setup:
    port: int
    serving_ca: KeyPair
    proxy: KeyPair
    stranger: KeyPair
    tmp: Path
    asked: list[tuple[Caller, dict[str, str], bool]] = field(default_factory=list)
    deny: set[str] = field(default_factory=set)

    def connect(self, client: KeyPair | None) -> http.client.HTTPSConnection:
        context = ssl.create_default_context(cadata=self.serving_ca.cert_pem.decode())
        if client is not None:
            cert, key = self.tmp / "client.crt", self.tmp / "client.key"
            cert.write_bytes(client.cert_pem)
            key.write_bytes(client.key_pem)
            context.load_cert_chain(cert, key)
        return http.client.HTTPSConnection("localhost", self.port, context=context, timeout=10)


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[_Setup]:
    serving_ca, proxy_ca, other_ca = new_ca("e2e-ca"), new_ca("front-proxy-ca"), new_ca("other")
    serving = issue_cert(serving_ca, "sample-api.e2e.svc", dns_names=["localhost"], server=True)
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    cert.write_bytes(serving.cert_pem)
    key.write_bytes(serving.key_pem)
    headers = RequestHeaders(proxy_ca.cert_pem.decode(), allowed_names=("front-proxy-client",))
    state = _Setup(0, serving_ca, issue_cert(proxy_ca, "front-proxy-client", client=True),
                   issue_cert(other_ca, "front-proxy-client", client=True), tmp_path)

    def authorize(caller: Caller, attrs: Mapping[str, str], non_resource: bool) -> tuple[bool, str]:
        state.asked.append((caller, dict(attrs), non_resource))
        return caller.name not in state.deny, "RBAC: no"

    store = MemoryStore()
    server = WardleServer(("127.0.0.1", 0), serving_context(str(cert), str(key), headers.client_ca),
                          WardleAPI(store), store, headers, authorize)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def _request(conn: http.client.HTTPSConnection, method: str, path: str, body: bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    conn.request(method, path, body=body, headers=headers or {})
    reply = conn.getresponse()
    return reply.status, reply.read()


def test_health_paths_need_no_client_certificate(setup: _Setup) -> None:
    conn = setup.connect(None)
    assert _request(conn, "GET", "/readyz") == (200, b"ok")
    assert _request(conn, "GET", "/healthz") == (200, b"ok")
    status, body = _request(conn, "GET", _FLUNDERS, headers={"X-Remote-User": "alice"})
    assert status == 401 and json.loads(body)["reason"] == "Unauthorized"  # headers alone count for nothing
    assert setup.asked == []


def test_the_proxys_certificate_and_headers_name_the_caller(setup: _Setup) -> None:
    conn = setup.connect(setup.proxy)
    identity = {"X-Remote-User": "alice", "X-Remote-Group": "dev", "X-Remote-Extra-Scopes%2Fa": "x"}
    status, body = _request(conn, "GET", _FLUNDERS, headers=identity)
    assert status == 200 and json.loads(body)["kind"] == "FlunderList"
    caller, attrs, non_resource = setup.asked[-1]
    assert (caller.name, caller.groups, caller.extra) == ("alice", ("dev",), {"scopes/a": ["x"]})
    assert attrs["verb"] == "list" and attrs["namespace"] == "default" and not non_resource
    assert _request(conn, "GET", _FLUNDERS)[0] == 401  # the proxy's certificate, no user named


def test_a_certificate_from_another_ca_is_refused_at_the_handshake(setup: _Setup) -> None:
    conn = setup.connect(setup.stranger)
    with pytest.raises((ssl.SSLError, ConnectionError, http.client.HTTPException)):
        _request(conn, "GET", _FLUNDERS, headers={"X-Remote-User": "alice"})


def test_denied_callers_get_upstreams_forbidden_and_chunked_bodies_are_read(setup: _Setup) -> None:
    conn = setup.connect(setup.proxy)
    setup.deny.add("mallory")
    status, body = _request(conn, "GET", _FLUNDERS, headers={"X-Remote-User": "mallory"})
    assert status == 403
    assert json.loads(body)["message"].startswith(
        'forbidden: User "mallory" cannot list resource "flunders" in API group "wardle.example.com" '
        'in the namespace "default"')
    flunder = json.dumps({"apiVersion": "wardle.example.com/v1alpha1", "kind": "Flunder",
                          "metadata": {"name": "chunky"}}).encode()
    conn.putrequest("POST", _FLUNDERS)
    conn.putheader("X-Remote-User", "alice")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    for piece in (flunder[:10], flunder[10:]):
        conn.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
    conn.send(b"0\r\n\r\n")
    reply = conn.getresponse()
    assert reply.status == 201 and json.loads(reply.read())["metadata"]["name"] == "chunky"
