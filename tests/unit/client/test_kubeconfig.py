from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml

from kprov.cluster.client.kubeconfig import SERVERS_EXTENSION, KubeconfigError, load_kubeconfig, ssl_context
from kprov.pki.kubeconfig import render_kubeconfig


def _pki(tmp_path: Path) -> tuple[bytes, bytes, bytes]:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "t")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert_pem, cert_pem, key_pem


def test_embedded_kubeconfig_loads_and_builds_tls(tmp_path: Path) -> None:
    ca, cert, key = _pki(tmp_path)
    path = tmp_path / "kc"
    path.write_text(render_kubeconfig("https://127.0.0.1:6443/", ca, cert, key, "system:kube-scheduler"))
    cfg = load_kubeconfig(path)
    assert cfg.servers == ("https://127.0.0.1:6443",)
    assert cfg.ca_pem == ca and cfg.cert_pem == cert and cfg.key_pem == key
    ctx = ssl_context(cfg)
    assert ctx is not None and ctx.check_hostname


def test_servers_extension_adds_failover_servers(tmp_path: Path) -> None:
    doc = {
        "current-context": "c",
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
        "clusters": [
            {
                "name": "k",
                "cluster": {
                    "server": "https://a:6443",
                    "extensions": [
                        {
                            "name": SERVERS_EXTENSION,
                            "extension": {"servers": ["https://a:6443", "https://b:6443"]},
                        }
                    ],
                },
            }
        ],
        "users": [{"name": "u", "user": {"token": "t0k"}}],
    }
    path = tmp_path / "kc"
    path.write_text(yaml.safe_dump(doc))
    cfg = load_kubeconfig(path)
    assert cfg.servers == ("https://a:6443", "https://b:6443")
    assert cfg.token == "t0k"


def test_file_references_are_relative_to_the_kubeconfig(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_bytes(b"CA")
    doc = {
        "current-context": "c",
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
        "clusters": [{"name": "k", "cluster": {"server": "https://a", "certificate-authority": "ca.pem"}}],
        "users": [{"name": "u", "user": {"client-key-data": base64.b64encode(b"K").decode()}}],
    }
    (tmp_path / "kc").write_text(yaml.safe_dump(doc))
    cfg = load_kubeconfig(tmp_path / "kc")
    assert cfg.ca_pem == b"CA" and cfg.key_pem == b"K"


@pytest.mark.parametrize(
    ("doc", "needle"),
    [
        ({"contexts": []}, "no current-context"),
        ({"current-context": "x", "contexts": []}, "no context named 'x'"),
        (
            {
                "current-context": "c",
                "contexts": [{"name": "c", "context": {"cluster": "k"}}],
                "clusters": [{"name": "k", "cluster": {}}],
            },
            "has no 'server'",
        ),
    ],
)
def test_bad_kubeconfig_names_the_problem(tmp_path: Path, doc: dict, needle: str) -> None:
    path = tmp_path / "kc"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(KubeconfigError) as err:
        load_kubeconfig(path)
    assert needle in str(err.value) and str(path) in str(err.value)
