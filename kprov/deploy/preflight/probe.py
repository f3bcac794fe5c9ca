"""What preflight reads from a host: one shell script, one round trip, as root.

Everything the checks need comes back as ``@key value`` lines: python3's path, the OS, the
host's clock, its machine id, free space under each path the roles write, memory and swap,
the TCP listeners (``ss -Htlnp``) and the systemd unit owning each listening process (from
``/proc/PID/cgroup``, read with shell builtins: no fork per process), whether etcd data is
present and etcd runs (its unit among the listeners'), the digest of the cluster CA the
host holds, whether the sysctls kprov sets are writable, the kernel modules and the cgroup
hierarchy. A tool that is missing only leaves its lines out. Every process the script
starts costs a lab host a fork and an exec on every run, so it starts only date, df, ss and
sha256sum.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field

__all__ = ["DISK_PATHS", "HOST_CA", "PROBE_SCRIPT", "HostProbe", "Listener", "parse_probe"]

# Paths the roles write below (df reports the file system holding each one).
DISK_PATHS = ("/var/lib", "/etc", "/usr/local", "/opt", "/var/lib/kprov")  # the last: when present
ETCD_DATA = "/var/lib/kprov/etcd/member"
ETCD_UNIT = "kprov-etcd.service"  # the etcd role's etcd_service_name
HOST_CA = "/etc/kprov/pki/ca.crt"  # the pki role's copy of the cluster CA (kprov_host_pki)

PROBE_SCRIPT = rf"""
printf '@python '; command -v python3 || echo
if [ -r /etc/os-release ]; then . /etc/os-release; fi; echo "@os ${{ID:-unknown}} ${{VERSION_ID:-}}"
echo "@time $(date +%s.%N)"
while IFS= read -r l; do echo "@machineid $l"; done < /etc/machine-id
df -k --output=file,avail,target {" ".join(DISK_PATHS)} 2>/dev/null |
  while read -r f a t; do echo "@df $f $a $t"; done
while IFS= read -r l; do case $l in MemTotal:*|SwapTotal:*) echo "@mem $l";; esac; done < /proc/meminfo
seen=" "
while IFS= read -r l; do
  [ -n "$l" ] || continue
  echo "@listen $l"
  while :; do
    case $l in *pid=[0-9]*) l=${{l#*pid=}}; p=${{l%%[!0-9]*}};; *) break;; esac
    case $seen in *" $p "*) continue;; esac
    seen="$seen$p "
    while IFS= read -r c; do
      case $c in *.service*) u=${{c%%.service*}}; echo "@unit $p ${{u##*/}}.service"; break;; esac
    done < /proc/$p/cgroup
  done
done <<KPROV_SS
$(ss -Htlnp 2>/dev/null)
KPROV_SS
[ -r {HOST_CA} ] && echo "@clusterca $(sha256sum < {HOST_CA})"
[ -d {ETCD_DATA} ] && echo "@etcddata {ETCD_DATA}"
for k in net/ipv4/ip_forward net/ipv4/conf/all/forwarding; do [ -w /proc/sys/$k ] && echo "@sysctl $k"; done
while IFS= read -r l; do case $l in *overlay) echo "@module overlay";; esac; done < /proc/filesystems
[ -d /sys/module/br_netfilter ] || [ -d /proc/sys/net/bridge ] && echo "@module br_netfilter"
read -r r < /proc/sys/kernel/osrelease; [ -d /lib/modules/$r ] && echo "@modprobe yes"
[ -e /sys/fs/cgroup/cgroup.controllers ] || [ -d /sys/fs/cgroup/memory ] && echo "@cgroup ok"
echo "@done"
"""


@dataclass(frozen=True)
class Listener:
    port: int
    address: str
    pid: int | None
    process: str  # the command name ss shows ("" when not known)
    # every process holding the socket, as ss lists them: a daemon's child between fork and
    # exec holds it too, and may be gone (no cgroup to read) by the time the probe asks
    other_pids: tuple[int, ...] = ()


@dataclass
class HostProbe:
    host: str
    python: str = ""
    os_id: str = ""
    os_version: str = ""
    clock: float = 0.0  # the host's time, seconds since the epoch
    clock_offset: float = 0.0  # the host's clock minus the operator's (round trip midpoint)
    clock_uncertainty: float = 0.0  # half the send/receive window the clock was read in
    machine_id: str = ""
    free_kib: dict[str, int] = field(default_factory=dict)
    mounts: dict[str, str] = field(default_factory=dict)  # path -> the mount point holding it
    mem_kib: int = 0
    swap_kib: int = 0
    listeners: list[Listener] = field(default_factory=list)
    units: dict[int, str] = field(default_factory=dict)  # pid -> systemd unit
    etcd_data: str = ""
    cluster_ca_sha256: str = ""  # of the cluster CA the host holds, "" if none
    writable_sysctls: set[str] = field(default_factory=set)
    modules: set[str] = field(default_factory=set)
    can_modprobe: bool = False
    cgroups: bool = False
    complete: bool = False  # the script ran to its end

    @property
    def etcd_active(self) -> bool:
        """Whether kprov's etcd runs here: a process of its unit listens (the unit is
        Type=notify, so it is active only once it serves; read from the listeners, which the
        probe has anyway, instead of asking systemd, one process more a host)."""
        return ETCD_UNIT in self.units.values()

    def owner(self, port: int) -> tuple[Listener, str] | None:
        """Who listens on ``port``: the listener and its systemd unit ("" if none)."""
        for listener in self.listeners:
            if listener.port == port:
                pids = (listener.pid or -1, *listener.other_pids)
                return listener, next((self.units[p] for p in pids if self.units.get(p)), "")
        return None


_PROC = re.compile(r'\("(?P<name>[^"]*)",pid=(?P<pid>\d+)')


def _listener(text: str) -> Listener | None:
    parts = text.split()
    if len(parts) < 4:
        return None
    local = parts[3]
    address, _, port = local.rpartition(":")
    if not port.isdigit():
        return None
    holders = _PROC.findall(text)
    if not holders:
        return Listener(int(port), address, None, "")
    (name, pid), rest = holders[0], holders[1:]
    return Listener(int(port), address, int(pid), name, tuple(int(p) for _, p in rest))


def parse_probe(host: str, text: str, sent_at: float = 0.0, received_at: float = 0.0) -> HostProbe:
    probe = HostProbe(host)
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        value = value.strip()
        if key == "@python":
            probe.python = value
        elif key == "@os":
            probe.os_id, _, probe.os_version = value.partition(" ")
        elif key == "@time":
            with contextlib.suppress(ValueError):
                probe.clock = float(value)
        elif key == "@machineid":
            probe.machine_id = value
        elif key == "@df":  # path, free KiB, mount point (older probes: no mount point)
            words = value.split()
            if len(words) >= 2 and words[1].isdigit() and words[0] in DISK_PATHS:
                probe.free_kib[words[0]] = int(words[1])
                if len(words) > 2:
                    probe.mounts[words[0]] = words[2]
        elif key == "@mem":
            name, _, amount = value.partition(":")
            kib = int(amount.split()[0]) if amount.split() and amount.split()[0].isdigit() else 0
            if name == "MemTotal":
                probe.mem_kib = kib
            else:
                probe.swap_kib = kib
        elif key == "@listen":
            listener = _listener(value)
            if listener is not None:
                probe.listeners.append(listener)
        elif key == "@unit":
            pid, _, unit = value.partition(" ")
            if pid.isdigit():
                probe.units[int(pid)] = unit
        elif key == "@clusterca":
            probe.cluster_ca_sha256 = value.split()[0] if value else ""
        elif key == "@etcddata":
            probe.etcd_data = value
        elif key == "@sysctl":
            probe.writable_sysctls.add(value)
        elif key == "@module":
            probe.modules.add(value)
        elif key == "@modprobe":
            probe.can_modprobe = True
        elif key == "@cgroup":
            probe.cgroups = True
        elif key == "@done":
            probe.complete = True
    if probe.clock and sent_at and received_at:
        probe.clock_offset = probe.clock - (sent_at + received_at) / 2
        probe.clock_uncertainty = max(0.0, received_at - sent_at) / 2
    return probe
