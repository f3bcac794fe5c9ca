"""What a pki directory holds: one record per certificate, for `kprov pki show`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from kprov.pki.pem import load_cert
from kprov.pki.store import RENEW_BEFORE, cert_sans

__all__ = ["CertInfo", "list_certs"]


@dataclass(frozen=True)
class CertInfo:
    name: str  # path below the pki directory, without .crt
    common_name: str
    organizations: tuple[str, ...]
    issuer: str
    is_ca: bool
    not_after: dt.datetime
    sans: tuple[str, ...]
    error: str = ""

    @property
    def days_left(self) -> int:
        return (self.not_after - dt.datetime.now(dt.UTC)).days

    @property
    def status(self) -> str:
        if self.error:
            return "unreadable"
        left = self.not_after - dt.datetime.now(dt.UTC)
        if left <= dt.timedelta(0):
            return "expired"
        return "renew soon" if left < RENEW_BEFORE else "ok"


def _attrs(name: x509.Name, oid: x509.ObjectIdentifier) -> tuple[str, ...]:
    return tuple(str(a.value) for a in name.get_attributes_for_oid(oid))


def _info(name: str, path: Path) -> CertInfo:
    try:
        cert = load_cert(path)
    except ValueError as e:
        epoch = dt.datetime.fromtimestamp(0, dt.UTC)
        return CertInfo(name, "", (), "", False, epoch, (), str(e))
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    dns, ips = cert_sans(cert)
    cn = _attrs(cert.subject, NameOID.COMMON_NAME)
    issuer = _attrs(cert.issuer, NameOID.COMMON_NAME)
    return CertInfo(
        name, cn[0] if cn else "", _attrs(cert.subject, NameOID.ORGANIZATION_NAME),
        issuer[0] if issuer else "", is_ca, cert.not_valid_after_utc, (*dns, *ips),
    )


def list_certs(directory: str | Path) -> list[CertInfo]:
    """Every ``*.crt`` below ``directory``: CAs first, then by name."""
    root = Path(directory)
    infos = [_info(str(p.relative_to(root).with_suffix("")), p) for p in root.rglob("*.crt")]
    return sorted(infos, key=lambda i: (not i.is_ca, i.name))
