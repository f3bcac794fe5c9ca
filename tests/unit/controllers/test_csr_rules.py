"""The certificate controllers' decisions: upstream's kubelet client/serving validations and
their messages, which recognizer (self or node client) a request matches, when a serving
request names only its node, what the signer issues, and when a kubelet renews."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kprov.cluster.controllers.identity.csr_approving import recognize
from kprov.cluster.controllers.identity.csr_rules import (
    KUBELET_CLIENT_SIGNER,
    KUBELET_SERVING_SIGNER,
    approval_state,
    kubelet_client_problem,
    kubelet_serving_problem,
    sign,
    signer_problem,
)
from kprov.cluster.controllers.identity.kubelet_serving_approver import serving_request_problem
from kprov.cluster.kubelet.node.cert_rotation import rotation_deadline
from kprov.pki import new_ca

CLIENT = frozenset({"digital signature", "client auth"})
SERVING = frozenset({"digital signature", "server auth"})


def _request(cn: str = "system:node:n1", org: str = "system:nodes", dns: tuple[str, ...] = (),
             ips: tuple[str, ...] = ()) -> x509.CertificateSigningRequest:
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, org), x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
    names: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    names += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(ec.generate_private_key(ec.SECP256R1()), hashes.SHA256())


def _csr(req: x509.CertificateSigningRequest, signer: str, usages: frozenset[str], user: str,
         groups: tuple[str, ...] = ("system:nodes", "system:authenticated")) -> dict:
    pem = req.public_bytes(serialization.Encoding.PEM)
    return {"metadata": {"name": "c"}, "spec": {
        "request": base64.b64encode(pem).decode(), "signerName": signer, "usages": sorted(usages),
        "username": user, "groups": list(groups)}}


def test_kubelet_client_requests_as_upstream_validates_them() -> None:
    assert kubelet_client_problem(_request(), CLIENT) is None
    assert kubelet_client_problem(_request(), CLIENT | {"key encipherment"}) is None
    assert kubelet_client_problem(_request(org="x"), CLIENT) == "subject organization is not system:nodes"
    assert kubelet_client_problem(_request(dns=("n1",)), CLIENT) == "DNS subjectAltNames are not allowed"
    assert kubelet_client_problem(_request(ips=("10.0.0.1",)), CLIENT) == "IP subjectAltNames are not allowed"
    assert kubelet_client_problem(_request(cn="admin"), CLIENT) == (
        "subject common name does not begin with system:node:")
    assert kubelet_client_problem(_request(), CLIENT | {"server auth"}) == (
        "usages did not match [client auth digital signature key encipherment]")


def test_kubelet_serving_requests_as_upstream_validates_them() -> None:
    assert kubelet_serving_problem(_request(dns=("n1",), ips=("10.0.0.1",)), SERVING) is None
    assert kubelet_serving_problem(_request(), SERVING) == "DNS or IP subjectAltName is required"
    assert kubelet_serving_problem(_request(ips=("10.0.0.1",)), CLIENT) == (
        "usages did not match [digital signature key encipherment server auth]")
    assert signer_problem("kubernetes.io/kube-apiserver-client", _request(), SERVING) is not None
    assert signer_problem("kubernetes.io/legacy-unknown", _request(), SERVING) is None


def test_self_renewal_and_node_client_recognizers() -> None:
    own = _csr(_request(), KUBELET_CLIENT_SIGNER, CLIENT, "system:node:n1")
    assert [r.subresource for r in recognize(own)] == ["selfnodeclient", "nodeclient"]
    other = _csr(_request(), KUBELET_CLIENT_SIGNER, CLIENT, "system:bootstrap:abcdef")
    assert [r.subresource for r in recognize(other)] == ["nodeclient"]
    assert recognize(_csr(_request(), KUBELET_SERVING_SIGNER, CLIENT, "system:node:n1")) == []
    assert recognize(_csr(_request(dns=("n1",)), KUBELET_CLIENT_SIGNER, CLIENT, "system:node:n1")) == []
    denied = {**own, "status": {"conditions": [{"type": "Denied", "status": "True"},
                                               {"type": "Approved", "status": "True"}]}}
    assert approval_state(denied) == "denied" and approval_state(own) == "pending"


def test_serving_requests_are_approved_only_for_their_own_node() -> None:
    node = {"metadata": {"name": "n1"}, "status": {"addresses": [
        {"type": "InternalIP", "address": "10.0.0.1"}, {"type": "Hostname", "address": "n1.lab"}]}}
    user = "system:node:n1"
    good = _csr(_request(dns=("n1", "n1.lab"), ips=("10.0.0.1",)), KUBELET_SERVING_SIGNER, SERVING, user)
    assert serving_request_problem(good, node) is None
    foreign_ip = _csr(_request(dns=("n1",), ips=("10.0.0.9",)), KUBELET_SERVING_SIGNER, SERVING, user)
    assert serving_request_problem(foreign_ip, node) == "names not of node 'n1': 10.0.0.9"
    for_another = _csr(_request(dns=("n1",)), KUBELET_SERVING_SIGNER, SERVING, "system:node:n2")
    assert "not by 'system:node:n1'" in (serving_request_problem(for_another, node) or "")
    assert serving_request_problem(good, None) == "node 'n1' does not exist"


def test_the_signer_issues_what_was_asked_for_no_longer_than_allowed() -> None:
    ca = new_ca("kubernetes")
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    year = dt.timedelta(days=365)
    pem = sign(ca.cert, ca.key, _request(dns=("n1",), ips=("10.0.0.1",)), SERVING, 3600, year, now)
    cert = x509.load_pem_x509_certificate(pem.encode())
    assert cert.issuer == ca.cert.subject
    assert cert.not_valid_after_utc - now == dt.timedelta(hours=1)
    assert now - cert.not_valid_before_utc == dt.timedelta(minutes=5)
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH]
    key_usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert key_usage.digital_signature and not key_usage.key_encipherment
    assert cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName) == ["n1"]
    month = dt.timedelta(days=30)
    long = x509.load_pem_x509_certificate(
        sign(ca.cert, ca.key, _request(), CLIENT, None, month, now).encode())
    assert long.not_valid_after_utc - now == dt.timedelta(days=30)


def test_renewal_falls_between_70_and_90_percent_of_the_lifetime() -> None:
    ca = new_ca("kubernetes")
    start = ca.cert.not_valid_before_utc
    life = ca.cert.not_valid_after_utc - start
    assert rotation_deadline(ca.cert, lambda: 0.0) == start + life * 0.7
    assert rotation_deadline(ca.cert, lambda: 1.0) == start + life * 0.9
