"""The metrics API's registration: kube-system/metrics-server Service, this server's
EndpointSlice, and the APIService v1beta1.metrics.k8s.io, kept by the servers themselves.

Design: as kprov-dns does for kube-dns, the servers run as systemd units on control-plane
hosts behind a selector-less Service; each publishes its own EndpointSlice
``metrics-server-<node>`` (its host address, port ``https``), re-ensured every round and
deleted on an orderly stop. The APIService (group priority 100, version priority 100, as
metrics-server's manifests) points at the Service with the CA that signed the serving
certificate as its caBundle; it is created when missing and its spec corrected when it
differs. The API server's availability controller then checks the endpoints and discovery.
"""

from __future__ import annotations

import base64
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from kprov.cluster.client.errors import AlreadyExists, ApiError, NotFound
from kprov.cluster.client.resources import ENDPOINTSLICES, SERVICES, Resource
from kprov.cluster.client.rest import ApiClient
from kprov.cluster.metrics_server.objects import GROUP, VERSION

__all__ = ["APISERVICES", "Registration", "apiservice_object", "service_object", "slice_object"]

log = logging.getLogger(__name__)
APISERVICES = Resource("apiregistration.k8s.io", "v1", "apiservices", "APIService", False)
NAMESPACE, SERVICE = "kube-system", "metrics-server"
PORT_NAME = "https"


@dataclass(frozen=True)
class Registration:
    node_name: str
    address: str
    port: int
    ca_pem: bytes


def service_object() -> dict[str, Any]:
    return {
        "metadata": {"name": SERVICE, "namespace": NAMESPACE,
                     "labels": {"k8s-app": "metrics-server", "kubernetes.io/name": "Metrics-server"}},
        "spec": {"ports": [{"name": PORT_NAME, "port": 443, "protocol": "TCP", "targetPort": PORT_NAME}]},
    }


def slice_object(reg: Registration) -> dict[str, Any]:
    return {
        "metadata": {"name": f"{SERVICE}-{reg.node_name}", "namespace": NAMESPACE,
                     "labels": {"kubernetes.io/service-name": SERVICE,
                                "endpointslice.kubernetes.io/managed-by": "kprov-metrics-server"}},
        "addressType": "IPv6" if ":" in reg.address else "IPv4",
        "endpoints": [{"addresses": [reg.address], "conditions": {"ready": True}, "nodeName": reg.node_name}],
        "ports": [{"name": PORT_NAME, "port": reg.port, "protocol": "TCP"}],
    }


def apiservice_object(ca_pem: bytes) -> dict[str, Any]:
    return {
        "metadata": {"name": f"{VERSION}.{GROUP}", "labels": {"k8s-app": "metrics-server"}},
        "spec": {"group": GROUP, "version": VERSION, "groupPriorityMinimum": 100, "versionPriority": 100,
                 "service": {"name": SERVICE, "namespace": NAMESPACE, "port": 443},
                 "caBundle": base64.b64encode(ca_pem).decode()},
    }


async def _ensure(client: ApiClient, res: Resource, obj: dict[str, Any], namespace: str | None,
                  compare: tuple[str, ...]) -> None:
    name = obj["metadata"]["name"]
    try:
        current = await client.get(res, name, namespace)
    except NotFound:
        with contextlib.suppress(AlreadyExists):
            await client.create(res, obj, namespace)
        return
    if any(current.get(k) != obj.get(k) for k in compare):
        updated = {**current, **{k: obj[k] for k in compare}}
        await client.update(res, updated)


async def publish(client: ApiClient, reg: Registration) -> None:
    """One round: Service (created if missing), this server's slice, the APIService."""
    try:
        await _ensure(client, SERVICES, service_object(), NAMESPACE, ())
        await _ensure(client, ENDPOINTSLICES, slice_object(reg), NAMESPACE, ("endpoints", "ports"))
        await _ensure(client, APISERVICES, apiservice_object(reg.ca_pem), None, ("spec",))
    except ApiError as exc:
        log.warning("publishing the metrics API: %s", exc)


async def withdraw(client: ApiClient, reg: Registration) -> None:
    try:
        await client.delete(ENDPOINTSLICES, f"{SERVICE}-{reg.node_name}", NAMESPACE)
    except ApiError as exc:
        log.info("withdrawing the endpoint: %s", exc)
