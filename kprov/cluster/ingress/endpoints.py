"""A Service port → the pod addresses behind it, from EndpointSlices (pure).

The Ingress names a Service port by number or by name; the Service's matching port gives
the port's name, and the EndpointSlices labelled ``kubernetes.io/service-name`` carry that
name with the resolved target port number. Only endpoints whose ``conditions.ready`` is not
false count (a missing condition means ready, as the EndpointSlice API says); terminating
endpoints are never used. The proxy talks to pod IPs straight away, never to the
Service's ClusterIP: kube-proxy's choice is skipped, HAProxy balances and retries itself.
A missing Service, port or endpoint gives no server, and HAProxy then answers 503.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kprov.cluster.ingress.routes import BackendRef

__all__ = ["SERVICE_NAME_LABEL", "Server", "service_port_name", "servers_for"]

SERVICE_NAME_LABEL = "kubernetes.io/service-name"

Obj = dict[str, Any]
Server = tuple[str, int]  # (pod IP, port)


def service_port_name(service: Obj | None, port: int | str) -> str | None:
    """The name of the Service port the Ingress means ("" when unnamed); None when absent."""
    if not service:
        return None
    for entry in (service.get("spec") or {}).get("ports") or []:
        if (entry.get("protocol") or "TCP") != "TCP":
            continue
        if (isinstance(port, int) and entry.get("port") == port) or (
            isinstance(port, str) and entry.get("name") == port
        ):
            return str(entry.get("name") or "")
    return None


def servers_for(ref: BackendRef, service: Obj | None, slices: Iterable[Obj]) -> list[Server]:
    """Ready (IP, port) pairs of ``ref``'s Service port, sorted, without duplicates."""
    name = service_port_name(service, ref.port)
    if name is None or (service or {}).get("spec", {}).get("type") == "ExternalName":
        return []
    found: set[Server] = set()
    for piece in slices:
        labels = (piece.get("metadata") or {}).get("labels") or {}
        if labels.get(SERVICE_NAME_LABEL) != ref.service:
            continue
        if (piece.get("metadata") or {}).get("namespace") != ref.namespace:
            continue
        number = next(
            (p.get("port") for p in piece.get("ports") or []
             if (p.get("name") or "") == name and (p.get("protocol") or "TCP") == "TCP"),
            None,
        )
        if number is None:
            continue
        for endpoint in piece.get("endpoints") or []:
            conditions = endpoint.get("conditions") or {}
            if conditions.get("ready") is False or conditions.get("terminating") is True:
                continue
            for address in endpoint.get("addresses") or []:
                found.add((str(address), int(number)))
    return sorted(found)
