from decimal import Decimal

import pytest

from kprov.cluster.api.objects import (
    controller_ref,
    cpu_millis,
    get_condition,
    get_path,
    is_controlled_by,
    is_pod_ready,
    is_spec_change,
    memory_bytes,
    new_controller_ref,
    parse_quantity,
    set_condition,
    set_path,
)
from kprov.cluster.api.resources import REGISTRY
from kprov.cluster.api.schema.known_fields import (
    drop_unknown,
    fields_of,
    strict_decoding_message,
    unknown_fields,
)

DEPLOYMENTS = REGISTRY.get("apps", "v1", "deployments")


def test_unknown_fields_name_paths_and_free_form_maps_are_free():
    obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x", "labels": {"any": "thing"}, "annotations": {"a": "b"}},
        "spec": {
            "foo": 1,
            "template": {
                "spec": {
                    "containers": [{"name": "c", "bar": 2, "resources": {"limits": {"cpu": "1"}}}],
                    "volumes": [{"name": "v", "emptyDir": {}, "zz": 1}],
                }
            },
        },
    }
    paths = unknown_fields(DEPLOYMENTS, obj)
    assert paths == [
        ".spec.foo",
        ".spec.template.spec.containers[0].bar",
        ".spec.template.spec.volumes[0].zz",
    ]
    assert 'unknown field "spec.foo"' in strict_decoding_message(DEPLOYMENTS, paths)
    assert drop_unknown(DEPLOYMENTS, obj) == paths
    assert unknown_fields(DEPLOYMENTS, obj) == []
    assert obj["spec"]["template"]["spec"]["volumes"][0] == {"name": "v", "emptyDir": {}}


def test_schema_knows_merge_keys_and_inline_volume_sources():
    assert fields_of("core.PodSpec")["containers"].merge_key == "name"
    assert fields_of("core.Container")["ports"].merge_key == "containerPort"
    assert fields_of("core.ServiceSpec")["ports"].merge_key == "port"
    assert fields_of("core.PodSpec")["tolerations"].patch_strategy == ""
    assert "configMap" in fields_of("core.Volume")
    assert fields_of("apps.DeploymentSpec")["replicas"].pointer


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("100m", Decimal("0.1")),
        ("1Gi", Decimal(2**30)),
        ("1e3", Decimal(1000)),
        ("2", Decimal(2)),
        ("1.5k", Decimal(1500)),
        ("512Mi", Decimal(512 * 2**20)),
        (3, Decimal(3)),
    ],
)
def test_quantities(text, value):
    assert parse_quantity(text) == value


def test_quantity_helpers_and_errors():
    assert cpu_millis("250m") == 250 and cpu_millis("1") == 1000 and cpu_millis("0.0001") == 1
    assert memory_bytes("1Ki") == 1024
    with pytest.raises(ValueError):
        parse_quantity("12 apples")


def test_paths_spec_changes_conditions_owners():
    obj = {"metadata": {"name": "x", "uid": "u1"}, "spec": {"a": 1}}
    assert get_path(obj, "spec.a") == 1 and get_path(obj, "spec.b.c", "d") == "d"
    set_path(obj, "status.x.y", 2)
    assert obj["status"] == {"x": {"y": 2}}
    changed = {**obj, "metadata": {"name": "x", "labels": {"a": "b"}}, "status": {}}
    assert not is_spec_change(obj, changed)
    assert is_spec_change(obj, {**obj, "spec": {"a": 2}})
    status: dict = {}
    assert set_condition(status, {"type": "Ready", "status": "True"}, now="t1")
    assert not set_condition(status, {"type": "Ready", "status": "True"}, now="t2")
    assert status["conditions"][0]["lastTransitionTime"] == "t1"
    set_condition(status, {"type": "Ready", "status": "False"}, now="t3")
    assert status["conditions"][0]["lastTransitionTime"] == "t3"
    pod = {"status": status}
    assert get_condition(pod, "Ready")["status"] == "False" and not is_pod_ready(pod)
    owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "rs", "uid": "u9"}}
    child = {"metadata": {"ownerReferences": [new_controller_ref(owner)]}}
    assert controller_ref(child)["kind"] == "ReplicaSet" and is_controlled_by(child, owner)
    assert not is_controlled_by(child, obj)
