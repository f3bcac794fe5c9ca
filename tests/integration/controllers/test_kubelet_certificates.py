"""Kubelet certificates through CertificateSigningRequests, end to end on a real control plane:
a node whose client certificate is about to expire renews it (csrapproving approves after a
SubjectAccessReview, csrsigning signs with the cluster CA) and keeps talking to the API with
the new one; its serving certificate request naming its own address is approved by
kubelet-serving-approver and signed; a request denied over an hour ago is deleted by
csrcleaner, a fresh one is kept. The controller manager acts as its ServiceAccounts."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kprov.cluster.client import ApiClient
from kprov.cluster.client.kubeconfig import ClientConfig
from kprov.cluster.client.resources import CERTIFICATE_SIGNING_REQUESTS, NODES
from kprov.cluster.kubelet.node.cert_rotation import (
    CertificateRotator,
    client_spec,
    load_current,
    serving_spec,
)
from kprov.pki import NODES_GROUP, issue_cert, kubelet_cn
from tests.integration.controllers.hollow import start_component, stop_component, wait_for

NODE = "certnode"


@pytest.fixture(scope="module")
def signing_manager(control_plane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:  # type: ignore[no-untyped-def]
    logs = tmp_path_factory.mktemp("csr-cm")
    pki = control_plane.plane.pki
    proc = start_component(
        "kprov.cluster.controllers", control_plane.controller_manager_kubeconfig(), logs, "cm",
        "--leader-elect=false", "--use-service-account-credentials=true",
        "--controllers=csrapproving,csrsigning,kubelet-serving-approver,csrcleaner",
        f"--cluster-signing-cert-file={pki.path('ca', 'crt')}",
        f"--cluster-signing-key-file={pki.path('ca', 'key')}",
    )
    try:
        yield
    finally:
        stop_component(proc)
        if proc.returncode not in (0, -15):
            print((logs / "cm.log").read_text()[-5000:])


def _condition(csr: dict, kind: str) -> dict | None:
    return next((c for c in (csr.get("status") or {}).get("conditions") or [] if c.get("type") == kind), None)


async def test_a_node_renews_its_client_certificate_and_gets_a_serving_one(  # type: ignore[no-untyped-def]
    control_plane, signing_manager: None, tmp_path: Path
) -> None:
    ca = control_plane.plane.pki.ca()
    minute = 60 / 86400
    short = issue_cert(ca, kubelet_cn(NODE), [NODES_GROUP], client=True, days=minute)  # type: ignore[arg-type]
    config = ClientConfig(servers=(control_plane.server,), ca_pem=ca.cert_pem, cert_pem=short.cert_pem,
                          key_pem=short.key_pem, user_agent="cert-test")
    async with ApiClient(config) as node:
        addresses = [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": NODE}]
        await node.create(NODES, {"metadata": {"name": NODE}, "status": {"addresses": addresses}})
        rotator = CertificateRotator(node, client_spec(NODE), tmp_path / "pki", short.cert_pem,
                                     node.use_client_certificate)
        await rotator.rotate()
        renewed = x509.load_pem_x509_certificate(node.config.cert_pem or b"")
        assert renewed.serial_number != short.cert.serial_number
        assert renewed.issuer == ca.cert.subject
        assert renewed.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == kubelet_cn(NODE)
        assert renewed.not_valid_after_utc - dt.datetime.now(dt.UTC) > dt.timedelta(days=300)  # a year
        assert load_current(tmp_path / "pki", "client") == (node.config.cert_pem, node.config.key_pem)
        # the API server takes the new certificate (a new connection pool presents it)
        assert (await node.get(NODES, NODE))["metadata"]["name"] == NODE

        serving = CertificateRotator(node, serving_spec(NODE, ("127.0.0.1",)), tmp_path / "pki", None,
                                     _keep)
        await serving.rotate()
        assert serving.cert is not None
        sans = serving.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert sans.get_values_for_type(x509.DNSName) == [NODE]
        assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
        usages = serving.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert list(usages) == [ExtendedKeyUsageOID.SERVER_AUTH]

    async with ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin:
        items, _ = await admin.list_all(CERTIFICATE_SIGNING_REQUESTS)
        mine = [c for c in items if c["spec"].get("username") == kubelet_cn(NODE)]
        by_signer = {c["spec"]["signerName"]: c for c in mine}
        client_csr = by_signer["kubernetes.io/kube-apiserver-client-kubelet"]
        approved = _condition(client_csr, "Approved")
        assert approved is not None and approved["reason"] == "AutoApproved"
        assert approved["message"] == (
            "Auto approving self kubelet client certificate after SubjectAccessReview.")
        issued = x509.load_pem_x509_certificate(base64.b64decode(client_csr["status"]["certificate"]))
        assert issued.serial_number == renewed.serial_number
        serving_csr = by_signer["kubernetes.io/kubelet-serving"]
        assert (_condition(serving_csr, "Approved") or {}).get("reason") == "AutoApproved"
        await admin.delete(NODES, NODE)


async def test_a_request_failing_its_signers_rules_is_marked_failed(  # type: ignore[no-untyped-def]
    control_plane, signing_manager: None, tmp_path: Path
) -> None:
    """A kubelet client request with a DNS name, approved by a person, is not signed."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:nodes"),
                                 x509.NameAttribute(NameOID.COMMON_NAME, "system:node:odd")]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("odd")]), critical=False)
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
    )
    async with ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin:
        csr = await admin.create(CERTIFICATE_SIGNING_REQUESTS, {
            "metadata": {"name": "odd-client"},
            "spec": {"request": base64.b64encode(request).decode(),
                     "usages": ["digital signature", "client auth"],
                     "signerName": "kubernetes.io/kube-apiserver-client-kubelet"},
        })
        by_hand = {"type": "Approved", "status": "True", "reason": "ByHand", "message": "x"}
        csr["status"] = {"conditions": [by_hand]}
        await admin.update(CERTIFICATE_SIGNING_REQUESTS, csr, subresource="approval")

        async def failed() -> dict | None:
            return _condition(await admin.get(CERTIFICATE_SIGNING_REQUESTS, "odd-client"), "Failed")

        cond = await wait_for(failed, 20, what="a Failed condition")
        assert cond["reason"] == "SignerValidationFailure"
        assert cond["message"] == "DNS subjectAltNames are not allowed"
        final = await admin.get(CERTIFICATE_SIGNING_REQUESTS, "odd-client")
        assert not final["status"].get("certificate")


async def test_the_cleaner_deletes_a_request_denied_over_an_hour_ago(  # type: ignore[no-untyped-def]
    control_plane, signing_manager: None
) -> None:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    request = (x509.CertificateSigningRequestBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "old-denied")]))
               .sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
    two_hours_ago = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    async with ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin:
        for name, updated in (("old-denied", two_hours_ago), ("new-denied", None)):
            csr = await admin.create(CERTIFICATE_SIGNING_REQUESTS, {
                "metadata": {"name": name},
                "spec": {"request": base64.b64encode(request).decode(), "usages": ["client auth"],
                         "signerName": "example.com/cleaner-test"},
            })
            denied = {"type": "Denied", "status": "True", "reason": "ByHand", "message": "no"}
            if updated:
                denied["lastUpdateTime"] = updated
            csr["status"] = {"conditions": [denied]}
            await admin.update(CERTIFICATE_SIGNING_REQUESTS, csr, subresource="approval")

        async def gone() -> bool:
            items, _ = await admin.list_all(CERTIFICATE_SIGNING_REQUESTS)
            return "old-denied" not in {c["metadata"]["name"] for c in items}

        await wait_for(gone, 20, what="the cleaner to delete old-denied")
        kept = await admin.get(CERTIFICATE_SIGNING_REQUESTS, "new-denied")  # denied just now: an hour to go
        assert _condition(kept, "Denied")["lastUpdateTime"]  # type: ignore[index]
        await admin.delete(CERTIFICATE_SIGNING_REQUESTS, "new-denied")


async def _keep(cert_pem: bytes, key_pem: bytes) -> None:
    """The serving pair stays in its file (the kubelet reloads its TLS context from it)."""
