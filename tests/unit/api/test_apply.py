"""Server-side apply: create, ownership, removal of dropped fields, conflicts, force."""

import json

import pytest

from kprov.cluster.api.errors import ConflictError, PatchError
from kprov.cluster.api.patch.dispatch import APPLY_PATCH, apply_patch
from kprov.cluster.api.patch.managed_fields import from_fields_v1, paths_of, record_update, to_fields_v1
from kprov.cluster.api.patch.server_side_apply import server_side_apply
from kprov.cluster.api.resources import REGISTRY

DEPLOYMENTS = REGISTRY.get("apps", "v1", "deployments")


def config(replicas=None, image="nginx:1.27", extra_containers=(), labels=None):
    spec = {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "nginx", "image": image}, *extra_containers]},
        },
    }
    if replicas is not None:
        spec["replicas"] = replicas
    meta = {"name": "web", "namespace": "default"}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": spec}


def ssa(live, body, manager="kubectl", force=False):
    return apply_patch(
        DEPLOYMENTS,
        live,
        json.dumps(body).encode(),
        APPLY_PATCH,
        field_manager=manager,
        force=force,
        now="2024-01-01T00:00:00Z",
    )


def managers(obj):
    return {(e["manager"], e["operation"]) for e in obj["metadata"].get("managedFields", [])}


def test_apply_creates_and_records_managed_fields():
    obj = ssa(None, config(replicas=2))
    assert obj["spec"]["replicas"] == 2
    entry = obj["metadata"]["managedFields"][0]
    assert (entry["manager"], entry["operation"], entry["apiVersion"]) == ("kubectl", "Apply", "apps/v1")
    fields = entry["fieldsV1"]
    assert fields["f:spec"]["f:replicas"] == {}
    assert 'k:{"name":"nginx"}' in fields["f:spec"]["f:template"]["f:spec"]["f:containers"]
    assert "f:name" not in fields.get("f:metadata", {})


def test_reapply_removes_fields_the_manager_dropped():
    first = ssa(
        None, config(replicas=2, extra_containers=[{"name": "side", "image": "busybox"}], labels={"a": "1"})
    )
    second = ssa(first, config())
    assert "replicas" not in second["spec"]
    assert [c["name"] for c in second["spec"]["template"]["spec"]["containers"]] == ["nginx"]
    assert "labels" not in second["metadata"] or "a" not in second["metadata"]["labels"]


def test_fields_shared_with_another_owner_are_kept():
    first = ssa(None, config(replicas=2))
    other = ssa(
        first,
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 2}},
        manager="hpa",
    )
    after = ssa(other, config())
    assert after["spec"]["replicas"] == 2
    assert ("hpa", "Apply") in managers(after)


def test_conflict_with_other_manager_is_409_with_causes_unless_forced():
    live = ssa(None, config(replicas=2))
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"replicas": 5},
    }
    with pytest.raises(ConflictError) as err:
        ssa(live, body, manager="other")
    assert err.value.code == 409
    assert err.value.causes[0].field == ".spec.replicas"
    assert err.value.causes[0].reason == "FieldManagerConflict"
    assert 'conflict with "kubectl"' in str(err.value)
    forced = ssa(live, body, manager="other", force=True)
    assert forced["spec"]["replicas"] == 5
    kubectl_entry = next(e for e in forced["metadata"]["managedFields"] if e["manager"] == "kubectl")
    assert "f:replicas" not in kubectl_entry["fieldsV1"]["f:spec"]


def test_same_value_is_shared_not_a_conflict():
    live = ssa(None, config(replicas=2))
    shared = ssa(
        live,
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 2}},
        manager="other",
    )
    assert managers(shared) == {("kubectl", "Apply"), ("other", "Apply")}


def test_update_writes_take_ownership_so_apply_conflicts_with_kubectl_scale():
    live = ssa(None, config(replicas=2))
    scaled = json.loads(json.dumps(live))
    scaled["spec"]["replicas"] = 4
    record_update(DEPLOYMENTS, live, scaled, "kubectl-scale", now="2024-01-01T00:00:01Z")
    assert ("kubectl-scale", "Update") in managers(scaled)
    with pytest.raises(ConflictError) as err:
        ssa(scaled, config(replicas=3))
    assert "kubectl-scale" in err.value.causes[0].message and "using apps/v1" in err.value.causes[0].message


def test_apply_requires_field_manager_and_matching_kind():
    with pytest.raises(PatchError, match="fieldManager"):
        ssa(None, config(), manager="")
    with pytest.raises(PatchError, match="apiVersion/kind"):
        ssa(None, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}})


def test_yaml_body_and_fields_v1_round_trip():
    body = b"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n"
    obj = apply_patch(DEPLOYMENTS, None, body, APPLY_PATCH, field_manager="m", now="t")
    assert obj["spec"]["replicas"] == 1
    paths = paths_of(config(replicas=1), "apps.Deployment")
    assert from_fields_v1(to_fields_v1(paths)) == paths


def test_map_applied_empty_then_with_a_key_keeps_the_key():
    configmaps = REGISTRY.get("", "v1", "configmaps")
    empty = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}}
    filled = {**empty, "data": {"a": "3"}}
    first = server_side_apply(configmaps, None, empty, "m", force=False, now="t")
    second = server_side_apply(configmaps, first, filled, "m", force=False, now="t")
    assert second["data"] == {"a": "3"}
    assert server_side_apply(configmaps, second, empty, "m", force=False, now="t")["data"] == {}


def _custom_info():
    from kprov.cluster.api.crd.definition import accepted_status, default_crd, infos_from_crd

    ports = {"type": "array", "x-kubernetes-list-type": "map",
             "x-kubernetes-list-map-keys": ["containerPort", "protocol"],
             "items": {"type": "object", "required": ["containerPort", "protocol"], "properties": {
                 "name": {"type": "string"}, "containerPort": {"type": "integer"},
                 "protocol": {"type": "string"}}}}
    schema = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "replicas": {"type": "integer"}, "ports": ports,
        "tags": {"type": "array", "items": {"type": "string"}}}}}}
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "noxus.example.com"},
           "spec": {"group": "example.com", "scope": "Namespaced",
                    "names": {"plural": "noxus", "kind": "Noxu"},
                    "versions": [{"name": "v1", "served": True, "storage": True,
                                  "schema": {"openAPIV3Schema": schema}}]}}
    default_crd(crd)
    crd["status"] = accepted_status(crd, {}, "2024-01-01T00:00:00Z")
    return infos_from_crd(crd)[0]


def test_a_custom_objects_finalizers_are_a_set_and_its_list_map_is_keyed_by_its_schema():
    info = _custom_info()

    def apply(live, body, manager, force=False):
        return apply_patch(info, live, json.dumps(body).encode(), APPLY_PATCH, field_manager=manager,
                           force=force, now="2024-01-01T00:00:00Z")

    body = {"apiVersion": "example.com/v1", "kind": "Noxu",
            "metadata": {"name": "n", "namespace": "default", "finalizers": ["test-finalizer"]},
            "spec": {"replicas": 1, "tags": ["a"],
                     "ports": [{"name": "x", "containerPort": 80, "protocol": "TCP"}]}}
    live = apply(None, body, "apply_test")
    owned = live["metadata"]["managedFields"][0]["fieldsV1"]
    assert owned["f:metadata"]["f:finalizers"] == {'v:"test-finalizer"': {}}
    assert '.' in owned["f:spec"]["f:ports"]['k:{"containerPort":80,"protocol":"TCP"}']
    assert owned["f:spec"]["f:tags"] == {}  # a list with no list type is atomic
    live["metadata"]["finalizers"].append("another-one")  # a merge patch of someone else
    live = apply(live, body, "apply_test")
    assert live["metadata"]["finalizers"] == ["test-finalizer", "another-one"]
    with pytest.raises(ConflictError) as caught:  # another applier edits the item the first owns
        edit = {"ports": [{"name": "y", "containerPort": 80, "protocol": "TCP"}]}
        apply(live, {**body, "metadata": {"name": "n"}, "spec": edit}, "apply_test_2")
    assert len(caught.value.causes) == 1
    added = {"ports": [{"name": "y", "containerPort": 8080, "protocol": "TCP"}]}
    live = apply(live, {**body, "metadata": {"name": "n"}, "spec": added}, "apply_test_2")
    assert [p["containerPort"] for p in live["spec"]["ports"]] == [80, 8080]


def test_reapplying_a_service_port_without_its_protocol_changes_nothing():
    """Service ports are keyed by (port, protocol) and protocol defaults to TCP (+default), so
    an applied port without protocol is the stored (port, TCP) element, not a second one."""
    from kprov.cluster.api.resources import TABLE

    services = next(i for i in TABLE if i.group == "" and i.resource == "services")
    ports = [{"port": 80, "name": "http"}, {"port": 53, "protocol": "UDP", "name": "dns"}]
    applied = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": ports}}
    created = server_side_apply(services, None, applied, "m", force=False, now="t1")
    again = server_side_apply(services, created, applied, "m", force=False, now="t2")
    assert again["spec"]["ports"] == created["spec"]["ports"]
    assert [(p["port"], p["protocol"]) for p in again["spec"]["ports"]] == [(80, "TCP"), (53, "UDP")]
    keys = set(again["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]["f:ports"])
    assert keys == {'k:{"port":80,"protocol":"TCP"}', 'k:{"port":53,"protocol":"UDP"}'}
