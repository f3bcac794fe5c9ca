"""The lab's network: one bridge per instance on the machine, one netns + veth per host.

A host's address and default route are configured from outside before it boots, so hosts
need no DHCP. A powered-off host's veth is set down, so it stops answering like a real one.
Hosts reach each other and the bridge address (the package repository); the machine does not
route them anywhere else. If something (dockerd) set the FORWARD policy to DROP, traffic
between hosts across the bridge would be dropped by br_netfilter: an ACCEPT rule for
bridge-internal traffic is added, and removed again with the bridge.
A dual-stack instance adds the unique-local IPv6 addresses (``nodad``: usable at once) and a
default route via the bridge, so hosts' facts name a default IPv6 address as on a real
dual-stack network; the machine forwards neither family anywhere.
"""

from __future__ import annotations

import json

from kprov.lab.layout import LabLayout
from kprov.lab.system import run

__all__ = [
    "bridge_exists",
    "ensure_bridge",
    "ensure_host_network",
    "ensure_ipv6",
    "host_network_exists",
    "lab_links",
    "lab_netns",
    "remove_bridge",
    "remove_host_network",
    "set_host_link",
]


def _link_names() -> list[str]:
    return [link["ifname"] for link in json.loads(run(["ip", "-j", "link", "show"]).stdout or "[]")]


def lab_links(layout: LabLayout) -> list[str]:
    """Network interfaces on the machine that belong to instance ``layout``."""
    host_prefix = f"kp{layout.index}h"
    return [n for n in _link_names() if n == layout.bridge or n.startswith(host_prefix)]


def lab_netns(layout: LabLayout) -> list[str]:
    """Network namespaces on the machine that belong to instance ``layout``."""
    out = run(["ip", "-j", "netns", "list"], check=False).stdout.strip()
    names = [ns["name"] for ns in json.loads(out or "[]")]
    return [n for n in names if n.startswith(f"kp{layout.index}-h")]


def bridge_exists(layout: LabLayout) -> bool:
    return run(["ip", "link", "show", layout.bridge], check=False).returncode == 0


def _forward_rule(bridge: str) -> list[str]:
    return ["-i", bridge, "-o", bridge, "-j", "ACCEPT"]


def ensure_bridge(layout: LabLayout) -> None:
    if not bridge_exists(layout):
        run(["ip", "link", "add", layout.bridge, "type", "bridge"])
        run(["ip", "addr", "add", f"{layout.gateway}/24", "dev", layout.bridge])
        run(["ip", "link", "set", layout.bridge, "up"])
    for chain in ("DOCKER-USER", "FORWARD"):
        rule = _forward_rule(layout.bridge)
        if run(["iptables", "-w", "-C", chain, *rule], check=False).returncode == 0:
            return
        if run(["iptables", "-w", "-I", chain, *rule], check=False).returncode == 0:
            return


def remove_bridge(layout: LabLayout) -> None:
    rule = _forward_rule(layout.bridge)
    for chain in ("DOCKER-USER", "FORWARD"):
        while run(["iptables", "-w", "-D", chain, *rule], check=False).returncode == 0:
            pass
    if bridge_exists(layout):
        run(["ip", "link", "del", layout.bridge])


def host_network_exists(layout: LabLayout, host: str) -> bool:
    if not layout.netns_path(host).exists():
        return False
    return run(["ip", "link", "show", layout.veth(host)], check=False).returncode == 0


def ensure_host_network(layout: LabLayout, host: str) -> None:
    """netns + veth pair (eth0 inside) with the host's address and default route."""
    if host_network_exists(layout, host):
        return
    remove_host_network(layout, host)
    ns, veth = layout.netns(host), layout.veth(host)
    run(["ip", "netns", "add", ns])
    run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns])
    run(["ip", "link", "set", veth, "master", layout.bridge, "up"])
    run(["ip", "-n", ns, "link", "set", "lo", "up"])
    run(["ip", "-n", ns, "addr", "add", f"{layout.ip(host)}/24", "dev", "eth0"])
    run(["ip", "-n", ns, "link", "set", "eth0", "up"])
    run(["ip", "-n", ns, "route", "add", "default", "via", layout.gateway])


def ensure_ipv6(layout: LabLayout, hosts: list[str]) -> None:
    """The instance's IPv6 addresses on the bridge and on ``hosts`` (idempotent: replace)."""
    run(["ip", "-6", "addr", "replace", f"{layout.gateway6}/64", "dev", layout.bridge, "nodad"])
    for host in hosts:
        ns = layout.netns(host)
        run(["ip", "-n", ns, "-6", "addr", "replace", f"{layout.ip6(host)}/64", "dev", "eth0", "nodad"])
        run(["ip", "-n", ns, "-6", "route", "replace", "default", "via", layout.gateway6])


def set_host_link(layout: LabLayout, host: str, up: bool) -> None:
    """Plug (up) or unplug (down) a host's cable: a powered-off host must not answer."""
    run(["ip", "link", "set", layout.veth(host), "up" if up else "down"], check=False)


def remove_host_network(layout: LabLayout, host: str) -> None:
    run(["ip", "link", "del", layout.veth(host)], check=False)
    if layout.netns_path(host).exists():
        run(["ip", "netns", "del", layout.netns(host)])
