"""``v1 componentstatuses``: the health of etcd's members, the scheduler and the controller
manager, probed when asked, as kube-apiserver's componentstatus REST does.

Design: nothing is stored. A list (or get) probes, concurrently: ``scheduler`` at
``https://127.0.0.1:10259/healthz`` and ``controller-manager`` at
``https://127.0.0.1:10257/healthz`` (no certificate check, as upstream), and one
``etcd-<i>`` per ``--etcd-servers`` entry (its ``/health``, with the etcd client
certificate). Each answers one condition ``{type: Healthy, status, message, error}``: an
HTTP probe's message is the body it got (``ok``), or what failed
(``Get "<url>": dial tcp ...: connect: connection refused``, status False); an etcd
member's is ``ok``, or status False with the error. Items come sorted by name, and the
list honours label and field selectors (a ComponentStatus has no labels, so a label
selector leaves nothing). A get of another name is upstream's plain error: 500, no reason,
``Component not found: <name>``. Replies carry the deprecation warning kube sends.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import aiohttp
from aiohttp import web

from kprov.cluster.api.resources import ResourceInfo
from kprov.cluster.api.selectors import parse_field_selector, parse_label_selector
from kprov.cluster.apiserver import _lib
from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.request.apirequest import ApiRequest
from kprov.cluster.apiserver.request.negotiation import json_response, wants_table
from kprov.cluster.apiserver.request.requestinfo import RequestInfo
from kprov.cluster.apiserver.request.status import method_not_supported, unclassified_error

__all__ = ["DEPRECATION_WARNING", "component_status", "handle_componentstatuses"]

DEPRECATION_WARNING = '299 - "v1 ComponentStatus is deprecated in v1.19+"'
_HTTP_COMPONENTS = (("controller-manager", 10257), ("scheduler", 10259))
_PROBE_TIMEOUT_S = 5.0


def component_status(name: str, status: str, message: str = "", error: str = "") -> dict[str, Any]:
    """One ComponentStatus object as kube serializes it (ObjectMeta with only a name writes
    ``creationTimestamp: null``; a condition leaves out an empty message or error)."""
    condition: dict[str, Any] = {"type": "Healthy", "status": status}
    if message:
        condition["message"] = message
    if error:
        condition["error"] = error
    return {
        "kind": "ComponentStatus",
        "apiVersion": "v1",
        "metadata": {"name": name, "creationTimestamp": None},
        "conditions": [condition],
    }


async def _probe_http(session: aiohttp.ClientSession, name: str, port: int) -> dict[str, Any]:
    url = f"https://127.0.0.1:{port}/healthz"
    try:
        async with session.get(url, ssl=False) as reply:
            body = await reply.text()
            if 200 <= reply.status < 400:
                return component_status(name, "True", body)
            return component_status(name, "False", f"HTTP probe failed with statuscode: {reply.status}")
    except aiohttp.ClientConnectorError as exc:
        refused = isinstance(exc.os_error, ConnectionRefusedError)
        why = "connect: connection refused" if refused else str(exc.os_error)
        return component_status(name, "False", f'Get "{url}": dial tcp 127.0.0.1:{port}: {why}')
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        return component_status(name, "False", f'Get "{url}": {exc or type(exc).__name__}')


def _etcd_ssl(ctx: ApiContext) -> ssl.SSLContext | bool:
    etcd = ctx.config.etcd
    if not etcd.uses_tls:
        return False
    context = ssl.create_default_context(cafile=etcd.cafile or None)
    if etcd.certfile:
        context.load_cert_chain(etcd.certfile, etcd.keyfile or None)
    return context


async def _probe_etcd(session: aiohttp.ClientSession, name: str, server: str, tls: Any) -> dict[str, Any]:
    url = (server if "://" in server else f"http://{server}").rstrip("/") + "/health"
    try:
        async with session.get(url, ssl=tls) as reply:
            health = await reply.json(content_type=None)
        if reply.status == 200 and isinstance(health, dict) and str(health.get("health")) == "true":
            return component_status(name, "True", "ok")
        reason = health.get("reason") if isinstance(health, dict) else ""
        return component_status(name, "False", error=str(reason or f"etcd health: HTTP {reply.status}"))
    except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
        return component_status(name, "False", error=str(exc) or type(exc).__name__)


async def _statuses(ctx: ApiContext) -> list[dict[str, Any]]:
    timeout = aiohttp.ClientTimeout(total=_PROBE_TIMEOUT_S)
    tls = _etcd_ssl(ctx)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        probes = [_probe_http(session, name, port) for name, port in _HTTP_COMPONENTS]
        probes += [
            _probe_etcd(session, f"etcd-{index}", server, tls)
            for index, server in enumerate(ctx.config.etcd.servers)
        ]
        found = await asyncio.gather(*probes)
    return sorted(found, key=lambda item: str(item["metadata"]["name"]))


async def handle_componentstatuses(
    request: ApiRequest, ctx: ApiContext, info: ResourceInfo, ri: RequestInfo
) -> web.Response:
    headers = {"Warning": DEPRECATION_WARNING}
    if ri.verb not in ("get", "list"):
        raise method_not_supported(ri.verb, info.resource)
    names = [f"etcd-{i}" for i in range(len(ctx.config.etcd.servers))]
    if ri.verb == "get" and ri.name not in (*names, "controller-manager", "scheduler"):
        raise unclassified_error(f"Component not found: {ri.name}")
    statuses = await _statuses(ctx)
    if ri.verb == "get":
        (found,) = [s for s in statuses if s["metadata"]["name"] == ri.name]
        items = [found]
    else:
        labels = parse_label_selector(request.query.get("labelSelector"))
        fields = parse_field_selector(request.query.get("fieldSelector"), info)
        items = [s for s in statuses if labels.matches_object(s) and fields.matches(s)]
    if wants_table(request):
        table = _lib.table(info, items, request.query.get("includeObject", "Metadata"))
        table["metadata"] = {}
        return json_response(table, headers=headers)
    if ri.verb == "get":
        return json_response(items[0], headers=headers)
    listed = {"kind": "ComponentStatusList", "apiVersion": "v1", "metadata": {}, "items": items}
    return json_response(listed, headers=headers)
