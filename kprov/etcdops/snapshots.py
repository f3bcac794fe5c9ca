"""Backup and restore of the etcd data.

Backup: ``etcdctl snapshot save`` on a healthy member, the file fetched over SSH to the
operator machine as ``etcd-snapshot-<UTC timestamp>.db`` with a ``.sha256`` beside it (the
``sha256sum`` format), checked against the member's own sha256 of the file.

Restore (whole cluster, to the inventory's ``etcd`` group): verify the checksum, upload the
snapshot to every member, stop every member, ``etcdctl snapshot restore`` into a fresh data
dir on each with a NEW cluster token (a restored cluster must never talk to the old one),
swap it in, start all members together (each start returns once the quorum has formed),
wait until every member is healthy, then delete the old data dirs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shlex
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from kprov.etcdops.cluster import SERVICE, EtcdCluster, EtcdOpsError, MemberView
from kprov.etcdops.etcdctl import ETCDCTL, EtcdctlError
from kprov.pki.pem import write_file

__all__ = ["Backup", "backup", "restore", "snapshot_name", "verify_checksum"]

Progress = Callable[[str], None]
_REMOTE_TMP = "/var/tmp"


@dataclass(frozen=True)
class Backup:
    path: Path
    checksum_path: Path
    sha256: str
    size: int
    member: str


def snapshot_name(now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.UTC)
    return f"etcd-snapshot-{now:%Y%m%dT%H%M%SZ}.db"


def _remote_sha256(cluster: EtcdCluster, host: str, path: str) -> str:
    result = cluster.session(host).run(f"sha256sum {shlex.quote(path)}", become=True)
    if not result.ok:
        raise EtcdOpsError(f"{host}: sha256sum {path} failed: {result.stderr.strip()}")
    return result.stdout.split()[0]


def backup(cluster: EtcdCluster, out_dir: str | Path, progress: Progress = lambda _m: None) -> Backup:
    """Save a snapshot from a healthy member into ``out_dir``."""
    ctl = cluster.anchor()
    name = snapshot_name()
    remote = f"{_REMOTE_TMP}/kprov-{name}"
    session = cluster.session(ctl.host)
    try:
        progress(f"{ctl.host}: etcdctl snapshot save")
        ctl.snapshot_save(remote)
        expected = _remote_sha256(cluster, ctl.host, remote)
        data = session.get(remote, become=True)
    finally:
        session.run(f"rm -f {shlex.quote(remote)}", become=True)
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected:
        raise EtcdOpsError(f"snapshot from {ctl.host} changed in transfer (sha256 {digest} != {expected})")
    out = Path(out_dir)
    path = out / name
    write_file(path, data, 0o600)
    checksum_path = out / f"{name}.sha256"
    write_file(checksum_path, f"{digest}  {name}\n".encode(), 0o644)
    return Backup(path, checksum_path, digest, len(data), ctl.host)


def verify_checksum(snapshot: Path) -> str | None:
    """The snapshot's sha256, checked against ``<snapshot>.sha256`` when that file exists
    (None when it does not); EtcdOpsError on a mismatch."""
    sidecar = snapshot.with_name(snapshot.name + ".sha256")
    if not sidecar.exists():
        return None
    expected = sidecar.read_text().split()[0] if sidecar.read_text().strip() else ""
    actual = hashlib.sha256(snapshot.read_bytes()).hexdigest()
    if actual != expected:
        raise EtcdOpsError(f"{snapshot}: sha256 {actual} does not match {sidecar} ({expected})")
    return actual


def _live_members_outside(cluster: EtcdCluster, hosts: list[str]) -> list[str]:
    """Inventory hosts that are live members but not in the etcd group (best effort: empty
    when no member answers). They would otherwise keep the old cluster alive."""
    try:
        views = cluster.members(cluster.anchor())
    except (EtcdOpsError, EtcdctlError):
        return []
    found = [cluster.host_of(v.info) for v in views]
    return [h for h in found if h and h not in hosts]


def _on_all(cluster: EtcdCluster, hosts: list[str], what: str, command: Callable[[str], str]) -> None:
    """Run a command on every host at once; EtcdOpsError naming each host that failed."""

    def one(host: str) -> str:
        result = cluster.session(host).run(command(host), become=True, timeout=300)
        return "" if result.ok else f"{host}: {(result.stderr or result.stdout).strip()[-300:]}"

    for host in hosts:
        cluster.session(host)  # connect first, in this thread: sessions are not shared across threads
    with ThreadPoolExecutor(max_workers=len(hosts)) as pool:
        errors = [e for e in pool.map(one, hosts) if e]
    if errors:
        raise EtcdOpsError(f"{what} failed on " + "; ".join(errors))


def restore(
    cluster: EtcdCluster, snapshot: str | Path, progress: Progress = lambda _m: None
) -> list[MemberView]:
    """Replace the data of every member of the etcd group by ``snapshot``; the healthy members."""
    snapshot = Path(snapshot)
    if not snapshot.is_file():
        raise EtcdOpsError(f"{snapshot}: no such snapshot file")
    digest = verify_checksum(snapshot)
    checked = f"sha256 ok ({digest[:12]}…)" if digest else "no .sha256 file, not checked"
    progress(f"{snapshot.name}: {checked}")
    hosts = list(cluster.group)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    token = f"kprov-etcd-restored-{stamp}"
    remote = f"{_REMOTE_TMP}/kprov-restore-{stamp}.db"
    initial = ",".join(f"{h}={cluster.peer_url(h)}" for h in hosts)
    data = snapshot.read_bytes()
    for host in hosts:
        cluster.session(host).put(data, remote, mode=0o600, become=True)
    progress(f"uploaded to {', '.join(hosts)}; checking it with etcdctl snapshot status")
    _on_all(cluster, hosts, "snapshot status", lambda h: f"ETCDCTL_API=3 etcdctl snapshot status {remote}")
    outsiders = _live_members_outside(cluster, hosts)
    if outsiders:
        progress(f"members not in the etcd group leave for good: {', '.join(outsiders)}")
        _on_all(cluster, outsiders, "stop", lambda h: f"systemctl disable --now {SERVICE}; "
                f"rm -rf {shlex.quote(cluster.data_dir(h).rstrip('/') + '/member')}")
    progress(f"stopping {SERVICE} on every member")
    _on_all(cluster, hosts, "stop", lambda h: f"systemctl stop {SERVICE}")

    def restore_cmd(host: str) -> str:
        q = shlex.quote
        data_dir = cluster.data_dir(host).rstrip("/")
        fresh, old = q(data_dir + ".restore"), q(data_dir + ".pre-restore")
        restore_args = [
            ETCDCTL, "snapshot", "restore", remote, "--name", host, "--initial-cluster", initial,
            "--initial-cluster-token", token, "--initial-advertise-peer-urls", cluster.peer_url(host),
            "--data-dir", data_dir + ".restore",
        ]
        return (
            f"set -e; rm -rf {fresh} {old}; {shlex.join(restore_args)}; "
            f"if [ -d {q(data_dir)} ]; then mv {q(data_dir)} {old}; fi; "
            f"mv {fresh} {q(data_dir)}; chmod 0700 {q(data_dir)}"
        )

    progress(f"restoring with cluster token {token}")
    _on_all(cluster, hosts, "snapshot restore", restore_cmd)
    progress(f"starting {SERVICE} on every member")
    _on_all(cluster, hosts, "start", lambda h: f"systemctl start {SERVICE}")
    views = cluster.wait_healthy(cluster.anchor())
    names = sorted(v.name for v in views)
    if names != sorted(hosts):
        raise EtcdOpsError(f"restored cluster has members {names}, expected {sorted(hosts)}")
    _on_all(
        cluster, hosts, "clean-up",
        lambda h: f"rm -rf {shlex.quote(cluster.data_dir(h).rstrip('/') + '.pre-restore')} {remote}",
    )
    return views
