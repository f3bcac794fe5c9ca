"""A pod's ``securityContext.sysctls`` on the node: the kubelet's admission and the sandbox's.

Design (upstream's kubelet): only the namespaced sysctls known to be safe (they change the
pod's own network or IPC namespace and cannot starve the node), and those the node's
``--allowed-unsafe-sysctls`` patterns name (``kernel.msg*`` or an exact name), are accepted;
a net.* sysctl is refused with hostNetwork and an IPC one (kernel.shm*, kernel.msg*,
kernel.sem, fs.mqueue.*) with hostIPC, since they would change the node's own; a pod naming
any other is rejected before anything of it runs: phase Failed, reason ``SysctlForbidden``,
message ``Pod was rejected: forbidden sysctl: "kernel.msgmax" not allowlisted``. Accepted
sysctls go into the sandbox config (LinuxPodSandboxConfig.sysctls, dotted names), which
the runtime applies in the pod's namespaces and to each of its containers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["FORBIDDEN_REASON", "SAFE_SYSCTLS", "forbidden_sysctl", "namespace_of", "pod_sysctls"]

FORBIDDEN_REASON = "SysctlForbidden"
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)
_IPC_PREFIXES = ("kernel.shm", "kernel.msg", "fs.mqueue.")
_IPC_NAMES = ("kernel.sem",)

Obj = Mapping[str, Any]


def _dotted(name: str) -> str:
    """``net/ipv4/ip_forward`` -> ``net.ipv4.ip_forward`` (a slash form swaps the separators)."""
    for char in name:
        if char == ".":
            return name
        if char == "/":
            return name.translate(str.maketrans("./", "/."))
    return name


def pod_sysctls(pod: Obj) -> dict[str, str]:
    """The pod's sysctls by dotted name, as the sandbox config carries them."""
    security = (pod.get("spec") or {}).get("securityContext") or {}
    return {_dotted(str(s.get("name", ""))): str(s.get("value", "")) for s in security.get("sysctls") or []}


def namespace_of(name: str) -> str:
    """``net``, ``ipc`` or "" (not namespaced: it would change the whole node)."""
    if name.startswith("net."):
        return "net"
    if name in _IPC_NAMES or name.startswith(_IPC_PREFIXES):
        return "ipc"
    return ""


def _allowed(name: str, unsafe: Iterable[str]) -> bool:
    if name in SAFE_SYSCTLS:
        return True
    for pattern in unsafe:
        dotted = _dotted(pattern)
        if dotted.endswith("*") and name.startswith(dotted[:-1]) or name == dotted:
            return namespace_of(name) != ""
    return False


def forbidden_sysctl(pod: Obj, allowed_unsafe: Iterable[str] = ()) -> str | None:
    """The rejection message for the first sysctl this node does not allow, else None."""
    spec = pod.get("spec") or {}
    unsafe = tuple(allowed_unsafe)
    for name in pod_sysctls(pod):
        if not _allowed(name, unsafe):
            return f'forbidden sysctl: "{name}" not allowlisted'
        namespace = namespace_of(name)
        if (namespace == "net" and spec.get("hostNetwork")) or (namespace == "ipc" and spec.get("hostIPC")):
            return f'forbidden sysctl: "{name}" not allowed with host {namespace} enabled'
    return None
