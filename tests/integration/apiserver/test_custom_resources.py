"""CustomResourceDefinitions on a real control plane: a CRD applied with kubectl is served at
once (on a second API server too), its objects are created, listed with selectors, watched
and printed with their printer columns, discovery lists them, and deleting the CRD deletes
its objects and takes the resource out of discovery everywhere."""

from __future__ import annotations

import base64
import hashlib
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
    # upstream's derivation (first 8 bytes of sha256("<group>/<storage version>/<Kind>"), base64)
    hashed = hashlib.sha256(f"{group}/v1/Widget".encode()).digest()[:8]
    assert widget["storageVersionHash"] == base64.b64encode(hashed).decode()
    status, core = _get(control_plane, second_server, "/api/v1")
    by_name = {r["name"]: r for r in core["resources"]}
    assert by_name["pods"]["storageVersionHash"] == "xPOwRZ+Yhw8="  # what kube-apiserver shows
    assert "storageVersionHash" not in by_name["pods/status"] and "storageVersionHash" not in by_name[
        "componentstatuses"]

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
    # an update never creates a custom object (upstream: AllowCreateOnUpdate is false for them)
    absent = {"apiVersion": f"{group}/v1", "kind": "Gizmo", "metadata": {"name": "g2"}, "stray": 1}
    refused = kubectl("replace", "-f", "-", input=json.dumps(absent), check=False)
    assert refused.returncode != 0 and "NotFound" in refused.stderr + refused.stdout, refused.stderr
    assert kubectl("get", "gizmo", "g2", check=False).returncode != 0

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


def _schema_crd(group: str) -> dict[str, Any]:
    spec_schema = {
        "type": "object",
        "required": ["color"],
        "x-kubernetes-validations": [
            {"rule": "!has(self.name) || self.name != 'bad'", "message": "name must not be bad"},
            {"rule": "self.color == oldSelf.color", "message": "color is immutable"},
        ],
        "properties": {
            "color": {"type": "string", "enum": ["red", "blue"]},
            "size": {"type": "integer", "minimum": 1, "maximum": 10, "default": 5},
            "name": {"type": "string", "maxLength": 5, "pattern": "^[a-z]+$"},
            "replicas": {"type": "integer"},
            "port": {"x-kubernetes-int-or-string": True},
            "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            "nested": {"type": "object", "properties": {"mode": {"type": "string", "default": "auto"}}},
        },
    }
    schema = {
        "openAPIV3Schema": {
            "type": "object",
            "properties": {
                "spec": spec_schema,
                "status": {
                    "type": "object",
                    "properties": {"replicas": {"type": "integer"}, "selector": {"type": "string"}},
                },
            },
        }
    }
    subresources = {
        "status": {},
        "scale": {
            "specReplicasPath": ".spec.replicas",
            "statusReplicasPath": ".status.replicas",
            "labelSelectorPath": ".status.selector",
        },
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"shapes.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "shapes", "kind": "Shape"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": schema,
                    "subresources": subresources,
                },
                {
                    "name": "v1beta1",
                    "served": True,
                    "storage": False,
                    "schema": schema,
                    "subresources": subresources,
                },
            ],
        },
    }


def _raw(control_plane, method: str, path: str, body: Any = None, content_type: str = "application/json"):  # type: ignore[no-untyped-def]
    context = ssl_context(control_plane.admin_kubeconfig, control_plane.ca_file)
    data = None if body is None else json.dumps(body).encode()
    return request(control_plane.server, context, method, path, data, content_type)


def test_structural_schema_subresources_and_versions(control_plane, kubectl, namespace):
    group = _group()
    _apply(kubectl, _schema_crd(group))
    base = f"/apis/{group}/v1/namespaces/{namespace}/shapes"

    # OpenAPI v3 publishes the schema: kubectl explain reads it, kubectl apply validates with it
    explained = kubectl("explain", "shapes.spec", "--api-version", f"{group}/v1").stdout
    assert "color" in explained and "replicas" in explained
    doc = _raw(control_plane, "GET", f"/openapi/v3/apis/{group}/v1")[2]
    assert f"{'.'.join(reversed(group.split('.')))}.v1.Shape" in doc["components"]["schemas"]
    wrong = {
        "apiVersion": f"{group}/v1",
        "kind": "Shape",
        "metadata": {"name": "k"},
        "spec": {"color": "red", "nope": 1},
    }
    refused = kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(wrong), check=False)
    assert refused.returncode != 0 and 'unknown field "spec.nope"' in refused.stderr

    def shape(obj_name: str, **spec: Any) -> dict[str, Any]:
        return {"apiVersion": f"{group}/v1", "kind": "Shape", "metadata": {"name": obj_name}, "spec": spec}

    # defaults filled, unknown fields pruned (a warning when asked for), preserved where allowed
    status, headers, made = _raw(
        control_plane,
        "POST",
        base + "?fieldValidation=Warn",
        shape("a", color="red", replicas=1, bogus=1, free={"any": {"thing": 1}}, nested={}),
    )
    assert status == 201, made
    assert made["spec"]["size"] == 5 and made["spec"]["nested"] == {"mode": "auto"}
    assert "bogus" not in made["spec"] and made["spec"]["free"] == {"any": {"thing": 1}}
    assert 'unknown field \\"spec.bogus\\"' in headers.get("Warning", "")
    status, _, strict = _raw(
        control_plane, "POST", base + "?fieldValidation=Strict", shape("s", color="red", bogus=1)
    )
    assert status == 400 and strict["reason"] == "BadRequest", strict
    assert strict["message"].endswith('strict decoding error: unknown field "spec.bogus"')

    # invalid objects: 422 naming each field as kube-apiserver does
    status, _, bad = _raw(
        control_plane,
        "POST",
        base,
        shape("b", color="green", size=20, name="TOOLONGNAME", port=True, tags=["x", "x"]),
    )
    assert status == 422, bad
    causes: dict[str, Any] = {}
    for cause in bad["details"]["causes"]:
        causes.setdefault(cause["field"], cause)
    assert causes["spec.color"]["reason"] == "FieldValueNotSupported"
    assert causes["spec.color"]["message"] == 'Unsupported value: "green": supported values: "red", "blue"'
    assert (
        causes["spec.size"]["message"]
        == "Invalid value: 20: spec.size in body should be less than or equal to 10"
    )
    assert causes["spec.name"]["reason"] == "FieldValueTooLong"
    assert causes["spec.port"]["message"] == (
        'Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean"'
    )
    assert causes["spec.tags[1]"]["reason"] == "FieldValueDuplicate"
    assert bad["message"].startswith(f'Shape.{group} "b" is invalid: [')
    status, _, missing = _raw(control_plane, "POST", base, shape("c", size="big"))
    assert {c["field"] for c in missing["details"]["causes"]} == {"spec.color", "spec.size"}
    assert any(c["reason"] == "FieldValueTypeInvalid" for c in missing["details"]["causes"])

    # status subresource: the main resource ignores status, /status changes only status
    api = _custom(control_plane.admin_kubeconfig)
    live = api.get_namespaced_custom_object(group, "v1", namespace, "shapes", "a")
    live["status"] = {"replicas": 7}
    live["spec"]["size"] = 6
    updated = api.replace_namespaced_custom_object(group, "v1", namespace, "shapes", "a", live)
    assert "status" not in updated and updated["metadata"]["generation"] == 2
    updated["status"] = {"replicas": 1, "selector": "app=a"}
    updated["spec"]["size"] = 9
    after = api.replace_namespaced_custom_object_status(group, "v1", namespace, "shapes", "a", updated)
    assert after["status"] == {"replicas": 1, "selector": "app=a"}
    assert after["spec"]["size"] == 6 and after["metadata"]["generation"] == 2

    # scale subresource, through kubectl
    kubectl("scale", f"shapes.{group}/a", "-n", namespace, "--replicas=3")
    scale = api.get_namespaced_custom_object_scale(group, "v1", namespace, "shapes", "a")
    assert scale["spec"]["replicas"] == 3 and scale["status"] == {"replicas": 1, "selector": "app=a"}
    assert api.get_namespaced_custom_object(group, "v1", namespace, "shapes", "a")["spec"]["replicas"] == 3

    # a second served version: same objects under its apiVersion, stored in v1
    beta = api.get_namespaced_custom_object(group, "v1beta1", namespace, "shapes", "a")
    assert beta["apiVersion"] == f"{group}/v1beta1" and beta["spec"]["replicas"] == 3
    made_beta = api.create_namespaced_custom_object(
        group,
        "v1beta1",
        namespace,
        "shapes",
        {
            "apiVersion": f"{group}/v1beta1",
            "kind": "Shape",
            "metadata": {"name": "d"},
            "spec": {"color": "blue"},
        },
    )
    assert made_beta["apiVersion"] == f"{group}/v1beta1"
    listed = api.list_namespaced_custom_object(group, "v1", namespace, "shapes")
    assert {o["apiVersion"] for o in listed["items"]} == {f"{group}/v1"}
    listed_beta = api.list_namespaced_custom_object(group, "v1beta1", namespace, "shapes")
    assert {o["apiVersion"] for o in listed_beta["items"]} == {f"{group}/v1beta1"}
    patched = api.patch_namespaced_custom_object(
        group, "v1beta1", namespace, "shapes", "d", {"spec": {"size": 2}}
    )
    assert patched["apiVersion"] == f"{group}/v1beta1" and patched["spec"]["size"] == 2

    # patches: merge and JSON patch work, strategic merge patch is 415 as upstream
    status, _, json_patched = _raw(
        control_plane,
        "PATCH",
        base + "/d",
        [{"op": "replace", "path": "/spec/size", "value": 4}],
        "application/json-patch+json",
    )
    assert status == 200 and json_patched["spec"]["size"] == 4

    # CEL rules (x-kubernetes-validations), on create and as transition rules on update
    status, _, rejected = _raw(control_plane, "POST", base, shape("e", color="red", name="bad"))
    assert status == 422 and rejected["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: "object": name must not be bad',
            "field": "spec",
        }
    ]
    status, _, immutable = _raw(
        control_plane, "PATCH", base + "/d", {"spec": {"color": "blue"}}, "application/merge-patch+json"
    )
    assert status == 200, immutable  # unchanged: the rule holds
    status, _, immutable = _raw(
        control_plane, "PATCH", base + "/d", {"spec": {"color": "red"}}, "application/merge-patch+json"
    )
    assert status == 422 and "color is immutable" in immutable["message"]
    status, _, smp = _raw(
        control_plane, "PATCH", base + "/d", {"spec": {"size": 3}}, "application/strategic-merge-patch+json"
    )
    assert status == 415, smp
    kubectl("delete", "crd", f"shapes.{group}", timeout=30)
