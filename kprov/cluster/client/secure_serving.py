"""The secure port of the scheduler and the controller manager (10259, 10257): /healthz,
/livez, /readyz and Prometheus /metrics over HTTPS, authenticated and authorized through
the API server as kube-scheduler's and kube-controller-manager's delegated auth does.

- Serving certificate: ``--tls-cert-file``/``--tls-private-key-file``, or, as upstream does
  without them, a self-signed one made at start-up (an EC key; written 0600 into
  ``--cert-dir``, a fresh private temporary directory by default).
- Authentication: a client certificate verified by ``--client-ca-file`` (CN the user, O the
  groups), else a Bearer token sent to the API server as a TokenReview.
- Authorization: the health paths are always allowed (upstream's
  ``--authorization-always-allow-paths`` default); anything else is a SubjectAccessReview of
  the non-resource URL and verb, so RBAC's ``system:monitoring`` role (nonResourceURLs
  /metrics) is what lets a scraper in. Answers are cached 10 s per (user, groups, path, verb),
  upstream's allowed-TTL, so a scraper costs the API server one review per 10 s.
The component's identity may create tokenreviews and subjectaccessreviews (bootstrap roles
system:kube-scheduler and system:kube-controller-manager, as upstream's).
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
import os
import socket
import ssl
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from prometheus_client import CollectorRegistry, generate_latest

from kprov.cluster.client.rest import ApiClient

__all__ = ["SecureServingConfig", "add_secure_serving_flags", "self_signed", "start_secure_serving"]

_log = logging.getLogger(__name__)

ALWAYS_ALLOW = frozenset({"/healthz", "/livez", "/readyz"})
_CACHE_S = 10.0
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True)
class SecureServingConfig:
    bind_address: str
    port: int  # 0: not served
    tls_cert_file: str = ""
    tls_key_file: str = ""
    client_ca_file: str = ""
    cert_dir: str = ""


def add_secure_serving_flags(parser: Any, upstream_port: int) -> None:
    """The serving flags. ``--secure-port`` defaults to 0 (off), not upstream's port: tests and
    `kprov local` run several schedulers on one machine; the roles pass the upstream port."""
    parser.add_argument("--secure-port", type=int, default=0,
                        help=f"HTTPS port for /healthz and /metrics (0: off; the roles use {upstream_port})")
    parser.add_argument("--bind-address", default="0.0.0.0")
    parser.add_argument("--tls-cert-file", default="")
    parser.add_argument("--tls-private-key-file", default="")
    parser.add_argument("--client-ca-file", default="", help="CA verifying scrapers' client certificates")
    parser.add_argument("--cert-dir", default="", help="where a self-signed serving certificate is written")


def secure_serving_config(args: Any) -> SecureServingConfig:
    return SecureServingConfig(
        args.bind_address, args.secure_port, args.tls_cert_file, args.tls_private_key_file,
        args.client_ca_file, args.cert_dir,
    )


def self_signed(directory: Path, name: str) -> tuple[Path, Path]:
    """A self-signed serving certificate for ``name`` (localhost, 127.0.0.1 and the host name
    as SANs), valid a year; the key written 0600."""
    key = ec.generate_private_key(ec.SECP256R1())
    host = socket.gethostname()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{host}@{name}")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.DNSName(host),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    return cert_path, key_path


def _peer_identity(request: web.BaseRequest) -> tuple[str, tuple[str, ...]] | None:
    transport = request.transport
    cert = transport.get_extra_info("peercert") if transport is not None else None
    if not cert:
        return None
    user, groups = "", []
    for rdn in cert.get("subject", ()):
        for attr, value in rdn:
            if attr == "commonName":
                user = value
            elif attr == "organizationName":
                groups.append(value)
    return (user, tuple(groups)) if user else None


class DelegatedAuth:
    """TokenReview and SubjectAccessReview through the component's own client, cached."""

    def __init__(self, client: ApiClient, clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.clock = clock
        self._tokens: dict[str, tuple[float, tuple[str, tuple[str, ...]] | None]] = {}
        self._decisions: dict[tuple[str, tuple[str, ...], str, str], tuple[float, bool]] = {}

    async def user_of_token(self, token: str) -> tuple[str, tuple[str, ...]] | None:
        cached = self._tokens.get(token)
        if cached is not None and cached[0] > self.clock():
            return cached[1]
        review = await self.client.request(
            "POST", "/apis/authentication.k8s.io/v1/tokenreviews",
            body={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}},
        )
        status = review.get("status") or {}
        found = None
        if status.get("authenticated"):
            user = status.get("user") or {}
            found = (user.get("username", ""), tuple(user.get("groups") or ()))
        if len(self._tokens) > 1000:
            self._tokens.clear()
        self._tokens[token] = (self.clock() + _CACHE_S, found)
        return found

    async def allowed(self, user: str, groups: tuple[str, ...], path: str, verb: str) -> bool:
        key = (user, groups, path, verb)
        cached = self._decisions.get(key)
        if cached is not None and cached[0] > self.clock():
            return cached[1]
        review = await self.client.request(
            "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            body={
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SubjectAccessReview",
                "spec": {"user": user, "groups": list(groups),
                         "nonResourceAttributes": {"path": path, "verb": verb}},
            },
        )
        allowed = bool((review.get("status") or {}).get("allowed"))
        if len(self._decisions) > 1000:
            self._decisions.clear()
        self._decisions[key] = (self.clock() + _CACHE_S, allowed)
        return allowed


def _status(code: int, reason: str, message: str) -> web.Response:
    return web.json_response(
        {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
         "reason": reason, "code": code},
        status=code,
    )


def build_app(
    auth: DelegatedAuth, registry: CollectorRegistry, healthy: Callable[[], bool] = lambda: True
) -> web.Application:
    @web.middleware
    async def authenticate(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path in ALWAYS_ALLOW:
            return await handler(request)
        identity = _peer_identity(request)
        header = request.headers.get("Authorization", "")
        if identity is None and header.startswith("Bearer "):
            try:
                identity = await auth.user_of_token(header[len("Bearer "):].strip())
            except Exception as exc:  # the API server unreachable: nobody is authenticated
                _log.warning("token review failed: %s", exc)
        if identity is None:
            return _status(401, "Unauthorized", "Unauthorized")
        verb = request.method.lower() if request.method not in ("GET", "HEAD") else "get"
        try:
            allowed = await auth.allowed(identity[0], identity[1], request.path, verb)
        except Exception as exc:
            _log.warning("subject access review failed: %s", exc)
            allowed = False
        if not allowed:
            message = f'forbidden: User "{identity[0]}" cannot {verb} path "{request.path}"'
            return _status(403, "Forbidden", message)
        return await handler(request)

    async def health(_request: web.Request) -> web.Response:
        if healthy():
            return web.Response(text="ok")
        return web.Response(status=500, text="[-]component failed\nhealthz check failed")

    async def metrics(_request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE})

    app = web.Application(middlewares=[authenticate])
    for path in sorted(ALWAYS_ALLOW):
        app.router.add_get(path, health)
    app.router.add_get("/metrics", metrics)
    return app


def server_context(config: SecureServingConfig, name: str) -> ssl.SSLContext:
    cert, key = config.tls_cert_file, config.tls_key_file
    if not cert or not key:
        directory = Path(config.cert_dir) if config.cert_dir else Path(tempfile.mkdtemp(prefix=f"{name}-"))
        cert_path, key_path = self_signed(directory, name)
        cert, key = str(cert_path), str(key_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    if config.client_ca_file:
        context.load_verify_locations(config.client_ca_file)
        context.verify_mode = ssl.CERT_OPTIONAL
    return context


async def start_secure_serving(
    config: SecureServingConfig,
    name: str,
    client: ApiClient,
    registry: CollectorRegistry,
    healthy: Callable[[], bool] = lambda: True,
) -> web.AppRunner | None:
    """Serve until the returned runner is cleaned up; None when the port is 0."""
    if not config.port:
        return None
    runner = web.AppRunner(build_app(DelegatedAuth(client), registry, healthy), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, config.bind_address, config.port, ssl_context=server_context(config, name))
    await site.start()
    _log.info("serving /healthz and /metrics on https://%s:%d", config.bind_address, config.port)
    return runner
