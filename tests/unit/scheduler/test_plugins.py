"""Each plugin is shown to change the outcome: with it the pod lands (or fails) one way,
with the plugin disabled it would land on a node it must not use."""

from __future__ import annotations

from kprov.cluster.scheduler.algorithm import failure_message
from kprov.cluster.scheduler.podinfo import PodInfo
from tests.unit.scheduler.helpers import cache_with, node, pod, run


def test_node_unschedulable() -> None:
    cache = cache_with([node("a", unschedulable=True)])
    assert run(cache, pod("p")).node is None
    assert run(cache, pod("p"), without="NodeUnschedulable").node == "a"
    tolerant = pod("p", tolerations=[{"key": "node.kubernetes.io/unschedulable", "operator": "Exists"}])
    assert run(cache, tolerant).node == "a"


def test_node_name() -> None:
    cache = cache_with([node("a"), node("b")])
    wanting_b = pod("p", nodeName="b")
    assert {run(cache, wanting_b).node for _ in range(20)} == {"b"}
    assert {run(cache, wanting_b, without="NodeName").node for _ in range(40)} == {"a", "b"}


def test_node_selector_and_required_affinity() -> None:
    cache = cache_with([node("a", labels={"disk": "ssd", "zone": "z1"}), node("b", labels={"zone": "z2"})])
    by_selector = pod("p", nodeSelector={"disk": "ssd"})
    assert {run(cache, by_selector).node for _ in range(20)} == {"a"}
    not_z1 = [{"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["z1"]}]}]
    by_affinity = pod(
        "q",
        affinity={
            "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": not_z1}}
        },
    )
    assert {run(cache, by_affinity).node for _ in range(20)} == {"b"}
    assert {run(cache, by_affinity, without="NodeAffinity").node for _ in range(40)} == {"a", "b"}


def test_preferred_node_affinity_scores() -> None:
    cache = cache_with([node("a"), node("b", labels={"fast": "yes"})])
    p = pod(
        "p",
        affinity={
            "nodeAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 50,
                        "preference": {"matchExpressions": [{"key": "fast", "operator": "Exists"}]},
                    }
                ]
            }
        },
    )
    assert {run(cache, p).node for _ in range(20)} == {"b"}


def test_taint_toleration_filter_and_message() -> None:
    taint = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}
    cache = cache_with([node("a", taints=[taint]), node("b", cpu="1")])
    result = run(cache, pod("p", cpu="2"))
    assert result.node is None
    assert failure_message(result) == (
        "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint {dedicated: gpu}. "
        "preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, "
        "1 Preemption is not helpful for scheduling."
    )
    assert run(cache, pod("p", cpu="2"), without="TaintToleration").node == "a"
    tolerant = pod("p", cpu="2", tolerations=[{"key": "dedicated", "operator": "Equal", "value": "gpu"}])
    assert run(cache, tolerant).node == "a"


def test_prefer_no_schedule_taint_lowers_score() -> None:
    soft = {"key": "spot", "value": "", "effect": "PreferNoSchedule"}
    cache = cache_with([node("a", taints=[soft]), node("b")])
    assert {run(cache, pod("p")).node for _ in range(20)} == {"b"}


def test_node_resources_fit_counts_assigned_pods() -> None:
    cache = cache_with(
        [node("a", cpu="2"), node("b", cpu="2", pods=1)], placed=[(pod("x", cpu="1500m"), "a")]
    )
    result = run(cache, pod("p", cpu="1", memory="1Gi"))
    assert result.node == "b"
    cache.add_pod(PodInfo.of(pod("y")), "b")
    result = run(cache, pod("p", cpu="1"))
    assert result.node is None
    assert dict(result.reasons) == {"Insufficient cpu": 1, "Too many pods": 1}
    assert run(cache, pod("p", cpu="1"), without="NodeResourcesFit").node in ("a", "b")


def _with_resources(n: dict, **extra: str) -> dict:
    n["status"]["allocatable"].update(extra)
    return n


def _asking(name: str, **requests: str) -> dict:
    p = pod(name)
    p["spec"]["containers"][0]["resources"]["requests"].update(requests)
    return p


def test_node_resources_fit_counts_extended_resources_and_ephemeral_storage() -> None:
    gpu = "example.com/gpu"
    cache = cache_with([node("plain"), _with_resources(node("gpus"), **{gpu: "2"})],
                       placed=[(_asking("x", **{gpu: "1"}), "gpus")])
    assert {run(cache, _asking("p", **{gpu: "1"})).node for _ in range(10)} == {"gpus"}
    cache.add_pod(PodInfo.of(_asking("y", **{gpu: "1"})), "gpus")
    result = run(cache, _asking("p", **{gpu: "1"}))
    assert result.node is None
    assert dict(result.reasons) == {f"Insufficient {gpu}": 2}
    assert run(cache, _asking("p", **{gpu: "1"}), without="NodeResourcesFit").node is not None
    cache.remove_pod("default/y")
    assert run(cache, _asking("p", **{gpu: "1"})).node == "gpus"
    disk = cache_with([_with_resources(node("a"), **{"ephemeral-storage": "1Gi"})])
    assert run(disk, _asking("p", **{"ephemeral-storage": "512Mi"})).node == "a"
    assert dict(run(disk, _asking("p", **{"ephemeral-storage": "2Gi"})).reasons) == {
        "Insufficient ephemeral-storage": 1}


def test_least_allocated_and_balanced_scoring() -> None:
    cache = cache_with([node("a"), node("b")], placed=[(pod("x", cpu="3", memory="1Gi"), "a")])
    assert {run(cache, pod("p", cpu="100m", memory="100Mi")).node for _ in range(20)} == {"b"}


def test_node_ports() -> None:
    cache = cache_with(
        [node("a"), node("b")], placed=[(pod("x", ports=[{"containerPort": 80, "hostPort": 8080}]), "a")]
    )
    p = pod("p", ports=[{"containerPort": 80, "hostPort": 8080, "protocol": "TCP"}])
    assert {run(cache, p).node for _ in range(20)} == {"b"}
    udp = pod("u", ports=[{"containerPort": 80, "hostPort": 8080, "protocol": "UDP"}])
    assert {run(cache, udp, without="NodeResourcesFit").node for _ in range(40)} == {"a", "b"}
    cache.add_pod(PodInfo.of(pod("y", ports=[{"containerPort": 1, "hostPort": 8080}])), "b")
    result = run(cache, p)
    assert result.node is None
    assert dict(result.reasons) == {"node(s) didn't have free ports for the requested pod ports": 2}


def _zones() -> list[dict]:
    return [
        node("a1", labels={"zone": "z1"}),
        node("a2", labels={"zone": "z1"}),
        node("b1", labels={"zone": "z2"}),
    ]


def test_required_pod_affinity_follows_the_topology_key() -> None:
    cache = cache_with(_zones(), placed=[(pod("db", labels={"app": "db"}), "b1")])
    p = pod(
        "web",
        affinity={
            "podAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "zone"}
                ]
            }
        },
    )
    assert {run(cache, p).node for _ in range(20)} == {"b1"}
    assert {run(cache, p, without="InterPodAffinity").node for _ in range(60)} == {"a1", "a2", "b1"}


def test_required_anti_affinity_and_its_symmetry() -> None:
    cache = cache_with(_zones(), placed=[(pod("w1", labels={"app": "web"}), "a1")])
    anti = {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "zone"}
            ]
        }
    }
    p = pod("w2", labels={"app": "web"}, affinity=anti)
    assert {run(cache, p).node for _ in range(20)} == {"b1"}
    # symmetry: an existing pod with anti-affinity keeps matching newcomers out of its zone
    cache2 = cache_with(_zones(), placed=[(pod("w1", labels={"app": "web"}, affinity=anti), "b1")])
    result = run(cache2, pod("w2", labels={"app": "web"}, nodeSelector={"zone": "z2"}))
    assert result.node is None
    assert "1 node(s) didn't satisfy existing pods anti-affinity rules" in failure_message(result)
    assert (
        run(
            cache2, pod("w2", labels={"app": "web"}, nodeSelector={"zone": "z2"}), without="InterPodAffinity"
        ).node
        == "b1"
    )


def test_affinity_to_itself_lets_the_first_pod_in() -> None:
    cache = cache_with(_zones())
    terms = [{"labelSelector": {"matchLabels": {"app": "x"}}, "topologyKey": "zone"}]
    p = pod(
        "first",
        labels={"app": "x"},
        affinity={"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": terms}},
    )
    assert run(cache, p).node is not None
    other = pod("other", affinity=p["spec"]["affinity"])
    assert run(cache, other).node is None


def test_preferred_pod_affinity_scores() -> None:
    cache = cache_with(_zones(), placed=[(pod("cache", labels={"app": "cache"}), "a2")])
    p = pod(
        "web",
        affinity={
            "podAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "podAffinityTerm": {
                            "labelSelector": {"matchLabels": {"app": "cache"}},
                            "topologyKey": "kubernetes.io/hostname",
                        },
                    }
                ]
            }
        },
    )
    assert {run(cache, p).node for _ in range(20)} == {"a2"}


def test_pod_topology_spread() -> None:
    placed = [(pod(f"s{i}", labels={"app": "s"}), n) for i, n in enumerate(["a1", "a2"])]
    cache = cache_with(_zones(), placed=placed)
    spread = [
        {
            "maxSkew": 1,
            "topologyKey": "zone",
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"app": "s"}},
        }
    ]
    p = pod("s3", labels={"app": "s"}, topologySpreadConstraints=spread)
    assert {run(cache, p).node for _ in range(20)} == {"b1"}
    assert {run(cache, p, without="PodTopologySpread").node for _ in range(60)} >= {"a1", "b1"}
    cache_nolabel = cache_with([node("x")])
    result = run(cache_nolabel, p)
    missing = "node(s) didn't match pod topology spread constraints (missing required label)"
    assert missing in failure_message(result)


def test_spread_domains_are_remembered_until_a_node_comes_or_its_labels_change() -> None:
    spread = [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule",
               "labelSelector": {"matchLabels": {"app": "s"}}}]
    placed = [(pod(f"s{i}", labels={"app": "s"}), n) for i, n in enumerate(["a1", "b1"])]
    cache = cache_with(_zones(), placed=placed)
    p = pod("s3", labels={"app": "s"}, topologySpreadConstraints=spread)
    assert run(cache, p).node in {"a1", "a2", "b1"}
    assert list(cache.domain_memo.values()) == [frozenset({"z1", "z2"})]
    status_only = node("b1", labels={"zone": "z2"})
    status_only["status"]["allocatable"]["cpu"] = "8"
    cache.set_node(status_only)
    assert cache.domain_memo, "a change that leaves the labels keeps the domains"
    cache.set_node(node("c1", labels={"zone": "z3"}))  # a new, empty zone: the pod must go there
    assert {run(cache, p).node for _ in range(10)} == {"c1"}
    cache.set_node(node("c1", labels={"zone": "z1"}))  # relabelled: zone z3 is gone again
    run(cache, p)
    assert list(cache.domain_memo.values()) == [frozenset({"z1", "z2"})]
    cache.remove_node("c1")
    assert not cache.domain_memo


def test_replicas_of_a_workload_spread_by_default() -> None:
    owner = {"ownerReferences": [{"kind": "ReplicaSet", "name": "web-1", "uid": "u1", "controller": True}]}

    def replica(name: str) -> dict:
        p = pod(name, labels={"app": "web"})
        p["metadata"].update(owner)
        return p

    busy = pod("other", cpu="2", memory="4Gi", labels={"app": "other"})
    placed = [(replica("web-a"), "a"), (replica("web-b"), "a"), (busy, "b")]
    cache = cache_with([node("a"), node("b")], placed=placed)
    # resource scores favour the emptier "a"; the system-default spreading outweighs them
    assert {run(cache, replica("web-c")).node for _ in range(20)} == {"b"}
    unowned = pod("web-c", labels={"app": "web"})
    assert {run(cache, unowned).node for _ in range(20)} == {"a"}
    explicit = replica("web-c")
    explicit["spec"]["topologySpreadConstraints"] = [{
        "maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway",
        "labelSelector": {"matchLabels": {"app": "none"}}}]
    assert {run(cache, explicit).node for _ in range(20)} == {"a"}  # its own constraints replace the defaults
