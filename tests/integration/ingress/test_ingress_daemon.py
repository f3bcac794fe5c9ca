"""kprov-ingress against a real API server and a real HAProxy, on loopback.

The daemon runs with its own identity (system:kprov:ingress-controller, so the bootstrap
RBAC is what is tested), creates the default IngressClass, renders the Ingresses it reads
and serves them through HAProxy to two small HTTP servers standing in for pods (their
EndpointSlices point at 127.0.0.1). Checked: host and path routing, 404 for an unknown
host, the Secret's certificate by SNI and the default one otherwise, the status written,
and no failed request while the configuration changes 20 times under a steady load.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime
import shutil
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from http import client as http_client
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kprov.cluster.client.errors import ApiError
from kprov.cluster.client.resources import ENDPOINTSLICES, INGRESS_CLASSES, INGRESSES, SECRETS, SERVICES
from kprov.cluster.client.rest import ApiClient
from kprov.cluster.ingress.certs import DEFAULT_CN
from kprov.cluster.ingress.daemon import IngressDaemon, IngressOptions
from kprov.cluster.ingress.haproxy_config import ProxySettings
from kprov.cluster.ingress.presence import PresenceOptions
from tests.integration.conftest import ControlPlane

pytestmark = pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy is not installed")

NS = "default"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _backend(name: str) -> tuple[web.AppRunner, int]:
    async def answer(request: web.Request) -> web.Response:
        return web.Response(text=f"{name} {request.path}")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = _free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, port


def _service(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": NS},
            "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}


def _slice(name: str, port: int) -> dict[str, Any]:
    labels = {"kubernetes.io/service-name": name}
    return {"metadata": {"name": f"{name}-x", "namespace": NS, "labels": labels},
            "addressType": "IPv4", "ports": [{"name": "http", "port": port, "protocol": "TCP"}],
            "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}]}


def _tls_secret(host: str) -> dict[str, Any]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(7).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    pem_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    data = {"tls.crt": cert.public_bytes(serialization.Encoding.PEM), "tls.key": pem_key}
    return {"metadata": {"name": "secure-tls", "namespace": NS}, "type": "kubernetes.io/tls",
            "data": {k: base64.b64encode(v).decode() for k, v in data.items()}}


def _ingress(extra_paths: int = 0) -> dict[str, Any]:
    def path(p: str, kind: str, service: str) -> dict[str, Any]:
        backend = {"service": {"name": service, "port": {"number": 80}}}
        return {"path": p, "pathType": kind, "backend": backend}

    return {
        "metadata": {"name": "web", "namespace": NS},
        "spec": {  # no ingressClassName: the default class (ours) takes it
            "tls": [{"hosts": ["secure.example"], "secretName": "secure-tls"}],
            "rules": [
                {"host": "a.example", "http": {"paths": [
                    path("/", "Prefix", "one"), path("/api", "Prefix", "two"),
                    *(path(f"/extra{i}", "Exact", "two") for i in range(extra_paths))]}},
                {"host": "b.example", "http": {"paths": [path("/", "Prefix", "two")]}},
                {"host": "secure.example", "http": {"paths": [path("/", "Prefix", "one")]}},
            ],
        },
    }


async def _until(what: str, check: Callable[[], Awaitable[bool]], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError, ApiError):
            if await check():
                return
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        await asyncio.sleep(0.1)


async def _get(port: int, host: str, path: str = "/") -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(
            f"http://127.0.0.1:{port}{path}", headers={"Host": host}, allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=3)) as reply:
        return reply.status, (await reply.text()).strip()


def _keepalive_get(conn: http_client.HTTPConnection, host: str, path: str) -> tuple[int, str]:
    conn.request("GET", path, headers={"Host": host})
    reply = conn.getresponse()
    body = reply.read().decode().strip()
    if reply.will_close:
        conn.close()  # the next request opens a new connection
    return reply.status, body


def _peer_cn(port: int, server_name: str | None) -> str:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=3) as raw, \
            context.wrap_socket(raw, server_hostname=server_name) as tls:
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    cert = x509.load_der_x509_certificate(der)
    return str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


@pytest.fixture
async def served(control_plane: ControlPlane,
                 tmp_path: Path) -> AsyncIterator[tuple[ApiClient, ProxySettings]]:
    admin = ApiClient.from_kubeconfig(str(control_plane.admin_kubeconfig))
    own = ApiClient.from_kubeconfig(str(control_plane.kubeconfig_for("system:kprov:ingress-controller")))
    runners = []
    for name in ("one", "two"):
        runner, port = await _backend(name)
        runners.append(runner)
        await admin.create(SERVICES, _service(name))
        await admin.create(ENDPOINTSLICES, _slice(name, port))
    await admin.create(SECRETS, _tls_secret("secure.example"))
    settings = ProxySettings(http_bind=f"127.0.0.1:{_free_port()}", https_bind=f"127.0.0.1:{_free_port()}",
                             monitor_bind=f"127.0.0.1:{_free_port()}",
                             admin_socket=str(tmp_path / "admin.sock"),
                             default_certificate=str(tmp_path / "default.pem"),
                             crt_list=str(tmp_path / "crt-list"))
    options = IngressOptions(ensure_class=True, default_class=True,
                             presence=PresenceOptions("ingress-test-node", "192.0.2.10"),
                             state_dir=tmp_path, http_address=f"127.0.0.1:{_free_port()}", settings=settings)
    daemon = IngressDaemon(own, options)
    task = asyncio.create_task(daemon.run())
    try:
        yield admin, settings
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        for res, name in [(INGRESSES, "web"), (SECRETS, "secure-tls"), (SERVICES, "one"), (SERVICES, "two"),
                          (ENDPOINTSLICES, "one-x"), (ENDPOINTSLICES, "two-x")]:
            with contextlib.suppress(Exception):
                await admin.delete(res, name, NS)
        with contextlib.suppress(Exception):
            await admin.delete(INGRESS_CLASSES, "kprov")
        for runner in runners:
            await runner.cleanup()
        await own.close()
        await admin.close()


def _port(bind: str) -> int:
    return int(bind.rpartition(":")[2])


async def test_routes_tls_status_and_reloads_without_a_failed_request(
        served: tuple[ApiClient, ProxySettings]) -> None:
    admin, settings = served
    http, https = _port(settings.http_bind), _port(settings.https_bind)
    await _until("the IngressClass kprov, default",
                 lambda: _default_class(admin))
    created = await admin.create(INGRESSES, _ingress())
    assert created["spec"]["ingressClassName"] == "kprov"  # DefaultIngressClass admission

    async def routed() -> bool:
        return await _get(http, "a.example", "/api/v1") == (200, "two /api/v1")

    await _until("a.example/api routed to two", routed)
    assert await _get(http, "a.example", "/apis") == (200, "one /apis")  # element-wise prefix
    assert await _get(http, "A.example:80", "/") == (200, "one /")
    assert await _get(http, "b.example", "/x") == (200, "two /x")
    assert await _get(http, "unknown.example", "/") == (404, "404 page not found")
    status, _ = await _get(http, "secure.example", "/")
    assert status == 308  # a TLS host: HTTP goes to HTTPS
    assert _peer_cn(https, "secure.example") == "secure.example"
    assert _peer_cn(https, "other.example") == DEFAULT_CN
    assert _peer_cn(https, None) == DEFAULT_CN

    async def status_written() -> bool:
        ingress = await admin.get(INGRESSES, "web", NS)
        published = ingress.get("status", {}).get("loadBalancer", {}).get("ingress")
        return bool(published == [{"ip": "192.0.2.10"}])

    await _until("status.loadBalancer written", status_written)

    failures: list[str] = []
    answered = 0
    stop = asyncio.Event()

    async def load() -> None:
        # One keep-alive connection per client, never retried (as http.client): a reload must
        # not close it under a request in flight.
        nonlocal answered
        conn = http_client.HTTPConnection("127.0.0.1", http, timeout=3)
        while not stop.is_set():
            try:
                reply = await asyncio.to_thread(_keepalive_get, conn, "b.example", "/steady")
                if reply != (200, "two /steady"):
                    failures.append(repr(reply))
                answered += 1
            except (OSError, http_client.HTTPException) as exc:
                failures.append(repr(exc))
                conn.close()
        conn.close()

    clients = [asyncio.create_task(load()) for _ in range(4)]
    for change in range(1, 21):
        current = await admin.get(INGRESSES, "web", NS)
        current["spec"] = _ingress(change)["spec"]
        await admin.update(INGRESSES, current)

        async def has_path(change: int = change) -> bool:
            return await _get(http, "a.example", f"/extra{change - 1}") == (200, f"two /extra{change - 1}")

        await _until(f"change {change} served", has_path)
    stop.set()
    await asyncio.gather(*clients)
    assert answered > 20
    assert failures == [], failures[:5]


async def _default_class(admin: ApiClient) -> bool:
    found = await admin.get(INGRESS_CLASSES, "kprov")
    annotations = found["metadata"].get("annotations") or {}
    return bool(found["spec"]["controller"] == "kprov.io/ingress"
                and annotations.get("ingressclass.kubernetes.io/is-default-class") == "true")
