"""TLS material for the proxy: Secrets → PEM files, and the default certificate.

A ``kubernetes.io/tls`` Secret's ``tls.crt`` and ``tls.key`` are checked (both parse, and
the key belongs to the certificate) before HAProxy sees them: one bad Secret must not
stop the proxy from loading its configuration. A host whose Secret is missing or unusable
is served the default certificate, as ingress-nginx does. Files are written 0600 under
the state directory, and rewritten only when their bytes change; nothing of a key ever
goes to a log (messages name the Secret only).

The default certificate is self-signed (CN ``kprov Ingress default certificate``,
ingress-nginx's "Fake Certificate" in spirit), made once and kept across restarts, unless
``--default-ssl-certificate`` names a Secret.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import os
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ["DEFAULT_CN", "ensure_default_certificate", "secret_pem", "write_private"]

DEFAULT_CN = "kprov Ingress default certificate"


def secret_pem(secret: dict[str, Any] | None) -> tuple[bytes | None, str]:
    """(certificate + key PEM, "") when usable, else (None, why) — the reason has no secret data."""
    if not secret:
        return None, "not found"
    data = secret.get("data") or {}
    try:
        cert_pem = base64.b64decode(data.get("tls.crt") or "")
        key_pem = base64.b64decode(data.get("tls.key") or "")
    except ValueError:
        return None, "tls.crt or tls.key is not base64"
    if not cert_pem or not key_pem:
        return None, "has no tls.crt or tls.key"
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):
        return None, "tls.crt or tls.key does not parse as PEM"
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(serialization.Encoding.PEM, public) != cert.public_key().public_bytes(
        serialization.Encoding.PEM, public
    ):
        return None, "tls.key does not belong to tls.crt"
    return cert_pem.rstrip(b"\n") + b"\n" + key_pem.rstrip(b"\n") + b"\n", ""


def write_private(path: Path, content: bytes) -> bool:
    """Write ``content`` 0600 (atomically) unless the file already holds it; True if written."""
    try:
        if path.read_bytes() == content:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{hashlib.sha256(content).hexdigest()[:8]}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
    os.replace(temporary, path)
    return True


def ensure_default_certificate(path: Path) -> None:
    """A self-signed EC certificate at ``path`` (kept when one is there already)."""
    if path.exists():
        return
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, DEFAULT_CN)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("ingress.local")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    write_private(path, pem)
