"""Validation of a pod's ``securityContext.sysctls``, worded like kube-apiserver's.

Design: each name must be a sysctl name (dot- or slash-separated segments of lowercase
letters, digits, ``-`` and ``_``, at most 253 characters) and appear once; a sysctl of the
network namespace is refused on a pod on the host network, one of the IPC namespace on a pod
sharing the host's IPC. Which names the node then accepts (the "safe" set, or the
kubelet's allowed unsafe ones) is the kubelet's decision, not the API's.
"""

from __future__ import annotations

import re
from typing import Any

from kprov.cluster.api.validation.field_errors import Errors

__all__ = ["MAX_SYSCTL_LENGTH", "sysctl_namespace", "validate_sysctls"]

MAX_SYSCTL_LENGTH = 253
_SEGMENT = r"[a-z0-9]([-_a-z0-9]*[a-z0-9])?"
_PATTERN = rf"^({_SEGMENT}[\./])*{_SEGMENT}$"
_NAME = re.compile(_PATTERN)
_IPC_PREFIXES = ("kernel.shm", "kernel.msg", "fs.mqueue.")


def sysctl_namespace(name: str) -> str:
    """"net", "ipc" or "" (a node-wide sysctl) for a sysctl name in either separator form."""
    first = re.search(r"[./]", name)
    dotted = name.translate(str.maketrans("./", "/.")) if first and first.group() == "/" else name
    if dotted.startswith("net."):
        return "net"
    if dotted == "kernel.sem" or dotted.startswith(_IPC_PREFIXES):
        return "ipc"
    return ""


def validate_sysctls(
    errors: Errors, sysctls: Any, path: str, *, host_network: bool = False, host_ipc: bool = False
) -> None:
    seen: set[str] = set()
    for index, item in enumerate(sysctls if isinstance(sysctls, list) else []):
        field = f"{path}[{index}].name"
        name = str((item or {}).get("name") or "") if isinstance(item, dict) else ""
        if not name:
            errors.required(field)
        elif len(name) > MAX_SYSCTL_LENGTH or not _NAME.match(name):
            errors.invalid(
                field, name, f"must have at most {MAX_SYSCTL_LENGTH} characters and match regex {_PATTERN}"
            )
        elif name in seen:
            errors.duplicate(field, name)
        namespace = sysctl_namespace(name)
        if host_network and namespace == "net":
            errors.invalid(field, name, "may not be specified when 'hostNetwork' is true")
        elif host_ipc and namespace == "ipc":
            errors.invalid(field, name, "may not be specified when 'hostIPC' is true")
        seen.add(name)
