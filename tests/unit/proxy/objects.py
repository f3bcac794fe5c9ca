"""Service and EndpointSlice dictionaries as the API server returns them, for proxy tests."""

from __future__ import annotations

from typing import Any


def service(
    name: str,
    cluster_ip: str,
    ports: list[dict[str, Any]] | None = None,
    namespace: str = "default",
    **spec: Any,
) -> dict[str, Any]:
    return {
        "metadata": {"namespace": namespace, "name": name},
        "spec": {
            "clusterIP": cluster_ip,
            "clusterIPs": [cluster_ip],
            "ports": ports if ports is not None else [{"name": "http", "port": 80, "protocol": "TCP"}],
            **spec,
        },
    }


def endpoint_slice(
    service_name: str,
    addresses: list[str],
    port: int = 8080,
    port_name: str = "http",
    protocol: str = "TCP",
    ready: list[bool | None] | None = None,
    namespace: str = "default",
    suffix: str = "x1",
) -> dict[str, Any]:
    states = ready if ready is not None else [True] * len(addresses)
    endpoints = []
    for address, state in zip(addresses, states, strict=True):
        endpoint: dict[str, Any] = {"addresses": [address], "nodeName": "n1"}
        if state is not None:
            endpoint["conditions"] = {"ready": state}
        endpoints.append(endpoint)
    return {
        "metadata": {
            "namespace": namespace,
            "name": f"{service_name}-{suffix}",
            "labels": {"kubernetes.io/service-name": service_name},
        },
        "addressType": "IPv4",
        "ports": [{"name": port_name, "port": port, "protocol": protocol}],
        "endpoints": endpoints,
    }
