import pytest

from kprov.cluster.api.defaults import apply_defaults, image_pull_policy, pod_qos_class
from kprov.cluster.api.resources import REGISTRY


def by(resource, group=""):
    return REGISTRY.get(group, "v1", resource)


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("nginx:1.27", "IfNotPresent"),
        ("registry:5000/app", "Always"),
        ("registry:5000/app:v1", "IfNotPresent"),
        ("app@sha256:abc", "IfNotPresent"),
    ],
)
def test_image_pull_policy(image, policy):
    assert image_pull_policy(image) == policy


def test_pod_defaults_and_admission_fields():
    pod = {
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 80}]}]},
    }
    apply_defaults(by("pods"), pod)
    spec = pod["spec"]
    assert (spec["restartPolicy"], spec["dnsPolicy"], spec["schedulerName"]) == (
        "Always",
        "ClusterFirst",
        "default-scheduler",
    )
    assert spec["terminationGracePeriodSeconds"] == 30
    assert "serviceAccountName" not in spec  # the ServiceAccount admission plugin names it
    container = spec["containers"][0]
    assert container["ports"][0]["protocol"] == "TCP"
    assert container["imagePullPolicy"] == "Always"
    assert container["terminationMessagePath"] == "/dev/termination-log"
    assert container["terminationMessagePolicy"] == "File"
    assert {t["key"] for t in spec["tolerations"]} == {
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    }
    assert pod["status"] == {"phase": "Pending", "qosClass": "BestEffort"}


def test_defaults_never_override_given_values():
    pod = {
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "c", "image": "x", "imagePullPolicy": "Never"}],
        }
    }
    apply_defaults(by("pods"), pod)
    assert pod["spec"]["restartPolicy"] == "Never"
    assert pod["spec"]["containers"][0]["imagePullPolicy"] == "Never"


def test_a_pods_negative_grace_period_becomes_1_but_a_templates_stays_for_validation():
    pod = {"spec": {"terminationGracePeriodSeconds": -1, "containers": [{"name": "c", "image": "x"}]}}
    apply_defaults(by("pods"), pod)
    assert pod["spec"]["terminationGracePeriodSeconds"] == 1
    template = {"spec": {"template": {"spec": {"terminationGracePeriodSeconds": -1}}}}
    apply_defaults(by("deployments", "apps"), template)
    assert template["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == -1


def test_a_host_network_pods_container_ports_are_host_ports_but_not_a_templates():
    ports = [{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP", "hostPort": 5353}]
    pod = {"spec": {"hostNetwork": True, "containers": [{"name": "c", "image": "x", "ports": ports}],
                    "initContainers": [{"name": "i", "image": "x", "ports": [{"containerPort": 8080}]}]}}
    apply_defaults(by("pods"), pod)
    assert [p["hostPort"] for p in pod["spec"]["containers"][0]["ports"]] == [80, 5353]
    assert pod["spec"]["initContainers"][0]["ports"][0]["hostPort"] == 8080
    plain = {"spec": {"containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 80}]}]}}
    apply_defaults(by("pods"), plain)
    assert "hostPort" not in plain["spec"]["containers"][0]["ports"][0]
    template = {"spec": {"template": {"spec": {"hostNetwork": True, "containers": [
        {"name": "c", "image": "x", "ports": [{"containerPort": 80}]}]}}}}
    apply_defaults(by("deployments", "apps"), template)
    assert "hostPort" not in template["spec"]["template"]["spec"]["containers"][0]["ports"][0]


def test_deployment_defaults_and_template_without_admission_fields():
    deployment = {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x:1"}]}}}}
    apply_defaults(by("deployments", "apps"), deployment)
    spec = deployment["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
    }
    assert (spec["revisionHistoryLimit"], spec["progressDeadlineSeconds"]) == (10, 600)
    assert spec["template"]["spec"]["restartPolicy"] == "Always"
    assert "serviceAccountName" not in spec["template"]["spec"]


def test_recreate_strategy_gets_no_rolling_update():
    deployment = {"spec": {"strategy": {"type": "Recreate"}, "replicas": 0}}
    apply_defaults(by("deployments", "apps"), deployment)
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert deployment["spec"]["replicas"] == 0


def test_statefulset_daemonset_replicaset_defaults():
    sts, ds, rs = {}, {}, {}
    apply_defaults(by("statefulsets", "apps"), sts)
    apply_defaults(by("daemonsets", "apps"), ds)
    apply_defaults(by("replicasets", "apps"), rs)
    assert sts["spec"]["podManagementPolicy"] == "OrderedReady"
    assert sts["spec"]["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert ds["spec"]["updateStrategy"]["rollingUpdate"] == {"maxUnavailable": 1, "maxSurge": 0}
    assert rs["spec"]["replicas"] == 1


def test_service_namespace_secret_defaults():
    service = {"spec": {"ports": [{"port": 80}, {"port": 53, "protocol": "UDP", "targetPort": "dns"}]}}
    apply_defaults(by("services"), service)
    assert service["spec"]["type"] == "ClusterIP" and service["spec"]["sessionAffinity"] == "None"
    assert service["spec"]["ports"][0] == {"port": 80, "protocol": "TCP", "targetPort": 80}
    assert service["spec"]["ports"][1]["targetPort"] == "dns"
    namespace = {"metadata": {"name": "foo"}}
    apply_defaults(by("namespaces"), namespace)
    assert namespace["spec"]["finalizers"] == ["kubernetes"] and namespace["status"]["phase"] == "Active"
    assert namespace["metadata"]["labels"]["kubernetes.io/metadata.name"] == "foo"
    secret = {}
    apply_defaults(by("secrets"), secret)
    assert secret["type"] == "Opaque"
    event = {}
    apply_defaults(by("events"), event)
    assert event["involvedObject"] == {}


def test_qos_classes():
    def spec(resources):
        return {"containers": [{"name": "c", "resources": resources}]}

    assert pod_qos_class(spec({})) == "BestEffort"
    assert pod_qos_class(spec({"requests": {"cpu": "100m"}})) == "Burstable"
    both = {"cpu": "1", "memory": "1Gi"}
    assert pod_qos_class(spec({"limits": both})) == "Guaranteed"
    assert (
        pod_qos_class(spec({"limits": both, "requests": {"cpu": "1000m", "memory": "1Gi"}})) == "Guaranteed"
    )
    assert pod_qos_class(spec({"limits": both, "requests": {"cpu": "500m"}})) == "Burstable"


def test_pod_requests_default_from_limits_but_templates_keep_theirs():
    resources = {"limits": {"cpu": "300m"}, "requests": {"memory": "150Mi"}}
    pod = {
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "x", "resources": resources}]},
    }
    apply_defaults(by("pods"), pod)
    assert pod["spec"]["containers"][0]["resources"]["requests"] == {"memory": "150Mi", "cpu": "300m"}
    template = {
        "template": {
            "spec": {"containers": [{"name": "c", "image": "x", "resources": {"limits": {"cpu": "1"}}}]}
        }
    }
    rc = {"metadata": {"name": "r"}, "spec": {"selector": {"a": "b"}, **template}}
    apply_defaults(by("replicationcontrollers"), rc)
    assert "requests" not in rc["spec"]["template"]["spec"]["containers"][0]["resources"]


def test_csidriver_defaults():
    driver = {"metadata": {"name": "d"}, "spec": {"volumeLifecycleModes": ["Ephemeral"]}}
    apply_defaults(REGISTRY.get("storage.k8s.io", "v1", "csidrivers"), driver)
    assert driver["spec"]["attachRequired"] is True and driver["spec"]["volumeLifecycleModes"] == [
        "Ephemeral"
    ]
    assert driver["spec"]["fsGroupPolicy"] == "ReadWriteOnceWithFSType"
