"""healthCheckNodePort servers: one HTTP listener per Local LoadBalancer Service.

A LoadBalancer Service with externalTrafficPolicy Local gets ``spec.healthCheckNodePort``
from the API server; every node's kprov-proxy answers on it, as kube-proxy does, with 200
when the node has at least one ready endpoint of the Service and 503 otherwise, and the
JSON body ``{"service": {"namespace", "name"}, "localEndpoints": N,
"serviceProxyHealthy": true}``, so a load balancer (or the L2 speaker) picks nodes that
can serve it. :func:`health_checks` is pure; :class:`ServiceHealthServers` opens and
closes the listeners to match.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from aiohttp import web

from kprov.cluster.proxy.servicemap import ServicePort

__all__ = ["HealthCheck", "ServiceHealthServers", "health_checks", "reply"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HealthCheck:
    namespace: str
    name: str
    local_endpoints: int


def health_checks(ports: Iterable[ServicePort], node_name: str) -> dict[int, HealthCheck]:
    """healthCheckNodePort -> what it reports on ``node_name`` (endpoints counted once)."""
    local: dict[int, set[str]] = {}
    owners: dict[int, tuple[str, str]] = {}
    for sp in ports:
        if not sp.health_check_node_port:
            continue
        owners[sp.health_check_node_port] = (sp.namespace, sp.name)
        found = local.setdefault(sp.health_check_node_port, set())
        found |= {ep.ip for ep in sp.endpoints if ep.ready and node_name and ep.node == node_name}
    return {port: HealthCheck(ns, name, len(local[port])) for port, (ns, name) in owners.items()}


def reply(check: HealthCheck) -> tuple[int, str]:
    body = {
        "service": {"namespace": check.namespace, "name": check.name},
        "localEndpoints": check.local_endpoints,
        "serviceProxyHealthy": True,
    }
    return (200 if check.local_endpoints > 0 else 503), json.dumps(body)


class ServiceHealthServers:
    def __init__(self, address: str = "0.0.0.0") -> None:
        self.address = address
        self.checks: dict[int, HealthCheck] = {}
        self.runners: dict[int, web.AppRunner] = {}

    async def update(self, checks: dict[int, HealthCheck]) -> None:
        self.checks = dict(checks)
        for port in [p for p in self.runners if p not in checks]:
            await self.runners.pop(port).cleanup()
        for port in [p for p in checks if p not in self.runners]:
            try:
                self.runners[port] = await self._start(port)
            except OSError as exc:  # another listener holds it: retried on the next sync
                log.warning("healthCheckNodePort %d: %s", port, exc)

    async def _start(self, port: int) -> web.AppRunner:
        async def answer(_: web.Request) -> web.Response:
            check = self.checks.get(port)
            if check is None:
                return web.Response(status=404)
            status, body = reply(check)
            return web.Response(
                text=body, status=status, content_type="application/json",
                headers={"X-Content-Type-Options": "nosniff"},
            )

        app = web.Application()
        app.router.add_get("/{tail:.*}", answer)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        await web.TCPSite(runner, self.address, port, reuse_address=True).start()
        return runner

    async def close(self) -> None:
        await self.update({})
