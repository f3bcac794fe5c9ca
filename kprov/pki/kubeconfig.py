"""Kubeconfig files: standard kubeconfig YAML with the CA, client certificate and key embedded
(base64 ``*-data`` fields), one cluster, one user, one context, which is current.

With several API servers, ``server`` is the first and every one is listed in the cluster's
``kprov.io/servers`` extension, which kprov's own clients use for failover (kubectl ignores
extensions and talks to ``server``).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Sequence
from typing import Any

import yaml

from kprov.pki.pem import KEY_MODE, write_file

__all__ = ["DEFAULT_CLUSTER_NAME", "SERVERS_EXTENSION", "kubeconfig_dict", "render_kubeconfig",
           "write_kubeconfig"]

DEFAULT_CLUSTER_NAME = "kprov"
SERVERS_EXTENSION = "kprov.io/servers"


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
    servers: Sequence[str] = (),
) -> dict[str, Any]:
    context = f"{user}@{cluster_name}"
    cluster: dict[str, Any] = {"server": server, "certificate-authority-data": _b64(ca_pem)}
    if len(servers) > 1:
        cluster["extensions"] = [{"name": SERVERS_EXTENSION, "extension": {"servers": list(servers)}}]
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": cluster}],
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
    servers: Sequence[str] = (),
) -> str:
    return yaml.safe_dump(
        kubeconfig_dict(server, ca_pem, cert_pem, key_pem, user, cluster_name, servers), sort_keys=False
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
