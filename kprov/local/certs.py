"""Certificates of a local control plane (one CA; kprov.pki does the cryptography).

Layout under ``<dir>/pki``: ``ca.crt/.key``, ``apiserver.crt/.key`` (serving, for 127.0.0.1,
localhost and the ``kubernetes`` service names/IP), ``apiserver-kubelet-client.crt/.key``,
``front-proxy-ca.crt/.key`` and ``front-proxy-client.crt/.key`` (API aggregation),
``encryption-config.yaml``, ``sa.key``/``sa.pub`` (the service-account token key);
kubeconfigs under ``<dir>/kubeconfigs/<user>.conf``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from kprov.pki import (
    APISERVER_KUBELET_CLIENT_CN,
    FRONT_PROXY_CLIENT_CN,
    KEY_MODE,
    MASTERS_GROUP,
    KeyPair,
    encryption_config,
    issue_cert,
    new_ca,
    new_service_account_key,
    read_pair,
    write_file,
    write_kubeconfig,
    write_pair,
)
from kprov.pki.secrets import private_key_pem, public_key_pem

__all__ = ["LocalPki", "ensure_pki", "write_identity_kubeconfig"]


class LocalPki:
    def __init__(self, base: Path) -> None:
        self.dir = base / "pki"
        self.kubeconfig_dir = base / "kubeconfigs"

    def path(self, name: str, ext: str) -> str:
        return str(self.dir / f"{name}.{ext}")

    @property
    def encryption_config(self) -> str:
        return str(self.dir / "encryption-config.yaml")

    def ca(self) -> KeyPair:
        return read_pair(self.dir, "ca")


def ensure_pki(base: Path, service_ip: str = "10.96.0.1") -> LocalPki:
    """Create the CA and server certificates once; later calls reuse them."""
    pki = LocalPki(base)
    if (pki.dir / "ca.crt").exists():
        _ensure_sa_key(pki)  # planes made before tokens existed
        _ensure_front_proxy(pki)  # ... or aggregation
        return pki
    pki.dir.mkdir(parents=True, exist_ok=True)
    pki.dir.chmod(0o700)
    ca = new_ca("kprov-local-ca")
    write_pair(pki.dir, "ca", ca)
    serving = issue_cert(
        ca,
        "kube-apiserver",
        server=True,
        dns_names=[
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        ],
        ip_addresses=["127.0.0.1", service_ip],
    )
    write_pair(pki.dir, "apiserver", serving)
    kubelet_client = issue_cert(ca, APISERVER_KUBELET_CLIENT_CN, [MASTERS_GROUP], client=True)
    write_pair(pki.dir, "apiserver-kubelet-client", kubelet_client)
    write_file(pki.encryption_config, encryption_config().encode(), KEY_MODE)
    _ensure_sa_key(pki)
    _ensure_front_proxy(pki)
    return pki


def _ensure_front_proxy(pki: LocalPki) -> None:
    if (pki.dir / "front-proxy-client.crt").exists():
        return
    ca = new_ca("kprov-local-front-proxy-ca")
    write_pair(pki.dir, "front-proxy-ca", ca)
    write_pair(pki.dir, "front-proxy-client", issue_cert(ca, FRONT_PROXY_CLIENT_CN, client=True))


def _ensure_sa_key(pki: LocalPki) -> None:
    if (pki.dir / "sa.key").exists():
        return
    key = new_service_account_key()
    write_file(pki.path("sa", "pub"), public_key_pem(key), 0o644)
    write_file(pki.path("sa", "key"), private_key_pem(key), KEY_MODE)


def write_identity_kubeconfig(
    pki: LocalPki, server: str, user: str, groups: Sequence[str] = (), file_name: str = ""
) -> Path:
    """A kubeconfig for ``user`` (CN) in ``groups`` (O), signed by the local CA, written to
    ``kubeconfigs/<file_name or user>.conf``."""
    ca = pki.ca()
    pair = issue_cert(ca, user, list(groups), client=True)
    pki.kubeconfig_dir.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", file_name or user).strip("-")
    path = pki.kubeconfig_dir / f"{stem}.conf"
    write_kubeconfig(path, server, ca.cert_pem, pair.cert_pem, pair.key_pem, user)
    return path
