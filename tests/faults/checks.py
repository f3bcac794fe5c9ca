"""What must hold after a fault heals (etcd's and kube-apiserver's guarantees, Jepsen-style):

- every acknowledged write is readable with its value (:func:`lost_writes`);
- the watch saw every acknowledged write, once, in order (:func:`watch_gaps`; a write a
  relist after a 410 showed counts as seen, one never seen is a gap);
- the etcd members agree: ``endpoint hashkv`` at one revision is equal on every member
  (:func:`hashkv`);
- the cluster converges: every node Ready again within a bound (:func:`wait_nodes_ready`
  returns how long it took, for the test to print and bound).
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from kprov.cluster.client import ApiClient, load_kubeconfig, resources
from kprov.lab import Lab
from tests.faults.workload import Ack, WatchLog

__all__ = ["gap_resumes", "hashkv", "lost_writes", "wait_nodes_ready", "watch_gaps"]

ETCDCTL = "/usr/local/bin/kprov-etcdctl --command-timeout=10s"


async def _read_back(kubeconfig: Path, namespace: str) -> dict[str, str]:
    async with ApiClient(load_kubeconfig(kubeconfig), timeout=15.0) as client:
        items, _ = await client.list_all(resources.CONFIGMAPS, namespace)
    return {i["metadata"]["name"]: str((i.get("data") or {}).get("v")) for i in items}


def lost_writes(kubeconfig: Path, namespace: str, acks: list[Ack]) -> list[str]:
    """Acknowledged writes not readable with their value (a quorum read through the API)."""
    stored = asyncio.run(_read_back(kubeconfig, namespace))
    return [f"{a.name}@{a.resource_version}: {stored.get(a.name, 'missing')!r} != {a.value!r}"
            for a in acks if stored.get(a.name) != a.value]


def watch_gaps(acks: list[Ack], log: WatchLog) -> list[str]:
    """Acknowledged writes the watch never delivered (nor a relist showed)."""
    return [f"{a.name}@{a.resource_version}" for a in acks
            if a.resource_version not in log.seen.get(a.name, set())]


def gap_resumes(acks: list[Ack], log: WatchLog) -> list[str]:
    """For each gap, the first watch that resumed from at or past its resourceVersion and
    what had set that resourceVersion (an event, a bookmark, a relist): the step that
    skipped it. A gap no resume passed was lost within one stream."""
    gaps = {f"{a.name}@{a.resource_version}": a.resource_version for a in acks}
    out = []
    for gap in watch_gaps(acks, log):
        rv = gaps[gap]
        jump = next(((r, source) for r, source in log.resumes if r >= rv), None)
        out.append(f"{gap}: resumed from {jump[0]} ({jump[1]})" if jump
                   else f"{gap}: within one stream (no resume passed it)")
    return out


def hashkv(lab: Lab, members: tuple[str, ...]) -> dict[str, int]:
    """Each member's KV hash at one revision (the lowest current one, so every member has it)."""
    endpoints = ",".join(f"https://{lab.ip(h)}:2379" for h in members)
    ctl = f"{ETCDCTL} --endpoints={endpoints}"
    rc, out, err = lab.ssh(members[0], f"{ctl} endpoint status -w json", timeout=60)
    assert rc == 0, err
    revision = min(int(s["Status"]["header"]["revision"]) for s in json.loads(out))
    rc, out, err = lab.ssh(members[0], f"{ctl} endpoint hashkv --rev={revision} -w json", timeout=60)
    assert rc == 0, err
    by_ip = {lab.ip(h): h for h in members}
    return {by_ip[s["Endpoint"].split("//")[1].rsplit(":", 1)[0]]: int(s["HashKV"]["hash"])
            for s in json.loads(out)}


async def _nodes_ready(kubeconfig: Path) -> dict[str, bool]:
    async with ApiClient(load_kubeconfig(kubeconfig), timeout=5.0) as client:
        nodes, _ = await client.list_all(resources.NODES)
    return {n["metadata"]["name"]: any(c.get("type") == "Ready" and c.get("status") == "True"
                                       for c in (n.get("status") or {}).get("conditions") or [])
            for n in nodes}


def wait_nodes_ready(kubeconfig: Path, expected: tuple[str, ...], bound_s: float) -> float:
    """Seconds until every expected node is Ready (AssertionError past ``bound_s``)."""
    start = time.monotonic()
    last: object = None
    while time.monotonic() - start < bound_s:
        try:
            ready = asyncio.run(_nodes_ready(kubeconfig))
            last = ready
            if all(ready.get(n) for n in expected):
                return time.monotonic() - start
        except Exception as exc:  # noqa: BLE001 - polled while the API comes back
            last = exc
        time.sleep(1.0)
    raise AssertionError(f"nodes not all Ready within {bound_s:.0f}s: {last}")
