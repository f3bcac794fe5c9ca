import copy

import pytest

from kprov.cluster.api.defaults import apply_defaults
from kprov.cluster.api.errors import InvalidError
from kprov.cluster.api.resources import REGISTRY
from kprov.cluster.api.validation.core import validate

PODS = REGISTRY.get("", "v1", "pods")
DEPLOYMENTS = REGISTRY.get("apps", "v1", "deployments")
SERVICES = REGISTRY.get("", "v1", "services")


def messages(info, obj, old=None):
    apply_defaults(info, obj)
    return [str(c) for c in validate(info, obj, old)]


def pod(**container):
    return {
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "nginx", **container}]},
    }


def deployment(selector=None, labels=None):
    return {
        "metadata": {"name": "d", "namespace": "default"},
        "spec": {
            "selector": selector if selector is not None else {"matchLabels": {"app": "x"}},
            "template": {
                "metadata": {"labels": labels if labels is not None else {"app": "x"}},
                "spec": {"containers": [{"name": "c", "image": "i"}]},
            },
        },
    }


def test_valid_objects_have_no_causes():
    assert messages(PODS, pod()) == []
    assert messages(DEPLOYMENTS, deployment()) == []


def test_missing_image_reads_like_the_real_server():
    obj = pod()
    del obj["spec"]["containers"][0]["image"]
    assert messages(PODS, obj) == ["spec.containers[0].image: Required value"]
    causes = validate(PODS, obj)
    assert causes[0].reason == "FieldValueRequired" and causes[0].field == "spec.containers[0].image"
    error = InvalidError("Pod", "p", causes)
    assert error.code == 422 and str(error) == 'Pod "p" is invalid: spec.containers[0].image: Required value'
    assert error.status_dict()["details"]["causes"][0]["field"] == "spec.containers[0].image"


def test_names_labels_and_namespace():
    obj = pod()
    obj["metadata"].update(name="Bad_Name", labels={"app": "-x"})
    out = messages(PODS, obj)
    assert out[0].startswith('metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain')
    assert out[1].startswith('metadata.labels: Invalid value: "-x": a valid label must be an empty string')
    namespace = {"metadata": {"name": "a.b"}}
    assert messages(REGISTRY.get("", "v1", "namespaces"), namespace)[0].startswith(
        'metadata.name: Invalid value: "a.b": a lowercase RFC 1123 label'
    )
    assert "metadata.name: Required value: name or generateName is required" in messages(PODS, {"spec": {}})


def test_container_rules():
    out = messages(PODS, pod(ports=[{"containerPort": 70000}], imagePullPolicy="Sometimes"))
    assert (
        "spec.containers[0].ports[0].containerPort: Invalid value: 70000: "
        "must be between 1 and 65535, inclusive" in out
    )
    assert any(
        m.startswith('spec.containers[0].imagePullPolicy: Unsupported value: "Sometimes"') for m in out
    )
    obj = pod(volumeMounts=[{"name": "data", "mountPath": "/d"}])
    assert messages(PODS, obj) == ['spec.containers[0].volumeMounts[0].name: Not found: "data"']
    obj = pod()
    obj["spec"]["containers"].append({"name": "c", "image": "x"})
    assert messages(PODS, obj) == ['spec.containers[1].name: Duplicate value: "c"']
    obj = pod(resources={"requests": {"cpu": "2"}, "limits": {"cpu": "1"}})
    assert messages(PODS, obj) == [
        'spec.containers[0].resources.requests: Invalid value: "2": must be less than '
        "or equal to cpu limit of 1"
    ]


def test_pod_update_only_image_may_change():
    old = pod()
    apply_defaults(PODS, old)
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = "nginx:2"
    assert messages(PODS, new, old) == []
    changed = pod(command=["sh"])
    out = messages(PODS, changed, old)
    assert len(out) == 1 and out[0].startswith(
        "spec: Forbidden: pod updates may not change fields other than"
    )


def test_deployment_selector_rules():
    out = messages(DEPLOYMENTS, deployment(labels={"app": "y"}))
    assert out == [
        'spec.template.metadata.labels: Invalid value: {"app":"y"}: `selector` does not match '
        "template `labels`"
    ]
    old = deployment()
    apply_defaults(DEPLOYMENTS, old)
    new = deployment(selector={"matchLabels": {"app": "x", "v": "2"}}, labels={"app": "x", "v": "2"})
    assert any(
        m.startswith("spec.selector: Invalid value") and m.endswith("field is immutable")
        for m in messages(DEPLOYMENTS, new, old)
    )
    bad = deployment()
    bad["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    assert messages(DEPLOYMENTS, bad) == [
        'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"'
    ]


def test_service_rules():
    service = {
        "metadata": {"name": "s", "namespace": "d"},
        "spec": {"ports": [{"port": 80}, {"port": 443}], "type": "Bogus"},
    }
    out = messages(SERVICES, service)
    assert "spec.ports[0].name: Required value" in out and "spec.ports[1].name: Required value" in out
    assert any(m.startswith('spec.type: Unsupported value: "Bogus"') for m in out)
    assert messages(SERVICES, {"metadata": {"name": "s", "namespace": "d"}, "spec": {}}) == [
        "spec.ports: Required value"
    ]
    old = {
        "metadata": {"name": "s", "namespace": "d"},
        "spec": {"clusterIP": "10.96.0.5", "ports": [{"port": 1}]},
    }
    new = {
        "metadata": {"name": "s", "namespace": "d"},
        "spec": {"clusterIP": "10.96.0.6", "ports": [{"port": 1}]},
    }
    # kube-apiserver judges a changed address after its allocators normalize clusterIP and
    # clusterIPs (spec.clusterIPs[0]: may not change once set), not as an immutable clusterIP
    assert messages(SERVICES, new, old) == []


@pytest.mark.parametrize(
    ("resource", "obj", "expected"),
    [
        ("configmaps", {"data": {"a b": "x"}}, "data[a b]: Invalid value"),
        ("secrets", {"type": "kubernetes.io/tls", "data": {}}, "data[tls.crt]: Required value"),
    ],
)
def test_config_data_rules(resource, obj, expected):
    obj = {"metadata": {"name": "x", "namespace": "d"}, **obj}
    out = messages(REGISTRY.get("", "v1", resource), obj)
    assert any(m.startswith(expected) for m in out), out


def test_immutable_configmap_and_lease_and_endpointslice():
    configmaps = REGISTRY.get("", "v1", "configmaps")
    old = {"metadata": {"name": "c", "namespace": "d"}, "immutable": True, "data": {"a": "1"}}
    new = {"metadata": {"name": "c", "namespace": "d"}, "immutable": True, "data": {"a": "2"}}
    assert messages(configmaps, new, old) == ["data: Forbidden: field is immutable when `immutable` is set"]
    lease = {"metadata": {"name": "l", "namespace": "d"}, "spec": {"leaseDurationSeconds": 0}}
    assert messages(REGISTRY.get("coordination.k8s.io", "v1", "leases"), lease) == [
        "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"
    ]
    slices = REGISTRY.get("discovery.k8s.io", "v1", "endpointslices")
    assert messages(slices, {"metadata": {"name": "e", "namespace": "d"}}) == ["addressType: Required value"]


def test_a_remembered_spec_gives_each_path_and_each_pod_its_own_causes():
    bad = pod(image="")  # the same invalid spec, as a Pod's and as a template's
    first = messages(PODS, copy.deepcopy(bad))
    again = messages(PODS, copy.deepcopy(bad))
    assert first == again == ["spec.containers[0].image: Required value"]
    template = deployment()
    template["spec"]["template"]["spec"] = copy.deepcopy(bad["spec"])
    assert "spec.template.spec.containers[0].image: Required value" in messages(DEPLOYMENTS, template)
    fixed = pod()  # a spec that differs is checked on its own
    assert messages(PODS, fixed) == []
    first.append("changed by a caller")  # what a caller gets is its own list
    assert messages(PODS, copy.deepcopy(bad)) == ["spec.containers[0].image: Required value"]


def test_mount_propagation_values_and_bidirectional_only_for_privileged_containers():
    obj = pod(volumeMounts=[{"name": "v", "mountPath": "/v", "mountPropagation": "Bidirectional"}])
    obj["spec"]["volumes"] = [{"name": "v", "emptyDir": {}}]
    assert messages(PODS, obj) == [
        "spec.containers[0].volumeMounts[0].mountPropagation: Forbidden: Bidirectional mount propagation "
        "is available only to privileged containers"
    ]
    obj["spec"]["containers"][0]["securityContext"] = {"privileged": True}
    assert messages(PODS, obj) == []
    obj["spec"]["containers"][0]["volumeMounts"][0]["mountPropagation"] = "Sideways"
    assert messages(PODS, obj) == [
        'spec.containers[0].volumeMounts[0].mountPropagation: Unsupported value: "Sideways": '
        'supported values: "Bidirectional", "HostToContainer", "None"'
    ]
