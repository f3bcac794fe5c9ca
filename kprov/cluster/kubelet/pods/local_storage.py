"""Local ephemeral storage limits: which pod the kubelet evicts for the disk it uses, and why.

Upstream's eviction manager enforces a pod's ``ephemeral-storage`` limits and its emptyDir
``sizeLimit``s whatever the node's free space (LocalStorageCapacityIsolation): an emptyDir
over its size limit, the pod over the sum of its containers' limits (their writable layers,
their logs and its disk-backed emptyDirs), or one container over its own limit (its
writable layer and logs) gets the pod evicted: its containers killed at once, phase Failed,
reason ``Evicted``, upstream's message. Checked in that order; the first violation wins.

Pure: :func:`limits_of` reads the limits from the pod, :func:`violation` judges the usage
the node measured (:mod:`kprov.cluster.kubelet.node.disk_usage`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kprov.cluster.api.objects import parse_quantity

__all__ = ["StorageLimits", "StorageUsage", "limits_of", "violation"]

RESOURCE = "ephemeral-storage"
_BINARY = (("Ei", 2**60), ("Pi", 2**50), ("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10))


@dataclass(frozen=True)
class StorageLimits:
    containers: Mapping[str, tuple[int, str]] = field(default_factory=dict)  # name -> (bytes, as written)
    empty_dirs: Mapping[str, tuple[int, str]] = field(default_factory=dict)  # disk-backed, with sizeLimit

    def __bool__(self) -> bool:
        return bool(self.containers or self.empty_dirs)


@dataclass(frozen=True)
class StorageUsage:
    containers: Mapping[str, int] = field(default_factory=dict)  # writable layer + logs, bytes
    empty_dirs: Mapping[str, int] = field(default_factory=dict)  # every disk-backed emptyDir, bytes


def limits_of(pod: Mapping[str, Any]) -> StorageLimits:
    """The pod's ephemeral-storage limits (app and init containers) and emptyDir size limits;
    a limit that does not parse is no limit (the API server validated it)."""
    spec = pod.get("spec") or {}
    containers: dict[str, tuple[int, str]] = {}
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        limit = ((container.get("resources") or {}).get("limits") or {}).get(RESOURCE)
        if limit is not None and (size := _bytes(limit)) is not None:
            containers[str(container.get("name", ""))] = (size, str(limit))
    empty_dirs: dict[str, tuple[int, str]] = {}
    for volume in spec.get("volumes") or []:
        empty_dir = volume.get("emptyDir")
        if not isinstance(empty_dir, dict) or empty_dir.get("medium") == "Memory":
            continue
        limit = empty_dir.get("sizeLimit")
        if limit is not None and (size := _bytes(limit)) is not None:
            empty_dirs[str(volume.get("name", ""))] = (size, str(limit))
    return StorageLimits(containers, empty_dirs)


def violation(limits: StorageLimits, usage: StorageUsage) -> str | None:
    """The eviction message for the first limit ``usage`` exceeds, else None."""
    for name, (limit, written) in limits.empty_dirs.items():
        if usage.empty_dirs.get(name, 0) > limit:
            return f'Usage of EmptyDir volume "{name}" exceeds the limit "{written}". '
    if limits.containers:
        total = sum(limit for limit, _ in limits.containers.values())
        used = sum(usage.containers.values()) + sum(usage.empty_dirs.values())
        if used > total:
            limit_text = _written(limits)
            return f"Pod ephemeral local storage usage exceeds the total limit of containers {limit_text}. "
    for name, (limit, written) in limits.containers.items():
        if usage.containers.get(name, 0) > limit:
            return f'Container {name} exceeded its local ephemeral storage limit "{written}". '
    return None


def _written(limits: StorageLimits) -> str:
    """The containers' summed limit as a quantity prints: one container's as written."""
    if len(limits.containers) == 1:
        return next(iter(limits.containers.values()))[1]
    total = sum(limit for limit, _ in limits.containers.values())
    for suffix, unit in _BINARY:
        if total % unit == 0:
            return f"{total // unit}{suffix}"
    return str(total)


def _bytes(value: Any) -> int | None:
    try:
        return int(parse_quantity(value).to_integral_value(rounding="ROUND_CEILING"))
    except (ValueError, ArithmeticError):
        return None

