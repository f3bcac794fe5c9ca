"""A full disk under one etcd member's data directory, and its recovery.

The lab hosts' root filesystems are this machine's disk: filling one would fill every
host's. So the member's data directory is first moved onto a filesystem of its own
(:meth:`DiskFull.prepare`): a loop-mounted ext4 image sized to what the directory holds now
(its WAL segment and the next one etcd preallocated, 64 MB each, included) plus a margin, the
member stopped for the copy. Injecting fills that filesystem with a filler file to the last
block, then grows the keyspace (a few 1 MB values put through another member) so the member
must extend its backend or cut a WAL segment or snapshot on the full disk: it fails with
``no space left on device`` (systemd restarts it into the same wall) or raises the NOSPACE
alarm. Healing deletes the filler, disarms any alarm, restarts the member if systemd gave up,
and waits until it is healthy and at the leader's raft index: ``disk_full_recovery_s``.
:meth:`DiskFull.restore` moves the data back onto the host's own filesystem.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from kprov.lab import Lab

__all__ = ["DiskFull"]

_IMAGE = "/var/lib/kprov-fault/etcd-disk.img"
_FILLER = "kprov-fault-filler"
_PREFIX = "/kprov-fault/disk-full/"
_CTL = "/usr/local/bin/kprov-etcdctl --command-timeout=5s"


def _ssh(lab: Lab, host: str, command: str, timeout: float = 120) -> str:
    rc, out, err = lab.ssh(host, command, timeout=timeout)
    if rc != 0:
        raise RuntimeError(f"{host}: {command[:120]}: rc={rc} {err.strip()[-300:]}")
    return out


@dataclass
class DiskFull:
    host: str
    writer: str  # a member that stays healthy: the big values are put through it
    data_dir: str = "/var/lib/kprov/etcd"
    margin_mb: int = 192  # the next WAL segment (64 MB, preallocated at start) and backend growth
    big_values: int = 12
    recovery_s: float = 0.0
    state: str = ""  # the member and the alarms at the end of the hold

    @property
    def name(self) -> str:
        return f"disk full under {self.data_dir} on {self.host}"

    def prepare(self, lab: Lab) -> None:
        """The data directory on a loop filesystem of its own (idempotent)."""
        d = self.data_dir
        _ssh(lab, self.host, f"""set -e
mountpoint -q {d} && exit 0
systemctl stop kprov-etcd
mkdir -p $(dirname {_IMAGE}) /run/kprov-fault-mnt
size=$(( $(du -sm {d} | cut -f1) + {self.margin_mb} ))
rm -f {_IMAGE}; truncate -s ${{size}}M {_IMAGE}
mkfs.ext4 -q -F -m 0 {_IMAGE}
mount -o loop {_IMAGE} /run/kprov-fault-mnt
cp -a {d}/. /run/kprov-fault-mnt/
rm -rf /run/kprov-fault-mnt/lost+found
chmod 700 /run/kprov-fault-mnt
umount /run/kprov-fault-mnt
mount -o loop {_IMAGE} {d}
systemctl start kprov-etcd
""", timeout=300)
        self._wait_caught_up(lab, 120)

    def inject(self, lab: Lab) -> None:
        self.prepare(lab)
        free = f"df -P -B1 {self.data_dir} | awk 'NR==2 {{print $4}}'"
        _ssh(lab, self.host, f"dd if=/dev/zero of={self.data_dir}/{_FILLER} bs=1M status=none 2>/dev/null; "
                             f"sync; test \"$({free})\" -lt 1048576")
        # ~1 MB values through a healthy member: the full member must grow its backend (or cut a
        # WAL segment) to apply them
        value = "head -c 700000 /dev/urandom | base64 -w0"
        _ssh(lab, self.writer, f"for i in $(seq 1 {self.big_values}); do {value} "
                               f"| {_CTL} put {_PREFIX}$i >/dev/null || exit 1; done", timeout=180)

    def heal(self, lab: Lab) -> None:
        self.state = self.member_state(lab)
        freed = time.monotonic()
        _ssh(lab, self.host, f"rm -f {self.data_dir}/{_FILLER}")
        _ssh(lab, self.writer, f"{_CTL} alarm disarm >/dev/null")
        self.recovery_s = self._wait_caught_up(lab, 180, since=freed)
        _ssh(lab, self.writer, f"{_CTL} del --prefix {_PREFIX} >/dev/null")

    def restore(self, lab: Lab) -> None:
        """The data directory back on the host's own filesystem."""
        d = self.data_dir
        _ssh(lab, self.host, f"""set -e
mountpoint -q {d} || exit 0
systemctl stop kprov-etcd
rm -rf /var/lib/kprov-fault/copy; mkdir -p /var/lib/kprov-fault/copy
cp -a {d}/. /var/lib/kprov-fault/copy/
rm -f /var/lib/kprov-fault/copy/{_FILLER}
umount {d}
cp -a /var/lib/kprov-fault/copy/. {d}/
rm -rf /var/lib/kprov-fault/copy {_IMAGE}
systemctl reset-failed kprov-etcd || true
systemctl start kprov-etcd
""", timeout=300)
        self._wait_caught_up(lab, 120)

    def member_state(self, lab: Lab) -> str:
        """The member's unit state, its last words and the cluster's alarms (for the report)."""
        rc, out, _ = lab.ssh(self.host, "systemctl is-active kprov-etcd; systemctl show -p NRestarts --value "
                                        "kprov-etcd; journalctl -u kprov-etcd -n 200 --no-pager -o cat "
                                        "| grep -iE 'no space|nospace|fatal|panic' | tail -2", timeout=30)
        _, alarms, _ = lab.ssh(self.writer, f"{_CTL} alarm list", timeout=30)
        state = (out if rc == 0 else "?").strip().replace("\n", " | ")
        return f"{state} | alarms: {alarms.strip() or 'none'}"

    def _wait_caught_up(self, lab: Lab, timeout_s: float, since: float | None = None) -> float:
        """Until the member answers healthy with the leader's raft index; seconds since ``since``."""
        start = since if since is not None else time.monotonic()
        deadline = time.monotonic() + timeout_s
        ip = lab.ip(self.host)
        while time.monotonic() < deadline:
            lab.ssh(self.host, "systemctl is-failed --quiet kprov-etcd && "
                               "{ systemctl reset-failed kprov-etcd; systemctl start kprov-etcd; }; true",
                    timeout=30)
            rc, out, _ = lab.ssh(self.writer, f"{_CTL} endpoint status --cluster -w json", timeout=30)
            if rc == 0:
                statuses = json.loads(out)
                mine = [s for s in statuses if f"//{ip}:" in s["Endpoint"]]
                leader = [s for s in statuses if s["Status"]["leader"] == s["Status"]["header"]["member_id"]]
                health = lab.ssh(self.writer, f"{_CTL} endpoint health --endpoints=https://{ip}:2379",
                                 timeout=30)[0]
                if mine and leader and health == 0 and \
                        mine[0]["Status"]["raftIndex"] >= leader[0]["Status"]["raftIndex"] - 5:
                    return time.monotonic() - start
            time.sleep(0.5)
        raise RuntimeError(f"etcd member on {self.host} not healthy and caught up within {timeout_s:.0f} s")
