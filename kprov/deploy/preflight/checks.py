"""The preflight checks: each a name (for ``--skip-preflight NAME``) and a function of the
probes (one :class:`HostProbe` per host, probe.py) giving :class:`Problem` s.

=============  ====================================================================
python         python3 present (kprov's modules and runtime run on it)
os             a supported OS (Debian 12, Ubuntu 22.04+)
disk           free space under each path the roles write, with the size they need
               (/var/lib/kprov on its own when it is a file system of its own)
vip            apiserver_vip is no host's own address (keepalived would take it away)
memory         enough memory for the host's components
ports          the ports the host's components listen on are free, or held by that
               very component (kprov-etcd, kprov-apiserver, kprov-kubelet, kprov-proxy)
addresses      unique addresses across the inventory, no machine reached twice
hostnames      unique host names (a node is named after its host)
sysctls        the sysctls kprov sets are writable (ip_forward)
cgroups        a cgroup hierarchy with the memory controller
clock          clock skew across hosts (and against the operator) within 5 s
etcd-data      an etcd host with etcd data of a membership the quorum no longer has
cluster-ca     a host holding a cluster made with another CA than this inventory's pki
               directory (a new pki directory would replace the CA, the service-account
               key and the secrets' encryption key of a running cluster)
swap, modules  warnings only: swap on; overlay/br_netfilter neither loaded nor loadable
=============  ====================================================================

A problem says what is wrong and what to do; a warning is shown but does not stop the run.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from kprov.deploy.preflight.probe import HOST_CA, HostProbe

__all__ = ["CHECK_NAMES", "ClusterShape", "Problem", "evaluate"]

SUPPORTED_OS = {"debian": 12, "ubuntu": 22}
# Measured on a converged 3-host lab host: /var/lib/kprov (etcd, images) 127 MiB,
# /var/lib/containerd 5 MiB, /opt (kprov's runtime tree) 99 MiB, /etc/kprov and /usr/local
# 1 MiB each; needs are those with room for etcd's growth and two runtime trees.
DISK_NEEDS_MIB = {"/var/lib": 1024, "/opt": 256, "/etc": 16, "/usr/local": 16}
# /var/lib/kprov holds etcd's data and the node images: on a file system of its own it needs
# what /var/lib was budgeted for (etcd fails on "no space left on device" otherwise).
KPROV_STATE = "/var/lib/kprov"
KPROV_STATE_NEEDS_MIB = 1024
MEMORY_NEEDS_MIB = 512
MAX_CLOCK_SKEW_S = 5.0
# port -> (the group whose hosts need it free, the kprov unit that may hold it, what it is)
PORTS: tuple[tuple[int, str, str, str], ...] = (
    (2379, "etcd", "kprov-etcd.service", "etcd client"),
    (2380, "etcd", "kprov-etcd.service", "etcd peer"),
    (6443, "control_plane", "kprov-apiserver.service", "API server"),
    (10250, "nodes", "kprov-kubelet.service", "kubelet"),
    (10256, "nodes", "kprov-proxy.service", "kube-proxy health"),
    # kprov-dns's port 53 is bound on the node address only: a local stub resolver
    # (systemd-resolved on 127.0.0.53) does not stand in its way, so only 9153 is checked.
    (9153, "control_plane", "kprov-dns.service", "cluster DNS health and metrics"),
    (4443, "control_plane", "kprov-metrics-server.service", "the resource metrics API"),
)


@dataclass(frozen=True)
class Problem:
    host: str
    check: str
    message: str
    fix: str
    warning: bool = False


@dataclass(frozen=True)
class ClusterShape:
    """What preflight needs of the inventory: each host's groups and address, and host names."""

    groups: Mapping[str, list[str]]
    addresses: Mapping[str, str]  # host -> the address it is reached at (ansible_host or name)
    hostnames: Mapping[str, str]  # host -> the host's own name (facts), "" if unknown
    ca_path: str = ""  # the operator's cluster CA (<pki dir>/ca.crt), "" when not a cluster run
    ca_sha256: str = ""  # its digest
    vips: Mapping[str, str] = field(default_factory=dict)  # host -> its apiserver_vip, if any

    def in_group(self, host: str, group: str) -> bool:
        if group == "nodes":
            return host in self.groups.get("control_plane", []) or host in self.groups.get("workers", [])
        return host in self.groups.get(group, [])


Check = Callable[[dict[str, HostProbe], ClusterShape], Iterable[Problem]]


def _python(probes: dict[str, HostProbe], shape: ClusterShape) -> Iterable[Problem]:
    for host, p in probes.items():
        if not p.python:
            yield Problem(host, "python", "python3 is not installed",
                          "install it (apt-get install python3): kprov's modules and runtime run on it")


def _os(probes: dict[str, HostProbe], shape: ClusterShape) -> Iterable[Problem]:
    for host, p in probes.items():
        major = p.os_version.split(".")[0]
        need = SUPPORTED_OS.get(p.os_id)
        if need is None or not major.isdigit() or int(major) < need:
            yield Problem(host, "os", f"unsupported OS {p.os_id} {p.os_version}".strip(),
                          "use Debian 12 or Ubuntu 22.04 or later")


def _disk(probes: dict[str, HostProbe], shape: ClusterShape) -> Iterable[Problem]:
    for host, p in probes.items():
        for path, need in DISK_NEEDS_MIB.items():
            free = p.free_kib.get(path)
            if free is not None and free < need * 1024:
                yield Problem(host, "disk", f"{free // 1024} MiB free under {path}, {need} MiB needed",
                              f"free space on the file system holding {path}")


def _state_disk(probes: dict[str, HostProbe], shape: ClusterShape) -> Iterable[Problem]:
    """/var/lib/kprov when it is a mount of its own (else the /var/lib check covers it)."""
    for host, p in probes.items():
        free = p.free_kib.get(KPROV_STATE)
        if free is None or p.mounts.get(KPROV_STATE) in (None, p.mounts.get("/var/lib")):
            continue
        if free < KPROV_STATE_NEEDS_MIB * 1024:
            yield Problem(host, "disk", f"{free // 1024} MiB free under {KPROV_STATE} (a file system of its "
                          f"own, mounted on {p.mounts[KPROV_STATE]}), {KPROV_STATE_NEEDS_MIB} MiB needed "
                          "(etcd's data and the node images)",
                          f"free space on the file system holding {KPROV_STATE}, or make it larger")


def _memory(probes: dict[str, HostProbe], shape: ClusterShape) -> Iterable[Problem]:
    for host, p in probes.items():
        if p.mem_kib and p.mem_kib < MEMORY_NEEDS_MIB * 1024:
            yield Problem(host, "memory", f"{p.mem_kib // 1024} MiB of memory, {MEMORY_NEEDS_MIB} MiB needed",
                          "give the host more memory")


def _vip(probes: dict[str, HostProbe], shape: ClusterShape) -> Iterable[Problem]:
    """apiserver_vip equal to an inventory host's own address: keepalived would hold it on
    another host, taking that host's address away mid-run."""
    owners: dict[str, list[str]] = defaultdict(list)
    for host, address in shape.addresses.items():
        owners[address].append(host)
    for host in probes:
        vip = shape.vips.get(host, "")
        for owner in owners.get(vip, []):
            yield Problem(host, "vip", f"apiserver_vip {vip} is the own address of host {owner} "
                          "(its ansible_host)",
                          "set apiserver_vip to a free address on the hosts' network that no host has "
                          "(keepalived moves the VIP between control-plane hosts)")


def _ports(probes: dict[str, HostProbe], shape: ClusterShape) -> Iterable[Problem]:
    for host, p in probes.items():
        for port, group, unit, what in PORTS:
            if not shape.in_group(host, group):
                continue
            found = p.owner(port)
            if found is None:
                continue
            listener, owner = found
            if owner == unit:
                continue
            holder = listener.process or "an unknown process"
            if listener.pid:
                holder += f" (pid {listener.pid}{', ' + owner if owner else ''})"
            yield Problem(host, "ports", f"port {port} ({what}) is taken by {holder}",
                          f"stop it or move it: {unit} must listen on {port}")


def _addresses(probes: dict[str, HostProbe], shape: ClusterShape) -> Iterable[Problem]:
    by_address: dict[str, list[str]] = defaultdict(list)
    for host, address in shape.addresses.items():
        by_address[address].append(host)
    for address, hosts in by_address.items():
        if len(hosts) > 1:
            for host in hosts:
                others = ", ".join(h for h in hosts if h != host)
                yield Problem(host, "addresses", f"address {address} is also given to {others}",
                              "give every inventory host its own ansible_host")
    by_machine: dict[str, list[str]] = defaultdict(list)
    for host, p in probes.items():
        if p.machine_id and len(by_address.get(shape.addresses.get(host, ""), [])) < 2:
            by_machine[p.machine_id].append(host)
    for hosts in by_machine.values():
        if len(hosts) > 1:
            for host in hosts:
                others = ", ".join(h for h in hosts if h != host)
                yield Problem(host, "addresses", f"reaches the same machine as {others} (same machine id)",
                              "check ansible_host/ansible_port: each inventory host must be its own machine")


def _hostnames(probes: dict[str, HostProbe], shape: ClusterShape) -> Iterable[Problem]:
    by_name: dict[str, list[str]] = defaultdict(list)
    for host in probes:
        name = shape.hostnames.get(host, "")
        if name:
            by_name[name].append(host)
    for name, hosts in by_name.items():
        if len(hosts) > 1:
            for host in hosts:
                yield Problem(host, "hostnames", f"host name {name!r} is shared with "
                              f"{', '.join(h for h in hosts if h != host)}", "give every host its own name")


def _sysctls(probes: dict[str, HostProbe], shape: ClusterShape) -> Iterable[Problem]:
    for host, p in probes.items():
        if "net/ipv4/ip_forward" not in p.writable_sysctls:
            yield Problem(host, "sysctls", "net.ipv4.ip_forward cannot be set (/proc/sys is read-only here)",
                          "run the host with a writable /proc/sys/net (containers: a network namespace "
                          "of their own, nspawn: SYSTEMD_NSPAWN_API_VFS_WRITABLE=network)")


def _cgroups(probes: dict[str, HostProbe], shape: ClusterShape) -> Iterable[Problem]:
    for host, p in probes.items():
        if not p.cgroups:
            yield Problem(host, "cgroups", "no cgroup hierarchy with a memory controller (/sys/fs/cgroup)",
                          "mount cgroups (v2, or v1 with the memory controller)")


def _clock(probes: dict[str, HostProbe], shape: ClusterShape) -> Iterable[Problem]:
    """A host's clock off the median host's (or far off this machine's).

    Each offset is only known to within half the window its clock was read in (a batch
    that took 10 s on a loaded operator reads a clock up to 5 s from its midpoint), so a
    skew counts only beyond the limit plus both hosts' uncertainty: a slow round trip is
    not a skewed clock.
    """
    clocked = {h: p for h, p in probes.items() if p.clock}
    if not clocked:
        return
    median = sorted(clocked.values(), key=lambda p: p.clock_offset)[len(clocked) // 2]
    reference = median.clock_offset
    for host, probe in clocked.items():
        offset = probe.clock_offset
        skew = offset - reference
        slack = probe.clock_uncertainty + median.clock_uncertainty
        far_off = abs(offset) > MAX_CLOCK_SKEW_S * 12 + probe.clock_uncertainty
        if abs(skew) > MAX_CLOCK_SKEW_S + slack or far_off:
            yield Problem(host, "clock", f"clock is {skew:+.1f} s off the other hosts ({offset:+.1f} s off "
                          "this machine)", "run NTP (systemd-timesyncd or chrony) on every host")


def _swap(probes: dict[str, HostProbe], shape: ClusterShape) -> Iterable[Problem]:
    for host, p in probes.items():
        if p.swap_kib and shape.in_group(host, "nodes"):
            yield Problem(host, "swap", f"swap is on ({p.swap_kib // 1024} MiB)",
                          "turn it off (swapoff -a) for predictable pod memory", warning=True)


def _modules(probes: dict[str, HostProbe], shape: ClusterShape) -> Iterable[Problem]:
    for host, p in probes.items():
        missing = sorted({"overlay", "br_netfilter"} - p.modules)
        if missing and not p.can_modprobe and shape.in_group(host, "nodes"):
            yield Problem(host, "modules", f"kernel modules {', '.join(missing)} not loaded and no "
                          "/lib/modules to load them from", "load them on the machine running the host",
                          warning=True)


def _cluster_ca(probes: dict[str, HostProbe], shape: ClusterShape) -> Iterable[Problem]:
    if not shape.ca_sha256:
        return
    for host, p in probes.items():
        if p.cluster_ca_sha256 and p.cluster_ca_sha256 != shape.ca_sha256:
            yield Problem(
                host, "cluster-ca",
                f"holds a cluster made with another CA: its {HOST_CA} is not {shape.ca_path}",
                "run kprov with the inventory beside that cluster's pki directory (copy the pki "
                "directory next to this inventory), or remove the old cluster first (kprov reset); "
                "kprov does not replace a running cluster's CA")


def _etcd_data(probes: dict[str, HostProbe], shape: ClusterShape) -> Iterable[Problem]:
    """Candidates only (etcd data, etcd not running, another member running): the phase asks
    a running member for the member list and keeps those not in it (``stale_etcd_members``)."""
    return ()


CHECKS: dict[str, Check] = {
    "python": _python, "os": _os, "disk": _disk, "memory": _memory, "vip": _vip, "ports": _ports,
    "addresses": _addresses, "hostnames": _hostnames, "sysctls": _sysctls, "cgroups": _cgroups,
    "clock": _clock, "etcd-data": _etcd_data, "cluster-ca": _cluster_ca, "swap": _swap,
    "modules": _modules,
}
CHECK_NAMES = tuple(CHECKS)


def stale_etcd_candidates(probes: dict[str, HostProbe], shape: ClusterShape) -> tuple[list[str], list[str]]:
    """(etcd hosts with data but no running etcd, etcd hosts running etcd)."""
    etcd = [h for h in probes if shape.in_group(h, "etcd")]
    running = [h for h in etcd if probes[h].etcd_active]
    idle = [h for h in etcd if probes[h].etcd_data and not probes[h].etcd_active]
    return (idle if running else []), running


def etcd_problem(host: str, data: str, inventory: str = "INVENTORY") -> Problem:
    return Problem(host, "etcd-data", f"has etcd data ({data}) of a membership the running quorum lacks",
                   f"if {host} left the cluster, remove its data "
                   f"(kprov reset -i {inventory} --limit {host}), "
                   f"or add it back as a member first (kprov etcd members -i {inventory}: grows the "
                   "cluster to the inventory's etcd group)")


def evaluate(probes: dict[str, HostProbe], shape: ClusterShape, skip: Iterable[str] = ()) -> list[Problem]:
    """Every problem the checks find, except those of the checks named in ``skip``."""
    skipped = set(skip)
    unknown = skipped - set(CHECKS)
    if unknown:
        raise ValueError(f"unknown preflight check(s) {', '.join(sorted(unknown))}; "
                         f"known: {', '.join(CHECK_NAMES)}")
    found: list[Problem] = []
    for host, p in probes.items():
        if not p.complete:
            found.append(Problem(host, "probe", "the preflight probe did not run to its end",
                                 "see the run log for the command's output"))
    for name, check in CHECKS.items():
        if name not in skipped:
            found += check(probes, shape)
    if "disk" not in skipped:
        found += _state_disk(probes, shape)
    return found
