"""The Node object: host facts, registration, NodeStatus and the node Lease heartbeat.

:func:`host_facts` reads the machine (cpu count, MemTotal, kernel, os-release, machine-id,
boot id, architecture); :func:`node_object` builds the Node to register (labels
kubernetes.io/hostname|os|arch plus configured labels, taints); :func:`node_status` the
status with capacity/allocatable (pods=110), addresses, nodeInfo, daemonEndpoints and the
Ready / MemoryPressure / DiskPressure / PIDPressure conditions; :func:`lease_object` the
kube-node-lease Lease renewed every 10 s.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from kprov.cluster.client.timeutil import format_micro_time, format_time

__all__ = [
    "KUBELET_PORT",
    "KUBELET_VERSION",
    "LEASE_DURATION_S",
    "HostFacts",
    "host_facts",
    "lease_object",
    "status_changed",
    "node_allocatable",
    "node_object",
    "node_status",
    "parse_labels",
    "parse_taints",
]

KUBELET_PORT = 10250
KUBELET_VERSION = "v1.32.0-kprov"
LEASE_DURATION_S = 40
MAX_PODS = 110
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x"}


@dataclass(frozen=True)
class HostFacts:
    cpus: int
    memory_bytes: int
    kernel: str
    os_image: str
    architecture: str
    machine_id: str
    boot_id: str
    disk_bytes: int = 0


def _read(path: str, default: str = "") -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return default


def _os_image() -> str:
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip().strip('"')
    return "Linux"


def _memory_bytes() -> int:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def _disk_bytes(path: str) -> int:
    try:
        st = os.statvfs(path)
    except OSError:
        return 0
    return st.f_blocks * st.f_frsize


def host_facts(root_dir: str = "/") -> HostFacts:
    """Facts of this machine; ephemeral storage is the filesystem holding ``root_dir``."""
    return HostFacts(
        cpus=os.cpu_count() or 1,
        memory_bytes=_memory_bytes(),
        kernel=platform.release(),
        os_image=_os_image(),
        architecture=_ARCH.get(platform.machine(), platform.machine()),
        machine_id=_read("/etc/machine-id"),
        boot_id=_read("/proc/sys/kernel/random/boot_id"),
        disk_bytes=_disk_bytes(root_dir),
    )


def parse_labels(text: str) -> dict[str, str]:
    """``a=b,c=d`` (the --node-labels flag)."""
    out = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        if "=" not in item:
            raise ValueError(f"--node-labels: {item!r} is not key=value")
        key, value = item.split("=", 1)
        out[key] = value
    return out


def parse_taints(text: str) -> list[dict[str, str]]:
    """``key=value:Effect,key2:Effect`` (the --register-with-taints flag)."""
    taints = []
    for item in filter(None, (p.strip() for p in text.split(","))):
        if ":" not in item:
            raise ValueError(f"--register-with-taints: {item!r} must be key[=value]:Effect")
        kv, effect = item.rsplit(":", 1)
        if effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            raise ValueError(
                f"--register-with-taints: effect {effect!r} is not NoSchedule|PreferNoSchedule|NoExecute"
            )
        key, _, value = kv.partition("=")
        taint = {"key": key, "effect": effect}
        if value:
            taint["value"] = value
        taints.append(taint)
    return taints


def node_object(
    name: str, facts: HostFacts, labels: Mapping[str, str], taints: list[dict[str, str]]
) -> dict[str, Any]:
    all_labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": facts.architecture,
        "beta.kubernetes.io/os": "linux",
        "beta.kubernetes.io/arch": facts.architecture,
        **labels,
    }
    spec: dict[str, Any] = {"taints": taints} if taints else {}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": all_labels},
        "spec": spec,
    }


def node_status(
    name: str,
    facts: HostFacts,
    node_ip: str | Sequence[str],
    runtime_version: str,
    ready: bool,
    ready_message: str,
    old_conditions: list[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    now = format_time()
    old = {c.get("type"): c for c in old_conditions or []}

    def cond(ctype: str, status: bool, reason: str, message: str) -> dict[str, Any]:
        value = "True" if status else "False"
        before = old.get(ctype)
        since = before.get("lastTransitionTime", now) if before and before.get("status") == value else now
        return {
            "type": ctype,
            "status": value,
            "reason": reason,
            "message": message,
            "lastHeartbeatTime": now,
            "lastTransitionTime": since,
        }

    capacity = node_allocatable(facts)
    node_ips = [node_ip] if isinstance(node_ip, str) else list(node_ip)  # dual-stack: one per family
    return {
        "capacity": capacity,
        "allocatable": dict(capacity),
        "conditions": [
            cond(
                "MemoryPressure",
                False,
                "KubeletHasSufficientMemory",
                "kubelet has sufficient memory available",
            ),
            cond("DiskPressure", False, "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            cond("PIDPressure", False, "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            cond("Ready", ready, "KubeletReady" if ready else "KubeletNotReady", ready_message),
        ],
        "addresses": [*({"type": "InternalIP", "address": ip} for ip in node_ips),
                      {"type": "Hostname", "address": name}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": KUBELET_PORT}},
        "nodeInfo": {
            "machineID": facts.machine_id,
            "systemUUID": facts.machine_id,
            "bootID": facts.boot_id,
            "kernelVersion": facts.kernel,
            "osImage": facts.os_image,
            "containerRuntimeVersion": runtime_version,
            "kubeletVersion": KUBELET_VERSION,
            "kubeProxyVersion": KUBELET_VERSION,
            "operatingSystem": "linux",
            "architecture": facts.architecture,
        },
    }


def status_changed(posted: Mapping[str, Any], computed: Mapping[str, Any]) -> bool:
    """Whether ``computed`` says something the Node's ``posted`` status does not.

    Upstream's kubelet posts only then, or when the report period has passed: a status that
    differs in its heartbeat times alone is not news. Only what the kubelet writes is
    compared (others write other fields, e.g. ``volumesAttached``), conditions by type.
    """

    def conditions(status: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        return {
            c.get("type", ""): {k: v for k, v in c.items() if k != "lastHeartbeatTime"}
            for c in status.get("conditions") or []
        }

    for key, value in computed.items():
        if key == "conditions":
            mine, theirs = conditions(computed), conditions(posted)
            if any(theirs.get(ctype) != cond for ctype, cond in mine.items()):
                return True
        elif posted.get(key) != value:
            return True
    return False


def node_allocatable(facts: HostFacts) -> dict[str, str]:
    """Capacity and allocatable (kprov reserves nothing for the system)."""
    return {
        "cpu": str(facts.cpus),
        "memory": f"{facts.memory_bytes // 1024}Ki",
        "pods": str(MAX_PODS),
        "ephemeral-storage": f"{facts.disk_bytes // 1024}Ki",
    }


def lease_object(name: str, holder: str, renew_time: datetime, node_uid: str = "") -> dict[str, Any]:
    """The node's Lease; owned by its Node once the uid is known (as upstream's kubelet sets
    it), so the Lease goes when the Node is deleted."""
    meta: dict[str, Any] = {"name": name, "namespace": "kube-node-lease"}
    if node_uid:
        meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": name, "uid": node_uid}]
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": meta,
        "spec": {
            "holderIdentity": holder,
            "leaseDurationSeconds": LEASE_DURATION_S,
            "renewTime": format_micro_time(renew_time),
        },
    }
