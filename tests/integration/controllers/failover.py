"""Leader failover helpers: find the process holding a Lease, wait for a new holder."""

from __future__ import annotations

import asyncio
import subprocess
import time

from kprov.cluster.client import ApiClient, NotFound, resources


async def holder(client: ApiClient, lease: str, namespace: str = "kube-system") -> str:
    try:
        obj = await client.get(resources.LEASES, lease, namespace)
    except NotFound:
        return ""
    return (obj.get("spec") or {}).get("holderIdentity") or ""


def pid_of(identity: str) -> int:
    """Identities are <hostname>_<pid>_<random> (kprov.cluster.client.leader.default_identity)."""
    return int(identity.split("_")[-2])


async def wait_new_holder(client: ApiClient, lease: str, old: str, timeout: float,
                          namespace: str = "kube-system") -> tuple[str, float]:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        current = await holder(client, lease, namespace)
        if current and current != old:
            return current, time.monotonic() - start
        await asyncio.sleep(0.2)
    raise AssertionError(f"no new holder of lease {lease} within {timeout}s (still {old})")


def process_for(procs: list[subprocess.Popen], identity: str) -> subprocess.Popen:
    pid = pid_of(identity)
    return next(p for p in procs if p.pid == pid)
