"""Malformed and oversized requests get a Status error and change nothing."""

from __future__ import annotations

import json

import pytest

from tests.integration.apiserver._http import ssl_context


def _count(admin, ns: str) -> int:  # type: ignore[no-untyped-def]
    return len(admin("GET", f"/api/v1/namespaces/{ns}/configmaps")[2]["items"])


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":', "application/json"),
        (b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [", "application/yaml"),
        (b"[1, 2]", "application/json"),
    ],
)
def test_malformed_body_is_400_status(admin, namespace, body, content_type):
    status, headers, reply = admin(
        "POST", f"/api/v1/namespaces/{namespace}/configmaps", body, content_type=content_type
    )
    assert status == 400 and headers["Content-Type"].startswith("application/json")
    assert reply["kind"] == "Status" and reply["reason"] == "BadRequest" and reply["code"] == 400
    assert _count(admin, namespace) == 0


def test_unknown_field_strict_is_400_naming_it(admin, namespace):
    body = json.dumps(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "u"},
            "data": {"a": "b"},
            "spec": {"bogus": 1},
        }
    ).encode()
    status, _, reply = admin(
        "POST", f"/api/v1/namespaces/{namespace}/configmaps?fieldValidation=Strict", body
    )
    assert status == 400 and reply["reason"] == "BadRequest", reply
    assert reply["message"] == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: '
        'strict decoding error: unknown field "spec"'
    )
    status, headers, _ = admin(
        "POST", f"/api/v1/namespaces/{namespace}/configmaps?fieldValidation=Warn", body
    )
    assert status == 201 and "unknown field" in headers.get("Warning", "")


def test_oversized_body_is_413(admin, namespace):
    big = json.dumps(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "big"},
            "data": {"x": "a" * (4 * 1024 * 1024)},
        }
    ).encode()
    status, _, reply = admin("POST", f"/api/v1/namespaces/{namespace}/configmaps", big)
    assert status == 413 and reply["reason"] == "RequestEntityTooLarge"
    assert reply["message"] == "Request entity too large: limit is 3145728"  # as kube-apiserver says it
    assert _count(admin, namespace) == 0
    assert admin("GET", "/readyz")[2] == "ok"


def test_unsupported_media_type_is_415(admin, namespace):
    status, _, reply = admin(
        "POST", f"/api/v1/namespaces/{namespace}/configmaps", b"<xml/>", content_type="application/xml"
    )
    assert status == 415 and reply["reason"] == "UnsupportedMediaType"


def test_dry_run_writes_nothing_and_bools_parse_like_go(admin, namespace):
    status, _, reply = admin(
        "POST",
        f"/api/v1/namespaces/{namespace}/configmaps?dryRun=All",
        json.dumps({"metadata": {"name": "dry"}}).encode(),
    )
    assert status == 201 and reply["metadata"]["name"] == "dry"
    assert admin("GET", f"/api/v1/namespaces/{namespace}/configmaps/dry")[0] == 404
    admin(
        "POST", f"/api/v1/namespaces/{namespace}/configmaps", json.dumps({"metadata": {"name": "w"}}).encode()
    )
    status, _, stream = admin("GET", f"/api/v1/namespaces/{namespace}/configmaps?watch=True&timeoutSeconds=1")
    text = stream if isinstance(stream, str) else json.dumps(stream, separators=(",", ":"))
    assert status == 200 and '"type":"ADDED"' in text  # a watch event stream, not a list


def test_unknown_resource_is_404_status(admin):
    status, _, reply = admin("GET", "/api/v1/flibbertigibbets")
    assert status == 404 and reply["kind"] == "Status"


def test_a_table_of_an_access_review_is_406(control_plane):
    """A create-only kind without metadata cannot be answered as a Table; the body (raw
    protobuf, as the conformance suite sends it) is not even read."""
    import urllib.error
    import urllib.request

    context = ssl_context(control_plane.admin_kubeconfig, control_plane.ca_file)
    req = urllib.request.Request(
        control_plane.server + "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        data=b"\x12\x07\x12\x05\x0a\x01/\x12\x00",
        method="POST",
        headers={
            "Content-Type": "application/vnd.kubernetes.protobuf",
            "Accept": "application/json;as=Table;v=v1;g=meta.k8s.io",
        },
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(req, context=context, timeout=30)
    reply = json.loads(refused.value.read())
    assert refused.value.code == 406 and reply["reason"] == "NotAcceptable", reply


def test_a_scale_update_with_a_resource_version_that_is_no_number_is_400(admin, namespace):
    """A 100k fuzz run's finding: the scale subresource parsed the pinned version with int()."""
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"a": "b"}},
                 "template": {"metadata": {"labels": {"a": "b"}},
                              "spec": {"containers": [{"name": "c", "image": "busybox"}]}}},
    }
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments"
    created = admin("POST", path, json.dumps(deployment).encode())
    assert created[0] == 201
    scale = {"apiVersion": "autoscaling/v1", "kind": "Scale",
             "metadata": {"name": "d", "resourceVersion": "2020-13-45T99:99:99Z"}, "spec": {"replicas": 2}}
    status, _, reply = admin("PUT", f"{path}/d/scale", json.dumps(scale).encode())
    assert status == 400 and reply["reason"] == "BadRequest", reply
    assert admin("GET", f"{path}/d")[2]["spec"]["replicas"] == 1


def test_a_token_request_whose_metadata_is_a_string_is_400(admin, namespace):
    """A 100k fuzz run's finding: truncated YAML left metadata a string, and the token
    handler failed with a 500 building a dict of it."""
    truncated = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name"
    status, _, reply = admin("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/default/token",
                             truncated, content_type="application/yaml")
    assert status == 400 and reply["reason"] == "BadRequest", reply
    assert reply["message"].startswith('TokenRequest in version "v1" cannot be handled as a TokenRequest: ')


@pytest.mark.parametrize("directive", ["", "?fieldValidation=Ignore", "?fieldValidation=Warn"])
def test_unknown_fields_of_a_built_in_kind_are_never_stored(admin, namespace, directive):
    """As kube-apiserver's decoding into its Go types: whatever the directive (it only decides
    whether the client hears of them), a create, an update and a merge patch keep none of
    the fields the kind does not declare (a fuzz run stored megabytes in ConfigMaps' ``x``)."""
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    created = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "u", "bogus": 1},
               "data": {"a": "b"}, "x": "a" * 1000}
    status, _, reply = admin("POST", path + directive, json.dumps(created).encode())
    assert status == 201 and "x" not in reply and "bogus" not in reply["metadata"], reply
    updated = {**created, "metadata": {"name": "u"}, "data": {"a": "c"}, "spec": {"y": 1}}
    status, _, reply = admin("PUT", f"{path}/u{directive}", json.dumps(updated).encode())
    assert status == 200 and reply["data"] == {"a": "c"} and {"x", "spec"}.isdisjoint(reply), reply
    status, _, reply = admin("PATCH", f"{path}/u{directive}", b'{"z":{"q":1},"data":{"d":"e"}}',
                             content_type="application/merge-patch+json")
    assert status == 200 and reply["data"] == {"a": "c", "d": "e"} and "z" not in reply, reply
    stored = admin("GET", f"{path}/u")[2]
    assert {"x", "spec", "z"}.isdisjoint(stored) and "bogus" not in stored["metadata"], stored


def test_a_malformed_timeout_is_400_and_the_sli_metrics_are_served(admin):
    status, _, reply = admin("GET", "/version?timeout=invalid")
    assert status == 400 and reply["reason"] == "BadRequest"
    detail = 'time: invalid duration "invalid"'
    assert reply["message"] == f"invalid timeout specified in the request URL - {detail}"
    assert admin("GET", "/version?timeout=32s")[0] == 200
    status, _, text = admin("GET", "/metrics/slis")
    assert status == 200, text
    assert 'kubernetes_healthcheck{name="etcd",type="readyz"} 1' in text
