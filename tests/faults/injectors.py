"""Faults on lab hosts: each is data (which host, which component) with ``inject`` and ``heal``.

- :class:`UnitKill`: ``kill -9`` of every process of a systemd unit; systemd's ``Restart=``
  brings it back, and heal waits for that (or starts it).
- :class:`UnitStop`: an orderly stop, then start.
- :class:`Partition`: the host cut off from the other lab hosts (and the VIP) by an nftables
  table in the host's own network namespace (``ip netns exec``, from this machine, so the
  rules never depend on the host answering); ``direction`` "both", "in" (the host hears
  nothing) or "out" (it says nothing). This machine's gateway address stays reachable, so
  SSH and the heal still work.
- :class:`ClockStep`: one component on one host runs with a clock ``offset_s`` away, through
  Debian's libfaketime preloaded by a systemd drop-in. The lab hosts share this machine's
  kernel clock, so stepping a host's clock for real would step the machine's and every
  other host's (docs/decisions and shared FACTS: never do that); a preloaded clock is per
  process. It acts on components that read the time through libc (the Python ones: API
  server, kubelet, ...), not on Go binaries (etcd) that read it from the vDSO directly.
- :func:`faketime_env`: the same for a process on this machine (``kprov verify`` run with
  the operator's clock off).
- :class:`PowerOff`: the lab host stopped (orderly poweroff of its systemd) and started.
- :class:`tests.faults.peer_loss.PeerLinkLoss`: a share of the etcd peer links' segments lost;
  :class:`tests.faults.peer_delay.PeerLinkDelay`: their segments held N ms (nfnetlink_queue).

``FAULTS`` maps a scenario name to a builder over the lab and the current cluster (some
targets, such as the etcd leader, are only known at run time).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from kprov.lab import Lab
from tests.faults.disk_full import DiskFull
from tests.faults.peer_delay import PeerLinkDelay
from tests.faults.peer_loss import PeerLinkLoss

__all__ = ["FAULTS", "LIBFAKETIME", "ClockStep", "Fault", "Partition", "PowerOff", "UnitKill", "UnitStop",
           "bystander", "etcd_leader", "faketime_env", "partition_rules", "vip_holder"]

LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")  # Debian's libfaketime
_HOST_LIB = "/usr/local/lib/kprov-fault/libfaketime.so.1"
_TABLE = "kprov_fault"


class Fault(Protocol):
    @property
    def name(self) -> str: ...

    def inject(self, lab: Lab) -> None: ...

    def heal(self, lab: Lab) -> None: ...


def _ssh(lab: Lab, host: str, command: str, timeout: float = 60) -> str:
    rc, out, err = lab.ssh(host, command, timeout=timeout)
    if rc != 0:
        raise RuntimeError(f"{host}: {command}: rc={rc} {err.strip()[-300:]}")
    return out


def _wait_active(lab: Lab, host: str, unit: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        rc, _, _ = lab.ssh(host, f"systemctl is-active --quiet {unit}", timeout=20)
        if rc == 0:
            return
        time.sleep(0.5)
    _ssh(lab, host, f"systemctl start {unit}")


@dataclass(frozen=True)
class UnitKill:
    host: str
    unit: str

    @property
    def name(self) -> str:
        return f"kill -9 {self.unit} on {self.host}"

    def inject(self, lab: Lab) -> None:
        _ssh(lab, self.host, f"systemctl kill --signal=SIGKILL {self.unit}")

    def heal(self, lab: Lab) -> None:
        _wait_active(lab, self.host, self.unit)


@dataclass(frozen=True)
class UnitStop:
    host: str
    unit: str

    @property
    def name(self) -> str:
        return f"stop {self.unit} on {self.host}"

    def inject(self, lab: Lab) -> None:
        _ssh(lab, self.host, f"systemctl stop {self.unit}", timeout=120)

    def heal(self, lab: Lab) -> None:
        _ssh(lab, self.host, f"systemctl start {self.unit}", timeout=120)
        _wait_active(lab, self.host, self.unit)


def partition_rules(subnet: str, keep: str, direction: str) -> str:
    """The nftables script that cuts a host off from ``subnet`` except ``keep`` (this machine)."""
    if direction not in ("both", "in", "out"):
        raise ValueError(f"direction is both, in or out, not {direction!r}")
    lines = [f"table inet {_TABLE} {{"]
    if direction in ("both", "in"):
        lines += ["  chain input { type filter hook input priority -300; policy accept;",
                  f"    ip saddr {keep} accept", f"    ip saddr {subnet} drop", "  }"]
    if direction in ("both", "out"):
        lines += ["  chain output { type filter hook output priority -300; policy accept;",
                  f"    ip daddr {keep} accept", f"    ip daddr {subnet} drop", "  }"]
    return "\n".join([*lines, "}", ""])


@dataclass(frozen=True)
class Partition:
    host: str
    direction: str = "both"

    @property
    def name(self) -> str:
        return f"partition {self.host} ({self.direction})"

    def _nft(self, lab: Lab, script: str) -> None:
        subprocess.run(["ip", "netns", "exec", lab.layout.netns(self.host), "nft", "-f", "-"], input=script,
                       text=True, check=True, capture_output=True, timeout=30)

    def inject(self, lab: Lab) -> None:
        self._nft(lab, partition_rules(lab.layout.subnet, lab.layout.gateway, self.direction))

    def heal(self, lab: Lab) -> None:
        # nftables 1.0.6 (Debian 12) has no "destroy": declaring the table first makes the delete idempotent
        self._nft(lab, f"table inet {_TABLE} {{}}\ndelete table inet {_TABLE}\n")


def faketime_env(offset_s: float, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment that runs a process of this machine with its clock ``offset_s`` away
    (monotonic clocks untouched: timeouts and sleeps stay real)."""
    if not LIBFAKETIME.exists():
        raise RuntimeError(f"{LIBFAKETIME} is missing: apt-get install libfaketime")
    env = dict(os.environ if base is None else base)
    env.update(LD_PRELOAD=str(LIBFAKETIME), FAKETIME=f"{offset_s:+.0f}", FAKETIME_DONT_FAKE_MONOTONIC="1")
    return env


@dataclass(frozen=True)
class ClockStep:
    host: str
    unit: str
    offset_s: float

    @property
    def name(self) -> str:
        return f"clock {self.offset_s:+.0f}s for {self.unit} on {self.host}"

    def _dropin(self) -> str:
        return f"/run/systemd/system/{self.unit}.service.d/kprov-fault-clock.conf"

    def inject(self, lab: Lab) -> None:
        lib = lab.layout.merged(self.host) / _HOST_LIB.lstrip("/")
        lib.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(LIBFAKETIME, lib)  # the hosts run this machine's Debian: the same libc
        conf = ("[Service]\n"
                f"Environment=LD_PRELOAD={_HOST_LIB} FAKETIME={self.offset_s:+.0f} "
                "FAKETIME_DONT_FAKE_MONOTONIC=1\n")
        path = self._dropin()
        _ssh(lab, self.host, f"mkdir -p {os.path.dirname(path)} && printf '%s' '{conf}' > {path} "
                             f"&& systemctl daemon-reload && systemctl restart {self.unit}", timeout=120)

    def heal(self, lab: Lab) -> None:
        _ssh(lab, self.host, f"rm -f {self._dropin()} && systemctl daemon-reload "
                             f"&& systemctl restart {self.unit}", timeout=120)
        _wait_active(lab, self.host, self.unit)


@dataclass(frozen=True)
class PowerOff:
    host: str

    @property
    def name(self) -> str:
        return f"power off {self.host}"

    def inject(self, lab: Lab) -> None:
        lab.stop(self.host)

    def heal(self, lab: Lab) -> None:
        lab.start(self.host)


def etcd_leader(lab: Lab, members: tuple[str, ...]) -> str:
    """The host whose etcd member leads, asked of the first member that answers."""
    for host in members:
        rc, out, _ = lab.ssh(host, "/usr/local/bin/kprov-etcdctl --command-timeout=3s endpoint status "
                                   "--cluster -w json", timeout=20)
        if rc != 0:
            continue
        for status in json.loads(out):
            if status["Status"]["leader"] == status["Status"]["header"]["member_id"]:
                address = status["Endpoint"].split("//")[1].rsplit(":", 1)[0]
                return next(h for h in members if lab.ip(h) == address)
    raise RuntimeError(f"no etcd leader found among {', '.join(members)}")


def vip_holder(lab: Lab, hosts: tuple[str, ...]) -> str:
    """The control-plane host holding the API VIP (keepalived's MASTER)."""
    for host in hosts:
        rc, _, _ = lab.ssh(host, f"ip -4 -o addr show | grep -qw {lab.layout.apiserver_vip}/24", timeout=20)
        if rc == 0:
            return host
    raise RuntimeError(f"no host of {', '.join(hosts)} holds {lab.layout.apiserver_vip}")


def _disk_full(lab: Lab, cp: tuple[str, ...]) -> Fault:
    leader = etcd_leader(lab, cp)
    host = [h for h in cp if h != leader][-1]
    fault = DiskFull(host, writer=leader)
    fault.prepare(lab)
    return fault


def bystander(lab: Lab, hosts: tuple[str, ...]) -> str:
    """A control-plane host that neither leads etcd nor holds the VIP (the last such)."""
    busy = {etcd_leader(lab, hosts), vip_holder(lab, hosts)}
    return [h for h in hosts if h not in busy][-1]


ControlPlane = tuple[str, ...]
FAULTS: dict[str, Callable[[Lab, ControlPlane, tuple[str, ...]], list[Fault]]] = {
    "kill-etcd-leader": lambda lab, cp, w: [UnitKill(etcd_leader(lab, cp), "kprov-etcd")],
    "kill-etcd-follower": lambda lab, cp, w: [UnitKill(next(h for h in cp if h != etcd_leader(lab, cp)),
                                                       "kprov-etcd")],
    "kill-etcd-and-apiserver": lambda lab, cp, w: [UnitKill(cp[1], "kprov-etcd"),
                                                   UnitKill(cp[2], "kprov-apiserver")],
    "kill-apiserver": lambda lab, cp, w: [UnitKill(cp[0], "kprov-apiserver")],
    "stop-apiserver": lambda lab, cp, w: [UnitStop(cp[0], "kprov-apiserver")],
    "stop-controller-manager": lambda lab, cp, w: [UnitStop(cp[0], "kprov-controller-manager")],
    "stop-scheduler": lambda lab, cp, w: [UnitStop(cp[0], "kprov-scheduler")],
    "kill-kubelet": lambda lab, cp, w: [UnitKill(w[0], "kprov-kubelet")],
    "kill-containerd": lambda lab, cp, w: [UnitKill(w[0], "containerd")],
    "kill-haproxy-vip-holder": lambda lab, cp, w: [UnitKill(vip_holder(lab, cp), "haproxy")],
    "kill-keepalived-vip-holder": lambda lab, cp, w: [UnitKill(vip_holder(lab, cp), "keepalived")],
    "stop-keepalived-vip-holder": lambda lab, cp, w: [UnitStop(vip_holder(lab, cp), "keepalived")],
    "partition-control-plane-host": lambda lab, cp, w: [Partition(cp[2])],
    "partition-etcd-leader-host": lambda lab, cp, w: [Partition(etcd_leader(lab, cp))],
    "partition-vip-holder": lambda lab, cp, w: [Partition(vip_holder(lab, cp))],
    "partition-bystander": lambda lab, cp, w: [Partition(bystander(lab, cp))],
    # every etcd member loses this share of what it sends on the peer port (both directions
    # of every peer link)
    "etcd-peer-loss-10": lambda lab, cp, w: [PeerLinkLoss(cp, 10)],
    "etcd-peer-loss-30": lambda lab, cp, w: [PeerLinkLoss(cp, 30)],
    # every etcd member holds what it sends on the peer port this long (a peer round trip 2x)
    "etcd-peer-delay-50": lambda lab, cp, w: [PeerLinkDelay(cp, 50)],
    "etcd-peer-delay-300": lambda lab, cp, w: [PeerLinkDelay(cp, 300)],
    "partition-control-plane-host-inbound": lambda lab, cp, w: [Partition(cp[2], "in")],
    # the builder moves the follower's data directory onto a loop filesystem of its own first
    # (an etcd restart), so that the scenario's workload sees only the full disk
    "disk-full-etcd-follower": lambda lab, cp, w: [_disk_full(lab, cp)],
    "clock-apiserver-behind": lambda lab, cp, w: [ClockStep(cp[1], "kprov-apiserver", -7200)],
    "poweroff-worker": lambda lab, cp, w: [PowerOff(w[-1])],
    "poweroff-control-plane-host": lambda lab, cp, w: [PowerOff(cp[2])],
}
