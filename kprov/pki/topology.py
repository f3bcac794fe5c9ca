"""What the cluster PKI is issued for: hosts with their names and addresses, and which hosts
are etcd members, control-plane hosts and kubelets. Plain data, built from an inventory.

Read from the inventory (groups and Ansible-named variables):
  group ``etcd``                         etcd members
  group ``control_plane``                API server hosts (SANs of the serving cert)
  groups ``control_plane``, ``workers``, ``nodes``   kubelets (all hosts if none exists)
  ``ansible_host``                       the host's address (an IP, or a DNS name)
  ``ip``, ``access_ip``, ``kprov_ips``   further addresses (``kprov_ips``: a list)
  ``kprov_node_ipv6``                    the node's IPv6 address (dual-stack), when an IP
  ``kprov_dual_stack``, ``kprov_service_cidrs``, ``kprov_service_cidr_ipv6``
                                         dual-stack: the first address of the IPv6 service
                                         range is a SAN of the API server too
  ``apiserver_endpoint``                 the API server address clients use (``host``,
                                         ``host:port`` or ``https://host:port``); default:
                                         the first control-plane host's address, port 6443
  ``apiserver_vip``                      a virtual IP keepalived holds on a control-plane
                                         host, HAProxy on ``kprov_apiserver_vip_port``
                                         (8443) in front of every API server: the admin's
                                         server (and a SAN); nodes' kubelet and kube-proxy
                                         then use their local HAProxy on
                                         ``127.0.0.1:kprov_node_lb_port`` (6444)
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "APISERVER_PORT",
    "CONTROL_PLANE_GROUP",
    "ETCD_GROUP",
    "KUBELET_GROUPS",
    "ClusterTopology",
    "PkiHost",
    "TopologyError",
    "is_ip",
    "topology_from_groups",
]

APISERVER_PORT = 6443
ETCD_GROUP = "etcd"
CONTROL_PLANE_GROUP = "control_plane"
KUBELET_GROUPS = ("control_plane", "workers", "nodes")
_ADDRESS_VARS = ("ansible_host", "ansible_ssh_host", "ip", "access_ip")
# roles/kprov_defaults' IPv6 service range (tests/unit/pki/test_dual_stack_sans.py keeps them equal)
DEFAULT_SERVICE_CIDR_IPV6 = "fd00:10:96::/112"


class TopologyError(ValueError):
    """The inventory does not describe a cluster the PKI can be issued for."""


def is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class PkiHost:
    """A host as certificates see it: its names (inventory name first) and IP addresses."""

    name: str
    dns_names: tuple[str, ...] = ()
    ips: tuple[str, ...] = ()

    @property
    def address(self) -> str:
        """The address to reach the host by: its first IP, else its first name."""
        return self.ips[0] if self.ips else self.dns_names[0] if self.dns_names else self.name

    @classmethod
    def from_vars(cls, name: str, host_vars: Mapping[str, Any]) -> PkiHost:
        dns: list[str] = [name]
        ips: list[str] = []
        values: list[Any] = [host_vars.get(v) for v in _ADDRESS_VARS]
        extra = host_vars.get("kprov_ips") or []
        if isinstance(extra, str):
            extra = [extra]
        if not isinstance(extra, list):
            raise TopologyError(f"host {name}: kprov_ips must be a list of addresses, got {extra!r}")
        values += extra
        ipv6 = str(host_vars.get("kprov_node_ipv6") or "").strip()
        if is_ip(ipv6):  # (a template of facts is not known here: left out)
            values.append(ipv6)
        for value in values:
            if value is None or value == "":
                continue
            text = str(value).strip()
            target = ips if is_ip(text) else dns
            if text not in target:
                target.append(text)
        if is_ip(name):
            dns.remove(name)
            if name not in ips:
                ips.insert(0, name)
        return cls(name, tuple(dns), tuple(ips))


@dataclass(frozen=True)
class ClusterTopology:
    """Hosts by name (inventory order) and the role groups, all as host names."""

    hosts: Mapping[str, PkiHost]
    etcd: tuple[str, ...]
    control_plane: tuple[str, ...]
    kubelets: tuple[str, ...]
    apiserver_endpoint: str | None = None
    service_ip: str = "10.96.0.1"
    service_ipv6: str | None = None  # dual-stack: the IPv6 service range's first address
    cluster_domain: str = "cluster.local"
    extra_apiserver_names: tuple[str, ...] = field(default=())
    apiserver_vip: str | None = None
    apiserver_vip_port: int = 8443
    node_lb_port: int = 6444

    @property
    def admin_server_url(self) -> str:
        """Where the admin's kubeconfig points: the VIP when there is one."""
        if self.apiserver_vip:
            return _endpoint_url(f"{_bracketed(self.apiserver_vip)}:{self.apiserver_vip_port}")
        return self.server_url

    @property
    def node_server_url(self) -> str | None:
        """The node-local load balancer kubelets and kube-proxies use (with a VIP), else None."""
        return f"https://127.0.0.1:{self.node_lb_port}" if self.apiserver_vip else None

    @property
    def server_url(self) -> str:
        """The API server URL written into every kubeconfig."""
        if self.apiserver_endpoint:
            return _endpoint_url(self.apiserver_endpoint)
        if not self.control_plane:
            raise TopologyError(
                "no control-plane host: add a 'control_plane' group or set 'apiserver_endpoint'"
            )
        return _endpoint_url(self.hosts[self.control_plane[0]].address)

    @property
    def server_urls(self) -> tuple[str, ...]:
        """Every API server a client may use: the endpoint when one is set, else each control-plane host."""
        if self.apiserver_endpoint:
            return (self.server_url,)
        return tuple(url for _, url in self.named_server_urls)

    @property
    def named_server_urls(self) -> tuple[tuple[str, str], ...]:
        """(control-plane host, its API server URL) for each control-plane host."""
        return tuple((name, _endpoint_url(self.hosts[name].address)) for name in self.control_plane)

    @property
    def apiserver_host(self) -> str | None:
        """The host part of ``apiserver_endpoint`` (a load balancer name/VIP), if set."""
        if not self.apiserver_endpoint:
            return None
        return urlsplit(_endpoint_url(self.apiserver_endpoint)).hostname


def _endpoint_url(endpoint: str) -> str:
    text = endpoint.strip()
    if "://" not in text:
        host_port = text
        if is_ip(text) and ":" in text:  # a bare IPv6 address
            host_port = f"[{text}]"
        text = f"https://{host_port}"
    parts = urlsplit(text)
    if parts.scheme != "https" or not parts.hostname:
        raise TopologyError(f"apiserver_endpoint {endpoint!r}: expected host, host:port or https://host:port")
    if parts.port is None:
        text = f"https://{parts.netloc}:{APISERVER_PORT}"
    return text.rstrip("/")


def topology_from_groups(
    host_names: Iterable[str],
    group_members: Callable[[str], list[str]],
    host_vars: Callable[[str], Mapping[str, Any]],
    group_exists: Callable[[str], bool],
) -> ClusterTopology:
    """Build the topology from inventory queries (kept abstract so any inventory fits)."""
    names = list(host_names)
    if not names:
        raise TopologyError("the inventory has no hosts")
    hosts = {n: PkiHost.from_vars(n, host_vars(n)) for n in names}
    kubelet_groups = [g for g in KUBELET_GROUPS if group_exists(g)]
    if kubelet_groups:
        wanted = {h for g in kubelet_groups for h in group_members(g)}
        kubelets = tuple(n for n in names if n in wanted)
    else:
        kubelets = tuple(names)
    first_vars = host_vars(names[0])
    endpoint = first_vars.get("apiserver_endpoint")
    vip = str(first_vars.get("apiserver_vip") or "").strip() or None
    if vip is not None and not is_ip(vip):
        raise TopologyError(f"apiserver_vip {vip!r}: expected an IP address")
    return ClusterTopology(
        service_ipv6=_service_ipv6(first_vars),
        hosts=hosts,
        etcd=tuple(group_members(ETCD_GROUP)),
        control_plane=tuple(group_members(CONTROL_PLANE_GROUP)),
        kubelets=kubelets,
        apiserver_endpoint=str(endpoint) if endpoint else None,
        apiserver_vip=vip,
        apiserver_vip_port=int(first_vars.get("kprov_apiserver_vip_port") or 8443),
        node_lb_port=int(first_vars.get("kprov_node_lb_port") or 6444),
    )


def _truthy(value: Any) -> bool:
    return value is True or str(value).strip().lower() in ("true", "yes", "on", "1")


def _service_ipv6(host_vars: Mapping[str, Any]) -> str | None:
    """The first address of the IPv6 service range on a dual-stack inventory: from
    ``kprov_service_cidrs`` when it is given as a list of CIDRs, else
    ``kprov_service_cidr_ipv6`` (its default) when ``kprov_dual_stack`` is on; else None."""
    cidrs = str(host_vars.get("kprov_service_cidrs") or "")
    candidates = [c.strip() for c in cidrs.split(",") if c.strip() and "{" not in c]
    if not candidates and _truthy(host_vars.get("kprov_dual_stack")):
        candidates = [str(host_vars.get("kprov_service_cidr_ipv6") or DEFAULT_SERVICE_CIDR_IPV6)]
    for text in candidates:
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise TopologyError(f"service CIDR {text!r}: expected a CIDR") from None
        if network.version == 6:
            return str(network.network_address + 1)
    return None


def _bracketed(address: str) -> str:
    return f"[{address}]" if ":" in address else address
