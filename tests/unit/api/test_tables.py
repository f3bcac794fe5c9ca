import datetime as dt

import pytest

from kprov.cluster.api.printers.tables import column_definitions, human_duration, to_table
from kprov.cluster.api.resources import REGISTRY

NOW = dt.datetime(2024, 1, 10, 12, 0, 0, tzinfo=dt.UTC)


def ago(**delta) -> str:
    return (NOW - dt.timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


def cells(resource, obj, group=""):
    return to_table(REGISTRY.get(group, "v1", resource), [obj], now=NOW)["rows"][0]["cells"]


def names(resource, group="", wide=False):
    return [
        c["name"]
        for c in column_definitions(REGISTRY.get(group, "v1", resource))
        if wide or c["priority"] == 0
    ]


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (dt.timedelta(seconds=45), "45s"),
        (dt.timedelta(minutes=5), "5m"),
        (dt.timedelta(minutes=3, seconds=20), "3m20s"),
        (dt.timedelta(hours=3, minutes=12), "3h12m"),
        (dt.timedelta(hours=20), "20h"),
        (dt.timedelta(days=2), "2d"),
        (dt.timedelta(days=3, hours=4), "3d4h"),
        (dt.timedelta(days=400), "400d"),
        (dt.timedelta(days=740), "2y10d"),
        (dt.timedelta(seconds=-30), "<invalid>"),
    ],
)
def test_human_duration(delta, text):
    assert human_duration(delta) == text


def pod(status, spec=None, **meta):
    return {
        "metadata": {"name": "p", "namespace": "d", "creationTimestamp": ago(minutes=5), **meta},
        "spec": spec or {"containers": [{"name": "a"}], "nodeName": "n1"},
        "status": status,
    }


RUNNING = {"name": "a", "ready": True, "restartCount": 0, "state": {"running": {}}}


@pytest.mark.parametrize(
    ("status", "extra_meta", "expected"),
    [
        ({"phase": "Pending"}, {}, ("0/1", "Pending")),
        (
            {
                "phase": "Pending",
                "containerStatuses": [{"name": "a", "state": {"waiting": {"reason": "ContainerCreating"}}}],
            },
            {},
            ("0/1", "ContainerCreating"),
        ),
        ({"phase": "Running", "containerStatuses": [RUNNING]}, {}, ("1/1", "Running")),
        (
            {
                "phase": "Running",
                "containerStatuses": [
                    {
                        **RUNNING,
                        "ready": False,
                        "restartCount": 4,
                        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    }
                ],
            },
            {},
            ("0/1", "CrashLoopBackOff"),
        ),
        (
            {
                "phase": "Succeeded",
                "containerStatuses": [{"name": "a", "state": {"terminated": {"reason": "Completed"}}}],
            },
            {},
            ("0/1", "Completed"),
        ),
        (
            {"phase": "Running", "containerStatuses": [RUNNING]},
            {"deletionTimestamp": ago(seconds=1)},
            ("1/1", "Terminating"),
        ),
        (
            {
                "phase": "Failed",
                "containerStatuses": [{"name": "a", "state": {"terminated": {"exitCode": 2}}}],
            },
            {},
            ("0/1", "ExitCode:2"),
        ),
    ],
)
def test_pod_ready_and_status(status, extra_meta, expected):
    row = cells("pods", pod(status, **extra_meta))
    assert (row[1], row[2]) == expected


def test_pod_init_status_restarts_and_wide_cells():
    spec = {"initContainers": [{"name": "i"}], "containers": [{"name": "a"}]}
    status = {"phase": "Pending", "initContainerStatuses": [{"name": "i", "state": {"running": {}}}]}
    assert cells("pods", pod(status, spec))[2] == "Init:0/1"
    status = {
        "phase": "Pending",
        "initContainerStatuses": [
            {"name": "i", "state": {"waiting": {"reason": "CrashLoopBackOff"}}, "restartCount": 2}
        ],
    }
    assert cells("pods", pod(status, spec))[2:4] == ["Init:CrashLoopBackOff", "2"]
    restarted = {**RUNNING, "restartCount": 3, "lastState": {"terminated": {"finishedAt": ago(minutes=2)}}}
    row = cells("pods", pod({"phase": "Running", "podIP": "10.244.1.5", "containerStatuses": [restarted]}))
    assert row == ["p", "1/1", "Running", "3 (2m ago)", "5m", "10.244.1.5", "n1", "<none>", "<none>"]
    assert names("pods") == ["Name", "Ready", "Status", "Restarts", "Age"]
    assert names("pods", wide=True)[5:] == ["IP", "Node", "Nominated Node", "Readiness Gates"]


def test_include_object_modes():
    info = REGISTRY.get("", "v1", "pods")
    obj = pod({"phase": "Running"})
    assert to_table(info, [obj])["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    assert to_table(info, [obj], include_object="Object")["rows"][0]["object"] is obj
    assert "object" not in to_table(info, [obj], include_object="None")["rows"][0]
    table = to_table(info, [obj], no_headers=True)
    assert (
        table["columnDefinitions"] == []
        and table["kind"] == "Table"
        and table["apiVersion"] == "meta.k8s.io/v1"
    )
    with pytest.raises(ValueError):
        to_table(info, [obj], include_object="Everything")


def test_node_row():
    node = {
        "metadata": {
            "name": "n1",
            "creationTimestamp": ago(days=2),
            "labels": {"node-role.kubernetes.io/control-plane": ""},
        },
        "spec": {"unschedulable": True},
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}],
            "addresses": [{"type": "InternalIP", "address": "10.77.0.11"}],
            "nodeInfo": {
                "kubeletVersion": "v1.32.0",
                "osImage": "Debian",
                "kernelVersion": "6.1",
                "containerRuntimeVersion": "containerd://1.7",
            },
        },
    }
    assert cells("nodes", node) == [
        "n1",
        "Ready,SchedulingDisabled",
        "control-plane",
        "2d",
        "v1.32.0",
        "10.77.0.11",
        "<none>",
        "Debian",
        "6.1",
        "containerd://1.7",
    ]
    assert cells("nodes", {"metadata": {"name": "x"}})[1:3] == ["Unknown", "<none>"]


def test_workload_rows():
    template = {"spec": {"containers": [{"name": "a", "image": "i1"}, {"name": "b", "image": "i2"}]}}
    deployment = {
        "metadata": {"name": "d", "creationTimestamp": ago(hours=1)},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "x"}}, "template": template},
        "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
    }
    assert cells("deployments", deployment, "apps") == ["d", "2/3", 3, 2, "60m", "a,b", "i1,i2", "app=x"]
    assert names("deployments", "apps") == ["Name", "Ready", "Up-to-date", "Available", "Age"]
    assert cells("replicasets", deployment, "apps")[:4] == ["d", 3, 0, 2]
    assert cells("statefulsets", deployment, "apps")[:2] == ["d", "2/3"]
    assert names("daemonsets", "apps") == [
        "Name",
        "Desired",
        "Current",
        "Ready",
        "Up-to-date",
        "Available",
        "Node Selector",
        "Age",
    ]


def test_service_endpoints_and_slices():
    service = {
        "metadata": {"name": "s"},
        "spec": {
            "type": "NodePort",
            "clusterIP": "10.96.0.10",
            "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}],
        },
    }
    assert cells("services", service)[:5] == ["s", "NodePort", "10.96.0.10", "<none>", "80:30080/TCP,53/UDP"]
    lb = {"metadata": {"name": "s"}, "spec": {"type": "LoadBalancer", "ports": []}}
    assert cells("services", lb)[3:5] == ["<pending>", "<none>"]
    endpoints = {
        "metadata": {"name": "e"},
        "subsets": [{"addresses": [{"ip": f"10.0.0.{i}"} for i in range(5)], "ports": [{"port": 80}]}],
    }
    assert cells("endpoints", endpoints)[1] == "10.0.0.0:80,10.0.0.1:80,10.0.0.2:80 + 2 more..."
    eps = {
        "metadata": {"name": "x"},
        "addressType": "IPv4",
        "ports": [{"port": 80}],
        "endpoints": [{"addresses": ["10.0.0.1"]}],
    }
    assert cells("endpointslices", eps, "discovery.k8s.io")[:4] == ["x", "IPv4", "80", "10.0.0.1"]


def test_config_and_event_rows():
    assert cells("configmaps", {"metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}})[:2] == ["c", 2]
    assert cells("secrets", {"metadata": {"name": "s"}, "type": "Opaque", "data": {"a": ""}})[:3] == [
        "s",
        "Opaque",
        1,
    ]
    assert cells("namespaces", {"metadata": {"name": "n"}, "status": {"phase": "Active"}})[:2] == [
        "n",
        "Active",
    ]
    lease = {"metadata": {"name": "l"}, "spec": {"holderIdentity": "h1"}}
    assert cells("leases", lease, "coordination.k8s.io")[:2] == ["l", "h1"]
    event = {
        "metadata": {"name": "e1"},
        "type": "Normal",
        "reason": "Pulled",
        "message": "ok",
        "count": 3,
        "involvedObject": {"kind": "Pod", "name": "web-1"},
        "firstTimestamp": ago(minutes=30),
        "lastTimestamp": ago(minutes=5),
        "source": {"component": "kubelet"},
    }
    assert cells("events", event)[:7] == [
        "5m (x3 over 30m)",
        "Normal",
        "Pulled",
        "pod/web-1",
        "",
        "kubelet",
        "ok",
    ]
    assert names("events") == ["Last Seen", "Type", "Reason", "Object", "Message"]
    new_event = {
        "apiVersion": "events.k8s.io/v1",
        "metadata": {"name": "e2"},
        "type": "Warning",
        "reason": "R",
        "note": "n",
        "regarding": {"kind": "Node", "name": "n1"},
        "eventTime": ago(seconds=30),
    }
    assert cells("events", new_event, "events.k8s.io")[:4] == ["30s", "Warning", "R", "node/n1"]


def test_controller_revision_and_csidriver_rows():
    from kprov.cluster.api.printers.registry import PRINTERS

    revision = {
        "metadata": {
            "name": "web-abc",
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "controller": True}
            ],
        },
        "revision": 2,
    }
    row = PRINTERS[("apps", "ControllerRevision")].row(revision, lambda _o: "1m")
    assert row[:3] == ["web-abc", "statefulset.apps/web", 2]
    driver = {
        "metadata": {"name": "d"},
        "spec": {"attachRequired": False, "volumeLifecycleModes": ["Ephemeral"]},
    }
    row = PRINTERS[("storage.k8s.io", "CSIDriver")].row(driver, lambda _o: "1m")
    assert row[:7] == ["d", False, False, False, "<unset>", False, "Ephemeral"]
