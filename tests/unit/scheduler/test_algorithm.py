"""The fast paths of a scheduling cycle give exactly what the plain node-by-node cycle gives:
batch filtering (reasons, stop point), batch scoring, the skipped filters (no taints, no
cordoned node, room on every node) and the cache's floor of free resources."""

from __future__ import annotations

import random
from collections import Counter

from kprov.cluster.scheduler.algorithm import ScheduleResult, _find_feasible, nodes_to_find
from kprov.cluster.scheduler.cache import NodeInfo, SchedulerCache
from kprov.cluster.scheduler.framework import CycleState, Plugin
from kprov.cluster.scheduler.plugins import build_plugins
from kprov.cluster.scheduler.plugins.balanced_allocation import BalancedAllocation
from kprov.cluster.scheduler.plugins.node_resources_fit import NodeResourcesFit
from kprov.cluster.scheduler.podinfo import PodInfo
from tests.unit.scheduler.helpers import cache_with, node, pod, run


def reference_filter(
    info: PodInfo, cache: SchedulerCache, plugins: list[Plugin], start: int, wanted: int
) -> tuple[list[str], int, Counter[str], int]:
    """The cycle before batching: one node at a time, every pre-filtered plugin, stop at ``wanted``."""
    state = CycleState()
    filters = [p for p in plugins if p.has_filter and p.pre_filter(state, info, cache)]
    order, total = cache.node_order, len(cache.node_order)
    feasible: list[str] = []
    reasons: Counter[str] = Counter()
    unresolvable = visited = 0
    for visited in range(1, total + 1):  # noqa: B007
        n = cache.nodes[order[(start + visited - 1) % total]]
        for plugin in filters:
            found = plugin.filter(state, info, n)
            if found:
                reasons.update(found)
                unresolvable += plugin.unresolvable
                break
        else:
            feasible.append(n.name)
            if len(feasible) >= wanted:
                break
    return feasible, visited, reasons, unresolvable


def random_cluster(rng: random.Random, size: int) -> SchedulerCache:
    nodes = []
    for i in range(size):
        taints = [{"key": "k", "value": "v", "effect": "NoSchedule"}] if rng.random() < 0.2 else []
        nodes.append(node(f"n{i:03d}", cpu=str(rng.choice([1, 2, 4])), memory="4Gi",
                          pods=rng.choice([3, 110]), labels={"zone": f"z{i % 3}"}, taints=taints,
                          unschedulable=rng.random() < 0.1))
    cache = cache_with(nodes)
    for j in range(size * 2):
        where = f"n{rng.randrange(size):03d}"
        cache.add_pod(PodInfo.of(pod(f"old{j}", cpu="500m", labels={"app": f"a{j % 4}"})), where)
    return cache


def test_batch_filtering_matches_node_by_node() -> None:
    rng = random.Random(3)
    plugins = build_plugins()
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "a1"}}, "topologyKey": "kubernetes.io/hostname"}]}}
    for size in (7, 150, 400):
        cache = random_cluster(rng, size)
        for k in range(30):
            spec = {"affinity": anti} if k % 3 == 0 else {}
            cpu = rng.choice(["100m", "900m", "3"])
            info = PodInfo.of(pod(f"p{k}", cpu=cpu, labels={"app": "a1"}, **spec))
            start, wanted = rng.randrange(size), rng.choice([1, 5, nodes_to_find(size), size])
            result = ScheduleResult(node=None, total_nodes=size)
            state = CycleState()
            filters = [p for p in plugins if p.pre_filter(state, info, cache) and p.has_filter]
            got, visited = _find_feasible(info, cache, filters, state, start, wanted, result)
            want = reference_filter(info, cache, plugins, start, wanted)
            assert ([n.name for n in got], visited, result.reasons, result.unresolvable_nodes) == want


def test_batch_scores_equal_single_scores() -> None:
    cache = random_cluster(random.Random(5), 60)
    info = PodInfo.of(pod("p", cpu="250m", memory="300Mi"))
    nodes = list(cache.nodes.values())
    for plugin in (NodeResourcesFit(), BalancedAllocation()):
        state = CycleState()
        assert plugin.score_batch(state, info, nodes) == [plugin.score(state, info, n) for n in nodes]
        before = plugin.score_batch(state, info, nodes)  # now from the per-node memo
        cache.add_pod(PodInfo.of(pod(f"more-{plugin.name}", cpu="700m", memory="1Gi")), nodes[0].name)
        cache.remove_pod(f"default/old{len(nodes)}")  # one of the pods placed by random_cluster
        after = plugin.score_batch(state, info, nodes)
        assert after == [plugin.score(state, info, n) for n in nodes] and after != before


def test_filters_skip_only_when_nothing_to_reject() -> None:
    plain = cache_with([node("a"), node("b")])
    plugins = {p.name: p for p in build_plugins()}
    info = PodInfo.of(pod("p", cpu="1"))
    assert not plugins["TaintToleration"].pre_filter(CycleState(), info, plain)
    assert not plugins["NodeUnschedulable"].pre_filter(CycleState(), info, plain)
    assert not plugins["NodeResourcesFit"].pre_filter(CycleState(), info, plain)
    plain.set_node(node("b", taints=[{"key": "k", "effect": "NoSchedule"}], unschedulable=True))
    assert plugins["TaintToleration"].pre_filter(CycleState(), info, plain)
    assert plugins["NodeUnschedulable"].pre_filter(CycleState(), info, plain)
    plain.set_node(node("b"))
    assert plain.tainted_nodes == plain.unschedulable_nodes == 0
    assert plugins["NodeResourcesFit"].pre_filter(CycleState(), PodInfo.of(pod("big", cpu="5")), plain)


def brute_fits_everywhere(cache: SchedulerCache, cpu: int, memory: int) -> bool:
    def room(n: NodeInfo) -> bool:
        return (len(n.pods) < n.alloc_pods and (not cpu or n.req_cpu + cpu <= n.alloc_cpu)
                and (not memory or n.req_memory + memory <= n.alloc_memory))
    return all(room(n) for n in cache.nodes.values())


def test_free_floor_follows_adds_removals_and_node_changes() -> None:
    rng = random.Random(11)
    cache = cache_with([node(f"n{i}", cpu="2", memory="2Gi", pods=4) for i in range(6)])
    placed: list[str] = []
    for step in range(400):
        roll = rng.random()
        if roll < 0.5 or not placed:
            key = f"p{step}"
            cache.add_pod(PodInfo.of(pod(key, cpu="300m", memory="200Mi")), f"n{rng.randrange(6)}")
            placed.append(f"default/{key}")
        elif roll < 0.9:
            cache.remove_pod(placed.pop(rng.randrange(len(placed))))
        else:
            cpu = rng.choice(["1", "2", "3"])
            cache.set_node(node(f"n{rng.randrange(6)}", cpu=cpu, memory="2Gi", pods=4))
        for cpu, memory in ((0, 0), (300, 0), (300, 200 << 20), (1500, 1 << 30)):
            assert cache.fits_everywhere(cpu, memory) == brute_fits_everywhere(cache, cpu, memory), step


def test_full_nodes_still_filtered_by_resources() -> None:
    cache = cache_with([node("a", cpu="1"), node("b", cpu="4")])
    cache.add_pod(PodInfo.of(pod("x", cpu="900m")), "a")
    assert {run(cache, pod("p", cpu="500m")).node for _ in range(20)} == {"b"}
    assert run(cache, pod("p", cpu="500m")).reasons == Counter({"Insufficient cpu": 1})
    assert run(cache, pod("p", cpu="50m")).reasons == Counter()
    assert run(cache, pod("p", cpu="3500m")).reasons == Counter({"Insufficient cpu": 1})
