"""A single-member etcd on loopback for a local control plane (Debian's /usr/bin/etcd).

Plain HTTP on 127.0.0.1 only: the machine's own processes are its only clients.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from kprov.local.ports import free_port, wait_for_port
from kprov.local.processes import start_detached

__all__ = ["ETCD_BINARY", "LocalEtcd", "start_etcd"]

ETCD_BINARY = "/usr/bin/etcd"


@dataclass(frozen=True)
class LocalEtcd:
    client_port: int
    peer_port: int
    pid: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.client_port}"


def start_etcd(
    base: Path, name: str = "etcd", binary: str | None = None, timeout_s: float = 30.0
) -> LocalEtcd:
    program = binary or shutil.which("etcd") or ETCD_BINARY
    if not Path(program).exists():
        raise FileNotFoundError(f"etcd binary not found at {program}; install the Debian package etcd-server")
    client_port, peer_port = free_port(), free_port()
    data_dir = base / "etcd"
    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o700)
    argv = [
        program,
        "--name",
        "local",
        "--data-dir",
        str(data_dir),
        "--listen-client-urls",
        f"http://127.0.0.1:{client_port}",
        "--advertise-client-urls",
        f"http://127.0.0.1:{client_port}",
        "--listen-peer-urls",
        f"http://127.0.0.1:{peer_port}",
        "--initial-advertise-peer-urls",
        f"http://127.0.0.1:{peer_port}",
        "--initial-cluster",
        f"local=http://127.0.0.1:{peer_port}",
        "--listen-metrics-urls",
        "",
        "--quota-backend-bytes",
        str(4 * 1024**3),
        "--log-level",
        "warn",
        "--logger",
        "zap",
    ]
    pid = start_detached(base, name, argv)
    if not wait_for_port("127.0.0.1", client_port, timeout_s):
        raise RuntimeError(
            f"etcd did not start listening on 127.0.0.1:{client_port}; see {base}/logs/{name}.log"
        )
    return LocalEtcd(client_port, peer_port, pid)
