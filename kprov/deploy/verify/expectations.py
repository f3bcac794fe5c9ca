"""What each inventory group must run on its hosts: the table the host checks walk.

Pure data derived from the inventory's groups (and, with ``apiserver_vip``, the VIP's parts:
HAProxy on every node, keepalived and its checker on the control-plane hosts), so a test can
assert it without any host.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

_T = TypeVar("_T")

__all__ = ["NODE_LB_PORT", "PORT_UNITS", "VIP_PORT", "HostExpectation", "VipPorts", "expectations_for"]

PKI = "/etc/kprov/pki"
# the unit that listens on each expected port: a port not listening is explained by that
# unit's last words (its journal)
PORT_UNITS = {2379: "kprov-etcd", 2380: "kprov-etcd", 6443: "kprov-apiserver", 5000: "docker-registry",
              53: "kprov-dns", 9153: "kprov-dns", 4443: "kprov-metrics-server", 10250: "kprov-kubelet",
              10256: "kprov-proxy", 6444: "haproxy", 8443: "haproxy"}
NODE_LB_PORT = 6444  # roles/kprov_defaults: kprov_node_lb_port (HAProxy on every node)
VIP_PORT = 8443  # roles/kprov_defaults: kprov_apiserver_vip_port (HAProxy behind the VIP)


@dataclass
class HostExpectation:
    """The units, listening ports and certificates one host must have."""

    units: list[str] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)
    certs: list[str] = field(default_factory=list)
    # port -> the certificate file the component listening there must serve (TLS handshake)
    served: dict[int, str] = field(default_factory=dict)
    # nodes: the kernel as role common sets it (kprov.deploy.verify.kernel_checks)
    kernel: bool = False
    # a control-plane host with apiserver_vip: keepalived may hold the VIP here (its state is read)
    vrrp: bool = False

    def extend(self, units: Iterable[str], ports: Iterable[int], certs: Iterable[str]) -> None:
        _add_new(self.units, units)
        _add_new(self.ports, ports)
        _add_new(self.certs, certs)


def _add_new(target: list[_T], items: Iterable[_T]) -> None:
    target.extend(i for i in items if i not in target)


_ETCD = (["kprov-etcd"], [2379, 2380], [f"{PKI}/etcd/server.crt", f"{PKI}/etcd/peer.crt"])
_CONTROL_PLANE = (
    ["kprov-apiserver", "kprov-controller-manager", "kprov-scheduler",
     "docker-registry", "kprov-registry-loader"],
    [6443, 5000, 5001],
    [f"{PKI}/apiserver.crt", f"{PKI}/apiserver-kubelet-client.crt", f"{PKI}/etcd/apiserver-etcd-client.crt",
     "/etc/docker/registry/tls/registry.crt"],
)
_CLUSTER_DNS: tuple[list[str], list[int], list[str]] = (
    ["kprov-dns", "kprov-metrics-server"], [53, 9153, 4443], []
)
_NODE = (["containerd", "kprov-kubelet", "kprov-proxy"], [10250, 10256], [f"{PKI}/kubelet.crt"])


@dataclass(frozen=True)
class VipPorts:
    """With ``apiserver_vip``: where each node's HAProxy listens, and the VIP's port."""

    node_lb: int = NODE_LB_PORT
    vip: int = VIP_PORT


def expectations_for(
    hosts: Iterable[str], in_group: Callable[[str, str], bool], vip: VipPorts | None = None
) -> dict[str, HostExpectation]:
    """Per host, what it must run: etcd members, control-plane hosts, nodes (control plane + workers);
    with ``vip`` (the inventory names ``apiserver_vip``) the load balancer and VRRP parts too."""
    result: dict[str, HostExpectation] = {}
    for host in hosts:
        exp = HostExpectation()
        if in_group(host, "etcd"):
            exp.extend(*_ETCD)
            exp.served.update({2379: f"{PKI}/etcd/server.crt", 2380: f"{PKI}/etcd/peer.crt"})
        if in_group(host, "control_plane"):
            exp.extend(*_CONTROL_PLANE)
            exp.served[6443] = f"{PKI}/apiserver.crt"
            exp.extend(*_CLUSTER_DNS)
        if in_group(host, "control_plane") or in_group(host, "workers"):
            exp.extend(*_NODE)
            exp.served[10250] = f"{PKI}/kubelet.crt"
            exp.kernel = True
            if vip is not None:
                exp.extend(["haproxy"], [vip.node_lb], [])
        if vip is not None and in_group(host, "control_plane"):
            exp.extend(["keepalived", "kprov-vipcheck"], [vip.vip], [])
            exp.vrrp = True
        result[host] = exp
    return result
