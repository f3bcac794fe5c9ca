"""etcd on loopback for a local control plane (Debian's /usr/bin/etcd): one member, or a
cluster of several members on this one machine (the density bench's 3-member form).

Plain HTTP on 127.0.0.1 only: the machine's own processes are its only clients. Member 0
is always named ``etcd`` with its data in ``<dir>/etcd`` (the single-member layout), so
tools that look for ``<dir>/etcd/member/snap/db`` keep working; members 1.. are
``etcd-1``, ``etcd-2``, ... each with its own data directory, pid and log file.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from kprov.local.ports import free_port, wait_for_port
from kprov.local.processes import start_detached

__all__ = ["ETCD_BINARY", "LocalEtcd", "member_name", "start_etcd", "start_etcd_cluster"]

ETCD_BINARY = "/usr/bin/etcd"
QUOTA_BYTES = 4 * 1024**3
# As the etcd role sets them (roles/etcd/defaults/main.yml): etcd 3.4's own snapshot count,
# 100,000, keeps that many raft entries in memory (a density run's pod writes, ~4 KB each)
SNAPSHOT_COUNT = 10_000
AUTO_COMPACTION_RETENTION = "1"  # hours


@dataclass(frozen=True)
class LocalEtcd:
    client_port: int
    peer_port: int
    pid: int
    name: str = "etcd"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.client_port}"


def member_name(index: int) -> str:
    """The process/data-directory name of member ``index`` (0 is plain ``etcd``)."""
    return "etcd" if index == 0 else f"etcd-{index}"


def _program(binary: str | None) -> str:
    program = binary or shutil.which("etcd") or ETCD_BINARY
    if not Path(program).exists():
        raise FileNotFoundError(f"etcd binary not found at {program}; install the Debian package etcd-server")
    return program


def _argv(
    program: str, member: str, data_dir: Path, client_port: int, peer_port: int, cluster: str
) -> list[str]:
    return [
        program,
        "--name", member,
        "--data-dir", str(data_dir),
        "--listen-client-urls", f"http://127.0.0.1:{client_port}",
        "--advertise-client-urls", f"http://127.0.0.1:{client_port}",
        "--listen-peer-urls", f"http://127.0.0.1:{peer_port}",
        "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer_port}",
        "--initial-cluster", cluster,
        "--initial-cluster-state", "new",
        "--listen-metrics-urls", "",
        "--quota-backend-bytes", str(QUOTA_BYTES),
        "--snapshot-count", str(SNAPSHOT_COUNT),
        "--auto-compaction-retention", AUTO_COMPACTION_RETENTION,
        "--log-level", "warn",
        "--logger", "zap",
    ]


def start_etcd(
    base: Path, name: str = "etcd", binary: str | None = None, timeout_s: float = 30.0
) -> LocalEtcd:
    """One member (named ``local`` inside etcd) with its data in ``<base>/etcd``."""
    program = _program(binary)
    client_port, peer_port = free_port(), free_port()
    data_dir = base / "etcd"
    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o700)
    argv = _argv(program, "local", data_dir, client_port, peer_port, f"local=http://127.0.0.1:{peer_port}")
    pid = start_detached(base, name, argv)
    if not wait_for_port("127.0.0.1", client_port, timeout_s):
        raise RuntimeError(
            f"etcd did not start listening on 127.0.0.1:{client_port}; see {base}/logs/{name}.log"
        )
    return LocalEtcd(client_port, peer_port, pid, name)


def start_etcd_cluster(
    base: Path, members: int, binary: str | None = None, timeout_s: float = 30.0
) -> list[LocalEtcd]:
    """``members`` etcd members on loopback forming one cluster (1: :func:`start_etcd`).

    All members start at once (each waits for a quorum of its peers before it serves).
    """
    if members <= 1:
        return [start_etcd(base, binary=binary, timeout_s=timeout_s)]
    program = _program(binary)
    ports = [(free_port(), free_port()) for _ in range(members)]
    names = [member_name(i) for i in range(members)]
    cluster = ",".join(f"{n}=http://127.0.0.1:{peer}" for n, (_, peer) in zip(names, ports, strict=True))
    started = []
    for name, (client_port, peer_port) in zip(names, ports, strict=True):
        data_dir = base / name
        data_dir.mkdir(parents=True, exist_ok=True)
        data_dir.chmod(0o700)
        pid = start_detached(base, name, _argv(program, name, data_dir, client_port, peer_port, cluster))
        started.append(LocalEtcd(client_port, peer_port, pid, name))
    for member in started:
        if not wait_for_port("127.0.0.1", member.client_port, timeout_s):
            raise RuntimeError(
                f"etcd member {member.name} did not start listening on 127.0.0.1:{member.client_port}; "
                f"see {base}/logs/{member.name}.log"
            )
    return started
