"""A Service port → ready pod addresses from EndpointSlices, as data."""

from __future__ import annotations

from typing import Any

import pytest

from kprov.cluster.ingress.endpoints import servers_for
from kprov.cluster.ingress.routes import BackendRef

SERVICE = {"metadata": {"name": "web", "namespace": "ns"},
           "spec": {"type": "ClusterIP", "ports": [{"name": "http", "port": 80, "targetPort": 8080},
                                                   {"name": "metrics", "port": 9090}]}}


def _slice(name: str, endpoints: list[dict[str, Any]], port_name: str = "http", port: int = 8080,
           service: str = "web", namespace: str = "ns") -> dict[str, Any]:
    labels = {"kubernetes.io/service-name": service}
    return {"metadata": {"name": name, "namespace": namespace, "labels": labels},
            "ports": [{"name": port_name, "port": port, "protocol": "TCP"}], "endpoints": endpoints}


def _ep(ip: str, **conditions: bool) -> dict[str, Any]:
    return {"addresses": [ip], "conditions": conditions}


@pytest.mark.parametrize("endpoint, used", [
    (_ep("10.0.0.1", ready=True), True),
    (_ep("10.0.0.1"), True),  # no condition: ready, as the EndpointSlice API says
    (_ep("10.0.0.1", ready=False), False),
    (_ep("10.0.0.1", ready=False, serving=True, terminating=True), False),
])
def test_only_ready_endpoints(endpoint: dict[str, Any], used: bool) -> None:
    servers = servers_for(BackendRef("ns", "web", 80), SERVICE, [_slice("a", [endpoint])])
    assert servers == ([("10.0.0.1", 8080)] if used else [])


@pytest.mark.parametrize("port, expected", [
    (80, [("10.0.0.1", 8080), ("10.0.0.2", 8080)]),
    ("http", [("10.0.0.1", 8080), ("10.0.0.2", 8080)]),
    (9090, [("10.0.0.1", 9091)]),
    (81, []),
    ("nope", []),
])
def test_port_by_number_or_name_through_the_service_to_the_slice_port(port: int | str, expected: Any) -> None:
    slices = [
        _slice("a", [_ep("10.0.0.2"), _ep("10.0.0.1")]),
        _slice("b", [_ep("10.0.0.1")]),  # the same pod in two slices counts once
        _slice("c", [_ep("10.0.0.1")], port_name="metrics", port=9091),
        _slice("d", [_ep("10.9.9.9")], service="other"),
        _slice("e", [_ep("10.8.8.8")], namespace="elsewhere"),
    ]
    assert servers_for(BackendRef("ns", "web", port), SERVICE, slices) == expected


def test_missing_or_external_name_service_has_no_server() -> None:
    slices = [_slice("a", [_ep("10.0.0.1")])]
    assert servers_for(BackendRef("ns", "web", 80), None, slices) == []
    external = {**SERVICE, "spec": {**SERVICE["spec"], "type": "ExternalName"}}
    assert servers_for(BackendRef("ns", "web", 80), external, slices) == []
