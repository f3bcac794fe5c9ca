"""`kprov reset`: remove everything kprov installed, through the reset playbook (roles/reset.yml).

:data:`LEFTOVER_SCRIPT` lists, on one host, whatever kprov creates that is still there (one
line per leftover: units, files and directories, mounts, pod network devices and
namespaces, the nftables table, kprov's routes, forwarding left on); :func:`leftovers`
parses it. After a reset the list must be empty (tests/e2e/safety).
"""

from __future__ import annotations

from pathlib import Path

from kprov.deploy.prepare import REPO_ROOT
from kprov.provision.execute.results import RunObserver, RunReport
from kprov.provision.pipelines import run_playbook

__all__ = ["LEFTOVER_SCRIPT", "RESET_PLAYBOOK", "leftovers", "reset_cluster"]

RESET_PLAYBOOK = REPO_ROOT / "roles" / "reset.yml"

_UNITS = ("kprov-proxy kprov-kubelet kprov-scheduler kprov-controller-manager kprov-apiserver kprov-etcd "
          "containerd")
_PATHS = ("/etc/kprov /var/lib/kprov /opt/kprov /var/log/pods /var/lib/cni /etc/cni /etc/containerd "
          "/run/kprov /run/containerd /etc/sysctl.d/90-kprov.conf /etc/sysctl.d/90-kprov-cni.conf "
          "/var/log/kprov /etc/keepalived /opt/containerd /var/lib/containers /etc/modules-load.d/kprov.conf "
          "/usr/local/bin/kprov-etcdctl /usr/local/sbin/kprov-etcd-restart")
LEFTOVER_SCRIPT = f"""
for u in {_UNITS}; do
  [ -e /etc/systemd/system/$u.service ] && echo "unit file /etc/systemd/system/$u.service"
  systemctl is-active -q $u 2>/dev/null && echo "unit $u active"
done
for p in {_PATHS}; do [ -e "$p" ] && echo "path $p"; done
[ -n "$(ls -A /var/lib/containerd 2>/dev/null)" ] && echo "path /var/lib/containerd: not empty"
awk '$2 ~ "^/(run/containerd|var/lib/kprov|var/lib/containerd/io)" {{print "mount " $2}}' /proc/mounts
for d in cni0 kprov.vxlan; do ip link show $d >/dev/null 2>&1 && echo "link $d"; done
ip -o link show 2>/dev/null | awk -F': ' '$2 ~ /^veth/ {{print "link " $2}}'
ip netns list 2>/dev/null | awk '$1 ~ /^(cni|kprov)-/ {{print "netns " $1}}'
nft list table ip kprov >/dev/null 2>&1 && echo "nftables table ip kprov"
[ -n "$(ip route show proto 77 2>/dev/null)" ] && echo "routes proto 77"
forward=$(cat /proc/sys/net/ipv4/ip_forward)
grep -qs "ip_forward" /etc/sysctl.conf /etc/sysctl.d/*.conf || {{
  [ "$forward" = 1 ] && echo "ip_forward is 1"; }}
pgrep -x containerd-shim >/dev/null && echo "process containerd-shim"
true
"""


def leftovers(output: str) -> list[str]:
    """What LEFTOVER_SCRIPT found (empty: the host is clean)."""
    return [line.strip() for line in output.splitlines() if line.strip()]


def reset_cluster(inventory: str | Path, *, limit: str | None = None,
                  observer: RunObserver | None = None) -> RunReport:
    return run_playbook(inventory, RESET_PLAYBOOK, limit=limit, observer=observer)
