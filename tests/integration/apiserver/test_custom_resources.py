"""CustomResourceDefinitions on a real control plane: a CRD applied with kubectl is served at
once (on a second API server too), its objects are created, listed with selectors, watched
and printed with their printer columns, discovery lists them, and deleting the CRD deletes
its objects and takes the resource out of discovery everywhere."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from kprov.local.certs import write_identity_kubeconfig
from kprov.local.control_plane import apiserver_argv
from kprov.local.ports import free_port, wait_for_port
from kprov.pki import ADMIN_CN, MASTERS_GROUP

from ._http import request, ssl_context


def _crd(
    group: str, scope: str = "Namespaced", plural: str = "widgets", kind: str = "Widget"
) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": scope,
            "names": {
                "plural": plural,
                "kind": kind,
                "shortNames": [plural[:2] + "x"],
                "categories": ["all", "gadgets"],
            },
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                    "additionalPrinterColumns": [
                        {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                        {"name": "Color", "type": "string", "jsonPath": ".spec.color"},
                        {
                            "name": "Ready",
                            "type": "string",
                            "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
                        },
                        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                    ],
                }
            ],
        },
    }


@pytest.fixture(scope="module")
def second_server(control_plane, tmp_path_factory) -> Iterator[Path]:  # type: ignore[no-untyped-def]
    """Another kprov-apiserver on the same etcd; its admin kubeconfig."""
    pki = control_plane.plane.pki
    port = free_port()
    log = tmp_path_factory.mktemp("crd-second") / "apiserver.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            apiserver_argv(pki, control_plane.etcd_url, port), stdout=out, stderr=subprocess.STDOUT
        )
    try:
        assert wait_for_port("127.0.0.1", port, 30), log.read_text()
        yield write_identity_kubeconfig(
            pki, f"https://127.0.0.1:{port}", ADMIN_CN, [MASTERS_GROUP], file_name="crd-second-admin"
        )
    finally:
        proc.terminate()
        proc.wait(10)


def _server_of(kubeconfig: Path) -> str:
    return str(yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"])


def _get(control_plane, kubeconfig: Path, path: str, accept: str = "") -> tuple[int, Any]:  # type: ignore[no-untyped-def]
    import urllib.request

    context = ssl_context(kubeconfig, control_plane.ca_file)
    if not accept:
        status, _, body = request(_server_of(kubeconfig), context, "GET", path)
        return status, body
    req = urllib.request.Request(_server_of(kubeconfig) + path, headers={"Accept": accept})
    try:
        with urllib.request.urlopen(req, context=context, timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _custom(kubeconfig: Path) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(config.new_client_from_config(config_file=str(kubeconfig)))


def _group() -> str:
    return f"t{uuid.uuid4().hex[:6]}.example.com"


def _apply(kubectl, obj: dict[str, Any]) -> str:  # type: ignore[no-untyped-def]
    return str(kubectl("apply", "-f", "-", input=json.dumps(obj)).stdout)


def _wait(predicate, timeout: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


def test_crd_is_established_and_served_everywhere(control_plane, kubectl, namespace, second_server):
    group = _group()
    _apply(kubectl, _crd(group))
    crd = json.loads(kubectl("get", "crd", f"widgets.{group}", "-o", "json").stdout)
    conditions = {c["type"]: c for c in crd["status"]["conditions"]}
    assert conditions["Established"]["status"] == "True"
    assert conditions["NamesAccepted"]["status"] == "True"
    assert crd["status"]["acceptedNames"]["singular"] == "widget"
    assert crd["status"]["storedVersions"] == ["v1"]
    assert "customresourcecleanup.apiextensions.k8s.io" in crd["metadata"]["finalizers"]

    # served on the other API server within a second of the create
    assert _wait(lambda: _get(control_plane, second_server, f"/apis/{group}/v1")[0] == 200, 1.0)
    status, resources = _get(control_plane, second_server, f"/apis/{group}/v1")
    widget = next(r for r in resources["resources"] if r["name"] == "widgets")
    assert widget["kind"] == "Widget" and widget["namespaced"] is True
    assert widget["shortNames"] == ["wix"] and widget["categories"] == ["all", "gadgets"]
    assert widget["singularName"] == "widget"

    _, groups = _get(control_plane, control_plane.admin_kubeconfig, "/apis")
    assert any(g["name"] == group for g in groups["groups"])
    agg = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    _, aggregated = _get(control_plane, second_server, "/apis", accept=agg)
    entry = next(i for i in aggregated["items"] if i["metadata"]["name"] == group)
    assert entry["versions"][0]["resources"][0]["resource"] == "widgets"

    names = kubectl("api-resources", "--api-group", group, "-o", "name").stdout.split()
    assert names == [f"widgets.{group}"]

    # objects through the second server, read through the first
    api_b = _custom(second_server)
    for i, color in enumerate(("red", "blue", "red")):
        api_b.create_namespaced_custom_object(
            group,
            "v1",
            namespace,
            "widgets",
            {
                "apiVersion": f"{group}/v1",
                "kind": "Widget",
                "metadata": {"name": f"w{i}", "labels": {"color": color}},
                "spec": {"size": i + 1, "color": color},
            },
        )
    api_a = _custom(control_plane.admin_kubeconfig)
    got = api_a.get_namespaced_custom_object(group, "v1", namespace, "widgets", "w1")
    assert got["spec"] == {"size": 2, "color": "blue"} and got["metadata"]["generation"] == 1
    red = api_a.list_namespaced_custom_object(group, "v1", namespace, "widgets", label_selector="color=red")
    assert [o["metadata"]["name"] for o in red["items"]] == ["w0", "w2"]
    assert red["kind"] == "WidgetList" and red["apiVersion"] == f"{group}/v1"
    by_name = api_a.list_cluster_custom_object(group, "v1", "widgets", field_selector="metadata.name=w2")
    assert [o["metadata"]["name"] for o in by_name["items"]] == ["w2"]
    by_ns = api_a.list_cluster_custom_object(
        group, "v1", "widgets", field_selector=f"metadata.namespace={namespace}"
    )
    assert len(by_ns["items"]) == 3
    with pytest.raises(ApiException) as bad:
        api_a.list_cluster_custom_object(group, "v1", "widgets", field_selector="spec.color=red")
    assert bad.value.status == 400

    # printer columns, short name and category
    table = kubectl("get", "wix", "-n", namespace).stdout.splitlines()
    assert table[0].split() == ["NAME", "SIZE", "COLOR", "READY", "AGE"]
    assert table[1].split()[:3] == ["w0", "1", "red"] and len(table[1].split()) == 4  # READY: a null cell
    api_a.patch_namespaced_custom_object(
        group,
        "v1",
        namespace,
        "widgets",
        "w0",
        {"status": {"conditions": [{"type": "Ready", "status": "True"}]}},
    )
    row = kubectl("get", f"widgets.{group}", "w0", "-n", namespace, "--no-headers").stdout.split()
    assert row[:4] == ["w0", "1", "red", "True"]
    everything = kubectl("get", "gadgets", "-n", namespace, "-o", "name").stdout.split()
    assert f"widget.{group}/w1" in everything

    # a watch on one server sees a write on the other
    stream = watch.Watch()
    rv = api_a.list_namespaced_custom_object(group, "v1", namespace, "widgets")["metadata"]["resourceVersion"]
    api_b.delete_namespaced_custom_object(group, "v1", namespace, "widgets", "w2")
    seen = []
    for event in stream.stream(
        api_a.list_namespaced_custom_object,
        group,
        "v1",
        namespace,
        "widgets",
        resource_version=rv,
        timeout_seconds=2,
    ):
        seen.append((event["type"], event["object"]["metadata"]["name"]))
        if event["type"] == "DELETED":
            stream.stop()
    assert ("DELETED", "w2") in seen

    # deleting the CRD deletes its objects, then the CRD, and the REST paths go everywhere
    kubectl("delete", "crd", f"widgets.{group}", "--wait=true", timeout=30)
    assert _wait(lambda: _get(control_plane, second_server, f"/apis/{group}/v1")[0] == 404, 2.0)
    assert _get(control_plane, control_plane.admin_kubeconfig, f"/apis/{group}/v1/widgets")[0] == 404
    leftovers = kubectl("get", "--raw", "/api/v1/namespaces", check=True)  # server still answers
    assert leftovers.returncode == 0
    _apply(kubectl, _crd(group))  # the same CRD again starts empty
    assert _wait(lambda: _get(control_plane, control_plane.admin_kubeconfig, f"/apis/{group}/v1")[0] == 200)
    again = api_a.list_namespaced_custom_object(group, "v1", namespace, "widgets")
    assert again["items"] == []
    kubectl("delete", "crd", f"widgets.{group}")


def test_cluster_scoped_crd_and_names(control_plane, kubectl):
    group = _group()
    _apply(kubectl, _crd(group, scope="Cluster", plural="gizmos", kind="Gizmo"))
    api = _custom(control_plane.admin_kubeconfig)
    made = api.create_cluster_custom_object(
        group, "v1", "gizmos", {"apiVersion": f"{group}/v1", "kind": "Gizmo", "metadata": {"name": "g1"}}
    )
    assert "namespace" not in made["metadata"]
    status, _ = _get(
        control_plane, control_plane.admin_kubeconfig, f"/apis/{group}/v1/namespaces/default/gizmos/g1"
    )
    assert status == 404
    assert kubectl("get", "gizmo", "g1", "-o", "name").stdout.strip() == f"gizmo.{group}/g1"

    # a second CRD claiming the same names in the group is not accepted and not served
    clash = _crd(group, scope="Cluster", plural="gadgets", kind="Gizmo")
    clash["spec"]["names"]["singular"] = "gadget"
    _apply(kubectl, clash)
    crd = json.loads(kubectl("get", "crd", f"gadgets.{group}", "-o", "json").stdout)
    conditions = {c["type"]: c for c in crd["status"]["conditions"]}
    assert conditions["NamesAccepted"]["status"] == "False"
    assert conditions["NamesAccepted"]["reason"] == "KindConflict"
    assert conditions["Established"]["status"] == "False"
    assert _get(control_plane, control_plane.admin_kubeconfig, f"/apis/{group}/v1/gadgets")[0] == 404

    # an invalid CRD is a 422 naming the field
    bad = _crd(group, plural="things", kind="Thing")
    bad["metadata"]["name"] = f"other.{group}"
    result = kubectl("apply", "-f", "-", input=json.dumps(bad), check=False)
    assert result.returncode != 0 and "metadata.name" in result.stderr
    kubectl("delete", "crd", f"gadgets.{group}", f"gizmos.{group}", timeout=30)
