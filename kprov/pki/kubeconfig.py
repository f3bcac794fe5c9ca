"""Kubeconfig files: standard kubeconfig YAML with the CA, client certificate and key embedded
(base64 ``*-data`` fields), one cluster, one user, one context, which is current.
"""

from __future__ import annotations

import base64
import os
from typing import Any

import yaml

from kprov.pki.pem import KEY_MODE, write_file

__all__ = ["DEFAULT_CLUSTER_NAME", "kubeconfig_dict", "render_kubeconfig", "write_kubeconfig"]

DEFAULT_CLUSTER_NAME = "kprov"


def _b64(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.b64encode(raw).decode()


def kubeconfig_dict(
    server: str,
    ca_pem: bytes | str,
    cert_pem: bytes | str,
    key_pem: bytes | str,
    user: str,
    cluster_name: str = DEFAULT_CLUSTER_NAME,
) -> dict[str, Any]:
    context = f"{user}@{cluster_name}"
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": cluster_name, "cluster": {"server": server, "certificate-authority-data": _b64(ca_pem)}}
        ],
        "users": [
            {
                "name": user,
                "user": {"client-certificate-data": _b64(cert_pem), "client-key-data": _b64(key_pem)},
            }
        ],
        "contexts": [{"name": context, "context": {"cluster": cluster_name, "user": user}}],
        "current-context": context,
        "preferences": {},
    }


def render_kubeconfig(
    server: str,
    ca_pem: bytes | str,
    cert_pem: bytes | str,
    key_pem: bytes | str,
    user: str,
    cluster_name: str = DEFAULT_CLUSTER_NAME,
) -> str:
    return yaml.safe_dump(
        kubeconfig_dict(server, ca_pem, cert_pem, key_pem, user, cluster_name), sort_keys=False
    )


def write_kubeconfig(
    path: str | os.PathLike[str],
    server: str,
    ca_pem: bytes | str,
    cert_pem: bytes | str,
    key_pem: bytes | str,
    user: str,
    cluster_name: str = DEFAULT_CLUSTER_NAME,
) -> None:
    """Write a kubeconfig (mode 0600: it holds a private key)."""
    text = render_kubeconfig(server, ca_pem, cert_pem, key_pem, user, cluster_name)
    write_file(path, text.encode(), KEY_MODE)
