"""Builders for nodes, pods and a filled SchedulerCache (unit tests only)."""

from __future__ import annotations

from typing import Any

from kprov.cluster.scheduler.algorithm import ScheduleResult, schedule
from kprov.cluster.scheduler.cache import SchedulerCache
from kprov.cluster.scheduler.plugins import REGISTRY, build_plugins
from kprov.cluster.scheduler.podinfo import PodInfo


def node(
    name: str,
    cpu: str = "4",
    memory: str = "8Gi",
    pods: int = 110,
    labels: dict | None = None,
    taints: list | None = None,
    unschedulable: bool = False,
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": {"taints": taints or [], "unschedulable": unschedulable},
        "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": str(pods)}},
    }


def pod(name: str, cpu: str = "", memory: str = "", labels: dict | None = None, **spec: Any) -> dict:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    container: dict[str, Any] = {"name": "c", "image": "i", "resources": {"requests": requests}}
    if "ports" in spec:
        container["ports"] = spec.pop("ports")
    return {
        "metadata": {"name": name, "namespace": "default", "labels": labels or {}},
        "spec": {"containers": [container], **spec},
    }


def cache_with(nodes: list[dict], placed: list[tuple[dict, str]] = ()) -> SchedulerCache:  # type: ignore[assignment]
    cache = SchedulerCache()
    for n in nodes:
        cache.set_node(n)
    for p, where in placed:
        cache.add_pod(PodInfo.of(p), where)
    return cache


def run(cache: SchedulerCache, p: dict, without: str | None = None) -> ScheduleResult:
    names = tuple(n for n in REGISTRY if n != without)
    return schedule(PodInfo.of(p), cache, build_plugins(names))
