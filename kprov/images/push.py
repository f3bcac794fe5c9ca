"""Upload an OCI archive to hosts over SSH and import it into containerd's k8s.io namespace.

Each host is reached through the engine's connectors, as ``kprov apply`` reaches it
(:class:`SSHTarget` holds its templated connection variables, :mod:`kprov.images.targets`),
one session per host, hosts in parallel (threads). The archive goes to
``/tmp/kprov-image-<digest>.tar``, then ``ctr -n k8s.io images import`` (as root, through
sudo for another user) makes it visible to the CRI plugin (and so to kprov-kubelet); the
temporary file is removed.
"""

from __future__ import annotations

import hashlib
import shlex
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kprov.provision.connect.base import ConnectionFailure, Connector
from kprov.provision.connect.transports import connector_for

__all__ = ["PushResult", "SSHTarget", "import_command", "push_archive"]


@dataclass(frozen=True)
class SSHTarget:
    """A host to reach: its inventory name and its (templated) connection variables."""

    name: str
    variables: Mapping[str, Any] = field(default_factory=dict)

    @property
    def address(self) -> str:
        """Where the host is reached (its ``ansible_host``, else its name)."""
        return str(self.variables.get("ansible_host") or self.variables.get("ansible_ssh_host") or self.name)

    def connector(self) -> Connector:
        """A new, unopened session to the host (one upload, then closed)."""
        return connector_for(self.name, self.variables)


@dataclass(frozen=True)
class PushResult:
    host: str
    ok: bool
    output: str


def import_command(remote_path: str, address: str = "/run/containerd/containerd.sock") -> str:
    return (
        f"ctr --address {shlex.quote(address)} -n k8s.io images import --no-unpack=false "
        f"{shlex.quote(remote_path)}; rc=$?; rm -f {shlex.quote(remote_path)}; exit $rc"
    )


def _push_one(target: SSHTarget, data: bytes, digest: str, timeout: float) -> PushResult:
    remote = f"/tmp/kprov-image-{digest[:16]}.tar"
    connector = target.connector()
    try:
        connector.connect()
        connector.put(data, remote)
        result = connector.run("sh -c " + shlex.quote(import_command(remote)), become=True, timeout=timeout)
        return PushResult(target.name, result.rc == 0, (result.stdout + result.stderr).strip())
    except (ConnectionFailure, OSError, ValueError) as err:
        return PushResult(target.name, False, f"{type(err).__name__}: {err}")
    finally:
        connector.close()


def push_archive(targets: list[SSHTarget], archive: Path, timeout: float = 120.0) -> list[PushResult]:
    if not archive.is_file():
        raise FileNotFoundError(f"{archive}: no such image archive (build one with `kprov images build`)")
    data = archive.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    with ThreadPoolExecutor(max_workers=max(1, min(16, len(targets)))) as pool:
        return list(pool.map(lambda t: _push_one(t, data, digest, timeout), targets))
