"""Names, addresses and paths of one lab instance: pure data, no side effects.

A lab instance n (0..9) owns the network 10.77.n.0/24 with a bridge ``kprovbr<n>`` at
10.77.n.1 and hosts h1..h99 at 10.77.n.11..109 (h<i> at 10.77.n.<10+i>: h1..h9 kept the
addresses they always had when the range grew for 50-host labs). Every kernel object it creates carries the
instance number in its name so instances never collide: netns ``kp<n>-h<i>``, host-side veth
``kp<n>h<i>`` (interface names are limited to 15 characters), cgroups ``kprov-lab<n>-h<i>``.
A dual-stack instance (``kprov lab up --dual-stack``) also owns the unique-local IPv6 network
fd77:77:n::/64: the bridge at fd77:77:n::1 and h<i> at fd77:77:n::<10+i> (the same last
digits as its IPv4 address, read as hex).
The base image, the package repository and the SSH key are shared by all instances and live
directly under the lab root; everything else lives in the instance's state dir ``<root>/<n>``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from kprov.lab.errors import LabError

__all__ = [
    "DEFAULT_ROOT",
    "MAX_HOSTS",
    "REPO_PORT",
    "LabLayout",
    "host_number",
    "lab_index_from_env",
]

DEFAULT_ROOT = Path("/var/lib/kprov/lab")
MAX_HOSTS = 99
MAX_INDEX = 9
REPO_PORT = 8000
IFNAMSIZ = 15
SUBNET_PREFIX = 24
SUBNET6_PREFIX = 64
_HOST_RE = re.compile(r"^h([1-9][0-9]?)$")


def host_number(host: str) -> int:
    """The i of host ``h<i>``; a clear error for anything else."""
    match = _HOST_RE.match(host)
    if not match:
        raise LabError(f"unknown lab host {host!r}: lab hosts are named h1..h{MAX_HOSTS}")
    return int(match.group(1))


def lab_index_from_env(value: int | None = None) -> int:
    """The lab instance to use: ``value`` if given, else env KPROV_LAB, else 0."""
    if value is None:
        raw = os.environ.get("KPROV_LAB", "0").strip() or "0"
        if not raw.isdigit():
            raise LabError(f"KPROV_LAB={raw!r} is not a lab instance number: use an integer 0..{MAX_INDEX}")
        value = int(raw)
    if not 0 <= value <= MAX_INDEX:
        raise LabError(f"lab instance {value} is out of range: use an integer 0..{MAX_INDEX}")
    return value


@dataclass(frozen=True)
class LabLayout:
    """Everything named or addressed in lab instance ``index``."""

    index: int
    root: Path = DEFAULT_ROOT
    base_override: Path | None = None

    def __post_init__(self) -> None:
        lab_index_from_env(self.index)

    # --- network -------------------------------------------------------------------------
    @property
    def subnet(self) -> str:
        return f"10.77.{self.index}.0/{SUBNET_PREFIX}"

    @property
    def gateway(self) -> str:
        return f"10.77.{self.index}.1"

    @property
    def subnet6(self) -> str:
        return f"fd77:77:{self.index}::/{SUBNET6_PREFIX}"

    @property
    def gateway6(self) -> str:
        return f"fd77:77:{self.index}::1"

    @property
    def dual_stack_marker(self) -> Path:
        """Present when the instance was brought up dual-stack: starts re-add IPv6 too."""
        return self.state_dir / "dual-stack"

    @property
    def bridge(self) -> str:
        return f"kprovbr{self.index}"

    @property
    def apiserver_vip(self) -> str:
        """The address an inventory with ``apiserver_vip`` gives the API (no host has .10)."""
        return f"10.77.{self.index}.10"

    @property
    def loadbalancer_pool(self) -> str:
        """LoadBalancer Services' addresses: on the lab network, so this machine reaches them
        (announced by the nodes on layer 2), and above every host's (h99 is .109)."""
        return f"10.77.{self.index}.200-10.77.{self.index}.249"

    @property
    def loadbalancer_pool6(self) -> str:
        """The IPv6 pool of a dual-stack lab: on the bridge's prefix (announced by NDP),
        above every host's (h99 is ::109)."""
        return f"fd77:77:{self.index}::200-fd77:77:{self.index}::249"

    def ip(self, host: str) -> str:
        return f"10.77.{self.index}.{10 + host_number(host)}"

    def ip6(self, host: str) -> str:
        return f"fd77:77:{self.index}::{10 + host_number(host)}"

    def netns(self, host: str) -> str:
        return f"kp{self.index}-h{host_number(host)}"

    def veth(self, host: str) -> str:
        name = f"kp{self.index}h{host_number(host)}"
        assert len(name) <= IFNAMSIZ
        return name

    def cgroup(self, host: str) -> str:
        return f"kprov-lab{self.index}-h{host_number(host)}"

    @property
    def repo_url(self) -> str:
        return f"http://{self.gateway}:{REPO_PORT}"

    # --- hosts ---------------------------------------------------------------------------
    @staticmethod
    def host_names(count: int) -> list[str]:
        if not 1 <= count <= MAX_HOSTS:
            raise LabError(f"a lab has 1..{MAX_HOSTS} hosts, not {count}")
        return [f"h{i}" for i in range(1, count + 1)]

    def etc_hosts(self, count: int = MAX_HOSTS) -> str:
        """/etc/hosts for a host of this instance: h1..h<count> by name (every host: all 99)."""
        lines = ["127.0.0.1 localhost", "::1 localhost ip6-localhost ip6-loopback"]
        lines += [f"{self.ip(h)} {h}" for h in self.host_names(count)]
        return "\n".join(lines) + "\n"

    def network_file(self, host: str, match: str) -> str:
        """A systemd-networkd ``.network`` giving ``host`` its static lab addresses, both
        families, with the bridge as gateway: for a host that configures its own link (a VM on
        the bridge; an nspawn host's addresses are set from outside, in its netns). ``match``
        is the ``[Match]`` section's body, e.g. ``MACAddress=52:54:00:...``."""
        return (f"[Match]\n{match}\n\n[Network]\n"
                f"Address={self.ip(host)}/{SUBNET_PREFIX}\nGateway={self.gateway}\n"
                f"Address={self.ip6(host)}/{SUBNET6_PREFIX}\nGateway={self.gateway6}\n"
                "IPv6AcceptRA=no\nLinkLocalAddressing=ipv6\n")

    # --- shared paths --------------------------------------------------------------------
    @property
    def base(self) -> Path:
        return self.base_override or self.root / "base"

    @property
    def repo_dir(self) -> Path:
        return self.root / "repo"

    @property
    def key_path(self) -> Path:
        return self.root / "id_lab"

    # --- per-instance paths --------------------------------------------------------------
    @property
    def state_dir(self) -> Path:
        return self.root / str(self.index)

    @property
    def instance_lock(self) -> Path:
        return Path("/run/lock") / f"kprov-lab{self.index}.lock"

    @property
    def repo_server_pidfile(self) -> Path:
        return self.state_dir / "repo-http.pid"

    @property
    def repo_server_log(self) -> Path:
        return self.state_dir / "repo-http.log"

    @property
    def hosts_dir(self) -> Path:
        return self.state_dir / "hosts"

    def host_dir(self, host: str) -> Path:
        return self.hosts_dir / f"h{host_number(host)}"

    def upper(self, host: str) -> Path:
        return self.host_dir(host) / "upper"

    def workdir(self, host: str) -> Path:
        return self.host_dir(host) / "work"

    def merged(self, host: str) -> Path:
        return self.host_dir(host) / "merged"

    def containerd_dir(self, host: str) -> Path:
        return self.host_dir(host) / "containerd"

    def supervisor_pidfile(self, host: str) -> Path:
        return self.host_dir(host) / "supervisor.pid"

    def leader_pidfile(self, host: str) -> Path:
        return self.host_dir(host) / "leader.pid"

    def console_log(self, host: str) -> Path:
        return self.host_dir(host) / "console.log"

    def netns_path(self, host: str) -> Path:
        return Path("/run/netns") / self.netns(host)

    def existing_hosts(self) -> list[str]:
        """Hosts that have a disk in this instance, in order h1..h99."""
        if not self.hosts_dir.is_dir():
            return []
        names = [p.name for p in self.hosts_dir.iterdir() if _HOST_RE.match(p.name)]
        return sorted(names, key=host_number)
