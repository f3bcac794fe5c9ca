"""The node's CNI network config, from the pod CIDRs the controller manager gave the node.

Why at runtime and not from the inventory: the pod CIDR is allocated by the controller
manager (nodeipam, lowest free range first, in the order nodes register) and recorded in
Node.spec.podCIDR. A role-side guess from the inventory order would disagree with it as
soon as nodes register in another order, a node is replaced, or a range is reused. So the
node agent (kprov-proxy) writes the conflist once the Node has its podCIDR, and rewrites it
only if that changes. Until then containerd reports NetworkReady=false and no pod starts
with a wrong address.

Plugins (containernetworking-plugins in /usr/lib/cni): ``bridge`` (cni0, gateway .1,
hairpin mode so a pod can reach itself through its Service; no ipMasq: kprov-proxy
masquerades pod egress in nftables), ``host-local`` IPAM over the pod CIDRs (one range set
per CIDR: a dual-stack node's pods get an address of each family, in spec.podCIDRs' order,
so the first is the primary one, and a default route per family), ``portmap`` for
hostPort, ``loopback``.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

__all__ = ["CNI_CONFIG_NAME", "conflist", "write_conflist"]

CNI_CONFIG_NAME = "10-kprov.conflist"
CONFLIST_MODE = 0o600  # the CNI plugins run as root; nobody else needs the pod network's settings


def conflist(pod_cidrs: str | Sequence[str], *, name: str = "kprov", bridge: str = "cni0",
             mtu: int = 1500) -> str:
    cidrs = [pod_cidrs] if isinstance(pod_cidrs, str) else list(pod_cidrs)
    defaults = {6 if ":" in cidr else 4: "::/0" if ":" in cidr else "0.0.0.0/0" for cidr in cidrs}
    config = {
        "cniVersion": "0.4.0",
        "name": name,
        "plugins": [
            {
                "type": "bridge",
                "bridge": bridge,
                "isGateway": True,
                "ipMasq": False,
                "hairpinMode": True,
                "mtu": mtu,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": cidr}] for cidr in cidrs],
                    "routes": [{"dst": dst} for dst in defaults.values()],
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}, "snat": True},
            {"type": "loopback"},
        ],
    }
    return json.dumps(config, indent=2) + "\n"


def write_conflist(conf_dir: Path, text: str) -> bool:
    """Write ``text`` as the kprov conflist atomically, readable by root only (CIS 1.1.9);
    False if it was already there (a wider mode left by an older kprov is narrowed)."""
    path = conf_dir / CNI_CONFIG_NAME
    try:
        if path.read_text() == text:
            if path.stat().st_mode & 0o777 != CONFLIST_MODE:
                os.chmod(path, CONFLIST_MODE)
            return False
    except FileNotFoundError:
        pass
    conf_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=conf_dir, prefix=".kprov-", suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(tmp, CONFLIST_MODE)
    os.replace(tmp, path)
    return True
