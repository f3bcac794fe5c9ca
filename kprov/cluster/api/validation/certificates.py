"""CertificateSigningRequest (certificates.k8s.io/v1) validation, after upstream's
pkg/apis/certificates/validation: the request is a PEM ``CERTIFICATE REQUEST`` whose
signature checks out, a signer name ``<domain>/<path>``, at least one known usage,
``expirationSeconds`` at least 600, unique condition types, Approved and Denied never
together, and ``status.certificate`` (when set) PEM ``CERTIFICATE`` blocks only.

Updates through ``/approval`` and ``/status`` (:func:`validate_csr_subresource_update`) never
remove an Approved, Denied or Failed condition; ``/status`` never adds Approved or Denied
(approving is ``/approval``'s, under its own admission check) and never changes a
certificate once issued."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from cryptography import x509

from kprov.cluster.api.validation.field_errors import Errors

__all__ = ["validate_csr", "validate_csr_subresource_update"]

USAGES = (
    "signing", "digital signature", "content commitment", "key encipherment", "key agreement",
    "data encipherment", "cert sign", "crl sign", "encipher only", "decipher only", "any",
    "server auth", "client auth", "code signing", "email protection", "s/mime", "ipsec end system",
    "ipsec tunnel", "ipsec user", "timestamping", "ocsp signing", "microsoft sgc", "netscape sgc",
)


def _bytes(value: Any) -> bytes | None:
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def _pem_blocks(data: bytes) -> list[str]:
    return [line[len(b"-----BEGIN "):-len(b"-----")].decode(errors="replace")
            for line in data.splitlines() if line.startswith(b"-----BEGIN ") and line.endswith(b"-----")]


def _signer(errors: Errors, signer: Any) -> None:
    if not signer:
        errors.required("spec.signerName")
        return
    domain, _, path = str(signer).partition("/")
    if not path:
        errors.invalid("spec.signerName", signer, "must be a fully qualified domain and path of the form "
                       "'example.com/signer-name'")
    elif "." not in domain:
        errors.invalid("spec.signerName", signer, "should be a domain with at least two segments separated "
                       "by dots")


def _request(errors: Errors, value: Any) -> None:
    data = _bytes(value)
    if not data:
        errors.required("spec.request")
        return
    try:
        csr = x509.load_pem_x509_csr(data)
        ok = csr.is_signature_valid
    except ValueError:
        ok = False
    if not ok:
        errors.invalid("spec.request", "<value omitted>", "PEM block type must be CERTIFICATE REQUEST")


def _conditions(errors: Errors, status: dict[str, Any]) -> None:
    seen: set[str] = set()
    for i, condition in enumerate(status.get("conditions") or []):
        kind = condition.get("type")
        field = f"status.conditions[{i}]"
        if not kind:
            errors.required(f"{field}.type")
        if condition.get("status") not in ("True", "False", "Unknown"):
            errors.not_supported(f"{field}.status", condition.get("status"), ("False", "True", "Unknown"))
        if kind in seen and kind in ("Approved", "Denied", "Failed"):
            errors.duplicate(f"{field}.type", kind)
        seen.add(str(kind))
    if {"Approved", "Denied"} <= seen:
        errors.invalid("status.conditions", "Approved",
                       "Approved and Denied conditions are mutually exclusive")
    certificate = status.get("certificate")
    if certificate:
        data = _bytes(certificate) or b""
        blocks = _pem_blocks(data)
        if not blocks or any(b != "CERTIFICATE" for b in blocks):
            errors.invalid("status.certificate", "<certificate data>", "must contain PEM-encoded CERTIFICATE "
                           "blocks only")


def validate_csr(errors: Errors, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    spec = obj.get("spec") or {}
    if old is None:
        _request(errors, spec.get("request"))
        _signer(errors, spec.get("signerName"))
        usages = spec.get("usages") or []
        if not usages:
            errors.required("spec.usages")
        for i, usage in enumerate(usages):
            if usage not in USAGES:
                errors.not_supported(f"spec.usages[{i}]", usage, USAGES)
        seconds = spec.get("expirationSeconds")
        if seconds is not None and (not isinstance(seconds, int) or seconds < 600):
            errors.invalid("spec.expirationSeconds", seconds,
                           "may not specify a duration less than 600 seconds (10 minutes)")
    _conditions(errors, obj.get("status") or {})


def _count(obj: dict[str, Any], kind: str) -> int:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return sum(1 for c in conditions if isinstance(c, dict) and c.get("type") == kind)


def validate_csr_subresource_update(
    errors: Errors, obj: dict[str, Any], old: dict[str, Any], subresource: str
) -> None:
    """What an ``/approval`` or ``/status`` update may not change (upstream's messages)."""
    for kind in ("Approved", "Denied", "Failed"):
        if _count(obj, kind) < _count(old, kind):
            errors.forbidden("status.conditions", f'updates may not remove a condition of type "{kind}"')
    if subresource != "status":
        return
    for kind in ("Approved", "Denied"):
        if _count(obj, kind) > _count(old, kind):
            errors.forbidden("status.conditions", f'updates may not add a condition of type "{kind}"')
    issued = (old.get("status") or {}).get("certificate") or ""
    if issued and ((obj.get("status") or {}).get("certificate") or "") != issued:
        errors.forbidden("status.certificate", "updates may not modify existing certificate content")
