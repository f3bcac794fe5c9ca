"""The optional beta versions on real API servers over one etcd: without --runtime-config
they are 404 and absent from discovery (as kube-apiserver v1.32's defaults); a second server
started with admissionregistration.k8s.io/v1beta1 and flowcontrol.apiserver.k8s.io/v1beta3
serves them as views of the v1 objects (create, get, list, watch in either version; v1beta3's
zero-shares annotation), lists them in discovery after v1, and registers their APIServices."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kprov.local.certs import write_identity_kubeconfig
from kprov.local.control_plane import apiserver_argv
from kprov.local.ports import free_port, wait_for_port
from kprov.pki import ADMIN_CN, MASTERS_GROUP

from ._http import request, ssl_context

AR, FC = "admissionregistration.k8s.io", "flowcontrol.apiserver.k8s.io"
ZERO = "flowcontrol.k8s.io/v1-zero-nominalConcurrencyShares"
_FLAG = f"{AR}/v1beta1=true,{FC}/v1beta3=true"


class Api:
    def __init__(self, server: str, kubeconfig: Path, ca_file: Path) -> None:
        self.server, self.context = server, ssl_context(kubeconfig, ca_file)

    def __call__(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        status, _headers, payload = request(self.server, self.context, method, path, data)
        return status, payload


@pytest.fixture(scope="module")
def beta_server(control_plane, tmp_path_factory) -> Iterator[Api]:  # type: ignore[no-untyped-def]
    """A second kprov-apiserver on the same etcd with the beta versions turned on."""
    pki = control_plane.plane.pki
    port = free_port()
    log = tmp_path_factory.mktemp("beta") / "apiserver.log"
    argv = apiserver_argv(pki, control_plane.etcd_url, port, "--runtime-config", _FLAG)
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    kubeconfig = write_identity_kubeconfig(
        pki, f"https://127.0.0.1:{port}", ADMIN_CN, [MASTERS_GROUP], file_name="beta-server-admin"
    )
    api = Api(f"https://127.0.0.1:{port}", kubeconfig, control_plane.ca_file)
    try:
        assert wait_for_port("127.0.0.1", port, 30), log.read_text()
        yield api
    finally:
        proc.terminate()
        proc.wait(10)
        default = Api(control_plane.server, control_plane.admin_kubeconfig, control_plane.ca_file)
        for name in (f"v1beta1.{AR}", f"v1beta3.{FC}"):  # the default server would not keep them
            default("DELETE", f"/apis/apiregistration.k8s.io/v1/apiservices/{name}")


@pytest.fixture(scope="module")
def default_server(control_plane) -> Api:  # type: ignore[no-untyped-def]
    return Api(control_plane.server, control_plane.admin_kubeconfig, control_plane.ca_file)


def _versions(groups: dict[str, Any], name: str) -> tuple[list[str], str]:
    group = next(g for g in groups["groups"] if g["name"] == name)
    return [v["version"] for v in group["versions"]], group["preferredVersion"]["version"]


def test_off_by_default_as_kube(default_server: Api) -> None:
    for path in (f"/apis/{AR}/v1beta1", f"/apis/{AR}/v1beta1/validatingadmissionpolicies",
                 f"/apis/{FC}/v1beta3", f"/apis/{FC}/v1beta3/flowschemas"):
        status, _ = default_server("GET", path)
        assert status == 404, path
    status, groups = default_server("GET", "/apis")
    assert status == 200
    assert _versions(groups, AR) == (["v1"], "v1")
    assert _versions(groups, FC) == (["v1"], "v1")


def test_discovery_lists_them_after_v1(beta_server: Api) -> None:
    status, groups = beta_server("GET", "/apis")
    assert status == 200
    assert _versions(groups, AR) == (["v1", "v1beta1"], "v1")
    assert _versions(groups, FC) == (["v1", "v1beta3"], "v1")
    status, resources = beta_server("GET", f"/apis/{AR}/v1beta1")
    assert status == 200 and resources["groupVersion"] == f"{AR}/v1beta1"
    names = {r["name"] for r in resources["resources"]}
    assert names == {"validatingadmissionpolicies", "validatingadmissionpolicies/status",
                     "validatingadmissionpolicybindings"}
    status, resources = beta_server("GET", f"/apis/{FC}/v1beta3")
    assert status == 200
    assert {r["name"] for r in resources["resources"]} == {
        "flowschemas", "flowschemas/status", "prioritylevelconfigurations",
        "prioritylevelconfigurations/status"}
    status, service = beta_server("GET", f"/apis/apiregistration.k8s.io/v1/apiservices/v1beta3.{FC}")
    assert status == 200 and service["spec"]["versionPriority"] == 18, service


def _level(name: str, shares: int, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if annotations is not None:
        meta["annotations"] = annotations
    return {"apiVersion": f"{FC}/v1beta3", "kind": "PriorityLevelConfiguration", "metadata": meta,
            "spec": {"type": "Limited", "limited": {"nominalConcurrencyShares": shares,
                                                   "limitResponse": {"type": "Reject"}}}}


def test_v1beta3_priority_levels_are_the_v1_objects(beta_server: Api, default_server: Api) -> None:
    base = f"/apis/{FC}/v1beta3/prioritylevelconfigurations"
    status, made = beta_server("POST", base, _level("beta-zero", 0, {ZERO: "", "team": "a"}))
    assert status == 201, made
    assert made["apiVersion"] == f"{FC}/v1beta3"
    assert made["spec"]["limited"]["nominalConcurrencyShares"] == 0
    assert made["metadata"]["annotations"] == {ZERO: "", "team": "a"}
    # the same object through v1, on the server without the beta versions
    status, v1 = default_server("GET", f"/apis/{FC}/v1/prioritylevelconfigurations/beta-zero")
    assert status == 200 and v1["apiVersion"] == f"{FC}/v1"
    assert v1["spec"]["limited"]["nominalConcurrencyShares"] == 0
    assert v1["metadata"]["annotations"] == {"team": "a"}
    assert v1["metadata"]["resourceVersion"] == made["metadata"]["resourceVersion"]
    # a v1beta3 read-modify-write keeps the 0
    made["metadata"]["labels"] = {"edited": "yes"}
    status, updated = beta_server("PUT", f"{base}/beta-zero", made)
    assert status == 200, updated
    status, v1 = default_server("GET", f"/apis/{FC}/v1/prioritylevelconfigurations/beta-zero")
    assert v1["spec"]["limited"]["nominalConcurrencyShares"] == 0 and v1["metadata"]["labels"]
    # v1beta3's 0 without the annotation means the default, 30
    status, made = beta_server("POST", base, _level("beta-default", 0))
    assert status == 201 and made["spec"]["limited"]["nominalConcurrencyShares"] == 30, made
    assert "annotations" not in made["metadata"]
    # a v1 object with 0 shares reads through v1beta3 with the annotation
    v1_level = {**_level("v1-zero", 0), "apiVersion": f"{FC}/v1"}
    status, _ = default_server("POST", f"/apis/{FC}/v1/prioritylevelconfigurations", v1_level)
    assert status == 201
    status, listed = beta_server("GET", base)
    assert status == 200 and listed["apiVersion"] == f"{FC}/v1beta3"
    by_name = {i["metadata"]["name"]: i for i in listed["items"]}
    assert by_name["v1-zero"]["metadata"]["annotations"] == {ZERO: ""}
    assert all(i["apiVersion"] == f"{FC}/v1beta3" for i in listed["items"])
    assert {"exempt", "global-default"} <= set(by_name)  # the bootstrap levels too
    for name in ("beta-zero", "beta-default", "v1-zero"):
        beta_server("DELETE", f"{base}/{name}")


def test_v1beta1_policies_get_list_and_watch(beta_server: Api, default_server: Api) -> None:
    base = f"/apis/{AR}/v1beta1/validatingadmissionpolicies"
    status, listed = beta_server("GET", base)
    assert status == 200
    since = listed["metadata"]["resourceVersion"]
    policy = {"apiVersion": f"{AR}/v1", "kind": "ValidatingAdmissionPolicy",
              "metadata": {"name": "beta-view"},
              "spec": {"matchConstraints": {"resourceRules": [
                  {"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["CREATE"],
                   "resources": ["deployments"]}]},
                       "validations": [{"expression": "object.spec.replicas < 10"}]}}
    status, made = default_server("POST", f"/apis/{AR}/v1/validatingadmissionpolicies", policy)
    assert status == 201, made
    status, beta = beta_server("GET", f"{base}/beta-view")
    assert status == 200 and beta["apiVersion"] == f"{AR}/v1beta1"
    assert beta["spec"] == made["spec"] and beta["metadata"]["uid"] == made["metadata"]["uid"]
    status, stream = beta_server("GET", f"{base}?watch=true&resourceVersion={since}&timeoutSeconds=1")
    assert status == 200
    text = stream if isinstance(stream, str) else json.dumps(stream)
    events = [json.loads(line) for line in text.splitlines() if line.strip()]
    added = [e for e in events if e["type"] == "ADDED" and e["object"]["metadata"]["name"] == "beta-view"]
    assert added and added[0]["object"]["apiVersion"] == f"{AR}/v1beta1"
    binding = {"apiVersion": f"{AR}/v1beta1", "kind": "ValidatingAdmissionPolicyBinding",
               "metadata": {"name": "beta-view"},
               "spec": {"policyName": "beta-view", "validationActions": ["Deny"]}}
    bindings = f"/apis/{AR}/v1beta1/validatingadmissionpolicybindings"
    status, made_binding = beta_server("POST", bindings, binding)
    assert status == 201 and made_binding["apiVersion"] == f"{AR}/v1beta1", made_binding
    status, v1_binding = default_server("GET", f"/apis/{AR}/v1/validatingadmissionpolicybindings/beta-view")
    assert status == 200 and v1_binding["spec"]["policyName"] == "beta-view"
    beta_server("DELETE", f"/apis/{AR}/v1beta1/validatingadmissionpolicybindings/beta-view")
    status, gone = beta_server("DELETE", f"{base}/beta-view")
    assert status == 200, gone
