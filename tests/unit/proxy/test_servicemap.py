"""Joining Services with EndpointSlices into service ports."""

from __future__ import annotations

from typing import Any

from kprov.cluster.proxy.servicemap import PROXY_SELECTOR, Endpoint, service_ports
from tests.unit.proxy.objects import endpoint_slice, service


def test_ready_endpoints_are_joined_by_port_name_and_unready_ones_dropped() -> None:
    ports = service_ports(
        [service("web", "10.96.0.10")],
        [endpoint_slice("web", ["10.244.1.3", "10.244.2.4", "10.244.1.9"], ready=[True, None, False])],
    )
    assert len(ports) == 1
    sp = ports[0]
    assert sp.key == "default/web/tcp/http"
    assert sp.cluster_ips == ("10.96.0.10",)
    assert sp.endpoints == (Endpoint("10.244.1.3", 8080, "n1"), Endpoint("10.244.2.4", 8080, "n1"))


def test_slice_ports_must_match_name_and_protocol() -> None:
    svc = service(
        "dns",
        "10.96.0.53",
        [{"name": "dns", "port": 53, "protocol": "UDP"}, {"name": "dns-tcp", "port": 53, "protocol": "TCP"}],
    )
    slices = [
        endpoint_slice("dns", ["10.244.1.5"], port=5353, port_name="dns", protocol="UDP", suffix="a"),
        endpoint_slice("dns", ["10.244.1.6"], port=53, port_name="dns", protocol="TCP", suffix="b"),
    ]
    by_key = {sp.key: sp for sp in service_ports([svc], slices)}
    assert by_key["default/dns/udp/dns"].endpoints == (Endpoint("10.244.1.5", 5353, "n1"),)
    assert by_key["default/dns/tcp/dns-tcp"].endpoints == ()


def test_slices_of_other_services_and_namespaces_are_ignored() -> None:
    ports = service_ports(
        [service("web", "10.96.0.10")],
        [
            endpoint_slice("other", ["10.244.1.3"]),
            endpoint_slice("web", ["10.244.1.4"], namespace="elsewhere"),
        ],
    )
    assert ports[0].endpoints == ()


def test_headless_external_name_and_ipv6_get_no_service_ports() -> None:
    services = [
        service("headless", "None"),
        {"metadata": {"namespace": "default", "name": "ext"}, "spec": {"type": "ExternalName"}},
        service("v6", "fd00::10"),
    ]
    assert service_ports(services, []) == []


def test_node_port_affinity_and_order() -> None:
    ports = service_ports(
        [
            service(
                "b",
                "10.96.0.11",
                [{"name": "", "port": 80, "protocol": "TCP", "nodePort": 30080}],
                type="NodePort",
                sessionAffinity="ClientIP",
                sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}},
            ),
            service("a", "10.96.0.12", [{"port": 81, "nodePort": 30081}]),
        ],
        [],
    )
    assert [sp.key for sp in ports] == ["default/a/tcp/", "default/b/tcp/"]
    assert ports[0].node_port == 0  # a ClusterIP service keeps no node port even if one is set
    assert ports[1].node_port == 30080
    assert ports[1].affinity_timeout == 60


def test_services_and_slices_another_proxy_serves_or_marked_headless_are_left_alone() -> None:
    foreign = service("foreign", "10.96.0.11")
    foreign["metadata"]["labels"] = {"service.kubernetes.io/service-proxy-name": "foo-bar"}
    headless_slice = endpoint_slice("web", ["10.244.1.3"])
    headless_slice["metadata"]["labels"]["service.kubernetes.io/headless"] = ""
    ports = service_ports([service("web", "10.96.0.10"), foreign],
                          [endpoint_slice("foreign", ["10.244.1.4"]), headless_slice])
    assert [(sp.name, sp.endpoints) for sp in ports] == [("web", ())]
    assert PROXY_SELECTOR == "!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless"


def _conditions(slice_: dict[str, Any], *conditions: dict[str, Any]) -> dict[str, Any]:
    for endpoint, cond in zip(slice_["endpoints"], conditions, strict=True):
        endpoint["conditions"] = cond
    return slice_


SERVING_TERMINATING = {"ready": False, "serving": True, "terminating": True}
GONE_TERMINATING = {"ready": False, "serving": False, "terminating": True}


def test_without_ready_endpoints_the_serving_terminating_ones_are_used() -> None:
    # upstream kube-proxy's fallback (e2e "should fallback to terminating endpoints when there are
    # no ready endpoints"): only when nothing is ready, and never a non-serving one
    slice_ = _conditions(
        endpoint_slice("web", ["10.244.1.3", "10.244.1.4"]), SERVING_TERMINATING, GONE_TERMINATING
    )
    (sp,) = service_ports([service("web", "10.96.0.10")], [slice_])
    assert sp.endpoints == (Endpoint("10.244.1.3", 8080, "n1", ready=False),)
    with_ready = _conditions(
        endpoint_slice("web", ["10.244.1.3", "10.244.1.5"]), SERVING_TERMINATING, {"ready": True}
    )
    (sp,) = service_ports([service("web", "10.96.0.10")], [with_ready])
    assert sp.endpoints == (Endpoint("10.244.1.5", 8080, "n1"),)
    assert sp.terminating_endpoints == ()  # kept for policy Local only


def test_policy_local_keeps_the_serving_terminating_endpoints_beside_ready_ones() -> None:
    slice_ = _conditions(
        endpoint_slice("web", ["10.244.1.3", "10.244.1.5"]), SERVING_TERMINATING, {"ready": True}
    )
    svc = service("web", "10.96.0.10", type="NodePort", externalTrafficPolicy="Local")
    (sp,) = service_ports([svc], [slice_])
    assert sp.endpoints == (Endpoint("10.244.1.5", 8080, "n1"),)
    assert sp.terminating_endpoints == (Endpoint("10.244.1.3", 8080, "n1", ready=False),)
