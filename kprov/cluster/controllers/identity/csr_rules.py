"""What the certificate controllers decide about a CertificateSigningRequest, as pure functions.

The facts are upstream's (pkg/apis/certificates helpers, the csrapproving and csrsigning
controllers of kube-controller-manager): the well-known signer names; a kubelet client
request (signer ``kubernetes.io/kube-apiserver-client-kubelet``) has organization exactly
``system:nodes``, a common name ``system:node:<name>``, no subjectAltNames and the usages
{digital signature, client auth} (key encipherment allowed, for RSA keys); a kubelet serving
request (``kubernetes.io/kubelet-serving``) the same subject, at least one DNS or IP name, no
email or URI names, and {digital signature, server auth} (key encipherment allowed). A
request that fails its signer's validation gets a Failed condition with the reason
``SignerValidationFailure`` and upstream's message.

:func:`sign` issues the certificate the signer writes into ``status.certificate``: the
request's subject and names, key usages from ``spec.usages``, valid from five minutes ago
(clock skew) for the shorter of ``spec.expirationSeconds`` and the signer's duration, never
past the CA's own expiry.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID

__all__ = [
    "CLIENT_SIGNER",
    "KUBELET_CLIENT_SIGNER",
    "KUBELET_SERVING_SIGNER",
    "LEGACY_SIGNER",
    "approval_state",
    "has_condition",
    "parse_request",
    "sign",
    "signer_problem",
    "usages_of",
]

KUBELET_CLIENT_SIGNER = "kubernetes.io/kube-apiserver-client-kubelet"
KUBELET_SERVING_SIGNER = "kubernetes.io/kubelet-serving"
CLIENT_SIGNER = "kubernetes.io/kube-apiserver-client"
LEGACY_SIGNER = "kubernetes.io/legacy-unknown"

_NODE_PREFIX = "system:node:"
_BACKDATE = dt.timedelta(minutes=5)
_CLIENT_USAGES = (
    frozenset({"digital signature", "key encipherment", "client auth"}),
    frozenset({"digital signature", "client auth"}),
)
_SERVING_USAGES = (
    frozenset({"digital signature", "key encipherment", "server auth"}),
    frozenset({"digital signature", "server auth"}),
)
_API_CLIENT_USAGES = frozenset({"digital signature", "key encipherment", "client auth"})
_EXTENDED = {
    "client auth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "server auth": ExtendedKeyUsageOID.SERVER_AUTH,
    "code signing": ExtendedKeyUsageOID.CODE_SIGNING,
    "email protection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "timestamping": ExtendedKeyUsageOID.TIME_STAMPING,
    "ocsp signing": ExtendedKeyUsageOID.OCSP_SIGNING,
}

Obj = dict[str, Any]


def parse_request(csr: Obj) -> x509.CertificateSigningRequest:
    """The PKCS#10 request in ``spec.request`` (base64 of PEM); ValueError when it is not one."""
    raw = base64.b64decode(str((csr.get("spec") or {}).get("request") or ""))
    return x509.load_pem_x509_csr(raw)


def usages_of(csr: Obj) -> frozenset[str]:
    return frozenset(str(u) for u in (csr.get("spec") or {}).get("usages") or ())


def has_condition(csr: Obj, kind: str) -> bool:
    return any(
        c.get("type") == kind and c.get("status", "True") == "True"
        for c in (csr.get("status") or {}).get("conditions") or ()
    )


def approval_state(csr: Obj) -> str:
    """"approved", "denied" or "pending" (upstream: a Denied condition wins)."""
    if has_condition(csr, "Denied"):
        return "denied"
    return "approved" if has_condition(csr, "Approved") else "pending"


def _names(req: x509.CertificateSigningRequest) -> tuple[list[str], list[str], list[str], list[str]]:
    try:
        sans = req.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], [], [], []
    return (
        sans.get_values_for_type(x509.DNSName),
        [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)],
        sans.get_values_for_type(x509.RFC822Name),
        sans.get_values_for_type(x509.UniformResourceIdentifier),
    )


def _subject(req: x509.CertificateSigningRequest, oid: x509.ObjectIdentifier) -> list[str]:
    return [str(a.value) for a in req.subject.get_attributes_for_oid(oid)]


def _sorted_usages(usages: frozenset[str]) -> str:
    return "[" + " ".join(sorted(usages)) + "]"


def kubelet_client_problem(req: x509.CertificateSigningRequest, usages: frozenset[str]) -> str | None:
    """Why ``req`` is not a kubelet client request (upstream's words), or None."""
    if _subject(req, x509.NameOID.ORGANIZATION_NAME) != ["system:nodes"]:
        return "subject organization is not system:nodes"
    dns, ips, emails, uris = _names(req)
    if dns:
        return "DNS subjectAltNames are not allowed"
    if emails:
        return "Email subjectAltNames are not allowed"
    if ips:
        return "IP subjectAltNames are not allowed"
    if uris:
        return "URI subjectAltNames are not allowed"
    if not "".join(_subject(req, x509.NameOID.COMMON_NAME)).startswith(_NODE_PREFIX):
        return "subject common name does not begin with system:node:"
    if usages not in _CLIENT_USAGES:
        return f"usages did not match {_sorted_usages(_CLIENT_USAGES[0])}"
    return None


def kubelet_serving_problem(req: x509.CertificateSigningRequest, usages: frozenset[str]) -> str | None:
    """Why ``req`` is not a kubelet serving request (upstream's words), or None."""
    if _subject(req, x509.NameOID.ORGANIZATION_NAME) != ["system:nodes"]:
        return "subject organization is not system:nodes"
    dns, ips, emails, uris = _names(req)
    if not dns and not ips:
        return "DNS or IP subjectAltName is required"
    if emails:
        return "Email subjectAltNames are not allowed"
    if uris:
        return "URI subjectAltNames are not allowed"
    if usages not in _SERVING_USAGES:
        return f"usages did not match {_sorted_usages(_SERVING_USAGES[0])}"
    if not "".join(_subject(req, x509.NameOID.COMMON_NAME)).startswith(_NODE_PREFIX):
        return "subject common name does not begin with system:node:"
    return None


def signer_problem(signer: str, req: x509.CertificateSigningRequest, usages: frozenset[str]) -> str | None:
    """Why the built-in ``signer`` refuses ``req`` (a Failed condition's message), or None."""
    if signer == KUBELET_CLIENT_SIGNER:
        return kubelet_client_problem(req, usages)
    if signer == KUBELET_SERVING_SIGNER:
        return kubelet_serving_problem(req, usages)
    if signer == CLIENT_SIGNER and ("client auth" not in usages or not usages <= _API_CLIENT_USAGES):
        return f"invalid usage for client certificate: {_sorted_usages(usages - _API_CLIENT_USAGES)}"
    return None


def sign(
    ca_cert: x509.Certificate, ca_key: CertificateIssuerPrivateKeyTypes,
    req: x509.CertificateSigningRequest, usages: frozenset[str],
    expiration_seconds: int | None, duration: dt.timedelta, now: dt.datetime | None = None,
) -> str:
    """The PEM certificate for ``req``, signed by the CA ``ca_cert``/``ca_key``."""
    now = now or dt.datetime.now(dt.UTC)
    lifetime = duration
    if expiration_seconds:
        lifetime = min(lifetime, dt.timedelta(seconds=expiration_seconds))
    not_after = min(now + lifetime, ca_cert.not_valid_after_utc)
    extended = [_EXTENDED[u] for u in sorted(usages) if u in _EXTENDED]
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateBuilder()
        .subject_name(req.subject)
        .issuer_name(ca_cert.subject)
        .public_key(req.public_key())  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature="digital signature" in usages, content_commitment=False,
                key_encipherment="key encipherment" in usages, data_encipherment=False,
                key_agreement=False, key_cert_sign=False, crl_sign=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
    )
    if extended:
        builder = builder.add_extension(x509.ExtendedKeyUsage(extended), critical=False)
    try:
        sans = req.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        builder = builder.add_extension(sans.value, critical=sans.critical)
    except x509.ExtensionNotFound:
        pass
    cert = builder.sign(ca_key, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.PEM).decode()
