"""The kubelet-managed /etc/hosts of a pod's containers.

As upstream's kubelet: every container of a pod that is not on the host network, and that
does not mount something at /etc/hosts itself, gets the same file: the loopback and IPv6
entries, the pod's own IP with its hostname (and its FQDN when it has a subdomain), then
the pod's ``hostAliases``. Host-network pods see the node's own /etc/hosts.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["HOSTS_PATH", "hosts_content", "manages_hosts", "write_hosts"]

HOSTS_PATH = "/etc/hosts"
_HEADER = (
    "# Kubernetes-managed hosts file.\n"
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "fe00::0\tip6-mcastprefix\n"
    "fe00::1\tip6-allnodes\n"
    "fe00::2\tip6-allrouters\n"
)

Obj = Mapping[str, Any]


def manages_hosts(pod: Obj, container: Obj) -> bool:
    if (pod.get("spec") or {}).get("hostNetwork"):
        return False
    return not any(m.get("mountPath") == HOSTS_PATH for m in container.get("volumeMounts") or [])


def hosts_content(pod: Obj, pod_ips: list[str], cluster_domain: str) -> str:
    spec = pod.get("spec") or {}
    meta = pod.get("metadata") or {}
    hostname = str(spec.get("hostname") or meta.get("name", ""))[:63]
    out = [_HEADER]
    subdomain = spec.get("subdomain")
    for ip in pod_ips:
        if subdomain:
            fqdn = f"{hostname}.{subdomain}.{meta.get('namespace', 'default')}.svc.{cluster_domain}"
            out.append(f"{ip}\t{fqdn}\t{hostname}\n")
        else:
            out.append(f"{ip}\t{hostname}\n")
    aliases = spec.get("hostAliases") or []
    if aliases:
        out.append("\n# Entries added by HostAliases.\n")
        for alias in aliases:
            out.append(f"{alias.get('ip', '')}\t{chr(9).join(alias.get('hostnames') or [])}\n")
    return "".join(out)


def write_hosts(path: Path, content: str) -> None:
    """Write the file when it differs (a running container sees the same inode either way)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if path.read_text() == content:
            return
    except OSError:
        pass
    path.write_text(content)
    path.chmod(0o644)
