"""Parsers from one facts-script section's text to Ansible-named facts.

Each parser is ``(text, facts) -> None`` and adds its facts to the dict; ``finish`` derives
the facts that combine sections (default_ipv4 from the route plus the addresses).
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from typing import Any

from kprov.provision.facts import system

__all__ = [
    "cpuinfo",
    "debian_version",
    "default_route",
    "environment",
    "finish",
    "hostname",
    "ipv4_addresses",
    "ipv6_addresses",
    "links",
    "machine_id",
    "meminfo",
    "network",
    "os_release",
    "python",
    "service_mgr",
    "uname",
    "user",
    "virtualization",
    "passwd",
]

_DISTRIBUTIONS = {
    "debian": ("Debian", "Debian"),
    "ubuntu": ("Ubuntu", "Debian"),
    "raspbian": ("Debian", "Debian"),
    "linuxmint": ("Linux Mint", "Debian"),
    "centos": ("CentOS", "RedHat"),
    "rhel": ("RedHat", "RedHat"),
    "fedora": ("Fedora", "RedHat"),
    "rocky": ("Rocky", "RedHat"),
    "almalinux": ("AlmaLinux", "RedHat"),
    "ol": ("OracleLinux", "RedHat"),
    "amzn": ("Amazon", "RedHat"),
    "opensuse-leap": ("openSUSE Leap", "Suse"),
    "sles": ("SLES", "Suse"),
    "arch": ("Archlinux", "Archlinux"),
    "alpine": ("Alpine", "Alpine"),
}


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def uname(text: str, facts: dict[str, Any]) -> None:
    """``uname -snrvm``: system, nodename, release, version (has spaces), machine."""
    words = text.split()
    if len(words) < 5:
        words += [""] * (5 - len(words))
    facts["system"], facts["nodename"], facts["kernel"] = words[0], words[1], words[2]
    facts["kernel_version"] = " ".join(words[3:-1])
    machine = words[-1]
    facts["machine"] = facts["architecture"] = machine
    if machine in ("i386", "i486", "i586", "i686"):
        facts["architecture"] = "i386"


def hostname(text: str, facts: dict[str, Any]) -> None:
    lines = text.splitlines() + ["", ""]
    short = lines[0].strip() or facts.get("nodename", "")
    fqdn = lines[1].strip() or short
    facts["hostname"] = short.split(".")[0]
    facts["fqdn"] = fqdn
    facts["domain"] = fqdn.partition(".")[2]


def os_release(text: str, facts: dict[str, Any]) -> None:
    values: dict[str, str] = {}
    for line in _lines(text):
        key, sep, value = line.partition("=")
        if sep:
            value = value.strip()
            if value[:1] in "\"'" and value[-1:] == value[:1] and len(value) >= 2:
                value = value[1:-1]
            values[key.strip()] = value
    os_id = values.get("ID", "").lower()
    name, family = _DISTRIBUTIONS.get(os_id, (values.get("NAME", "NA"), values.get("NAME", "NA")))
    if os_id not in _DISTRIBUTIONS:
        for like in values.get("ID_LIKE", "").split():
            if like in _DISTRIBUTIONS:
                family = _DISTRIBUTIONS[like][1]
                break
    version = values.get("VERSION_ID", "NA")
    facts.update(
        distribution=name,
        os_family=family,
        distribution_version=version,
        distribution_major_version=version.split(".")[0],
        distribution_release=values.get("VERSION_CODENAME") or values.get("UBUNTU_CODENAME") or "NA",
        _os_release=values,  # for lsb (facts.system); dropped in finish
    )


def debian_version(text: str, facts: dict[str, Any]) -> None:
    """Ansible reports Debian's point release (12.5) from /etc/debian_version."""
    value = text.strip()
    if facts.get("distribution") == "Debian" and value and value[0].isdigit():
        facts["distribution_version"] = value
        facts["distribution_major_version"] = value.split(".")[0]
        facts["distribution_minor_version"] = value.split(".")[1] if "." in value else "0"


# the address ansible-core asks the IPv6 route for (ipv6.google.com's); nothing is sent to it
IPV6_PROBE = "2404:6800:400a:800::1012"


def network(text: str, facts: dict[str, Any]) -> None:
    """One ``ip -o -batch`` run: the default IPv4 route, addresses of both families, links,
    then the route to :data:`IPV6_PROBE` (absent without IPv6 routing)."""
    lines = text.splitlines()
    default_route("\n".join(line for line in lines if line.startswith("default")), facts)
    ipv4_addresses("\n".join(line for line in lines if " inet " in line), facts)
    ipv6_addresses("\n".join(line for line in lines if " inet6 " in line), facts)
    links("\n".join(line for line in lines if "link/" in line), facts)
    ipv6_route("\n".join(line for line in lines if line.startswith(IPV6_PROBE + " ")), facts)


def ipv6_route(text: str, facts: dict[str, Any]) -> None:
    """``ip route get <IPV6_PROBE>``: the outgoing interface, source and gateway, as Ansible
    reads them (a gateway equal to the probe itself is no gateway)."""
    words = text.split()
    route: dict[str, str] = {}
    for index, word in enumerate(words[:-1]):
        if word == "dev":
            route["interface"] = words[index + 1]
        elif word == "src":
            route["address"] = words[index + 1]
        elif word == "via" and words[index + 1] != IPV6_PROBE:
            route["gateway"] = words[index + 1]
    facts["_default_route6"] = route


def ipv6_addresses(text: str, facts: dict[str, Any]) -> None:
    """``ip -o addr show`` inet6 lines: ``2: eth0    inet6 fd00::2/64 scope global ...`` (or
    ``inet6 A peer B/64 scope ...``): address, prefix and scope per interface, in ip's order."""
    entries: list[dict[str, Any]] = []
    for line in _lines(text):
        words = line.split()
        at = words.index("inet6")
        if len(words) > at + 5 and words[at + 2] == "peer":
            address, prefix, scope = words[at + 1], words[at + 3].partition("/")[2], words[at + 5]
        elif len(words) > at + 3:
            (address, _, prefix), scope = words[at + 1].partition("/"), words[at + 3]
        else:
            continue
        entries.append({"interface": words[1].rstrip(":").split("@")[0], "address": address,
                        "prefix": prefix, "scope": scope})
    facts["_ipv6"] = entries
    facts["all_ipv6_addresses"] = [e["address"] for e in entries if e["address"] != "::1"]


def default_route(text: str, facts: dict[str, Any]) -> None:
    words = text.split()
    route: dict[str, str] = {}
    for key in ("via", "dev", "src"):
        if key in words and words.index(key) + 1 < len(words):
            route[key] = words[words.index(key) + 1]
    facts["_default_route"] = route


def ipv4_addresses(text: str, facts: dict[str, Any]) -> None:
    """``ip -4 -o addr show`` lines: ``2: eth0    inet 10.0.0.5/24 brd 10.0.0.255 scope ...``."""
    entries: list[dict[str, Any]] = []
    for line in _lines(text):
        words = line.split()
        if "inet" not in words:
            continue
        interface = words[1].rstrip(":").split("@")[0]
        iface = ipaddress.ip_interface(words[words.index("inet") + 1])
        entry = {
            "interface": interface,
            "address": str(iface.ip),
            "netmask": str(iface.netmask),
            "network": str(iface.network.network_address),
            "prefix": str(iface.network.prefixlen),
            "broadcast": words[words.index("brd") + 1] if "brd" in words else "",
        }
        entries.append(entry)
    facts["_ipv4"] = entries
    facts["all_ipv4_addresses"] = [e["address"] for e in entries if not e["address"].startswith("127.")]


def links(text: str, facts: dict[str, Any]) -> None:
    """``ip -o link show``: interface names, mtu, mac address and type."""
    details: dict[str, dict[str, Any]] = {}
    for line in _lines(text):
        words = line.split()
        if len(words) < 2:
            continue
        name = words[1].rstrip(":").split("@")[0]
        item: dict[str, Any] = {"device": name, "active": "UP" in line.split(">")[0]}
        if "mtu" in words:
            item["mtu"] = int(words[words.index("mtu") + 1])
        for kind in ("link/ether", "link/loopback", "link/none"):
            if kind in words:
                item["type"] = {"link/ether": "ether", "link/loopback": "loopback"}.get(kind, "unknown")
                mac_index = words.index(kind) + 1
                if kind != "link/none" and mac_index < len(words):
                    item["macaddress"] = words[mac_index]
        details[name] = item
    facts["_links"] = details
    facts["interfaces"] = list(details)


def cpuinfo(text: str, facts: dict[str, Any]) -> None:
    processors: list[str] = []
    sockets: set[str] = set()
    cores_per_socket = 0
    siblings = 0
    threads = 0
    nproc = 0
    for line in _lines(text):
        key, _, value = (part.strip() for part in line.partition(":"))
        if key == "processor":
            threads += 1
            processors.append(value)
        elif key in ("vendor_id", "model name"):
            processors.append(value)
        elif key == "physical id":
            sockets.add(value)
        elif key == "cpu cores":
            cores_per_socket = int(value)
        elif key == "siblings":
            siblings = int(value)
        elif key == "Cpus_allowed_list":
            nproc = _count_cpu_list(value)
    count = len(sockets) or 1
    cores = cores_per_socket or max(1, threads // count)
    per_core = max(1, siblings // cores) if siblings and cores else 1
    facts.update(
        processor=processors,
        processor_count=count,
        processor_cores=cores,
        processor_threads_per_core=per_core,
        processor_vcpus=threads or count * cores * per_core,
        processor_nproc=nproc or threads,
    )


def _count_cpu_list(text: str) -> int:
    """``0-3,8`` -> 5."""
    count = 0
    for part in text.split(","):
        low, _, high = part.strip().partition("-")
        if low.isdigit():
            count += int(high) - int(low) + 1 if high.isdigit() else 1
    return count


def meminfo(text: str, facts: dict[str, Any]) -> None:
    values, kilobytes = {}, {}
    for line in _lines(text):
        key, _, rest = line.partition(":")
        kilobytes[key] = int(rest.split()[0]) if rest.split() else 0
        values[key] = kilobytes[key] // 1024
    facts["_meminfo_kb"] = kilobytes  # memory_mb (facts.system) is made from it in finish
    facts["memtotal_mb"] = values.get("MemTotal", 0)
    facts["memfree_mb"] = values.get("MemFree", 0)
    facts["swaptotal_mb"] = values.get("SwapTotal", 0)
    facts["swapfree_mb"] = values.get("SwapFree", 0)


def python(text: str, facts: dict[str, Any]) -> None:
    """The interpreter's path, then ``Python 3.11.2`` (or ``3.13.0rc1``)."""
    lines = _lines(text)
    if len(lines) < 2 or not lines[1].startswith("Python "):
        return
    match = re.match(r"(\d+)\.(\d+)\.(\d+)(?:(a|b|rc)(\d+))?", lines[1].split()[1])
    if not match:
        return
    level = {"a": "alpha", "b": "beta", "rc": "candidate"}.get(match.group(4) or "", "final")
    info = [int(match.group(1)), int(match.group(2)), int(match.group(3)), level, int(match.group(5) or 0)]
    facts["python"] = {
        "executable": lines[0],
        "type": "cpython",
        "version": dict(zip(("major", "minor", "micro", "releaselevel", "serial"), info, strict=True)),
        "version_info": info,
    }
    facts["python_version"] = ".".join(str(part) for part in info[:3])


def service_mgr(text: str, facts: dict[str, Any]) -> None:
    lines = _lines(text)
    comm = lines[0].strip() if lines else ""
    if "run-systemd-system" in lines or comm == "systemd":
        facts["service_mgr"] = "systemd"
        # ansible-core's systemd fact: `systemctl --version`'s number and its features line
        after = lines[lines.index("run-systemd-system") + 1:] if "run-systemd-system" in lines else []
        if len(after) >= 2 and after[0].startswith("systemd ") and after[0].split(" ")[1].isdigit():
            facts["systemd"] = {"features": after[1], "version": int(after[0].split(" ")[1])}
    else:
        facts["service_mgr"] = {"init": "sysvinit", "openrc-init": "openrc"}.get(comm, comm or "service")


def machine_id(text: str, facts: dict[str, Any]) -> None:
    facts["machine_id"] = text.strip()


_ID_FIELD = re.compile(r"(uid|gid)=(\d+)(?:\(([^)]*)\))?")


def user(text: str, facts: dict[str, Any]) -> None:
    """``id`` (uid=0(root) gid=0(root) groups=...), then $HOME and $SHELL."""
    lines = text.splitlines() + [""] * 3
    ids = {key: (number, name) for key, number, name in _ID_FIELD.findall(lines[0])}
    uid, user_name = ids.get("uid", ("-1", ""))
    gid, _ = ids.get("gid", ("-1", ""))
    facts["user_id"] = user_name
    facts["user_uid"] = int(uid)
    facts["user_gid"] = int(gid)
    facts["user_dir"] = lines[1].strip()
    facts["user_shell"] = lines[2].strip()


def passwd(text: str, facts: dict[str, Any]) -> None:
    facts["_passwd"] = text  # user_gecos (facts.system) is read from it in finish


# What ansible-core's facts (module_utils/facts/virtual/linux.py) look at for a container, in
# its order, one tagged line each; systemd-detect-virt (for a VM) only where no systemd
# container file says what the host is.
VIRT_SCRIPT = (
    "sed 's/^/CG:/' /proc/1/cgroup 2>/dev/null; "
    "tr '\\000' '\\n' 2>/dev/null < /proc/1/environ | sed 's/^/ENV:/'; "
    "[ -e /proc/vz ] && [ ! -e /proc/lve ] && echo VZ; "
    "if [ -r /run/systemd/container ]; then printf 'SC:'; _rd /run/systemd/container; "
    "else printf 'DV:'; systemd-detect-virt; fi; "
    "{ [ -e /.dockerenv ] || [ -e /.dockerinit ]; } && echo DOCKERENV; true"
)
_CGROUP_KINDS = (
    (re.compile(r"/docker(/|-[0-9a-f]+\.scope)"), "docker"),
    (re.compile(r"/lxc/|/machine\.slice/machine-lxc"), "lxc"),
    (re.compile(r"/system\.slice/containerd\.service"), "containerd"),
)


def _container_kind(lines: list[str]) -> str:
    """The first container ansible-core's Linux facts find (its checks in its order), or ''."""
    tagged = [line.partition(":") for line in lines]
    for tag, _, value in tagged:
        if tag == "CG":
            for pattern, kind in _CGROUP_KINDS:
                if pattern.search(value):
                    return kind
    for tag, _, value in tagged:
        if tag == "ENV":
            for needle, kind in (("container=lxc", "lxc"), ("container=podman", "podman")):
                if needle in value:
                    return kind
            if re.match(r"container=.", value):
                return "container"
    if "VZ" in lines:
        return "openvz"
    container = next((value.strip() for tag, _, value in tagged if tag == "SC" and value.strip()), "")
    if container:
        return container
    return "docker" if "DOCKERENV" in lines else ""


def virtualization(text: str, facts: dict[str, Any]) -> None:
    """VIRT_SCRIPT's lines: a container as ansible-core names it (an nspawn host whose pid 1
    is readable says ``container`` from its environment, as Ansible's facts gathered as root
    do; unreadable, ``/run/systemd/container`` names it), else systemd-detect-virt's VM."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    kind = _container_kind(lines)
    if not kind:
        detected = next((line[3:] for line in lines if line.startswith("DV:")), "")
        kind = "" if detected == "none" else detected
    facts["virtualization_type"] = kind or "NA"
    facts["virtualization_role"] = "guest" if kind else "NA"


def environment(text: str, facts: dict[str, Any]) -> None:
    """``export -p``: ``export NAME='value'`` words, shell-quoted (values may span lines)."""
    env: dict[str, str] = {}
    try:
        words = shlex.split(text)
    except ValueError:
        words = []
    for word in words:
        key, sep, value = word.partition("=")
        if sep and key.replace("_", "").isalnum():
            env[key] = value
    facts["env"] = env


def pending_handlers(text: str, facts: dict[str, Any]) -> None:
    """Handlers notified by an earlier run that never ran (kprov.provision.execute.pending)."""
    names: set[str] = set()
    reasons: dict[str, str] = {}
    for line in _lines(text):
        name, _, why = line.partition("\t")  # a marker is "<handler>[\t<why>]"
        if name.strip():
            names.add(name.strip())
            if why.strip():
                reasons[name.strip()] = why.strip()
    facts["kprov_pending_handlers"] = sorted(names)
    facts["kprov_pending_reasons"] = reasons


_PKG_MGRS = {"Debian": "apt", "RedHat": "dnf", "Suse": "zypper", "Archlinux": "pacman", "Alpine": "apk"}


def _default_ipv6(route: dict[str, str], entries: list[dict[str, Any]],
                  links: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The IPv6 route's interface, address and gateway, completed from its address's entry
    (prefix, scope) and link (mac address, mtu, type) as Ansible does; {} without a route."""
    default: dict[str, Any] = dict(route)
    match = next((e for e in entries if "address" in route and e["address"] == route["address"]), None)
    if match is not None:
        link = links.get(match["interface"], {})
        default.update(prefix=match["prefix"], scope=match["scope"])
        default.update({k: link[k] for k in ("macaddress", "mtu") if k in link})
        default["type"] = link.get("type", "unknown")
    return default


def finish(facts: dict[str, Any]) -> None:
    """Facts that combine sections: default_ipv4/6, per-interface facts; drop scratch keys."""
    system.apply_derived(facts, facts.pop("_meminfo_kb", {}), facts.pop("_passwd", ""))
    system.distribution_file(facts, facts.pop("_os_release", None) or {})
    route = facts.pop("_default_route", {})
    entries = facts.pop("_ipv4", [])
    entries6 = facts.pop("_ipv6", [])
    link_details = facts.pop("_links", {})
    default: dict[str, Any] = {}
    candidates = [e for e in entries if e["interface"] == route.get("dev")]
    if route.get("src"):
        candidates = [e for e in candidates if e["address"] == route["src"]] or candidates
    if not candidates and not route:  # no default route (air-gapped): first non-loopback address
        candidates = [e for e in entries if not e["address"].startswith("127.")]
    if candidates:
        default = dict(candidates[0])
        default["gateway"] = route.get("via", "")
        default["alias"] = default["interface"]
        link = link_details.get(default["interface"], {})
        default.update({k: link[k] for k in ("macaddress", "mtu", "type") if k in link})
    facts["default_ipv4"] = default
    facts["default_ipv6"] = _default_ipv6(facts.pop("_default_route6", {}), entries6, link_details)
    family = facts.get("os_family")
    if family in _PKG_MGRS:  # Ansible's pkg_mgr for the family's own manager
        facts["pkg_mgr"] = _PKG_MGRS[family]
    for name, link in link_details.items():
        item = dict(link)
        ipv4 = [e for e in entries if e["interface"] == name]
        if ipv4:
            first = ipv4[0]
            item["ipv4"] = {k: first[k] for k in ("address", "netmask", "network", "prefix", "broadcast")}
        ipv6 = [{k: e[k] for k in ("address", "prefix", "scope")} for e in entries6 if e["interface"] == name]
        if ipv6:  # as Ansible: the key only on interfaces that have an IPv6 address
            item["ipv6"] = ipv6
        facts[name.replace("-", "_").replace(".", "_")] = item
