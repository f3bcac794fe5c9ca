"""The Debian packages a cluster needs on its hosts: one list for the lab and for bundles."""

from __future__ import annotations

__all__ = ["HOST_PACKAGES"]

# Extend this list: the next `kprov lab up` downloads what is new, and `kprov bundle`
# collects it for air-gapped hosts.
HOST_PACKAGES: tuple[str, ...] = (
    "etcd-server",
    "etcd-client",
    "containerd",
    "runc",
    "containernetworking-plugins",
    "nftables",
    "iptables",
    "conntrack",
    "docker-registry",  # the image mirror on control-plane hosts (role registry)
    "skopeo",  # loads images into it (kprov images load)
    "haproxy",  # the API servers' load balancer with apiserver_vip (role apiserver_lb)
    "keepalived",  # holds apiserver_vip on a control-plane host (role keepalived)
    "python3-apt",  # Ansible's apt module
    "python3-venv",  # kprov's components are installed into a venv on hosts
    "python3-pip",
    "curl",  # the roles' health checks (role common)
)
