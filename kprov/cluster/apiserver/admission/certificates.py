"""CertificateSigningRequest admission: who may approve, issue, and ask for what.

Upstream's three validating plugins (plugin/pkg/admission/certificates), on by default and
each switched off by its name in ``--disable-admission-plugins``:

- ``CertificateApproval``: an UPDATE of ``certificatesigningrequests/approval`` needs verb
  ``approve`` on the synthetic resource ``signers`` (group certificates.k8s.io) named as
  the request's signerName, or ``<domain>/*`` for the domain part of that name.
- ``CertificateSigning``: an UPDATE of ``/status`` that changes ``status.certificate`` or
  ``status.conditions`` needs ``sign`` on ``signers`` the same way.
- ``CertificateSubjectRestriction``: a new request for ``kubernetes.io/kube-apiserver-client``
  whose subject lists organization ``system:masters`` is refused.

The signer checked is the stored (old) request's: a subresource write cannot move a request
to a signer its writer holds. A refusal is admission's 403 Forbidden,
``certificatesigningrequests.certificates.k8s.io "<name>" is forbidden: <why>``. The API
server's own writes (no user) are not checked; system:masters holds every verb anyway.
:func:`refusal` decides from the attributes and an ``allows`` question, so the decisions
are tested without a server; :func:`validate` asks the server's authorizer.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Collection, Mapping
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

from kprov.cluster.apiserver.attributes import AdmissionAttributes
from kprov.cluster.apiserver.authz.chain import authorizer_of
from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.request.requestinfo import RequestInfo
from kprov.cluster.apiserver.request.status import StatusError, refused

__all__ = [
    "APPROVAL_PLUGIN",
    "SIGNING_PLUGIN",
    "SUBJECT_RESTRICTION_PLUGIN",
    "forbidden",
    "refusal",
    "signer_allowed",
    "validate",
]

APPROVAL_PLUGIN = "CertificateApproval"
SIGNING_PLUGIN = "CertificateSigning"
SUBJECT_RESTRICTION_PLUGIN = "CertificateSubjectRestriction"

GROUP = "certificates.k8s.io"
_CSRS = (GROUP, "certificatesigningrequests")
_CLIENT_SIGNER = "kubernetes.io/kube-apiserver-client"

Allows = Callable[[RequestInfo], bool]


def signer_allowed(allows: Allows, verb: str, signer_name: str) -> bool:
    """May the asker ``verb`` the signer: by its exact name, or by ``<domain>/*``."""
    exact = RequestInfo(GROUP, "*", "signers", "", signer_name, "", verb)
    if allows(exact):
        return True
    domain = signer_name.split("/", 1)[0]
    return allows(exact._replace(name=f"{domain}/*"))


def _signer(obj: Mapping[str, Any] | None) -> str:
    return str(((obj or {}).get("spec") or {}).get("signerName") or "")


def _status(obj: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return (obj or {}).get("status") or {}


def _organizations(request: Any) -> list[str]:
    """The request's subject organizations; ValueError when it is no PEM certificate request
    (validation refuses those before admission runs, so this is a safety net)."""
    try:
        pem = base64.b64decode(str(request or ""), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("PEM block type must be CERTIFICATE REQUEST") from None
    if b"-----BEGIN CERTIFICATE REQUEST-----" not in pem:
        raise ValueError("PEM block type must be CERTIFICATE REQUEST")
    parsed = x509.load_pem_x509_csr(pem)
    return [str(a.value) for a in parsed.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]


def _subject_refusal(obj: Mapping[str, Any]) -> str | None:
    spec = obj.get("spec") or {}
    if spec.get("signerName") != _CLIENT_SIGNER:
        return None
    try:
        organizations = _organizations(spec.get("request"))
    except ValueError as exc:
        return f"failed to parse CSR: {exc}"
    if "system:masters" in organizations:
        return f"use of {_CLIENT_SIGNER} signer with system:masters group is not allowed"
    return None


def refusal(attrs: AdmissionAttributes, allows: Allows, disabled: Collection[str] = ()) -> str | None:
    """Why the CSR write in ``attrs`` is refused (the text after ``is forbidden: ``), or None."""
    info = attrs.info
    if (info.group, info.resource) != _CSRS or attrs.user is None:
        return None
    if attrs.operation == "CREATE" and not attrs.subresource:
        return None if SUBJECT_RESTRICTION_PLUGIN in disabled else _subject_refusal(attrs.obj or {})
    if attrs.operation != "UPDATE":
        return None
    signer = _signer(attrs.old)
    approval = attrs.subresource == "approval" and APPROVAL_PLUGIN not in disabled
    if approval and not signer_allowed(allows, "approve", signer):
        return f'user not permitted to approve requests with signerName "{signer}"'
    if attrs.subresource == "status" and SIGNING_PLUGIN not in disabled:
        old, new = _status(attrs.old), _status(attrs.obj)
        changed = (old.get("certificate") or "") != (new.get("certificate") or "") or (
            (old.get("conditions") or []) != (new.get("conditions") or [])
        )
        if changed and not signer_allowed(allows, "sign", signer):
            return f'user not permitted to sign requests with signerName "{signer}"'
    return None


def forbidden(attrs: AdmissionAttributes, why: str) -> StatusError:
    """Admission's 403 for this write, as upstream's admission.NewForbidden words it."""
    _, name = attrs.namespace_and_name
    info = attrs.info
    return refused(info.group, info.resource, name, why)


async def validate(ctx: ApiContext, attrs: AdmissionAttributes) -> None:
    """Raise 403 when a plugin refuses this write (no-op for anything but CSRs)."""
    user = attrs.user
    if (attrs.info.group, attrs.info.resource) != _CSRS or user is None:
        return
    authorizer = authorizer_of(ctx)
    why = refusal(attrs, lambda ri: authorizer.allows(user, ri), ctx.config.disable_admission_plugins)
    if why is not None:
        raise forbidden(attrs, why)
