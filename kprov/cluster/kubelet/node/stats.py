"""The kubelet's resource usage: ``/stats/summary`` (the stats/v1alpha1 Summary, the part
metrics-server and ``kubectl top`` read) from the runtime's CRI ListContainerStats and the
node's /proc.

- containers: CRI's cumulative ``usage_core_nano_seconds`` and ``working_set_bytes``
  (containerd reads them from the container's cgroup, v1 or v2, so the kubelet need not
  know the cgroup layout); pods sum their containers;
- the node: from its root cgroup where that has figures (:mod:`.node_cgroup`: a lab host
  or any containerised node shows its own usage, as cAdvisor's root container does), else
  CPU from /proc/stat (all but idle and iowait) and memory as MemTotal - MemAvailable from
  /proc/meminfo;
- ``usageNanoCores`` is a rate: :class:`Sampler` keeps each cumulative counter's previous
  reading (a background sample every ``interval`` seconds, as cAdvisor's housekeeping) and
  reports the rate over the last window; the first window reports 0.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kprov.cluster.kubelet.node.node_cgroup import read_cgroup_figures

__all__ = [
    "ContainerSample",
    "Sampler",
    "StatsProvider",
    "cri_samples",
    "node_cpu_ns",
    "node_figures",
    "node_memory_bytes",
    "node_memory_detail",
    "summary",
]

_log = logging.getLogger(__name__)
_TICK_NS = 1_000_000_000 // os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ContainerSample:
    """One container's reading from CRI (labels carry the pod's namespace, name and uid)."""

    container_id: str
    name: str
    pod_namespace: str
    pod_name: str
    pod_uid: str
    cpu_ns: int  # cumulative core-nanoseconds
    memory_working_set: int
    memory_usage: int = 0  # bytes, page cache included
    memory_rss: int = 0


def node_cpu_ns(proc: Path = Path("/proc")) -> int:
    """Cumulative busy core-nanoseconds of the machine (/proc/stat's first line)."""
    fields = (proc / "stat").read_text().splitlines()[0].split()[1:]
    values = [int(v) for v in fields[:8]]
    busy = sum(values) - values[3] - values[4]  # idle, iowait
    return busy * _TICK_NS


def node_memory_bytes(proc: Path = Path("/proc")) -> tuple[int, int]:
    """(working set, capacity) in bytes from /proc/meminfo."""
    info = {}
    for line in (proc / "meminfo").read_text().splitlines():
        key, _, rest = line.partition(":")
        info[key] = int(rest.split()[0]) * 1024
    total = info.get("MemTotal", 0)
    return total - info.get("MemAvailable", total), total


def node_memory_detail(
    cgroup_root: Path = Path("/sys/fs/cgroup"), proc: Path = Path("/proc")
) -> tuple[int, int]:
    """(usage, rss) of the node's memory in bytes: its root cgroup's, else /proc/meminfo's
    (MemTotal - MemFree, AnonPages)."""
    figures = read_cgroup_figures(cgroup_root)
    if figures is not None:
        return figures.usage, figures.rss
    info = {}
    for line in (proc / "meminfo").read_text().splitlines():
        key, _, rest = line.partition(":")
        info[key] = int(rest.split()[0]) * 1024
    return info.get("MemTotal", 0) - info.get("MemFree", 0), info.get("AnonPages", 0)


def node_figures(
    cgroup_root: Path = Path("/sys/fs/cgroup"), proc: Path = Path("/proc")
) -> tuple[int, int, int]:
    """(cumulative CPU core-ns, memory working set, memory capacity) of the node: its root
    cgroup's where it has them, else the machine's from /proc."""
    proc_working_set, ram = node_memory_bytes(proc)
    figures = read_cgroup_figures(cgroup_root)
    if figures is None:
        return node_cpu_ns(proc), proc_working_set, ram
    capacity = min(ram, figures.limit) if figures.limit is not None else ram
    return figures.cpu_ns, figures.working_set, capacity


class Sampler:
    """Rates of cumulative counters: ``observe(key, value, t)`` every interval, ``rate(key)``."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[float, int]] = {}
        self._rates: dict[str, int] = {}

    def observe(self, key: str, value: int, at: float) -> None:
        previous = self._last.get(key)
        if previous is not None and at > previous[0] and value >= previous[1]:
            self._rates[key] = int((value - previous[1]) / (at - previous[0]))
        self._last[key] = (at, value)

    def rate(self, key: str) -> int:
        return self._rates.get(key, 0)

    def forget_except(self, keys: set[str]) -> None:
        for key in [k for k in self._last if k not in keys]:
            self._last.pop(key, None)
            self._rates.pop(key, None)


def _stamp(at: float) -> str:
    return datetime.datetime.fromtimestamp(at, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def summary(
    node_name: str,
    samples: Iterable[ContainerSample],
    sampler: Sampler,
    node_cpu: int,
    node_memory: tuple[int, int],
    at: float,
    node_usage: tuple[int, int] = (0, 0),
) -> dict[str, Any]:
    """The Summary document: node, then one entry per pod with its containers."""
    stamp = _stamp(at)
    pods: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for s in samples:
        pods.setdefault((s.pod_namespace, s.pod_name, s.pod_uid), []).append(
            {
                "name": s.name,
                "cpu": {"time": stamp, "usageNanoCores": sampler.rate(f"c/{s.container_id}"),
                        "usageCoreNanoSeconds": s.cpu_ns},
                "memory": {"time": stamp, "usageBytes": s.memory_usage,
                           "workingSetBytes": s.memory_working_set, "rssBytes": s.memory_rss},
            }
        )
    pod_stats = []
    for (namespace, name, uid), containers in sorted(pods.items()):
        pod_stats.append(
            {
                "podRef": {"name": name, "namespace": namespace, "uid": uid},
                "startTime": stamp,
                "containers": containers,
                "cpu": {"time": stamp,
                        "usageNanoCores": sum(c["cpu"]["usageNanoCores"] for c in containers),
                        "usageCoreNanoSeconds": sum(c["cpu"]["usageCoreNanoSeconds"] for c in containers)},
                "memory": {"time": stamp,
                           "usageBytes": sum(c["memory"]["usageBytes"] for c in containers),
                           "workingSetBytes": sum(c["memory"]["workingSetBytes"] for c in containers),
                           "rssBytes": sum(c["memory"]["rssBytes"] for c in containers)},
            }
        )
    working_set, capacity = node_memory
    return {
        "node": {
            "nodeName": node_name,
            "cpu": {"time": stamp, "usageNanoCores": sampler.rate("node"), "usageCoreNanoSeconds": node_cpu},
            # (every figure is there: the e2e framework's resource collector reads
            # usageBytes and rssBytes without a check)
            "memory": {"time": stamp, "availableBytes": max(0, capacity - working_set),
                       "usageBytes": node_usage[0], "workingSetBytes": working_set,
                       "rssBytes": node_usage[1]},
        },
        "pods": pod_stats,
    }


class StatsProvider:
    """Samples the runtime and the node every ``interval`` seconds; :meth:`summary` answers
    /stats/summary from the latest sample."""

    def __init__(self, node_name: str, list_stats: Callable[[], Any], interval: float = 10.0,
                 read_node: Callable[[], tuple[int, int, int]] = node_figures,
                 read_usage: Callable[[], tuple[int, int]] = node_memory_detail) -> None:
        self.node_name = node_name
        self.list_stats = list_stats  # async () -> list[ContainerSample]
        self.interval = interval
        self.read_node = read_node  # () -> (cpu core-ns, working set, capacity)
        self.read_usage = read_usage  # () -> (memory usage, rss)
        self.sampler = Sampler()
        self._samples: list[ContainerSample] = []
        self._node_cpu = 0
        self._at = time.time()

    async def sample(self) -> None:
        at = time.time()
        try:
            samples = await self.list_stats()
        except Exception as exc:  # the runtime restarting: keep the last sample
            _log.warning("container stats: %s", exc)
            return
        node_cpu = self.read_node()[0]
        self.sampler.observe("node", node_cpu, at)
        for s in samples:
            self.sampler.observe(f"c/{s.container_id}", s.cpu_ns, at)
        self.sampler.forget_except({"node", *(f"c/{s.container_id}" for s in samples)})
        self._samples, self._node_cpu, self._at = samples, node_cpu, at

    async def run(self) -> None:
        while True:
            await self.sample()
            await asyncio.sleep(self.interval)

    def summary(self) -> dict[str, Any]:
        _cpu, working_set, capacity = self.read_node()
        return summary(self.node_name, self._samples, self.sampler, self._node_cpu, (working_set, capacity),
                       self._at, self.read_usage())


def cri_samples(stats: Iterable[Any]) -> list[ContainerSample]:
    """CRI ContainerStats messages -> samples (containers without the kubelet's pod labels,
    which kprov did not start, are left out)."""
    out = []
    for s in stats:
        labels = s.attributes.labels
        if "io.kubernetes.pod.uid" not in labels:
            continue
        out.append(
            ContainerSample(
                container_id=s.attributes.id,
                name=s.attributes.metadata.name,
                pod_namespace=labels.get("io.kubernetes.pod.namespace", ""),
                pod_name=labels.get("io.kubernetes.pod.name", ""),
                pod_uid=labels["io.kubernetes.pod.uid"],
                cpu_ns=int(s.cpu.usage_core_nano_seconds.value),
                memory_working_set=int(s.memory.working_set_bytes.value),
                memory_usage=int(s.memory.usage_bytes.value),
                memory_rss=int(s.memory.rss_bytes.value),
            )
        )
    return out
