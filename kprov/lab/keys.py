"""SSH keys of the lab, generated with `cryptography` (no ssh-keygen needed).

One client key pair is shared by all lab instances (root/id_lab, id_lab.pub); every host gets
its own host keys, written into its disk before its first boot.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from kprov.lab.system import file_lock

__all__ = ["ensure_client_key", "host_key_files", "public_key_line"]

_PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def _openssh_private(key: _PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )


def _openssh_public(key: _PrivateKey, comment: str) -> bytes:
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return public + b" " + comment.encode() + b"\n"


def ensure_client_key(path: Path) -> Path:
    """Create the shared ed25519 client key at ``path`` (+ .pub) unless it exists."""
    with file_lock(path.with_name(path.name + ".lock")):
        if not path.exists():
            key = ed25519.Ed25519PrivateKey.generate()
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(_openssh_private(key))
            path.with_name(path.name + ".pub").write_bytes(_openssh_public(key, "kprov-lab"))
            os.replace(tmp, path)
    return path


def public_key_line(path: Path) -> str:
    return path.with_name(path.name + ".pub").read_text()


def host_key_files(host: str) -> dict[str, tuple[bytes, bytes]]:
    """Fresh sshd host keys: file name under /etc/ssh -> (private, public)."""
    keys: dict[str, _PrivateKey] = {
        "ssh_host_ed25519_key": ed25519.Ed25519PrivateKey.generate(),
        "ssh_host_ecdsa_key": ec.generate_private_key(ec.SECP256R1()),
        "ssh_host_rsa_key": rsa.generate_private_key(public_exponent=65537, key_size=2048),
    }
    return {name: (_openssh_private(k), _openssh_public(k, f"root@{host}")) for name, k in keys.items()}
