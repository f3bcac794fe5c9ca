"""The kubelet's certificates through CertificateSigningRequests, as the kubelet's certificate
manager with ``--rotate-certificates`` (client) and ``--rotate-server-certificates`` (serving).

Each certificate is renewed at a jittered point between 70% and 90% of its lifetime: a new
ECDSA P-256 key, a request ``system:node:<name>`` / ``system:nodes`` for signer
``kubernetes.io/kube-apiserver-client-kubelet`` (usages digital signature, client auth) or
``kubernetes.io/kubelet-serving`` (digital signature, server auth; the node's name and IP as
subjectAltNames), then waiting for the controller manager to approve and sign it. The new
pair is written to ``<cert-dir>/kubelet-<client|server>-<timestamp>.pem`` (certificate then
key, 0600) and ``kubelet-<client|server>-current.pem`` is pointed at it, as upstream; a
restarted kubelet starts from the current file when it is newer than what it was given. The
client certificate is then used for the next requests, the serving one for the next TLS
handshakes. A request that is denied, fails, or is not issued within 15 minutes is tried
again after a backoff, while the old certificate is still valid.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import ipaddress
import logging
import os
import random
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kprov.cluster.client.errors import NotFound
from kprov.cluster.client.resources import CERTIFICATE_SIGNING_REQUESTS
from kprov.cluster.client.rest import ApiClient

__all__ = [
    "CertificateRotator",
    "RotationSpec",
    "client_spec",
    "load_current",
    "reload_serving",
    "rotation_deadline",
    "serving_spec",
]

log = logging.getLogger(__name__)

WAIT_FOR_ISSUE = 15 * 60.0  # upstream's certificateWaitTimeout
RETRY = 30.0


@dataclass(frozen=True)
class RotationSpec:
    kind: str  # "client" or "server" (the file names)
    node_name: str
    signer: str
    usages: tuple[str, ...]
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()


def client_spec(node_name: str) -> RotationSpec:
    return RotationSpec("client", node_name, "kubernetes.io/kube-apiserver-client-kubelet",
                        ("digital signature", "client auth"))


def serving_spec(node_name: str, ips: tuple[str, ...], dns_names: tuple[str, ...] = ()) -> RotationSpec:
    return RotationSpec("server", node_name, "kubernetes.io/kubelet-serving",
                        ("digital signature", "server auth"), (node_name, *dns_names), ips)


def rotation_deadline(cert: x509.Certificate, rand: Callable[[], float] = random.random) -> dt.datetime:
    """When to renew: 70% to 90% of the way through the certificate's lifetime."""
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    return start + (end - start) * (0.7 + 0.2 * rand())


def _pem_pair(pem: bytes) -> tuple[bytes, bytes]:
    """The certificate and key blocks of a ``kubelet-*-current.pem``."""
    text = pem.decode()
    cert_end = text.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----")
    return text[:cert_end].encode() + b"\n", text[cert_end:].strip().encode() + b"\n"


def load_current(cert_dir: Path, kind: str) -> tuple[bytes, bytes] | None:
    """The current pair from ``cert_dir`` (certificate PEM, key PEM), if there is a valid one."""
    path = cert_dir / f"kubelet-{kind}-current.pem"
    try:
        cert_pem, key_pem = _pem_pair(path.read_bytes())
        cert = x509.load_pem_x509_certificate(cert_pem)
    except (OSError, ValueError):
        return None
    return (cert_pem, key_pem) if cert.not_valid_after_utc > dt.datetime.now(dt.UTC) else None


def _request_pem(spec: RotationSpec, key: ec.EllipticCurvePrivateKey) -> bytes:
    subject = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:nodes"),
        x509.NameAttribute(NameOID.COMMON_NAME, f"system:node:{spec.node_name}"),
    ])
    builder = x509.CertificateSigningRequestBuilder().subject_name(subject)
    names: list[x509.GeneralName] = [x509.DNSName(d) for d in dict.fromkeys(spec.dns_names)]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in dict.fromkeys(spec.ip_addresses)]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


class CertificateRotator:
    """Keeps one of the kubelet's certificates renewed; ``install`` puts a new pair to use."""

    def __init__(
        self, client: ApiClient, spec: RotationSpec, cert_dir: Path, cert_pem: bytes | None,
        install: Callable[[bytes, bytes], Awaitable[None]],
    ) -> None:
        """``cert_pem``: the certificate in use (None: there is none yet, ask at once)."""
        self.client = client
        self.spec = spec
        self.cert_dir = cert_dir
        self.cert = x509.load_pem_x509_certificate(cert_pem) if cert_pem else None
        self.install = install
        self.rotations = 0

    async def run(self) -> None:
        while True:
            wait = 0.0
            if self.cert is not None:
                wait = (rotation_deadline(self.cert) - dt.datetime.now(dt.UTC)).total_seconds()
            if wait > 0:
                log.info("%s certificate: rotation in %.0fs", self.spec.kind, wait)
                await asyncio.sleep(wait)
            try:
                await self.rotate()
            except Exception as exc:  # the current certificate stays until it works
                log.warning("rotating the %s certificate failed: %s; retrying in %.0fs",
                            self.spec.kind, exc, RETRY)
                await asyncio.sleep(RETRY)

    async def rotate(self) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        request = _request_pem(self.spec, key)
        body = {
            "apiVersion": "certificates.k8s.io/v1",
            "kind": "CertificateSigningRequest",
            "metadata": {"generateName": "csr-"},
            "spec": {
                "request": base64.b64encode(request).decode(),
                "signerName": self.spec.signer,
                "usages": list(self.spec.usages),
            },
        }
        created = await self.client.create(CERTIFICATE_SIGNING_REQUESTS, body)
        name = created["metadata"]["name"]
        log.info("%s certificate: waiting for CertificateSigningRequest %s", self.spec.kind, name)
        cert_pem = await self._issued(name)
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        self._write(cert_pem, key_pem)
        await self.install(cert_pem, key_pem)
        self.cert = x509.load_pem_x509_certificate(cert_pem)
        self.rotations += 1
        log.info("%s certificate rotated (CSR %s), valid until %s", self.spec.kind, name,
                 self.cert.not_valid_after_utc.isoformat())

    async def _issued(self, name: str) -> bytes:
        deadline = asyncio.get_running_loop().time() + WAIT_FOR_ISSUE
        while asyncio.get_running_loop().time() < deadline:
            try:
                csr = await self.client.get(CERTIFICATE_SIGNING_REQUESTS, name)
            except NotFound as exc:
                raise RuntimeError(f"CertificateSigningRequest {name} was deleted") from exc
            status = csr.get("status") or {}
            for cond in status.get("conditions") or ():
                if cond.get("type") in ("Denied", "Failed") and cond.get("status", "True") == "True":
                    raise RuntimeError(f"CertificateSigningRequest {name} {cond['type'].lower()}: "
                                       f"{cond.get('reason', '')} {cond.get('message', '')}".rstrip())
            if status.get("certificate"):
                return base64.b64decode(status["certificate"])
            await asyncio.sleep(1.0)
        raise RuntimeError(f"CertificateSigningRequest {name} was not issued in {WAIT_FOR_ISSUE:.0f}s")

    def _write(self, cert_pem: bytes, key_pem: bytes) -> None:
        self.cert_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d-%H-%M-%S")
        target = self.cert_dir / f"kubelet-{self.spec.kind}-{stamp}.pem"
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(cert_pem.rstrip(b"\n") + b"\n" + key_pem)
        current = self.cert_dir / f"kubelet-{self.spec.kind}-current.pem"
        staging = current.with_name(current.name + ".tmp")
        staging.unlink(missing_ok=True)
        staging.symlink_to(target.name)
        staging.replace(current)


def reload_serving(context: ssl.SSLContext, cert_dir: Path) -> Callable[[bytes, bytes], Awaitable[None]]:
    """An ``install`` for the serving certificate: the next handshakes present the new pair."""

    async def install(cert_pem: bytes, key_pem: bytes) -> None:
        context.load_cert_chain(cert_dir / "kubelet-server-current.pem")

    return install
