"""TLS Secrets → PEM files: usable ones only, written 0600, reasons without secret data."""

from __future__ import annotations

import base64
import datetime
import stat
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kprov.cluster.ingress.certs import DEFAULT_CN, ensure_default_certificate, secret_pem, write_private


def _pair() -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "a.example")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _secret(cert: bytes, key: bytes) -> dict[str, object]:
    return {"type": "kubernetes.io/tls",
            "data": {"tls.crt": base64.b64encode(cert).decode(), "tls.key": base64.b64encode(key).decode()}}


def test_a_usable_secret_becomes_certificate_then_key() -> None:
    cert, key = _pair()
    pem, why = secret_pem(_secret(cert, key))
    assert why == "" and pem is not None
    assert pem.startswith(cert.rstrip(b"\n")) and pem.endswith(key)


def test_unusable_secrets_say_why_without_their_data() -> None:
    cert, key = _pair()
    _, other_key = _pair()
    cases = {
        "not found": None,
        "has no tls.crt or tls.key": {"data": {"tls.crt": base64.b64encode(cert).decode()}},
        "tls.crt or tls.key does not parse as PEM": _secret(b"junk", key),
        "tls.key does not belong to tls.crt": _secret(cert, other_key),
    }
    for reason, secret in cases.items():
        pem, why = secret_pem(secret)  # type: ignore[arg-type]
        assert (pem, why) == (None, reason)
        assert "PRIVATE" not in why


def test_files_are_private_and_rewritten_only_on_change(tmp_path: Path) -> None:
    path = tmp_path / "certs" / "ns_tls.pem"
    assert write_private(path, b"one") is True
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert write_private(path, b"one") is False
    assert write_private(path, b"two") is True and path.read_bytes() == b"two"


def test_default_certificate_is_made_once(tmp_path: Path) -> None:
    path = tmp_path / "default.pem"
    ensure_default_certificate(path)
    first = path.read_bytes()
    cert = x509.load_pem_x509_certificate(first)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == DEFAULT_CN
    ensure_default_certificate(path)
    assert path.read_bytes() == first and stat.S_IMODE(path.stat().st_mode) == 0o600
