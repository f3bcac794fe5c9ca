"""Kubelet pod admission: refuse a pod this node cannot run beside the pods it already runs.

:func:`refusal` is the whole check: a pod for another OS (``spec.os.name``: reason
``PodOSNotSupported``; a ``kubernetes.io/os`` node selector: ``PodOSSelectorNodeLabelDoesNotMatch``),
then the host ports below.

Design: upstream's kubelet re-checks the scheduler's general predicates when a pod arrives
(the pod may have been bound with ``spec.nodeName`` set directly, past the scheduler). Here
the check is the host ports one: a pod asking for a (protocol, host IP, host port) that an
admitted, still active pod holds is rejected — its status becomes phase Failed, reason
``NodePorts``, message ``Pod was rejected: Predicate NodePorts failed: ...`` — and never
started; its controller (a StatefulSet, say) replaces it. Host IPs conflict when equal or
when either is the wildcard.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["REJECTED_REASON", "host_port_conflict", "refusal", "rejection_message"]

Obj = dict[str, Any]
REJECTED_REASON = "NodePorts"
_WILDCARD = ("", "0.0.0.0", "::")


def _host_ports(pod: Obj) -> set[tuple[str, str, int]]:
    wanted: set[tuple[str, str, int]] = set()
    spec = pod.get("spec") or {}
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        for port in container.get("ports") or []:
            host_port = int(port.get("hostPort") or 0)
            if host_port > 0:
                wanted.add((str(port.get("protocol") or "TCP"), str(port.get("hostIP") or ""), host_port))
    return wanted


def _active(pod: Obj) -> bool:
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    return (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


def host_port_conflict(pod: Obj, admitted: Iterable[Obj]) -> bool:
    wanted = _host_ports(pod)
    if not wanted:
        return False
    for other in admitted:
        if not _active(other):
            continue
        for proto, ip, port in _host_ports(other):
            for w_proto, w_ip, w_port in wanted:
                same_ip = ip == w_ip or ip in _WILDCARD or w_ip in _WILDCARD
                if proto == w_proto and port == w_port and same_ip:
                    return True
    return False


def rejection_message() -> str:
    return (
        f"Pod was rejected: Predicate {REJECTED_REASON} failed: "
        "node(s) didn't have free ports for the requested pod ports"
    )


NODE_OS = "linux"


def refusal(pod: Obj, admitted: Iterable[Obj]) -> tuple[str, str] | None:
    """Why the kubelet refuses ``pod`` (reason, message), or None: a pod for another OS
    (``spec.os.name``, or a ``kubernetes.io/os`` node selector), then host ports held."""
    spec = pod.get("spec") or {}
    wanted_os = (spec.get("nodeSelector") or {}).get("kubernetes.io/os")
    if wanted_os is not None and wanted_os != NODE_OS:
        return ("PodOSSelectorNodeLabelDoesNotMatch",
                "Failed to admit pod as the `kubernetes.io/os` label doesn't match node label")
    if (spec.get("os") or {}).get("name") not in (None, "", NODE_OS):
        return "PodOSNotSupported", "Failed to admit pod as the OS field doesn't match node OS"
    if host_port_conflict(pod, admitted):
        return REJECTED_REASON, rejection_message()
    return None
