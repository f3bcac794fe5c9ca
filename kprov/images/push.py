"""Upload an OCI archive to hosts over SSH and import it into containerd's k8s.io namespace.

One paramiko connection per host, hosts in parallel (threads). The archive goes to
``/tmp/kprov-image-<digest>.tar`` over SFTP, then ``ctr -n k8s.io images import`` makes it
visible to the CRI plugin (and so to kprov-kubelet); the temporary file is removed.
"""

from __future__ import annotations

import hashlib
import shlex
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import paramiko

__all__ = ["PushResult", "SSHTarget", "import_command", "push_archive"]


@dataclass(frozen=True)
class SSHTarget:
    name: str
    address: str
    user: str = "root"
    port: int = 22
    key_file: str | None = None


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


def _push_one(target: SSHTarget, archive: Path, digest: str, timeout: float) -> PushResult:
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # lab/first contact; keys are not stored
    remote = f"/tmp/kprov-image-{digest[:16]}.tar"
    try:
        client.connect(target.address, port=target.port, username=target.user, key_filename=target.key_file,
                       timeout=timeout, allow_agent=False, look_for_keys=target.key_file is None)
        with client.open_sftp() as sftp:
            sftp.put(str(archive), remote)
        sudo = "" if target.user == "root" else "sudo -n "
        _, stdout, stderr = client.exec_command(sudo + "sh -c " + shlex.quote(import_command(remote)),
                                                timeout=timeout)
        rc = stdout.channel.recv_exit_status()
        text = (stdout.read() + stderr.read()).decode("utf-8", "replace").strip()
        return PushResult(target.name, rc == 0, text)
    except (OSError, paramiko.SSHException) as err:
        return PushResult(target.name, False, f"{type(err).__name__}: {err}")
    finally:
        client.close()


def push_archive(targets: list[SSHTarget], archive: Path, timeout: float = 120.0) -> list[PushResult]:
    if not archive.is_file():
        raise FileNotFoundError(f"{archive}: no such image archive (build one with `kprov images build`)")
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    with ThreadPoolExecutor(max_workers=max(1, min(16, len(targets)))) as pool:
        return list(pool.map(lambda t: _push_one(t, archive, digest, timeout), targets))
