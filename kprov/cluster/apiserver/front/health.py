"""/healthz, /livez, /readyz: ``ok`` as text/plain; readyz also needs etcd and the watch cache.

:func:`sli_exposition` is the same checks as kube-apiserver's component SLI metrics
(``/metrics/slis``: the ``kubernetes_healthcheck`` gauge per check and type).
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.front.apirequest import ApiRequest
from kprov.cluster.apiserver.front.status import method_not_supported

__all__ = ["PUBLIC_PATHS", "readiness", "serve_health", "sli_exposition"]

PUBLIC_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/version"})


async def readiness(ctx: ApiContext) -> dict[str, str]:
    """Each readiness check by name, with why it fails ("" when it passes)."""
    checks = {"ping": "", "shutdown": "", "etcd": "", "watch-cache": ""}
    if ctx.extras.get("shutting_down"):  # server.shut_down: load balancers must drain it
        checks["shutdown"] = "reason withheld"
    try:
        await asyncio.wait_for(ctx.store.current_revision(), 2.0)
    except Exception as exc:  # any failure to reach etcd means not ready
        checks["etcd"] = type(exc).__name__
    if not ctx.cache.ready:
        checks["watch-cache"] = "not loaded"
    return checks


async def sli_exposition(ctx: ApiContext) -> bytes:
    """/metrics/slis: the component SLI gauge ``kubernetes_healthcheck`` (1 passing, 0 failing)
    for every check of /livez (ping) and /readyz, in Prometheus text format."""
    lines = [
        "# HELP kubernetes_healthcheck [STABLE] Whether a health check passes (1) or fails (0).",
        "# TYPE kubernetes_healthcheck gauge",
        'kubernetes_healthcheck{name="ping",type="livez"} 1',
        'kubernetes_healthcheck{name="ping",type="healthz"} 1',
    ]
    for name, reason in sorted((await readiness(ctx)).items()):
        lines.append(f'kubernetes_healthcheck{{name="{name}",type="readyz"}} {0 if reason else 1}')
    return ("\n".join(lines) + "\n").encode()


async def serve_health(request: ApiRequest, ctx: ApiContext) -> web.StreamResponse | None:
    """``ok`` for /healthz and /livez; /readyz also needs etcd and the watch cache; None for
    any other path. Any method but GET and HEAD is a 405."""
    path = request.path
    if path not in ("/healthz", "/livez", "/readyz"):
        return None
    if request.method not in ("GET", "HEAD"):
        raise method_not_supported(request.method, path)
    if path != "/readyz":
        return web.Response(text="ok", content_type="text/plain")
    problems = [f"[-]{name} failed: {reason}" for name, reason in (await readiness(ctx)).items() if reason]
    if problems:
        return web.Response(
            text="\n".join(problems) + "\nreadyz check failed", status=500, content_type="text/plain"
        )
    return web.Response(text="ok", content_type="text/plain")
