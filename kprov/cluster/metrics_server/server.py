"""The metrics server's HTTPS front: discovery, NodeMetrics and PodMetrics, health.

Design: an aiohttp application on a TLS listener that asks for client certificates and
trusts the front-proxy CA only (:mod:`.auth`). Routes, as metrics-server serves them:
``/apis/metrics.k8s.io/v1beta1`` (its APIResourceList; the availability check asks for it),
``.../nodes[/{name}]``, ``.../pods``, ``.../namespaces/{ns}/pods[/{name}]`` (get and list),
``/healthz``, ``/livez``, ``/readyz`` (no authentication). Every API request is
authenticated from the request headers, authorized by SubjectAccessReview, and answered
from the kubelets' summaries fetched for it (:mod:`.scrape`), listed nodes coming from the
API server. Lists honour ``labelSelector`` and ``fieldSelector`` as metrics-server's do: the
pods (nodes) are listed from the API server with them, and only those listed are reported,
so a pod deleted a moment ago is gone from the answer at once.
"""

from __future__ import annotations

import json
import ssl
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from kprov.cluster.client.resources import NODES, PODS
from kprov.cluster.client.rest import ApiClient
from kprov.cluster.metrics_server import objects, scrape
from kprov.cluster.metrics_server.auth import Authorizer, RequestHeaderConfig, caller_from

__all__ = ["MetricsApp", "serving_ssl"]

_BASE = f"/apis/{objects.GROUP}/{objects.VERSION}"


def _status(code: int, reason: str, message: str) -> web.Response:
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}
    return web.Response(status=code, body=json.dumps(body), content_type="application/json")


def serving_ssl(cert_file: str, key_file: str, front_proxy_ca: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    context.verify_mode = ssl.CERT_OPTIONAL
    context.load_verify_locations(cadata=front_proxy_ca)
    return context


@dataclass
class MetricsApp:
    client: ApiClient
    requestheader: RequestHeaderConfig
    authorizer: Authorizer
    kubelet_ssl: ssl.SSLContext
    session: aiohttp.ClientSession | None = None

    def application(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self._healthy)
        app.router.add_get("/livez", self._healthy)
        app.router.add_get("/readyz", self._healthy)
        app.router.add_get(_BASE, self._discovery)
        app.router.add_get(f"{_BASE}/nodes", self._metrics)
        app.router.add_get(f"{_BASE}/nodes/{{name}}", self._metrics)
        app.router.add_get(f"{_BASE}/pods", self._metrics)
        app.router.add_get(f"{_BASE}/namespaces/{{namespace}}/pods", self._metrics)
        app.router.add_get(f"{_BASE}/namespaces/{{namespace}}/pods/{{name}}", self._metrics)
        app.on_cleanup.append(self._close)
        return app

    async def _close(self, _: web.Application) -> None:
        if self.session is not None:
            await self.session.close()

    async def _healthy(self, _: web.Request) -> web.Response:
        return web.Response(text="ok")

    def _caller(self, request: web.Request) -> Any:
        peercert = request.transport.get_extra_info("peercert") if request.transport else None
        return caller_from(self.requestheader, peercert, request.headers)

    async def _discovery(self, request: web.Request) -> web.Response:
        if self._caller(request) is None:
            return _status(401, "Unauthorized", "Unauthorized")
        return web.json_response(objects.discovery_document())

    async def _metrics(self, request: web.Request) -> web.Response:
        caller = self._caller(request)
        if caller is None:
            return _status(401, "Unauthorized", "Unauthorized")
        resource = "nodes" if "/nodes" in request.path else "pods"
        namespace = request.match_info.get("namespace", "")
        name = request.match_info.get("name", "")
        verb = "get" if name else "list"
        if not await self.authorizer.allows(caller, verb, resource, namespace, name):
            where = f' in the namespace "{namespace}"' if namespace else ""
            return _status(403, "Forbidden", f'{resource}.{objects.GROUP} is forbidden: User "{caller.name}" '
                           f'cannot {verb} resource "{resource}" in API group "{objects.GROUP}"{where}')
        labels = request.query.get("labelSelector") or None
        fields = request.query.get("fieldSelector") or None
        if resource == "nodes" and not name:
            nodes, _ = await self.client.list_all(NODES, label_selector=labels, field_selector=fields)
        else:
            nodes, _ = await self.client.list_all(NODES)
        if resource == "nodes" and name:
            nodes = [n for n in nodes if n["metadata"]["name"] == name]
        pods: set[tuple[str, str]] | None = None
        if resource == "pods":
            label_selector = None if name else labels
            field_selector = f"metadata.name={name}" if name else fields
            listed, _ = await self.client.list_all(
                PODS, namespace or None, label_selector=label_selector, field_selector=field_selector
            )
            pods = {(p["metadata"].get("namespace", ""), p["metadata"]["name"]) for p in listed}
        if self.session is None:
            self.session = aiohttp.ClientSession()
        docs = await scrape.summaries(self.session, nodes, self.kubelet_ssl)
        code, body = objects.answer(docs, resource, namespace, name, existing_pods=pods)
        return web.json_response(body, status=code)
