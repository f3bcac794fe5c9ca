"""Certificate authorities and leaf certificates (the `cryptography` library does the work).

A :class:`KeyPair` is an x509 certificate with its private key; everything else in kprov.pki
is built from :func:`new_ca` and :func:`issue_cert`. Keys are ECDSA P-256: quick to make,
accepted by Go (etcd), OpenSSL (Python's ssl, aiohttp) and kubectl alike.

The certificate profile follows what Kubernetes tools issue: CAs are self-signed with
``BasicConstraints(ca=True)``; leaf certificates carry digitalSignature + keyEncipherment and
serverAuth and/or clientAuth extended key usage, the subject key identifier, and the issuing
CA's authority key identifier. Identities are CN = user name, O = groups.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "CA_DAYS",
    "LEAF_DAYS",
    "KeyPair",
    "PrivateKey",
    "issue_cert",
    "new_ca",
    "new_private_key",
]

CA_DAYS = 3650
LEAF_DAYS = 365
# Backdating absorbs small clock differences between the operator machine and the hosts.
_BACKDATE = dt.timedelta(minutes=5)

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


@dataclass(frozen=True)
class KeyPair:
    """A certificate and its private key."""

    cert: x509.Certificate
    key: PrivateKey

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def common_name(self) -> str:
        return _name_attr(self.cert.subject, NameOID.COMMON_NAME)[0]

    @property
    def organizations(self) -> list[str]:
        return _name_attr(self.cert.subject, NameOID.ORGANIZATION_NAME)

    @property
    def not_after(self) -> dt.datetime:
        return self.cert.not_valid_after_utc

    @classmethod
    def from_pem(cls, cert_pem: bytes, key_pem: bytes) -> KeyPair:
        key = serialization.load_pem_private_key(key_pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            raise ValueError(f"unsupported private key type {type(key).__name__}")
        return cls(x509.load_pem_x509_certificate(cert_pem), key)


def _name_attr(name: x509.Name, oid: x509.ObjectIdentifier) -> list[str]:
    return [str(a.value) for a in name.get_attributes_for_oid(oid)]


def new_private_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _subject(common_name: str, organizations: Iterable[str] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


def new_ca(common_name: str, days: int = CA_DAYS) -> KeyPair:
    """A self-signed certificate authority."""
    key = new_private_key()
    now = dt.datetime.now(dt.UTC)
    name = _subject(common_name)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=True,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    return KeyPair(cert, key)


def issue_cert(
    ca: KeyPair,
    common_name: str,
    organizations: Iterable[str] = (),
    dns_names: Iterable[str] = (),
    ip_addresses: Iterable[str] = (),
    server: bool = False,
    client: bool = False,
    days: int = LEAF_DAYS,
    key: PrivateKey | None = None,
) -> KeyPair:
    """A leaf certificate signed by ``ca``; a new key unless ``key`` is given.

    ``server`` adds serverAuth, ``client`` adds clientAuth; at least one must be set.
    """
    if not (server or client):
        raise ValueError("issue_cert: set server=True and/or client=True")
    key = key or new_private_key()
    now = dt.datetime.now(dt.UTC)
    not_after = min(now + dt.timedelta(days=days), ca.not_after)
    usages = ([ExtendedKeyUsageOID.SERVER_AUTH] if server else []) + (
        [ExtendedKeyUsageOID.CLIENT_AUTH] if client else []
    )
    ca_ski = ca.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateBuilder()
        .subject_name(_subject(common_name, organizations))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=True,
                data_encipherment=False, key_agreement=False, key_cert_sign=False,
                crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
    )
    sans = _sans(dns_names, ip_addresses)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return KeyPair(builder.sign(ca.key, hashes.SHA256()), key)


def _sans(dns_names: Iterable[str], ip_addresses: Iterable[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for dns in dict.fromkeys(dns_names):
        names.append(x509.DNSName(dns))
    for ip in dict.fromkeys(ip_addresses):
        names.append(x509.IPAddress(ipaddress.ip_address(ip)))
    return names
