"""Reading and writing PEM files: certificates world-readable (0644), keys private (0600).

A pair is stored as ``<name>.crt`` + ``<name>.key`` in one directory (the kubeadm layout).
Files are written atomically (temporary file + rename) so a crash never leaves half a key,
and a key file is created with mode 0600 from the start, never chmod-ed after the fact.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from cryptography import x509

from kprov.pki.keypair import KeyPair

__all__ = [
    "CERT_MODE",
    "KEY_MODE",
    "load_cert",
    "pair_paths",
    "read_keypair",
    "read_pair",
    "write_file",
    "write_keypair",
    "write_pair",
]

CERT_MODE = 0o644
KEY_MODE = 0o600


def write_file(path: str | os.PathLike[str], data: bytes, mode: int) -> None:
    """Write ``data`` to ``path`` atomically with permission ``mode``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_keypair(pair: KeyPair, cert_path: str | os.PathLike[str], key_path: str | os.PathLike[str]) -> None:
    write_file(key_path, pair.key_pem, KEY_MODE)
    write_file(cert_path, pair.cert_pem, CERT_MODE)


def read_keypair(cert_path: str | os.PathLike[str], key_path: str | os.PathLike[str]) -> KeyPair:
    try:
        return KeyPair.from_pem(Path(cert_path).read_bytes(), Path(key_path).read_bytes())
    except ValueError as e:
        raise ValueError(f"{cert_path} / {key_path}: not a PEM certificate and key ({e})") from e


def load_cert(path: str | os.PathLike[str]) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(Path(path).read_bytes())
    except ValueError as e:
        raise ValueError(f"{path}: not a PEM certificate ({e})") from e


def pair_paths(directory: str | os.PathLike[str], name: str) -> tuple[Path, Path]:
    """``(<dir>/<name>.crt, <dir>/<name>.key)``."""
    d = Path(directory)
    return d / f"{name}.crt", d / f"{name}.key"


def write_pair(directory: str | os.PathLike[str], name: str, pair: KeyPair) -> None:
    write_keypair(pair, *pair_paths(directory, name))


def read_pair(directory: str | os.PathLike[str], name: str) -> KeyPair:
    return read_keypair(*pair_paths(directory, name))
