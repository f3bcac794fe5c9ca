"""certificates.k8s.io/v1 CertificateSigningRequests through stock kubectl: the server names
the requester, `kubectl certificate approve` goes through /approval, /status takes the
certificate, the signer field selector filters, a bad request is refused (422)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "e2e.example.com")])


def _request_pem() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    return x509.CertificateSigningRequestBuilder().subject_name(NAME).sign(key, hashes.SHA256()).public_bytes(
        serialization.Encoding.PEM)


def _certificate_pem() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(NAME).issuer_name(NAME).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(hours=1)).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


def _csr(name: str, signer: str, request: bytes, **spec: object) -> str:
    return json.dumps({
        "apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
        "metadata": {"name": name},
        "spec": {"request": base64.b64encode(request).decode(), "signerName": signer,
                 "usages": ["digital signature", "key encipherment", "server auth"],
                 "expirationSeconds": 3600, "username": "forged", **spec},
    })


def test_csr_lifecycle_through_kubectl(kubectl) -> None:  # type: ignore[no-untyped-def]
    signer = f"example.com/e2e-{uuid.uuid4().hex[:8]}"
    names = [f"csr-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    try:
        for name in names:
            kubectl("create", "-f", "-", input=_csr(name, signer, _request_pem()))
        csr = json.loads(kubectl("get", "csr", names[0], "-o", "json").stdout)
        assert csr["spec"]["username"] != "forged" and "system:masters" in csr["spec"]["groups"]
        assert csr["spec"]["expirationSeconds"] == 3600 and "status" not in csr
        listed = json.loads(kubectl("get", "csr", "--field-selector", f"spec.signerName={signer}", "-o",
                                    "json").stdout)
        assert sorted(item["metadata"]["name"] for item in listed["items"]) == sorted(names)
        kubectl("certificate", "approve", names[0])
        csr = json.loads(kubectl("get", "csr", names[0], "-o", "json").stdout)
        (approved,) = csr["status"]["conditions"]
        assert approved["type"] == "Approved" and approved["status"] == "True"
        certificate = base64.b64encode(_certificate_pem()).decode()
        patch = json.dumps({"metadata": {"annotations": {"patchedstatus": "true"}},
                            "status": {"certificate": certificate}})
        kubectl("patch", "csr", names[0], "--subresource=status", "--type=merge", "-p", patch)
        csr = json.loads(kubectl("get", "csr", names[0], "-o", "json").stdout)
        assert csr["status"]["certificate"] == certificate and csr["metadata"]["annotations"]["patchedstatus"]
        assert csr["status"]["conditions"][0]["type"] == "Approved"  # /status kept the approval
        denied = {"type": "Denied", "status": "True", "reason": "x"}
        approval = json.dumps({"status": {"conditions": [denied]},
                               "spec": {"signerName": "other.example.com/x"}})
        kubectl("patch", "csr", names[1], "--subresource=approval", "--type=merge", "-p", approval)
        csr = json.loads(kubectl("get", "csr", names[1], "-o", "json").stdout)
        assert csr["status"]["conditions"][0]["type"] == "Denied" and csr["spec"]["signerName"] == signer
        discovery = json.loads(kubectl("get", "--raw", "/apis/certificates.k8s.io/v1").stdout)
        served = {r["name"] for r in discovery["resources"]}
        assert {"certificatesigningrequests", "certificatesigningrequests/approval",
                "certificatesigningrequests/status"} <= served
    finally:
        kubectl("delete", "csr", *names, "--ignore-not-found", check=False)


def test_bad_requests_are_refused(kubectl) -> None:  # type: ignore[no-untyped-def]
    name = f"csr-{uuid.uuid4().hex[:8]}"
    bad = kubectl("create", "-f", "-", check=False,
                  input=_csr(name, "example.com/x", b"not a csr", usages=[]))
    assert bad.returncode != 0
    assert "spec.request" in bad.stderr and "spec.usages: Required value" in bad.stderr, bad.stderr
    short = kubectl("create", "-f", "-", check=False,
                    input=_csr(name, "nodots/x", _request_pem(), expirationSeconds=60))
    assert "spec.expirationSeconds" in short.stderr and "spec.signerName" in short.stderr, short.stderr
