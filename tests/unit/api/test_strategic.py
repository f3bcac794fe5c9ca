"""Strategic merge patch: merge keys from the schema and the $-directives kubectl sends."""

import json

import pytest

from kprov.cluster.api.errors import PatchError
from kprov.cluster.api.patch.dispatch import STRATEGIC_MERGE_PATCH, apply_patch
from kprov.cluster.api.resources import REGISTRY

DEPLOYMENTS = REGISTRY.get("apps", "v1", "deployments")
PODS = REGISTRY.get("", "v1", "pods")
SERVICES = REGISTRY.get("", "v1", "services")


def smp(info, live, patch):
    return apply_patch(info, live, json.dumps(patch).encode(), STRATEGIC_MERGE_PATCH)


def deployment(containers, **spec):
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "nginx"},
        "spec": {"replicas": 1, **spec, "template": {"spec": {"containers": containers}}},
    }


def test_kubectl_apply_body_merges_containers_and_env_by_name():
    live = deployment(
        [
            {
                "name": "nginx",
                "image": "nginx:1.27",
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "x"}],
                "ports": [{"containerPort": 80, "protocol": "TCP"}],
            },
        ]
    )
    # the body KUBECTL.md recorded for `kubectl apply` after editing the file
    body = {
        "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
        "spec": {
            "replicas": 3,
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "nginx"}],
                    "containers": [
                        {
                            "$setElementOrder/env": [{"name": "A"}],
                            "env": [{"name": "A", "value": "2"}],
                            "image": "nginx:1.28",
                            "name": "nginx",
                        }
                    ],
                }
            },
        },
    }
    out = smp(DEPLOYMENTS, live, body)
    container = out["spec"]["template"]["spec"]["containers"][0]
    assert out["spec"]["replicas"] == 3
    assert container["image"] == "nginx:1.28"
    assert container["env"] == [{"name": "A", "value": "2"}, {"name": "B", "value": "x"}]
    assert container["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert out["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] == "{}"
    assert live["spec"]["replicas"] == 1  # input untouched


def test_set_element_order_reorders_and_new_items_merge():
    live = deployment([{"name": "a", "image": "x"}, {"name": "b", "image": "y"}])
    out = smp(
        DEPLOYMENTS,
        live,
        {
            "spec": {
                "template": {
                    "spec": {
                        "$setElementOrder/containers": [{"name": "c"}, {"name": "b"}, {"name": "a"}],
                        "containers": [{"name": "c", "image": "z"}],
                    }
                }
            }
        },
    )
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == ["c", "b", "a"]


def test_patch_delete_directive_removes_element_by_merge_key():
    live = deployment([{"name": "a", "image": "x"}, {"name": "b", "image": "y"}])
    out = smp(
        DEPLOYMENTS,
        live,
        {"spec": {"template": {"spec": {"containers": [{"name": "a", "$patch": "delete"}]}}}},
    )
    assert out["spec"]["template"]["spec"]["containers"] == [{"name": "b", "image": "y"}]


def test_patch_replace_on_list_and_map():
    live = deployment([{"name": "a", "image": "x"}, {"name": "b", "image": "y"}])
    out = smp(
        DEPLOYMENTS,
        live,
        {
            "spec": {
                "template": {"spec": {"containers": [{"name": "z", "image": "q"}, {"$patch": "replace"}]}}
            }
        },
    )
    assert out["spec"]["template"]["spec"]["containers"] == [{"name": "z", "image": "q"}]
    out = smp(DEPLOYMENTS, live, {"spec": {"$patch": "replace", "replicas": 5}})
    assert out["spec"] == {"replicas": 5}


def test_retain_keys_on_deployment_strategy():
    live = deployment([], strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}})
    out = smp(DEPLOYMENTS, live, {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}})
    assert out["spec"]["strategy"] == {"type": "Recreate"}


def test_container_ports_merge_by_container_port_and_service_ports_by_port():
    live = {"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 80, "name": "http"}]}]}}
    out = smp(PODS, live, {"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 443}]}]}})
    # a patch item new to the list goes before the live-only ones, as the API server orders it
    assert [p["containerPort"] for p in out["spec"]["containers"][0]["ports"]] == [443, 80]
    service = {"spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443}]}}
    out = smp(SERVICES, service, {"spec": {"ports": [{"port": 80, "targetPort": 9090}]}})
    assert out["spec"]["ports"] == [{"port": 80, "targetPort": 9090}, {"port": 443}]


def test_merged_list_order_follows_the_api_server():
    live = {"spec": {"containers": [{"name": "httpd"}]}}
    added = smp(PODS, live, {"spec": {"containers": [{"name": "test-rs", "image": "pause"}]}})
    assert [c["name"] for c in added["spec"]["containers"]] == ["test-rs", "httpd"]
    live = {"spec": {"containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}}
    touched = smp(
        PODS, live, {"spec": {"containers": [{"name": "c", "image": "x"}, {"name": "a", "image": "y"}]}}
    )
    # patch items keep the patch's order; live-only b goes first because it preceded c live
    assert [c["name"] for c in touched["spec"]["containers"]] == ["b", "c", "a"]
    fins = smp(PODS, {"metadata": {"finalizers": ["x", "y"]}}, {"metadata": {"finalizers": ["z"]}})
    assert fins["metadata"]["finalizers"] == ["z", "x", "y"]


def test_atomic_lists_replace_tolerations_and_args():
    live = {
        "spec": {
            "tolerations": [{"key": "a", "operator": "Exists"}],
            "containers": [{"name": "c", "args": ["1", "2"]}],
        }
    }
    out = smp(
        PODS,
        live,
        {
            "spec": {
                "tolerations": [{"key": "b", "operator": "Exists"}],
                "containers": [{"name": "c", "args": ["3"]}],
            }
        },
    )
    assert out["spec"]["tolerations"] == [{"key": "b", "operator": "Exists"}]
    assert out["spec"]["containers"][0]["args"] == ["3"]


def test_finalizers_merge_as_a_set_and_delete_from_primitive_list():
    live = {"metadata": {"finalizers": ["a", "b"]}}
    assert smp(PODS, live, {"metadata": {"finalizers": ["b", "c"]}})["metadata"]["finalizers"] == [
        "a",
        "b",
        "c",
    ]
    out = smp(PODS, live, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}})
    assert out["metadata"]["finalizers"] == ["b"]


def test_owner_references_merge_by_uid_and_null_deletes():
    live = {"metadata": {"ownerReferences": [{"uid": "1", "name": "x"}], "labels": {"a": "1", "b": "2"}}}
    out = smp(
        PODS, live, {"metadata": {"ownerReferences": [{"uid": "2", "name": "y"}], "labels": {"a": None}}}
    )
    # new items first, as the API server orders them
    assert [r["uid"] for r in out["metadata"]["ownerReferences"]] == ["2", "1"]
    assert out["metadata"]["labels"] == {"b": "2"}


def test_cordon_and_uncordon_bodies():
    nodes = REGISTRY.get("", "v1", "nodes")
    cordoned = smp(nodes, {"spec": {}}, {"spec": {"unschedulable": True}})
    assert cordoned["spec"]["unschedulable"] is True
    assert "unschedulable" not in smp(nodes, cordoned, {"spec": {"unschedulable": None}})["spec"]


def test_status_conditions_merge_by_type():
    live = {
        "status": {
            "conditions": [{"type": "Ready", "status": "False"}, {"type": "PodScheduled", "status": "True"}]
        }
    }
    out = smp(PODS, live, {"status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    assert out["status"]["conditions"] == [
        {"type": "Ready", "status": "True"},
        {"type": "PodScheduled", "status": "True"},
    ]


def test_missing_merge_key_and_bad_directive_are_errors():
    with pytest.raises(PatchError, match="merge key"):
        smp(PODS, {"spec": {"containers": []}}, {"spec": {"containers": [{"image": "x"}]}})
    with pytest.raises(PatchError, match="Unknown patch type"):
        smp(PODS, {}, {"spec": {"$patch": "explode"}})


def test_unknown_content_type_is_415_and_bad_json_is_400():
    with pytest.raises(PatchError) as err:
        apply_patch(PODS, {}, b"{}", "application/xml")
    assert err.value.code == 415
    with pytest.raises(PatchError) as err:
        apply_patch(PODS, {}, b"{not json", STRATEGIC_MERGE_PATCH)
    assert err.value.code == 400


def test_scale_subresource_merge_patch_as_kubectl_scale_sends():
    scale = {"kind": "Scale", "apiVersion": "autoscaling/v1", "spec": {"replicas": 1}}
    out = apply_patch(
        DEPLOYMENTS, scale, b'{"spec":{"replicas":3}}', "application/merge-patch+json", subresource="scale"
    )
    assert out["spec"]["replicas"] == 3
