"""CSR admission on a real API server with stock kubectl: updating /approval is not enough to
approve; `kubectl certificate approve` is refused (403, upstream's message) until the user
may `approve` the request's signer (here through the `<domain>/*` wildcard), and nobody, not
even system:masters, asks the kube-apiserver-client signer for a system:masters certificate."""

from __future__ import annotations

import base64
import json
import time
import uuid

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _request(*organizations: str) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    names.append(x509.NameAttribute(NameOID.COMMON_NAME, "csr-admission"))
    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(names)).sign(key, hashes.SHA256())
    return base64.b64encode(csr.public_bytes(serialization.Encoding.PEM)).decode()


def _csr(name: str, signer: str, request: str) -> str:
    return json.dumps({
        "apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
        "metadata": {"name": name},
        "spec": {"request": request, "signerName": signer, "usages": ["digital signature", "client auth"]},
    })


def _cluster_role(name: str, rules: list[dict[str, object]], user: str) -> list[str]:
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": name},
            "rules": rules}
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
               "metadata": {"name": name},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
               "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]}
    return [json.dumps(role), json.dumps(binding)]


def _create(kubectl, documents: list[str]) -> None:  # type: ignore[no-untyped-def]
    for document in documents:
        kubectl("create", "-f", "-", input=document)


def test_approving_needs_approve_on_the_signer(kubectl, control_plane) -> None:  # type: ignore[no-untyped-def]
    tag = uuid.uuid4().hex[:8]
    user, domain = f"csr-carol-{tag}", f"csradm-{tag}.example.com"
    signer, name = f"{domain}/team-signer", f"csr-{tag}"
    carol = control_plane.kubeconfig_for(user)
    update_only = f"csr-approval-only-{tag}"
    approver = f"csr-signer-approver-{tag}"
    try:
        _create(kubectl, _cluster_role(update_only, [
            {"apiGroups": ["certificates.k8s.io"], "resources": ["certificatesigningrequests"],
             "verbs": ["get", "list"]},
            {"apiGroups": ["certificates.k8s.io"], "resources": ["certificatesigningrequests/approval"],
             "verbs": ["update"]},
        ], user))
        kubectl("create", "-f", "-", input=_csr(name, signer, _request("devs")))
        deadline = time.monotonic() + 5
        while True:  # RBAC's index follows the binding through the watch
            refused = kubectl("certificate", "approve", name, "-v=6", kubeconfig=carol, check=False)
            if "cannot get resource" not in refused.stderr or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert refused.returncode == 1
        assert "403 Forbidden" in refused.stderr
        assert (
            f'Error from server (Forbidden): certificatesigningrequests.certificates.k8s.io "{name}" is '
            f'forbidden: user not permitted to approve requests with signerName "{signer}"'
        ) in refused.stderr
        pending = json.loads(kubectl("get", "csr", name, "-o", "json").stdout)
        assert "conditions" not in (pending.get("status") or {})

        _create(kubectl, _cluster_role(approver, [
            {"apiGroups": ["certificates.k8s.io"], "resources": ["signers"], "verbs": ["approve"],
             "resourceNames": [f"{domain}/*"]},
        ], user))
        deadline = time.monotonic() + 5
        while True:
            run = kubectl("certificate", "approve", name, kubeconfig=carol, check=False)
            if run.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert run.returncode == 0, run.stderr
        approved = json.loads(kubectl("get", "csr", name, "-o", "json").stdout)
        (condition,) = approved["status"]["conditions"]
        assert condition["type"] == "Approved" and condition["status"] == "True"
        assert condition["lastUpdateTime"] and condition["lastTransitionTime"]
    finally:
        kubectl("delete", "csr", name, "--ignore-not-found", check=False)
        for role in (update_only, approver):
            kubectl("delete", "clusterrolebinding,clusterrole", role, "--ignore-not-found", check=False)


def test_nobody_asks_the_client_signer_for_system_masters(kubectl) -> None:  # type: ignore[no-untyped-def]
    name = f"csr-masters-{uuid.uuid4().hex[:8]}"
    signer = "kubernetes.io/kube-apiserver-client"
    refused = kubectl("create", "-f", "-", input=_csr(name, signer, _request("system:masters")), check=False)
    assert refused.returncode == 1
    assert (
        'Error from server (Forbidden): error when creating "STDIN": '
        f'certificatesigningrequests.certificates.k8s.io "{name}" is forbidden: '
        "use of kubernetes.io/kube-apiserver-client signer with system:masters group "
        "is not allowed"
    ) in refused.stderr
    assert kubectl("get", "csr", name, check=False).returncode == 1
