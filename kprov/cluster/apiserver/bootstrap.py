"""Objects every cluster has, made at startup (idempotently, by every API server):
the namespaces default, kube-system, kube-public, kube-node-lease; the PriorityClasses
system-node-critical and system-cluster-critical; and the ``kubernetes``
Service in ``default`` (first service IP, 443 -> 6443). Its Endpoints/EndpointSlice list
the live API servers: :func:`set_endpoints`, kept current by :mod:`.endpoint_leases`.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from kprov.cluster.apiserver.admission.priority import SYSTEM_CLASSES
from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.handlers.writes import create_object, guaranteed_update
from kprov.cluster.apiserver.request.status import ApiError

__all__ = ["DEFAULT_NAMESPACES", "bootstrap", "set_endpoints"]

_log = logging.getLogger(__name__)
SKIP_MIRROR = "endpointslice.kubernetes.io/skip-mirror"  # the Endpoints label the mirroring controller obeys
DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def _info(ctx: ApiContext, group: str, version: str, resource: str) -> Any:
    info = ctx.registry.get(group, version, resource)
    assert info is not None, resource
    return info


async def _ensure(ctx: ApiContext, info: Any, namespace: str, obj: dict[str, Any]) -> None:
    try:
        await create_object(ctx, None, info, namespace, obj)
    except ApiError as exc:
        if exc.code != 409:
            raise


async def bootstrap(ctx: ApiContext, first_service_ip: str) -> None:
    namespaces = _info(ctx, "", "v1", "namespaces")
    for name in DEFAULT_NAMESPACES:
        await _ensure(
            ctx, namespaces, "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        )
    classes = _info(ctx, "scheduling.k8s.io", "v1", "priorityclasses")
    for priority_class in SYSTEM_CLASSES:
        await _ensure(ctx, classes, "", copy.deepcopy(priority_class))
    port = ctx.config.secure_port
    services = _info(ctx, "", "v1", "services")
    await _ensure(
        ctx,
        services,
        "default",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": "kubernetes",
                "namespace": "default",
                "labels": {"component": "apiserver", "provider": "kubernetes"},
            },
            "spec": {
                "type": "ClusterIP",
                "clusterIP": first_service_ip,
                "sessionAffinity": "None",
                "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}],
            },
        },
    )


async def set_endpoints(ctx: ApiContext, addresses: list[str], port: int) -> None:
    """Make the ``kubernetes`` Endpoints and EndpointSlice list exactly ``addresses``
    (sorted; no write when they already do)."""
    addresses = sorted(set(addresses))
    ports = [{"name": "https", "port": port, "protocol": "TCP"}]
    endpoints = _info(ctx, "", "v1", "endpoints")
    await _ensure(
        ctx,
        endpoints,
        "default",
        {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": "kubernetes", "namespace": "default", "labels": {SKIP_MIRROR: "true"}},
            "subsets": [{"addresses": [{"ip": a} for a in addresses], "ports": ports}],
        },
    )

    def set_addresses(obj: dict[str, Any]) -> dict[str, Any]:
        # the slice below is this server's own: the mirroring controller stays out (as upstream)
        obj["metadata"]["labels"] = {**(obj["metadata"].get("labels") or {}), SKIP_MIRROR: "true"}
        obj["subsets"] = [{"addresses": [{"ip": a} for a in addresses], "ports": ports}]
        return obj

    await guaranteed_update(ctx, endpoints, "default", "kubernetes", set_addresses)
    slices = _info(ctx, "discovery.k8s.io", "v1", "endpointslices")
    await _ensure(
        ctx,
        slices,
        "default",
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "addressType": "IPv4",
            "metadata": {
                "name": "kubernetes",
                "namespace": "default",
                "labels": {"kubernetes.io/service-name": "kubernetes"},
            },
            "endpoints": [],
            "ports": ports,
        },
    )

    def set_slice_addresses(obj: dict[str, Any]) -> dict[str, Any]:
        obj["metadata"]["labels"] = {"kubernetes.io/service-name": "kubernetes"}  # upstream's: no managed-by
        obj["endpoints"] = [{"addresses": [a], "conditions": {"ready": True}} for a in addresses]
        return obj

    await guaranteed_update(ctx, slices, "default", "kubernetes", set_slice_addresses)
