"""API aggregation's pure parts: APIService validation and table, the Available condition,
the local APIServices kube-apiserver would keep, discovery merging, identity headers and
endpoint resolution from the watch cache."""

from __future__ import annotations

from typing import Any

import pytest

from kprov.cluster.api.kinds.apiregistration import PRINTER, is_available, set_available
from kprov.cluster.api.resources import REGISTRY
from kprov.cluster.api.validation.core import validate
from kprov.cluster.apiserver.aggregation.discovery import aggregated_item, remote_groups, shadowed
from kprov.cluster.apiserver.aggregation.proxy import identity_headers
from kprov.cluster.apiserver.aggregation.registry import Unresolvable, ready_addresses
from kprov.cluster.apiserver.identity import UserInfo
from kprov.cluster.apiserver.reconcilers.apiservice_controller import desired_local

INFO = REGISTRY.get("apiregistration.k8s.io", "v1", "apiservices")


def _apiservice(name: str = "v1alpha1.wardle.example.com", **spec: Any) -> dict[str, Any]:
    base = {"group": "wardle.example.com", "version": "v1alpha1", "groupPriorityMinimum": 2000,
            "versionPriority": 10, "service": {"name": "api", "namespace": "wardle", "port": 443}}
    base.update(spec)
    return {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService", "metadata": {"name": name},
            "spec": base}


def _causes(obj: dict[str, Any]) -> dict[str, str]:
    assert INFO is not None
    return {c.field: c.message for c in validate(INFO, obj)}


def test_a_valid_remote_apiservice_passes():
    assert _causes(_apiservice()) == {}


def test_the_core_group_is_named_v1_dot():
    local = _apiservice("v1.", group="", version="v1", service=None)
    assert _causes(local) == {}


def test_name_must_be_version_dot_group():
    causes = _causes(_apiservice("v1.other"))
    assert causes["metadata.name"] == (
        'Invalid value: "v1.other": must be `spec.version+"."+spec.group`: "v1alpha1.wardle.example.com"'
    )


@pytest.mark.parametrize(
    ("spec", "field", "message"),
    [
        ({"group": "", "version": "v2"}, "spec.group",
         "Required value: only v1 may have an empty group and it better be legacy kube"),
        ({"groupPriorityMinimum": 0}, "spec.groupPriorityMinimum",
         "Invalid value: 0: must be positive and less than 20000"),
        ({"versionPriority": 1001}, "spec.versionPriority",
         "Invalid value: 1001: must be positive and less than 1000"),
        ({"caBundle": "YWJj", "insecureSkipTLSVerify": True}, "spec.insecureSkipTLSVerify",
         "Invalid value: true: may not be true if caBundle is present"),
        ({"service": None, "caBundle": "YWJj"}, "spec.caBundle",
         'Invalid value: "3 bytes": local APIServices may not have a caBundle'),
        ({"service": None, "insecureSkipTLSVerify": True}, "spec.insecureSkipTLSVerify",
         "Invalid value: true: local APIServices may not have insecureSkipTLSVerify"),
        ({"service": {"namespace": "wardle"}}, "spec.service.name", "Required value"),
    ],
)
def test_upstream_rules(spec, field, message):
    obj = _apiservice(**spec)
    obj["metadata"]["name"] = f"{obj['spec']['version']}.{obj['spec']['group']}"
    assert _causes(obj)[field] == message


def test_available_condition_keeps_its_transition_time_while_the_status_stays():
    obj = _apiservice()
    assert set_available(obj, "False", "MissingEndpoints", "none", "t1")
    assert not set_available(obj, "False", "MissingEndpoints", "none", "t2")
    assert set_available(obj, "False", "FailedDiscoveryCheck", "down", "t3")
    (condition,) = obj["status"]["conditions"]
    assert condition["lastTransitionTime"] == "t1" and condition["reason"] == "FailedDiscoveryCheck"
    assert not is_available(obj)
    set_available(obj, "True", "Passed", "all checks passed", "t4")
    assert is_available(obj) and obj["status"]["conditions"][0]["lastTransitionTime"] == "t4"


def test_table_row_shows_service_and_availability():
    obj = _apiservice()
    obj["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
    set_available(obj, "False", "ServiceNotFound", "gone", "t")
    assert [c.name for c in PRINTER.columns] == ["Name", "Service", "Available", "Age"]
    row = PRINTER.row(obj, lambda _: "5m")
    assert row == ["v1alpha1.wardle.example.com", "wardle/api", "False (ServiceNotFound)", "5m"]
    local = _apiservice("v1.", group="", version="v1", service=None)
    set_available(local, "True", "Local", "Local APIServices are always available", "t")
    assert PRINTER.row(local, lambda _: "1d")[1:3] == ["Local", "True"]


def test_local_apiservices_follow_upstream_priorities():
    wanted = desired_local(REGISTRY.all())
    assert wanted["v1."]["spec"] == {"group": "", "version": "v1", "groupPriorityMinimum": 18000,
                                     "versionPriority": 1, "service": None}
    assert wanted["v2.autoscaling"]["spec"]["versionPriority"] == 30
    assert wanted["v1.apps"]["metadata"]["labels"] == {"kube-aggregator.kubernetes.io/automanaged": "onstart"}
    served = {(i.group, i.version) for i in REGISTRY.all()}
    assert {f"{v}.{g}" for g, v in served} == set(wanted)


def _available(obj: dict[str, Any]) -> dict[str, Any]:
    set_available(obj, "True", "Passed", "all checks passed", "t")
    return obj


DOC = {"kind": "APIResourceList", "groupVersion": "wardle.example.com/v1alpha1", "resources": [
    {"name": "flunders", "singularName": "flunder", "namespaced": True, "kind": "Flunder",
     "verbs": ["get", "list"], "shortNames": ["fl"], "categories": ["all"]},
    {"name": "flunders/status", "singularName": "", "namespaced": True, "kind": "Flunder",
     "verbs": ["get", "update"]},
]}


def test_only_apiservices_this_server_holds_a_document_for_are_merged():
    up = _available(_apiservice())
    v2 = _apiservice("v2.wardle.example.com", version="v2", versionPriority=20)  # not yet marked
    down = _available(_apiservice("v1.down.example.com", group="down.example.com", version="v1"))
    docs = {"v1alpha1.wardle.example.com": ("1", DOC), "v2.wardle.example.com": ("1", DOC)}
    (group,) = remote_groups([up, v2, down], docs)
    assert group.name == "wardle.example.com" and group.version_names == ["v2", "v1alpha1"]
    assert remote_groups([up], {}) == []
    assert shadowed([up, down]) == {("wardle.example.com", "v1alpha1"), ("down.example.com", "v1")}


def test_aggregated_form_of_a_backend_document():
    (group,) = remote_groups([_available(_apiservice())], {"v1alpha1.wardle.example.com": ("1", DOC)})
    item = aggregated_item(group)
    (version,) = item["versions"]
    (resource,) = version["resources"]
    assert resource["resource"] == "flunders" and resource["scope"] == "Namespaced"
    kind = {"group": "wardle.example.com", "version": "v1alpha1", "kind": "Flunder"}
    assert resource["responseKind"] == kind
    assert resource["shortNames"] == ["fl"] and resource["categories"] == ["all"]
    assert resource["subresources"][0]["subresource"] == "status"


def test_identity_headers():
    user = UserInfo("alice", ("dev", "system:authenticated"), "u1", (("scopes.example/x y", ("a", "b")),))
    assert identity_headers(user) == [
        ("X-Remote-User", "alice"), ("X-Remote-Group", "dev"), ("X-Remote-Group", "system:authenticated"),
        ("X-Remote-Extra-scopes.example%2Fx%20y", "a"), ("X-Remote-Extra-scopes.example%2Fx%20y", "b"),
    ]


def test_ready_addresses_pick_the_named_port_and_ready_endpoints():
    slices = [{"ports": [{"name": "https", "port": 8443}, {"name": "", "port": 80}],
               "endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": True}},
                             {"addresses": ["10.0.0.2"], "conditions": {"ready": False}},
                             {"addresses": ["10.0.0.3"]}]}]
    assert ready_addresses(slices, "https") == [("10.0.0.1", 8443), ("10.0.0.3", 8443)]
    assert ready_addresses(slices, "metrics") == []
    assert Unresolvable("MissingEndpoints", "m").reason == "MissingEndpoints"
