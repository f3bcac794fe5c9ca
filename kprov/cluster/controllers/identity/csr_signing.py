"""csrsigning: issue the certificates of approved requests for the built-in signers, as
kube-controller-manager's csrsigning with ``--cluster-signing-cert-file``/``-key-file``.

An approved, not failed, not yet issued request for ``kubernetes.io/kube-apiserver-client-
kubelet``, ``kubernetes.io/kubelet-serving``, ``kubernetes.io/kube-apiserver-client`` or
``kubernetes.io/legacy-unknown`` is validated as its signer requires (:mod:`.csr_rules`); a
request that fails gets a ``Failed`` condition (``SignerValidationFailure``), one that passes
its certificate in ``status.certificate``, signed by the cluster CA for the shorter of
``spec.expirationSeconds`` and ``--cluster-signing-duration`` (a year by default). Without a
signing key the controller does nothing (upstream does not start it).
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes

from kprov.cluster.api.objects import format_time
from kprov.cluster.client.errors import Conflict, NotFound
from kprov.cluster.client.informer import EventHandler
from kprov.cluster.client.resources import CERTIFICATE_SIGNING_REQUESTS
from kprov.cluster.controllers.base import Controller
from kprov.cluster.controllers.identity.csr_rules import (
    CLIENT_SIGNER,
    KUBELET_CLIENT_SIGNER,
    KUBELET_SERVING_SIGNER,
    LEGACY_SIGNER,
    approval_state,
    has_condition,
    parse_request,
    sign,
    signer_problem,
    usages_of,
)

__all__ = ["CSRSigningController"]

log = logging.getLogger(__name__)

SIGNERS = frozenset({KUBELET_CLIENT_SIGNER, KUBELET_SERVING_SIGNER, CLIENT_SIGNER, LEGACY_SIGNER})


def _read_ca(cert_file: str, key_file: str) -> tuple[x509.Certificate, CertificateIssuerPrivateKeyTypes]:
    cert = x509.load_pem_x509_certificate(Path(cert_file).read_bytes())
    key = serialization.load_pem_private_key(Path(key_file).read_bytes(), password=None)
    if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        raise ValueError(f"{key_file}: not an EC or RSA key")
    return cert, key


class CSRSigningController(Controller):
    name = "csrsigning"
    identity = "certificate-controller"

    def setup(self) -> None:
        options = self.ctx.options
        self.ca: tuple[x509.Certificate, CertificateIssuerPrivateKeyTypes] | None = None
        if options.cluster_signing_cert_file and options.cluster_signing_key_file:
            self.ca = _read_ca(options.cluster_signing_cert_file, options.cluster_signing_key_file)
        self.duration = dt.timedelta(seconds=options.cluster_signing_duration)
        self.csrs = self.ctx.informers.get(CERTIFICATE_SIGNING_REQUESTS)
        self.csrs.add_handler(EventHandler(self.enqueue, lambda _o, n: self.enqueue(n), None))

    async def reconcile(self, key: str) -> float | None:
        csr = self.csrs.store.get(key)
        if self.ca is None or csr is None or approval_state(csr) != "approved":
            return None
        if has_condition(csr, "Failed"):
            return None
        spec, status = csr.get("spec") or {}, dict(csr.get("status") or {})
        if spec.get("signerName") not in SIGNERS or status.get("certificate"):
            return None
        try:
            req = parse_request(csr)
        except ValueError as exc:
            log.warning("unable to parse csr %r: %s", key, exc)
            return None
        usages = usages_of(csr)
        problem = signer_problem(str(spec["signerName"]), req, usages)
        if problem is not None:
            now = format_time(dt.datetime.now(dt.UTC))
            status["conditions"] = [*(status.get("conditions") or []), {
                "type": "Failed", "status": "True", "reason": "SignerValidationFailure",
                "message": problem, "lastUpdateTime": now, "lastTransitionTime": now,
            }]
        else:
            pem = sign(*self.ca, req, usages, spec.get("expirationSeconds"), self.duration)
            status["certificate"] = base64.b64encode(pem.encode()).decode()
        try:
            await self.client.update_status(CERTIFICATE_SIGNING_REQUESTS, {**csr, "status": status})
        except (Conflict, NotFound):
            return None  # changed or gone: the watch brings it back
        log.info("%s %s", "failed" if problem else "signed", key)
        return None
