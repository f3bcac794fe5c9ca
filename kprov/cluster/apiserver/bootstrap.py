"""Objects every cluster has, made at startup (idempotently, by every API server):
the namespaces default, kube-system, kube-public, kube-node-lease; the ``kubernetes``
Service in ``default`` (first service IP, 443 -> 6443); and its Endpoints/EndpointSlice
listing the API servers (each server adds its own advertise address).
"""

from __future__ import annotations

import logging
from typing import Any

from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.crud import create_object, guaranteed_update
from kprov.cluster.apiserver.status import ApiError

__all__ = ["DEFAULT_NAMESPACES", "bootstrap"]

_log = logging.getLogger(__name__)
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
    await _add_endpoint(ctx, ctx.config.advertise_address, port)


async def _add_endpoint(ctx: ApiContext, address: str, port: int) -> None:
    endpoints = _info(ctx, "", "v1", "endpoints")
    await _ensure(
        ctx,
        endpoints,
        "default",
        {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": "kubernetes", "namespace": "default"},
            "subsets": [
                {
                    "addresses": [{"ip": address}],
                    "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
                }
            ],
        },
    )

    def add_address(obj: dict[str, Any]) -> dict[str, Any]:
        subsets = obj.get("subsets") or [
            {"addresses": [], "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}
        ]
        addresses = subsets[0].setdefault("addresses", [])
        if all(a.get("ip") != address for a in addresses):
            addresses.append({"ip": address})
            addresses.sort(key=lambda a: a.get("ip", ""))
        obj["subsets"] = subsets
        return obj

    await guaranteed_update(ctx, endpoints, "default", "kubernetes", add_address)
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
                "labels": {
                    "kubernetes.io/service-name": "kubernetes",
                    "endpointslice.kubernetes.io/managed-by": "endpointslicemirroring-controller.k8s.io",
                },
            },
            "endpoints": [],
            "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
        },
    )

    def add_slice_address(obj: dict[str, Any]) -> dict[str, Any]:
        endpoints_list = obj.setdefault("endpoints", [])
        if all(address not in e.get("addresses", []) for e in endpoints_list):
            endpoints_list.append({"addresses": [address], "conditions": {"ready": True}})
        return obj

    await guaranteed_update(ctx, slices, "default", "kubernetes", add_slice_address)
