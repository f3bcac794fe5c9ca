"""OpenAPI v3: the shape kubectl's field-validation probe looks for, checked with the real kubectl."""

import json

import pytest

from kprov.cluster.api.resources import REGISTRY, api_version
from kprov.cluster.api.schema.openapi_v3 import (
    group_version_of_path,
    openapi_v3_document,
    openapi_v3_index,
    v3_document,
)

from ._kubectl_capture import capture_posts, kubectl_available


def test_index_lists_every_group_version_with_a_stable_hash():
    index = openapi_v3_index("")
    assert set(index["paths"]) >= {"api/v1", "apis/apps/v1", "apis/coordination.k8s.io/v1"}
    url = index["paths"]["apis/apps/v1"]["serverRelativeURL"]
    assert url.startswith("/openapi/v3/apis/apps/v1?hash=")
    assert openapi_v3_index("")["paths"]["apis/apps/v1"]["serverRelativeURL"] == url
    assert group_version_of_path("apis/apps/v1") == ("apps", "v1")
    assert group_version_of_path("api/v1") == ("", "v1")


def test_every_kind_has_a_patch_operation_with_gvk_and_field_validation():
    for group, version in REGISTRY.group_versions():
        document = openapi_v3_document(group, version)
        found = {}
        for operations in document["paths"].values():
            patch = operations.get("patch")
            if patch and {"name": "fieldValidation", "in": "query"}.items() <= patch["parameters"][2].items():
                gvk = patch["x-kubernetes-group-version-kind"]
                found[gvk["kind"]] = gvk
        for info in REGISTRY.in_group_version(group, version):
            if "patch" in info.verbs:
                assert found[info.kind] == {"group": info.group, "version": info.version, "kind": info.kind}


def test_component_schemas_carry_patch_extensions():
    schemas = openapi_v3_document("", "v1")["components"]["schemas"]
    containers = schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["items"] == {"$ref": "#/components/schemas/io.k8s.api.core.v1.Container"}
    pod = schemas["io.k8s.api.core.v1.Pod"]
    assert pod["x-kubernetes-group-version-kind"] == [{"group": "", "version": "v1", "kind": "Pod"}]
    assert v3_document("nope", "v1") is None
    with pytest.raises(KeyError):
        openapi_v3_document("nope", "v1")


def _legacy_discovery() -> dict[str, dict]:
    documents: dict[str, dict] = {
        "/api": {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
        },
    }
    groups = []
    for group, version in REGISTRY.group_versions():
        resources = [
            {
                "name": i.resource,
                "singularName": i.singular,
                "namespaced": i.namespaced,
                "kind": i.kind,
                "verbs": list(i.verbs),
                "shortNames": list(i.short_names),
            }
            for i in REGISTRY.in_group_version(group, version)
        ]
        gv = api_version(REGISTRY.in_group_version(group, version)[0])
        path = f"/apis/{gv}" if group else f"/api/{version}"
        documents[path] = {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": gv,
            "resources": resources,
        }
        if group:
            entry = {"groupVersion": gv, "version": version}
            groups.append({"name": group, "versions": [entry], "preferredVersion": entry})
    documents["/apis"] = {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
    documents["/openapi/v3"] = openapi_v3_index("")
    for group, version in REGISTRY.group_versions():
        documents["/openapi/v3/" + (f"apis/{group}/{version}" if group else f"api/{version}")] = (
            openapi_v3_document(group, version)
        )
    return documents


@pytest.mark.skipif(not kubectl_available(), reason="needs the kubectl binary")
def test_real_kubectl_apply_uses_server_side_field_validation(tmp_path):
    manifest = tmp_path / "deploy.json"
    manifest.write_text(
        json.dumps(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "web", "namespace": "default"},
                "spec": {
                    "selector": {"matchLabels": {"app": "web"}},
                    "template": {
                        "metadata": {"labels": {"app": "web"}},
                        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
                    },
                },
            }
        )
    )
    posts = capture_posts([["apply", "-f", str(manifest)]], tmp_path, _legacy_discovery())
    assert len(posts) == 1, posts
    path, content_type, body = posts[0]
    assert path.startswith("/apis/apps/v1/namespaces/default/deployments?")
    assert "fieldValidation=Strict" in path
    assert json.loads(body)["metadata"]["name"] == "web"


# Values kube-openapi holds as free-form JSON (interface{}) or as pointers to a struct: an
# empty one survives its round trip. Every other empty list or object is a Go slice or map
# with omitempty, dropped when marshalled again, so the document no longer compares equal.
_FREE_FORM = {"default", "example", "enum"}
_STRUCT_POINTERS = {"schema", "items", "additionalProperties", "not", "requestBody", "components", "info"}


def _dropped_by_a_go_round_trip(node, path=""):
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _FREE_FORM or key.startswith("x-"):
                continue
            where = f"{path}/{key}"
            if isinstance(value, (dict, list)) and not value and key not in _STRUCT_POINTERS:
                found.append(where)
            found += _dropped_by_a_go_round_trip(value, where)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _dropped_by_a_go_round_trip(value, f"{path}/{index}")
    return found


def test_every_document_survives_kube_openapis_round_trip():
    """The e2e suite's OpenAPIV3 round-trip specs unmarshal each document into kube-openapi's
    spec3 types, marshal it and compare (reflect.DeepEqual): an empty `parameters` list of
    an operation or a cluster-scoped collection failed them."""
    from kprov.cluster.api.crd.openapi import crd_document
    from kprov.cluster.api.resources import ResourceInfo

    for group, version in REGISTRY.group_versions():
        assert _dropped_by_a_go_round_trip(openapi_v3_document(group, version)) == [], (group, version)
    cluster_scoped = next(i for i in REGISTRY.all() if not i.namespaced and "create" in i.verbs)
    assert isinstance(cluster_scoped, ResourceInfo)
    assert _dropped_by_a_go_round_trip(crd_document([cluster_scoped])) == []
    assert _dropped_by_a_go_round_trip({"paths": {"/x": {"parameters": []}}}) == ["/paths//x/parameters"]
