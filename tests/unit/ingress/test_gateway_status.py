"""Status bodies: written only when they differ, transition times kept, other controllers'
route parents kept, and kprov's CRDs well-formed (names, versions, status subresources)."""

from __future__ import annotations

from kprov.cluster.ingress.gateway.crds import CRD_NAMES, gateway_crds
from kprov.cluster.ingress.gateway.routing import condition
from kprov.cluster.ingress.gateway.status import class_status, gateway_status, route_status

CONTROLLER = "kprov.io/gateway-controller"


def test_class_status_is_written_once_then_left_alone() -> None:
    want = [condition("Accepted", True, "Accepted", "ok", 1)]
    first = class_status(
        {
            "status": {
                "conditions": [
                    {
                        "type": "Accepted",
                        "status": "Unknown",
                        "reason": "Pending",
                        "message": "",
                        "lastTransitionTime": "1970-01-01T00:00:00Z",
                    }
                ]
            }
        },
        want,
        "T1",
    )
    assert first is not None and first["conditions"][0]["lastTransitionTime"] == "T1"
    assert class_status({"status": first}, want, "T2") is None


def test_gateway_status_keeps_listener_transition_times() -> None:
    computed = {
        "addresses": [{"type": "IPAddress", "value": "10.0.0.1"}],
        "conditions": [condition("Programmed", True, "Programmed", "ok", 1)],
        "listeners": [
            {
                "name": "http",
                "supportedKinds": [],
                "attachedRoutes": 1,
                "conditions": [condition("Accepted", True, "Accepted", "ok", 1)],
            }
        ],
    }
    first = gateway_status({}, computed, "T1")
    assert first is not None
    assert gateway_status({"status": first}, computed, "T2") is None
    moved = {**computed, "addresses": [{"type": "IPAddress", "value": "10.0.0.2"}]}
    second = gateway_status({"status": first}, moved, "T2")
    assert second is not None and second["listeners"][0]["conditions"][0]["lastTransitionTime"] == "T1"


def test_route_status_keeps_other_controllers_parents() -> None:
    theirs = {"parentRef": {"name": "x"}, "controllerName": "example.com/other", "conditions": []}
    ours = [
        {
            "parentRef": {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "gw"},
            "controllerName": CONTROLLER,
            "conditions": [condition("Accepted", True, "Accepted", "ok", 1)],
        }
    ]
    written = route_status({"status": {"parents": [theirs]}}, ours, CONTROLLER, "T1")
    assert written is not None and written["parents"][0] == theirs and len(written["parents"]) == 2
    assert route_status({"status": written}, ours, CONTROLLER, "T2") is None


def test_crds_serve_the_standard_channels_versions_with_status_subresources() -> None:
    crds = gateway_crds()
    assert tuple(c["metadata"]["name"] for c in crds) == CRD_NAMES
    versions = {
        c["spec"]["names"]["kind"]: [(v["name"], v["served"], v["storage"]) for v in c["spec"]["versions"]]
        for c in crds
    }
    assert versions == {
        "GatewayClass": [("v1", True, True), ("v1beta1", True, False)],
        "Gateway": [("v1", True, True), ("v1beta1", True, False)],
        "HTTPRoute": [("v1", True, True), ("v1beta1", True, False)],
        "ReferenceGrant": [("v1beta1", True, True)],
    }
    for crd in crds[:3]:
        assert all(v["subresources"] == {"status": {}} for v in crd["spec"]["versions"])
    crds[0]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"].clear()
    assert gateway_crds()[0]["spec"]["versions"][1]["schema"]["openAPIV3Schema"]["properties"]  # no sharing
