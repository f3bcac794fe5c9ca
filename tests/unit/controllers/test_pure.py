"""Pure logic of the controllers: rollout arithmetic, template identity, endpoints
subsets, eviction delays, CIDR allocation, pod ranking, controller selection."""

from __future__ import annotations

import pytest

from kprov.cluster.client.component import parse_duration
from kprov.cluster.controllers.housekeeping.nodelifecycle import UNREACHABLE, eviction_delay
from kprov.cluster.controllers.manager import select_controllers
from kprov.cluster.controllers.network.endpoints import build_subsets
from kprov.cluster.controllers.network.endpointslice import desired_slices
from kprov.cluster.controllers.network.nodeipam import CidrAllocator
from kprov.cluster.controllers.workloads.pods import deletion_rank
from kprov.cluster.controllers.workloads.rollout import (
    HASH_LABEL,
    resolve_surge_unavailable,
    same_template,
    template_hash,
)
from kprov.cluster.controllers.workloads.statefulset import ordinal_of


def test_surge_and_unavailable_rounding() -> None:
    assert resolve_surge_unavailable({}, 10) == (3, 2)  # 25% up, 25% down
    assert resolve_surge_unavailable({"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}, 4) == (0, 1)
    assert resolve_surge_unavailable({"rollingUpdate": {"maxSurge": "50%", "maxUnavailable": 1}}, 3) == (2, 1)


def test_template_identity_ignores_hash_label_and_go_zero_values() -> None:
    template = {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "i:1"}]}}
    from_rs = {
        "metadata": {"labels": {"app": "x", HASH_LABEL: "abc"}, "creationTimestamp": None},
        "spec": {"containers": [{"name": "c", "image": "i:1", "resources": {}}]},
    }
    assert same_template(template, from_rs)
    assert template_hash(template) == template_hash(from_rs)
    changed = {**template, "spec": {"containers": [{"name": "c", "image": "i:2"}]}}
    assert not same_template(template, changed)
    assert template_hash(template) != template_hash(changed)
    assert template_hash(template, 1) != template_hash(template)
    assert set(template_hash(template)) <= set("bcdfghjklmnpqrstvwxz2456789")


def _pod(name: str, ip: str, ready: bool, ports: list | None = None, deleting: bool = False) -> dict:
    meta = {"name": name, "namespace": "d", "uid": name, "labels": {"app": "a"}}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {
        "metadata": meta,
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "ports": ports or []}]},
        "status": {
            "podIP": ip,
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def test_endpoints_group_by_resolved_ports_and_split_readiness() -> None:
    svc = {
        "metadata": {"name": "s", "namespace": "d"},
        "spec": {"selector": {"app": "a"}, "ports": [{"name": "web", "port": 80, "targetPort": "http"}]},
    }
    pods = [
        _pod("a", "10.0.0.1", True, [{"name": "http", "containerPort": 8080}]),
        _pod("b", "10.0.0.2", False, [{"name": "http", "containerPort": 8080}]),
        _pod("c", "10.0.0.3", True, [{"name": "http", "containerPort": 9090}]),
        _pod("d", "", True, [{"name": "http", "containerPort": 8080}]),  # no IP yet: left out
    ]
    subsets = build_subsets(svc, pods)
    by_port = {s["ports"][0]["port"]: s for s in subsets}
    assert set(by_port) == {8080, 9090}
    assert [a["ip"] for a in by_port[8080]["addresses"]] == ["10.0.0.1"]
    assert [a["ip"] for a in by_port[8080]["notReadyAddresses"]] == ["10.0.0.2"]
    assert by_port[9090]["ports"] == [{"name": "web", "port": 9090, "protocol": "TCP"}]
    slices = desired_slices(
        svc, [_pod("t", "10.0.0.9", True, [{"name": "http", "containerPort": 1}], deleting=True)]
    )
    (endpoint,) = next(iter(slices.values()))
    # a terminating pod still Ready is serving (kube-proxy falls back to it when nothing is ready)
    assert endpoint["conditions"] == {"ready": False, "serving": True, "terminating": True}
    slices = desired_slices(
        svc, [_pod("u", "10.0.0.8", False, [{"name": "http", "containerPort": 1}], deleting=True)]
    )
    (endpoint,) = next(iter(slices.values()))
    assert endpoint["conditions"] == {"ready": False, "serving": False, "terminating": True}
    published = {**svc, "spec": {**svc["spec"], "publishNotReadyAddresses": True}}
    (endpoint,) = next(iter(desired_slices(published, [pods[1]]).values()))
    assert endpoint["conditions"] == {"ready": True, "serving": False, "terminating": False}


def test_eviction_delay_follows_tolerations() -> None:
    taints = [{"key": UNREACHABLE, "effect": "NoExecute"}]
    assert eviction_delay({"spec": {}}, taints, 300) == 300
    tolerating = {
        "spec": {
            "tolerations": [
                {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5}
            ]
        }
    }
    assert eviction_delay(tolerating, taints, 300) == 5
    forever = {"spec": {"tolerations": [{"operator": "Exists"}]}}
    assert eviction_delay(forever, taints, 300) is None
    assert eviction_delay({"spec": {}}, [{"key": "custom", "effect": "NoExecute"}], 300) == 0
    assert eviction_delay({"spec": {}}, [{"key": "custom", "effect": "NoSchedule"}], 300) is None


def test_cidr_allocator_skips_used_and_reuses_released() -> None:
    alloc = CidrAllocator("10.244.0.0/16", 24)
    alloc.occupy("10.244.0.0/24")
    assert alloc.allocate() == "10.244.1.0/24"
    assert alloc.allocate() == "10.244.2.0/24"
    alloc.release("10.244.1.0/24")
    assert alloc.allocate() == "10.244.1.0/24"
    small = CidrAllocator("10.0.0.0/30", 31)
    small.allocate()
    small.allocate()
    with pytest.raises(RuntimeError, match="no free"):
        small.allocate()
    with pytest.raises(ValueError, match="node-cidr-mask-size"):
        CidrAllocator("10.0.0.0/24", 16)


def test_cidr_allocator_hands_out_the_lowest_free_range_after_releases_and_occupied_blocks() -> None:
    alloc = CidrAllocator("10.64.0.0/10", 24)
    handed = [alloc.allocate() for _ in range(5000)]
    assert handed[0] == "10.64.0.0/24" and handed[-1] == "10.83.135.0/24"
    assert len(set(handed)) == 5000
    alloc.release("10.64.7.0/24")
    alloc.release("10.64.3.0/24")
    assert [alloc.allocate(), alloc.allocate(), alloc.allocate()] == [
        "10.64.3.0/24", "10.64.7.0/24", "10.83.136.0/24"]
    alloc.occupy("10.83.137.0/24")
    alloc.occupy("10.83.138.0/23")  # a wider block (an older allocation) covers two ranges
    alloc.occupy("192.168.0.0/24")  # outside the cluster CIDR: nothing of ours
    assert alloc.allocate() == "10.83.140.0/24"
    full = CidrAllocator("10.0.0.0/23", 24)
    full.occupy("10.0.0.0/23")
    with pytest.raises(RuntimeError, match="no free /24"):
        full.allocate()
    full.release("10.0.1.0/24")
    assert full.allocate() == "10.0.1.0/24"


def test_deletion_rank_prefers_unassigned_then_not_ready_then_newest() -> None:
    unassigned = {"metadata": {"creationTimestamp": "2026-01-01T00:00:00Z"}, "spec": {}, "status": {}}
    not_ready = _pod("nr", "1", False)
    ready_old = {**_pod("ro", "2", True), "metadata": {"creationTimestamp": "2026-01-01T00:00:00Z"}}
    ready_new = {**_pod("rn", "3", True), "metadata": {"creationTimestamp": "2026-02-01T00:00:00Z"}}
    ordered = sorted([ready_old, ready_new, not_ready, unassigned], key=deletion_rank)
    assert ordered == [unassigned, not_ready, ready_new, ready_old]


def test_controller_selection_and_flags() -> None:
    everything = select_controllers("*")
    assert "replicaset" in everything and "garbagecollector" in everything
    assert "garbagecollector" not in select_controllers("*,-garbagecollector")
    assert select_controllers("endpoints,replicaset") == ["replicaset", "endpoints"]
    with pytest.raises(ValueError, match="unknown controller"):
        select_controllers("nope")
    assert ordinal_of("web", "web-12") == 12 and ordinal_of("web", "web-x") is None
    assert parse_duration("40s") == 40 and parse_duration("1m30s") == 90 and parse_duration("500ms") == 0.5


def test_slice_endpoints_carry_the_hostname_only_under_their_subdomain_service() -> None:
    svc = {"metadata": {"name": "s", "namespace": "d"},
           "spec": {"selector": {"app": "a"}, "ports": [{"port": 80}]}}
    named = _pod("web-0", "10.0.0.1", True)
    named["spec"].update(hostname="web-0", subdomain="s")
    other = _pod("web-1", "10.0.0.2", True)
    other["spec"].update(hostname="web-1", subdomain="elsewhere")
    (endpoints,) = desired_slices(svc, [named, other]).values()
    assert [e.get("hostname") for e in endpoints] == ["web-0", None]


def test_terminal_pods_are_left_out_of_endpoints_and_slices() -> None:
    """An evicted (Failed) or finished (Succeeded) pod keeps its IP in its status but serves
    nothing: neither Endpoints nor EndpointSlices list it, whatever its Ready condition said
    last (the behaviour upstream's "Services should be rejected for evicted pods" checks, left
    out of CI's conformance subset: docs/decisions/0062)."""
    svc = {"metadata": {"name": "s", "namespace": "d"},
           "spec": {"selector": {"app": "a"}, "ports": [{"port": 80}]}}
    live = _pod("live", "10.0.0.1", True)
    evicted = _pod("evicted", "10.0.0.2", True)
    evicted["status"].update(phase="Failed", reason="Evicted")
    finished = _pod("finished", "10.0.0.3", False)
    finished["status"]["phase"] = "Succeeded"
    subsets = build_subsets(svc, [live, evicted, finished])
    assert [[a["ip"] for a in s.get("addresses", []) + s.get("notReadyAddresses", [])] for s in subsets] \
        == [["10.0.0.1"]]
    (endpoints,) = desired_slices(svc, [live, evicted, finished]).values()
    assert [e["addresses"] for e in endpoints] == [["10.0.0.1"]]
    assert build_subsets(svc, [evicted, finished]) == [] and desired_slices(svc, [evicted, finished]) == {}
