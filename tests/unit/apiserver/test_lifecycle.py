"""Create/update/delete rules: server-owned metadata, generation, status isolation, no-ops,
graceful deletion."""

from __future__ import annotations

import os
import uuid

import pytest

from kprov.cluster.api.errors import ApiError
from kprov.cluster.api.resources import REGISTRY
from kprov.cluster.apiserver.handlers.lifecycle import (
    graceful_delete_plan,
    is_noop,
    new_uid,
    prepare_create,
    prepare_update,
    ready_to_delete,
)

PODS = REGISTRY.get("", "v1", "pods")
DEPLOYMENTS = REGISTRY.get("apps", "v1", "deployments")
CONFIGMAPS = REGISTRY.get("", "v1", "configmaps")


def _deploy(replicas: int = 1) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {"replicas": replicas},
    }


def test_create_fills_server_metadata():
    obj = prepare_create(DEPLOYMENTS, {**_deploy(), "metadata": {"name": "d", "resourceVersion": "9"}}, "ns")
    meta = obj["metadata"]
    assert meta["namespace"] == "ns" and meta["uid"] and meta["creationTimestamp"].endswith("Z")
    assert meta["generation"] == 1 and "resourceVersion" not in meta


def test_create_generate_name_and_checks():
    obj = prepare_create(CONFIGMAPS, {"metadata": {"generateName": "cm-"}}, "ns")
    assert obj["metadata"]["name"].startswith("cm-") and len(obj["metadata"]["name"]) == 8
    assert obj["kind"] == "ConfigMap" and "generation" not in obj["metadata"]
    with pytest.raises(ApiError) as wrong_ns:
        prepare_create(CONFIGMAPS, {"metadata": {"name": "x", "namespace": "other"}}, "ns")
    assert wrong_ns.value.code == 400
    with pytest.raises(ApiError) as wrong_kind:
        prepare_create(CONFIGMAPS, {"kind": "Secret", "metadata": {"name": "x"}}, "ns")
    assert wrong_kind.value.code == 400


def test_generation_moves_only_on_spec_change():
    old = prepare_create(DEPLOYMENTS, _deploy(1), "ns")
    relabeled = prepare_update(
        DEPLOYMENTS, old, {**_deploy(1), "metadata": {"name": "d", "labels": {"a": "b"}}}
    )
    assert relabeled["metadata"]["generation"] == 1
    scaled = prepare_update(DEPLOYMENTS, old, _deploy(3))
    assert scaled["metadata"]["generation"] == 2 and scaled["metadata"]["uid"] == old["metadata"]["uid"]


def test_status_write_takes_metadata_as_upstream_strategies_do():
    replicasets = REGISTRY.get("apps", "v1", "replicasets")
    rs = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "r", "labels": {"a": "1"}},
        "spec": {"replicas": 1},
    }
    old = prepare_create(replicasets, rs, "ns")
    body = {
        **rs,
        "metadata": {
            "name": "r",
            "labels": {"a": "2"},
            "annotations": {"patchedstatus": "true"},
            "generation": 7,
        },
        "status": {"replicas": 1},
    }
    stored = prepare_update(replicasets, old, body, "status")
    assert stored["metadata"]["labels"] == {"a": "2"}
    assert stored["metadata"]["annotations"] == {"patchedstatus": "true"}
    assert stored["metadata"]["generation"] == 1 and stored["metadata"]["uid"] == old["metadata"]["uid"]
    deployment = prepare_create(
        DEPLOYMENTS, {**_deploy(1), "metadata": {"name": "d", "labels": {"a": "1"}}}, "ns"
    )
    relabeled = {
        **_deploy(1),
        "metadata": {"name": "d", "labels": {"a": "2"}, "annotations": {"x": "y"}},
        "status": {"replicas": 1},
    }
    stored = prepare_update(DEPLOYMENTS, deployment, relabeled, "status")
    assert stored["metadata"]["labels"] == {"a": "1"} and stored["metadata"]["annotations"] == {"x": "y"}
    pod = prepare_create(
        PODS, {"metadata": {"name": "p", "ownerReferences": [{"uid": "u1"}]}, "spec": {}}, "ns"
    )
    disowned = {
        "metadata": {"name": "p", "ownerReferences": [], "labels": {"l": "v"}},
        "status": {"phase": "Running"},
    }
    stored = prepare_update(PODS, pod, disowned, "status")
    assert stored["metadata"]["ownerReferences"] == [{"uid": "u1"}]
    assert stored["metadata"]["labels"] == {"l": "v"}


def test_main_resource_cannot_write_status_and_status_cannot_write_spec():
    old = {**prepare_create(DEPLOYMENTS, _deploy(1), "ns"), "status": {"replicas": 1}}
    via_main = prepare_update(DEPLOYMENTS, old, {**_deploy(1), "status": {"replicas": 9}})
    assert via_main["status"] == {"replicas": 1}
    via_status = prepare_update(DEPLOYMENTS, old, {**_deploy(5), "status": {"replicas": 2}}, "status")
    assert via_status["spec"]["replicas"] == 1 and via_status["status"] == {"replicas": 2}


def test_noop_ignores_resource_version_only():
    old = {"metadata": {"name": "a", "resourceVersion": "5"}, "data": {"k": "v"}}
    assert is_noop(old, {"metadata": {"name": "a", "resourceVersion": "7"}, "data": {"k": "v"}})
    assert not is_noop(old, {"metadata": {"name": "a"}, "data": {"k": "w"}})


def test_graceful_deletion_of_bound_pod_and_finalizers():
    bound = {"metadata": {"name": "p"}, "spec": {"nodeName": "n1", "terminationGracePeriodSeconds": 10}}
    plan = graceful_delete_plan(PODS, bound, None)
    assert not plan.delete_now and plan.marked["metadata"]["deletionGracePeriodSeconds"] == 10
    assert graceful_delete_plan(PODS, bound, 0).delete_now
    assert graceful_delete_plan(PODS, {"metadata": {"name": "p"}, "spec": {}}, None).delete_now
    held = {"metadata": {"name": "c", "finalizers": ["x"]}}
    plan = graceful_delete_plan(CONFIGMAPS, held, None)
    assert not plan.delete_now and plan.marked["metadata"]["deletionTimestamp"]
    assert not ready_to_delete(CONFIGMAPS, plan.marked)
    released = {"metadata": {**plan.marked["metadata"], "finalizers": []}}
    assert ready_to_delete(CONFIGMAPS, released)


def test_uids_are_canonical_random_version_4_uuids() -> None:
    uids = {new_uid() for _ in range(1000)}
    assert len(uids) == 1000
    for text in uids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_a_forked_child_does_not_hand_out_the_parents_next_uid() -> None:
    new_uid()  # randomness for more uids is now held in this process
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its first uid and leave at once
        os.write(write_end, new_uid().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child_uid = os.read(read_end, 64).decode()
    os.close(read_end)
    os.close(write_end)
    assert uuid.UUID(child_uid).version == 4
    assert child_uid != new_uid()


def test_created_and_updated_objects_take_gos_field_order() -> None:
    from kprov.cluster.api.resources import REGISTRY
    from kprov.cluster.apiserver.handlers.lifecycle import prepare_create, prepare_update

    info = REGISTRY.get("", "v1", "configmaps")
    assert info is not None
    sent = {  # as kubectl sends it: keys sorted
        "apiVersion": "v1", "data": {"a": "b"}, "kind": "ConfigMap",
        "metadata": {"annotations": {"x": "y"}, "labels": {"a": "b"}, "name": "c"},
    }
    created = prepare_create(info, sent, "d")
    assert list(created) == ["kind", "apiVersion", "metadata", "data"]
    go_order = ["name", "namespace", "uid", "creationTimestamp", "labels", "annotations"]
    assert list(created["metadata"]) == go_order
    again = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"labels": {}, "name": "c"}, "data": {}}
    updated = prepare_update(info, created, again)
    assert list(updated)[:3] == ["kind", "apiVersion", "metadata"]
    assert list(updated["metadata"]) == ["name", "namespace", "uid", "creationTimestamp", "labels"]


def test_go_field_order_is_a_stable_sort_by_gos_metadata_order() -> None:
    """kind, apiVersion, metadata first, the rest as they came; metadata's fields in
    ObjectMeta's Go order and fields Go does not know after them, in the order they came:
    what a stable sort by rank gives, for shuffled inputs with and without unknown fields."""
    import random

    from kprov.cluster.apiserver.handlers.lifecycle import _META_ORDER, _META_RANK, go_field_order

    chooser = random.Random(77)
    for trial in range(300):
        names = chooser.sample(_META_ORDER, chooser.randint(0, len(_META_ORDER)))
        names += chooser.sample(["zeta", "alpha", "x-extra"], trial % 4)
        chooser.shuffle(names)
        meta = {name: f"v-{name}" for name in names}
        obj = {"spec": {"a": 1}, "metadata": dict(meta), "status": {}, "apiVersion": "v1", "kind": "Pod"}
        expected = sorted(meta.items(), key=lambda item: _META_RANK.get(item[0], len(_META_ORDER)))
        got = go_field_order(obj)
        assert list(got["metadata"].items()) == expected
        assert list(got) == ["kind", "apiVersion", "metadata", "spec", "status"]
