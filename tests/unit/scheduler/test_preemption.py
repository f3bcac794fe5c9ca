"""DefaultPreemption: victims are lower-priority pods only, as few and as unimportant as
possible, on the node whose most important victim matters least; the cache is unchanged."""

from __future__ import annotations

from kprov.cluster.scheduler.plugins import build_plugins
from kprov.cluster.scheduler.plugins.default_preemption import DefaultPreemption, eligible_to_preempt
from kprov.cluster.scheduler.podinfo import PodInfo
from tests.unit.scheduler.helpers import cache_with, node, pod, run


def _post(cache, p):  # type: ignore[no-untyped-def]
    return DefaultPreemption().post_filter(PodInfo.of(p), cache, build_plugins())


def test_evicts_the_least_important_lower_priority_pods() -> None:
    cache = cache_with(
        [node("a", cpu="2"), node("b", cpu="2")],
        [
            (pod("a-low", cpu="1", priority=10), "a"),
            (pod("a-mid", cpu="1", priority=50), "a"),
            (pod("b-mid1", cpu="1", priority=50), "b"),
            (pod("b-mid2", cpu="1", priority=50), "b"),
        ],
    )
    vip = pod("vip", cpu="1", priority=100)
    assert run(cache, vip).node is None
    before = {n.name: (n.req_cpu, set(n.pods)) for n in cache.node_infos}
    found = _post(cache, vip)
    assert found is not None and found.node == "a"
    assert [v.pod["metadata"]["name"] for v in found.victims] == ["a-low"]
    assert {n.name: (n.req_cpu, set(n.pods)) for n in cache.node_infos} == before


def test_no_victims_of_equal_priority_or_when_never() -> None:
    cache = cache_with([node("a", cpu="1")], [(pod("peer", cpu="1", priority=100), "a")])
    assert _post(cache, pod("vip", cpu="1", priority=100)) is None
    cache = cache_with([node("a", cpu="1")], [(pod("low", cpu="1", priority=1), "a")])
    assert _post(cache, pod("vip", cpu="1", priority=100, preemptionPolicy="Never")) is None
    assert _post(cache, pod("vip", cpu="1", priority=100)) is not None


def test_no_help_when_evicting_everything_is_not_enough() -> None:
    cache = cache_with([node("a", cpu="1")], [(pod("low", cpu="500m", priority=1), "a")])
    assert _post(cache, pod("huge", cpu="2", priority=100)) is None


def test_preempts_for_an_extended_resource_as_the_conformance_spec_does() -> None:
    foo = "scheduling.k8s.io/foo"
    a = node("a")
    a["status"]["allocatable"][foo] = "5"

    def asking(name: str, priority: int) -> dict:
        p = pod(name, priority=priority)
        p["spec"]["containers"][0]["resources"] = {"requests": {foo: "2"}, "limits": {foo: "2"}}
        return p

    cache = cache_with([a], [(asking("low", 1), "a"), (asking("medium", 50), "a")])
    high = asking("high", 100)
    assert run(cache, high).node is None
    found = _post(cache, high)
    assert found is not None and found.node == "a"
    assert [v.pod["metadata"]["name"] for v in found.victims] == ["low"]


def _spread(selector_labels: dict) -> dict:
    return {
        "maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule",
        "labelSelector": {"matchLabels": selector_labels},
    }


def test_a_spread_constraint_sees_its_would_be_victims_gone() -> None:
    # b is full with a pod that outranks the preemptor; on a, two low-priority web pods put
    # a's domain 2 above b's: only evicting both lets another web pod keep the skew within 1
    cache = cache_with(
        [node("a", cpu="4"), node("b", cpu="1")],
        [
            (pod("web-1", cpu="100m", labels={"app": "web"}, priority=10), "a"),
            (pod("web-2", cpu="100m", labels={"app": "web"}, priority=10), "a"),
            (pod("other", cpu="100m", priority=10), "a"),
            (pod("vip-db", cpu="1", priority=1000), "b"),
        ],
    )
    web = pod("web-3", cpu="100m", labels={"app": "web"}, priority=100,
              topologySpreadConstraints=[_spread({"app": "web"})])
    assert run(cache, web).node is None
    before = {n.name: (n.req_cpu, set(n.pods)) for n in cache.node_infos}
    found = _post(cache, web)
    assert found is not None and found.node == "a"
    assert sorted(v.pod["metadata"]["name"] for v in found.victims) == ["web-1", "web-2"]
    assert {n.name: (n.req_cpu, set(n.pods)) for n in cache.node_infos} == before


def test_anti_affinity_of_the_preemptor_evicts_the_pods_it_forbids() -> None:
    cache = cache_with(
        [node("a", cpu="4"), node("b", cpu="1")],
        [
            (pod("db-1", cpu="100m", labels={"app": "db"}, priority=10), "a"),
            (pod("cache-1", cpu="100m", labels={"app": "cache"}, priority=10), "a"),
            (pod("vip", cpu="1", priority=1000), "b"),
        ],
    )
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": {"app": "db"}}},
    ]}}
    newcomer = pod("db-2", cpu="100m", labels={"app": "db"}, priority=100, affinity=anti)
    assert run(cache, newcomer).node is None
    found = _post(cache, newcomer)
    assert found is not None and found.node == "a"
    assert [v.pod["metadata"]["name"] for v in found.victims] == ["db-1"]


def test_a_victim_whose_anti_affinity_forbids_the_preemptor_is_evicted() -> None:
    loner = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": {"app": "web"}}},
    ]}}
    cache = cache_with(
        [node("a", cpu="4"), node("b", cpu="1")],
        [
            (pod("loner", cpu="100m", priority=10, affinity=loner), "a"),
            (pod("bystander", cpu="100m", priority=10), "a"),
            (pod("vip", cpu="1", priority=1000), "b"),
        ],
    )
    web = pod("web", cpu="100m", labels={"app": "web"}, priority=100)
    assert run(cache, web).node is None
    found = _post(cache, web)
    assert found is not None and found.node == "a"
    assert [v.pod["metadata"]["name"] for v in found.victims] == ["loner"]


def test_the_older_of_equal_victims_is_kept() -> None:
    def aged(name: str, created: str) -> dict:
        p = pod(name, cpu="1", priority=10)
        p["metadata"]["creationTimestamp"] = created
        return p

    cache = cache_with([node("a", cpu="2")], [
        (aged("old", "2026-01-01T00:00:00Z"), "a"), (aged("young", "2026-01-02T00:00:00Z"), "a"),
    ])
    found = _post(cache, pod("vip", cpu="1", priority=100))
    assert found is not None and [v.pod["metadata"]["name"] for v in found.victims] == ["young"]


def test_no_second_round_while_victims_on_the_nominated_node_terminate() -> None:
    low = pod("low", cpu="1", priority=10)
    cache = cache_with([node("a", cpu="1")], [(low, "a")])
    vip = PodInfo.of(pod("vip", cpu="1", priority=100))
    terminating = {**low, "metadata": {**low["metadata"], "deletionTimestamp": "2026-01-01T00:00:00Z"}}
    assert not eligible_to_preempt(vip, "a", cache, {"default/low": terminating}.get)
    assert eligible_to_preempt(vip, "a", cache, {"default/low": low}.get)
    assert eligible_to_preempt(vip, "", cache, {"default/low": terminating}.get)  # not nominated
    peer = PodInfo.of(pod("peer", cpu="1", priority=5))  # the terminating pod outranks it
    assert eligible_to_preempt(peer, "a", cache, {"default/low": terminating}.get)
