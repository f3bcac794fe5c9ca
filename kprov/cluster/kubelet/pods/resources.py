"""Container resources (requests/limits) -> CRI LinuxContainerResources numbers.

Same arithmetic as the real kubelet with the cgroupfs driver: cpu.shares from the CPU
request (1024 per core, at least 2), a CFS quota from the CPU limit over a 100 ms period
(at least 1 ms), and the memory limit in bytes. A limit without a request implies the
request equals the limit, as the API server's defaulting does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kprov.cluster.api.objects import cpu_millis, memory_bytes

__all__ = ["CFS_PERIOD_US", "MIN_SHARES", "LinuxResources", "linux_resources"]

CFS_PERIOD_US = 100_000
MIN_SHARES = 2
MIN_QUOTA_US = 1_000
SHARES_PER_CPU = 1024


@dataclass(frozen=True)
class LinuxResources:
    cpu_shares: int
    cpu_quota: int = 0
    cpu_period: int = 0
    memory_limit_in_bytes: int = 0


def linux_resources(resources: Mapping[str, Any] | None, where: str = "resources") -> LinuxResources:
    """Translate a container's ``resources``; ``where`` names the field in error messages."""
    resources = resources or {}
    limits = resources.get("limits") or {}
    requests = resources.get("requests") or {}
    try:
        cpu_request = requests.get("cpu", limits.get("cpu"))
        request_millis = cpu_millis(cpu_request) if cpu_request is not None else 0
        limit_millis = cpu_millis(limits["cpu"]) if "cpu" in limits else 0
        memory_limit = memory_bytes(limits["memory"]) if "memory" in limits else 0
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from None
    shares = max(MIN_SHARES, request_millis * SHARES_PER_CPU // 1000)
    quota = period = 0
    if limit_millis:
        period = CFS_PERIOD_US
        quota = max(MIN_QUOTA_US, limit_millis * CFS_PERIOD_US // 1000)
    return LinuxResources(shares, quota, period, memory_limit)
