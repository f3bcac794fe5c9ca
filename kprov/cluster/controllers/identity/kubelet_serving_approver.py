"""kubelet-serving-approver: approve a kubelet's serving certificate request when it names only
its own node and that node's addresses (kprov's own; upstream leaves these requests to a
person or a third-party approver, as kubeadm's documentation says for serverTLSBootstrap).

A pending ``kubernetes.io/kubelet-serving`` request is approved (reason ``AutoApproved``)
when it passes upstream's kubelet serving validation, the requester is ``system:node:<n>``
in group ``system:nodes`` and is the request's common name, Node ``<n>`` exists, and every
DNS name is ``<n>`` or one of the node's Hostname/InternalDNS/ExternalDNS addresses and every
IP one of its InternalIP/ExternalIP addresses. Anything else stays pending; a change of the
requester's Node (it posts its addresses after registering) looks at its pending requests
again.
"""

from __future__ import annotations

import logging

from cryptography import x509
from cryptography.x509.oid import NameOID

from kprov.cluster.client.errors import Conflict, NotFound
from kprov.cluster.client.informer import EventHandler
from kprov.cluster.client.resources import CERTIFICATE_SIGNING_REQUESTS, NODES
from kprov.cluster.controllers.base import Controller, Obj
from kprov.cluster.controllers.identity.csr_rules import (
    KUBELET_SERVING_SIGNER,
    approval_state,
    kubelet_serving_problem,
    parse_request,
    usages_of,
)

__all__ = ["KubeletServingApprover", "serving_request_problem"]

log = logging.getLogger(__name__)

_DNS_TYPES = frozenset({"Hostname", "InternalDNS", "ExternalDNS"})
_IP_TYPES = frozenset({"InternalIP", "ExternalIP"})
MESSAGE = "Auto approving kubelet serving certificate: its names are its node's."


def serving_request_problem(csr: Obj, node: Obj | None) -> str | None:
    """Why ``csr`` is not approved automatically (for the log), or None."""
    spec = csr.get("spec") or {}
    try:
        req = parse_request(csr)
    except ValueError:
        return "not a PEM certificate request"
    problem = kubelet_serving_problem(req, usages_of(csr))
    if problem is not None:
        return problem
    common_name = "".join(str(a.value) for a in req.subject.get_attributes_for_oid(NameOID.COMMON_NAME))
    if spec.get("username") != common_name or "system:nodes" not in (spec.get("groups") or []):
        return f"requested by {spec.get('username')!r}, not by {common_name!r} in system:nodes"
    node_name = common_name.removeprefix("system:node:")
    if node is None:
        return f"node {node_name!r} does not exist"
    addresses = (node.get("status") or {}).get("addresses") or []
    dns_ok = {node_name} | {a.get("address") for a in addresses if a.get("type") in _DNS_TYPES}
    ip_ok = {a.get("address") for a in addresses if a.get("type") in _IP_TYPES}
    sans = req.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    strange = [d for d in sans.get_values_for_type(x509.DNSName) if d not in dns_ok]
    strange += [str(ip) for ip in sans.get_values_for_type(x509.IPAddress) if str(ip) not in ip_ok]
    return f"names not of node {node_name!r}: {', '.join(strange)}" if strange else None


class KubeletServingApprover(Controller):
    name = "kubelet-serving-approver"
    identity = "kubelet-serving-approver"

    def setup(self) -> None:
        self.csrs = self.ctx.informers.get(CERTIFICATE_SIGNING_REQUESTS)
        self.nodes = self.ctx.informers.get(NODES)
        self.csrs.add_handler(EventHandler(self.enqueue, lambda _o, n: self.enqueue(n), None))
        self.nodes.add_handler(EventHandler(self._node_changed, lambda _o, n: self._node_changed(n), None))

    def _node_changed(self, node: Obj) -> None:
        requester = f"system:node:{node['metadata']['name']}"
        for csr in self.csrs.store.items():
            spec = csr.get("spec") or {}
            if (spec.get("username") == requester and spec.get("signerName") == KUBELET_SERVING_SIGNER
                    and approval_state(csr) == "pending"):
                self.enqueue(csr)

    async def reconcile(self, key: str) -> float | None:
        csr = self.csrs.store.get(key)
        if csr is None or (csr.get("spec") or {}).get("signerName") != KUBELET_SERVING_SIGNER:
            return None
        if (csr.get("status") or {}).get("certificate") or approval_state(csr) != "pending":
            return None
        user = str((csr.get("spec") or {}).get("username") or "")
        node = self.nodes.store.get(user.removeprefix("system:node:"))
        problem = serving_request_problem(csr, node)
        if problem is not None:
            log.info("leaving %s pending: %s", key, problem)
            return 5.0 if node is None and user.startswith("system:node:") else None  # not registered yet
        conditions = [*((csr.get("status") or {}).get("conditions") or []),
                      {"type": "Approved", "status": "True", "reason": "AutoApproved", "message": MESSAGE}]
        try:
            status = {**(csr.get("status") or {}), "conditions": conditions}
            approved = {**csr, "status": status}
            await self.client.update(CERTIFICATE_SIGNING_REQUESTS, approved, subresource="approval")
        except (Conflict, NotFound):
            return None
        log.info("approved %s", key)
        return None
