"""Kubeconfigs for people: a client certificate for a named user, signed by the cluster CA.

``kprov kubeconfig -i INV --user alice --group dev`` hands a teammate a kubeconfig whose
identity is ``alice`` in ``dev`` (CN and O of the certificate, what the API server reads);
what alice may do is then up to Roles and RoleBindings. The server addresses come from the
admin kubeconfig kprov wrote, so the new file reaches the same API servers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import yaml

from kprov.pki.keypair import issue_cert
from kprov.pki.kubeconfig import SERVERS_EXTENSION, render_kubeconfig
from kprov.pki.pem import KEY_MODE, read_pair, write_file

__all__ = ["UserKubeconfigError", "issue_user_kubeconfig"]

_RESERVED = re.compile(r"^system:")


class UserKubeconfigError(ValueError):
    """The user or group cannot be issued (the message says why)."""


def issue_user_kubeconfig(
    pki_dir: Path, user: str, groups: Sequence[str] = (), days: int = 365, out: Path | None = None
) -> Path:
    """Write a kubeconfig for ``user`` in ``groups`` (default: ``<pki>/kubeconfigs/users/<user>.conf``)."""
    if not user or not user.strip():
        raise UserKubeconfigError("--user: a name is required")
    if _RESERVED.match(user) or any(_RESERVED.match(g) for g in groups):
        raise UserKubeconfigError(
            "names starting with 'system:' are the cluster's own identities; choose another user/group"
        )
    if days < 1:
        raise UserKubeconfigError("--days: at least 1")
    admin = pki_dir / "kubeconfigs" / "admin.conf"
    if not admin.is_file():
        raise UserKubeconfigError(f"{admin} does not exist; run `kprov apply` (or `kprov pki init`) first")
    cluster = yaml.safe_load(admin.read_text())["clusters"][0]
    ca = read_pair(pki_dir, "ca")
    pair = issue_cert(ca, user, list(groups), client=True, days=days)
    stem = re.sub(r"[^A-Za-z0-9_.@-]+", "-", user).strip("-") or "user"
    path = out or pki_dir / "kubeconfigs" / "users" / f"{stem}.conf"
    servers: list[str] = []
    for ext in cluster["cluster"].get("extensions") or []:
        if ext.get("name") == SERVERS_EXTENSION:
            servers = list((ext.get("extension") or {}).get("servers") or [])
    text = render_kubeconfig(
        cluster["cluster"]["server"],
        ca.cert_pem,
        pair.cert_pem,
        pair.key_pem,
        user,
        cluster_name=cluster.get("name", "kprov"),
        servers=servers,
    )
    write_file(path, text.encode(), KEY_MODE)
    return path
