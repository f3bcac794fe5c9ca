"""The propagation policy of a delete: given, from orphanDependents, or the kind's default."""

from __future__ import annotations


def test_a_delete_naming_no_policy_orphans_a_replication_controllers_pods_only() -> None:
    from kprov.cluster.api.resources import REGISTRY
    from kprov.cluster.apiserver.handlers.deletion import propagation_policy

    rcs = REGISTRY.get("", "v1", "replicationcontrollers")
    replicasets = REGISTRY.get("apps", "v1", "replicasets")
    assert rcs is not None and replicasets is not None
    assert propagation_policy(rcs, {}) == "Orphan"
    assert propagation_policy(replicasets, {}) == ""  # background
    assert propagation_policy(rcs, {"orphanDependents": False}) == "Background"
    assert propagation_policy(replicasets, {"orphanDependents": True}) == "Orphan"
    both = {"propagationPolicy": "Foreground", "orphanDependents": True}
    assert propagation_policy(rcs, both) == "Foreground"
