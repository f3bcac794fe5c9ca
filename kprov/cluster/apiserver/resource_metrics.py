"""``metrics.k8s.io/v1beta1`` served by the API server itself: NodeMetrics and PodMetrics
(get and list, like metrics-server), built on request from each kubelet's /stats/summary.

Why in the API server rather than a metrics-server behind an APIService: kprov has no API
aggregation layer to proxy through, and the API server already reaches every kubelet with
its kubelet-client certificate (logs, exec); asking the kubelets on request (concurrently,
2 s each; a node that does not answer is left out, as metrics-server leaves out a node it
could not scrape) keeps no state and no extra component to deploy. The kubelet computes the
CPU rate over its own 10 s sampling window, which is what ``window`` reports.

Quantities as metrics-server writes them: CPU in nanocores (``123456n``), memory in KiB
(``2048Ki``).
"""

from __future__ import annotations

import asyncio
import datetime
from typing import Any

import aiohttp
from aiohttp import web

from kprov.cluster.api.errors import ApiError
from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.negotiation import json_response
from kprov.cluster.apiserver.proxy import kubelet_ssl
from kprov.cluster.apiserver.requestinfo import RequestInfo
from kprov.cluster.apiserver.status import method_not_supported

__all__ = ["GROUP", "VERSION", "discovery_resources", "handle_resource_metrics"]

GROUP, VERSION = "metrics.k8s.io", "v1beta1"
_WINDOW = "10s"
_TIMEOUT_S = 2.0


def discovery_resources() -> list[dict[str, Any]]:
    """The APIResourceList entries of metrics.k8s.io/v1beta1 (as metrics-server's)."""
    return [
        {"name": "nodes", "singularName": "", "namespaced": False, "kind": "NodeMetrics",
         "verbs": ["get", "list"]},
        {"name": "pods", "singularName": "", "namespaced": True, "kind": "PodMetrics",
         "verbs": ["get", "list"]},
    ]


def _cpu(nanocores: int) -> str:
    return f"{int(nanocores)}n"


def _memory(working_set: int) -> str:
    return f"{int(working_set) // 1024}Ki"


def _kubelet_url(node: dict[str, Any]) -> str | None:
    status = node.get("status") or {}
    addresses = status.get("addresses") or []
    address = next((a["address"] for a in addresses if a.get("type") == "InternalIP"), None)
    if address is None:
        return None
    port = (((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")) or 10250
    return f"https://{address}:{port}/stats/summary"


async def _summaries(ctx: ApiContext, nodes: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    ssl_context = kubelet_ssl(ctx)
    timeout = aiohttp.ClientTimeout(total=_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout) as session:

        async def one(node: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
            name = node["metadata"]["name"]
            url = _kubelet_url(node)
            if url is None:
                return name, None
            try:
                async with session.get(url, ssl=ssl_context) as reply:
                    if reply.status != 200:
                        return name, None
                    return name, await reply.json()
            except (aiohttp.ClientError, TimeoutError, ValueError):
                return name, None

        found = await asyncio.gather(*(one(n) for n in nodes))
    return {name: doc for name, doc in found if doc is not None}


def _stamp(text: str | None) -> str:
    return text or datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _node_metrics(name: str, doc: dict[str, Any]) -> dict[str, Any]:
    node = doc.get("node") or {}
    cpu, memory = node.get("cpu") or {}, node.get("memory") or {}
    return {
        "metadata": {"name": name, "creationTimestamp": _stamp(None)},
        "timestamp": _stamp(cpu.get("time")),
        "window": _WINDOW,
        "usage": {
            "cpu": _cpu(cpu.get("usageNanoCores", 0)),
            "memory": _memory(memory.get("workingSetBytes", 0)),
        },
    }


def _pod_metrics(pod: dict[str, Any]) -> dict[str, Any]:
    ref = pod.get("podRef") or {}
    containers = [
        {
            "name": c.get("name", ""),
            "usage": {
                "cpu": _cpu((c.get("cpu") or {}).get("usageNanoCores", 0)),
                "memory": _memory((c.get("memory") or {}).get("workingSetBytes", 0)),
            },
        }
        for c in pod.get("containers") or []
    ]
    return {
        "metadata": {"name": ref.get("name", ""), "namespace": ref.get("namespace", ""),
                     "creationTimestamp": _stamp(None)},
        "timestamp": _stamp((pod.get("cpu") or {}).get("time")),
        "window": _WINDOW,
        "containers": containers,
    }


def _not_found(kind: str, name: str) -> ApiError:
    return ApiError(f'{kind}.metrics.k8s.io "{name}" not found', 404, "NotFound")


async def handle_resource_metrics(request: Any, ctx: ApiContext, ri: RequestInfo) -> web.Response:
    if ri.version != VERSION or ri.resource not in ("nodes", "pods") or ri.subresource:
        raise ApiError("the server could not find the requested resource", 404, "NotFound")
    if ri.verb not in ("get", "list"):
        raise method_not_supported(request.method, request.path)
    node_info = ctx.registry.get("", "v1", "nodes")
    nodes = list(ctx.cache.objects(ctx.prefix(node_info, ""))) if node_info is not None else []
    if ri.resource == "nodes":
        if ri.name:
            nodes = [n for n in nodes if n["metadata"]["name"] == ri.name]
        docs = await _summaries(ctx, nodes)
        items = [_node_metrics(name, docs[name]) for name in sorted(docs)]
        if ri.name:
            if not items:
                raise _not_found("nodes", ri.name)
            return json_response({"kind": "NodeMetrics", "apiVersion": f"{GROUP}/{VERSION}", **items[0]}, 200)
        listed = {"kind": "NodeMetricsList", "apiVersion": f"{GROUP}/{VERSION}", "metadata": {},
                  "items": items}
        return json_response(listed, 200)
    docs = await _summaries(ctx, nodes)
    pods = [
        _pod_metrics(p) for doc in docs.values() for p in doc.get("pods") or []
        if not ri.namespace or (p.get("podRef") or {}).get("namespace") == ri.namespace
    ]
    pods.sort(key=lambda p: (p["metadata"]["namespace"], p["metadata"]["name"]))
    if ri.name:
        match = [p for p in pods if p["metadata"]["name"] == ri.name]
        if not match:
            raise _not_found("pods", ri.name)
        return json_response({"kind": "PodMetrics", "apiVersion": f"{GROUP}/{VERSION}", **match[0]}, 200)
    return json_response(
        {"kind": "PodMetricsList", "apiVersion": f"{GROUP}/{VERSION}", "metadata": {}, "items": pods}, 200
    )
