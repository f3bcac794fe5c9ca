"""csrapproving: approve kubelet client certificate requests the requester may make, as
kube-controller-manager's sarapprove.

A pending request for signer ``kubernetes.io/kube-apiserver-client-kubelet`` that passes
upstream's kubelet client validation is recognized as a *self* node client request when the
requester's user name is the request's common name (a kubelet renewing its own certificate),
else as a node client request (a joining node). For the first recognizer that matches, a
SubjectAccessReview asks whether the requester may ``create certificatesigningrequests/
selfnodeclient`` (or ``/nodeclient``) in certificates.k8s.io; if so the request gets an
``Approved`` condition (reason ``AutoApproved``, upstream's message) through the approval
subresource. Anything else stays pending for a person (``kubectl certificate approve``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from cryptography.x509.oid import NameOID

from kprov.cluster.client.errors import Conflict, NotFound
from kprov.cluster.client.informer import EventHandler
from kprov.cluster.client.resources import CERTIFICATE_SIGNING_REQUESTS
from kprov.cluster.controllers.base import Controller, Obj
from kprov.cluster.controllers.identity.csr_rules import (
    KUBELET_CLIENT_SIGNER,
    approval_state,
    kubelet_client_problem,
    parse_request,
    usages_of,
)

__all__ = ["CSRApprovingController", "recognize"]

log = logging.getLogger(__name__)

_SAR_PATH = "/apis/authorization.k8s.io/v1/subjectaccessreviews"


@dataclass(frozen=True)
class Recognized:
    subresource: str  # the permission asked: certificatesigningrequests/<subresource>
    message: str


_SELF = Recognized(
    "selfnodeclient", "Auto approving self kubelet client certificate after SubjectAccessReview."
)
_NODE = Recognized("nodeclient", "Auto approving kubelet client certificate after SubjectAccessReview.")


def recognize(csr: Obj) -> list[Recognized]:
    """The recognizers ``csr`` matches, in upstream's order (self first)."""
    spec = csr.get("spec") or {}
    if spec.get("signerName") != KUBELET_CLIENT_SIGNER:
        return []
    try:
        req = parse_request(csr)
    except ValueError:
        return []
    if kubelet_client_problem(req, usages_of(csr)) is not None:
        return []
    common_name = "".join(str(a.value) for a in req.subject.get_attributes_for_oid(NameOID.COMMON_NAME))
    return [_SELF, _NODE] if spec.get("username") == common_name else [_NODE]


class CSRApprovingController(Controller):
    name = "csrapproving"
    identity = "certificate-controller"

    def setup(self) -> None:
        self.csrs = self.ctx.informers.get(CERTIFICATE_SIGNING_REQUESTS)
        self.csrs.add_handler(EventHandler(self.enqueue, lambda _o, n: self.enqueue(n), None))

    async def _allowed(self, csr: Obj, subresource: str) -> bool:
        spec = csr.get("spec") or {}
        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {
                "user": spec.get("username", ""),
                "uid": spec.get("uid", ""),
                "groups": spec.get("groups") or [],
                "extra": spec.get("extra") or {},
                "resourceAttributes": {
                    "group": "certificates.k8s.io",
                    "resource": "certificatesigningrequests",
                    "verb": "create",
                    "subresource": subresource,
                    "version": "*",
                },
            },
        }
        reply = await self.client.request("POST", _SAR_PATH, body=review)
        return bool((reply.get("status") or {}).get("allowed"))

    async def reconcile(self, key: str) -> float | None:
        csr = self.csrs.store.get(key)
        if csr is None or (csr.get("status") or {}).get("certificate") or approval_state(csr) != "pending":
            return None
        tried = []
        for recognized in recognize(csr):
            tried.append(recognized.subresource)
            if not await self._allowed(csr, recognized.subresource):
                continue
            conditions = list((csr.get("status") or {}).get("conditions") or [])
            conditions.append({
                "type": "Approved", "status": "True", "reason": "AutoApproved", "message": recognized.message,
            })
            approved = {**csr, "status": {**(csr.get("status") or {}), "conditions": conditions}}
            try:
                await self.client.update(CERTIFICATE_SIGNING_REQUESTS, approved, subresource="approval")
            except (Conflict, NotFound):
                return None  # changed or gone: the watch brings it back
            log.info("approved %s (%s)", key, recognized.subresource)
            return None
        if tried:
            log.info("recognized csr %r as %s but subject access review was not approved", key, tried)
        return None
