"""A kubelet whose client certificate is about to expire renews it through a CSR, and the node
stays Ready: h5's kubeconfig is given a certificate valid for one minute (no backdating), the
kubelet restarted; before that minute is up it has a new certificate from the cluster CA in
/var/lib/kprov/kubelet/pki, issued for the CSR the controller manager approved. Its serving
certificate came through a kubelet-serving CSR too, and the API server (which verifies it)
reaches the kubelet through it."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kprov.pki import read_pair

from .conftest import Cluster, wait_for

pytestmark = [pytest.mark.lab, pytest.mark.long]
HOST = "h5"
CURRENT = "/var/lib/kprov/kubelet/pki/kubelet-client-current.pem"
SERVING = "/var/lib/kprov/kubelet/pki/kubelet-server-current.pem"
KUBECONFIG = "/etc/kprov/kubelet.conf"


def _one_minute_cert(cluster: Cluster) -> tuple[bytes, bytes]:
    ca = read_pair(cluster.inventory.parent / "pki", "ca")
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:nodes"),
                                 x509.NameAttribute(NameOID.COMMON_NAME, f"system:node:{HOST}")]))
        .issuer_name(ca.cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + dt.timedelta(seconds=60))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca.key, hashes.SHA256())  # type: ignore[arg-type]
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _ready_since(cluster: Cluster) -> tuple[str, str]:
    node = cluster.kubectl_json("get", "node", HOST)
    ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
    return ready["status"], ready["lastTransitionTime"]


def test_a_short_client_certificate_is_renewed_through_a_csr(cluster: Cluster) -> None:
    original = cluster.ssh(HOST, f"cat {KUBECONFIG}")
    cert_pem, key_pem = _one_minute_cert(cluster)
    doc = yaml.safe_load(original)
    doc["users"][0]["user"]["client-certificate-data"] = base64.b64encode(cert_pem).decode()
    doc["users"][0]["user"]["client-key-data"] = base64.b64encode(key_pem).decode()
    short = base64.b64encode(yaml.safe_dump(doc).encode()).decode()
    before = _ready_since(cluster)
    assert before[0] == "True"
    try:
        cluster.ssh(HOST, f"rm -f {CURRENT} && echo {short} | base64 -d > {KUBECONFIG} && "
                          "systemctl restart kprov-kubelet")

        def renewed() -> bytes | None:
            pem = cluster.ssh(HOST, f"cat {CURRENT} 2>/dev/null || true").encode()
            return pem if b"BEGIN CERTIFICATE" in pem else None

        pem = wait_for("a renewed client certificate", renewed, timeout=90, interval=2)
        new = x509.load_pem_x509_certificate(pem)
        assert new.not_valid_after_utc - dt.datetime.now(dt.UTC) > dt.timedelta(days=300)
        assert new.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == f"system:node:{HOST}"
        csrs = json.loads(cluster.kubectl("get", "csr", "-o", "json").stdout)["items"]
        ours = [c for c in csrs if c["spec"]["username"] == f"system:node:{HOST}"
                and c["spec"]["signerName"] == "kubernetes.io/kube-apiserver-client-kubelet"]
        issued = [base64.b64decode(c["status"]["certificate"])
                  for c in ours if (c.get("status") or {}).get("certificate")]
        assert any(x509.load_pem_x509_certificate(p).serial_number == new.serial_number for p in issued)
        # past the old certificate's minute the node still reports Ready, never having left it
        expiry = x509.load_pem_x509_certificate(cert_pem).not_valid_after_utc + dt.timedelta(seconds=15)
        wait_for("the old certificate to expire", lambda: dt.datetime.now(dt.UTC) > expiry, timeout=90)
        assert _ready_since(cluster) == before
        serving = [c for c in csrs if c["spec"]["username"] == f"system:node:{HOST}"
                   and c["spec"]["signerName"] == "kubernetes.io/kubelet-serving"]
        if serving:
            assert any((c.get("status") or {}).get("certificate") for c in serving), serving
        else:  # csrcleaner deletes an issued request an hour after its approval: the kubelet's file
            assert cluster.ssh(HOST, f"test -s {SERVING} && echo yes || echo no").strip() == "yes"
        # the API server reaches the kubelet through its CSR-issued serving certificate, verified
        assert cluster.kubectl("get", "--raw", f"/api/v1/nodes/{HOST}/proxy/healthz").stdout == "ok"
    finally:
        encoded = base64.b64encode(original.encode()).decode()
        cluster.ssh(HOST, f"echo {encoded} | base64 -d > {KUBECONFIG}")
