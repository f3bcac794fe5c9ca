"""kprov kubeconfig --user: a named user's kubeconfig signed by the cluster CA."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import NameOID

from kprov.pki import issue_cert, new_ca, write_kubeconfig, write_pair
from kprov.pki.users import UserKubeconfigError, issue_user_kubeconfig


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("pki")
    ca = new_ca("test-ca")
    write_pair(directory, "ca", ca)
    admin = issue_cert(ca, "kubernetes-admin", ["system:masters"], client=True)
    write_kubeconfig(
        directory / "kubeconfigs" / "admin.conf",
        "https://10.0.0.1:6443",
        ca.cert_pem,
        admin.cert_pem,
        admin.key_pem,
        "kubernetes-admin",
    )
    return directory


def test_user_kubeconfig_names_user_and_groups(pki: Path, tmp_path: Path) -> None:
    path = issue_user_kubeconfig(pki, "alice", ["dev", "ops"], days=30, out=tmp_path / "alice.conf")
    assert path == tmp_path / "alice.conf" and (path.stat().st_mode & 0o777) == 0o600
    config = yaml.safe_load(path.read_text())
    assert config["clusters"][0]["cluster"]["server"] == "https://10.0.0.1:6443"
    assert config["current-context"] == "alice@kprov"
    cert = x509.load_pem_x509_certificate(
        base64.b64decode(config["users"][0]["user"]["client-certificate-data"])
    )
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "alice"
    assert [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] == ["dev", "ops"]
    ca = x509.load_pem_x509_certificate((pki / "ca.crt").read_bytes())
    assert cert.issuer == ca.subject
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert 29 <= lifetime.days <= 30


def test_default_location_and_refusals(pki: Path) -> None:
    assert issue_user_kubeconfig(pki, "bob") == pki / "kubeconfigs" / "users" / "bob.conf"
    for user, groups in (("system:admin", []), ("carol", ["system:masters"]), ("", [])):
        with pytest.raises(UserKubeconfigError):
            issue_user_kubeconfig(pki, user, groups)
