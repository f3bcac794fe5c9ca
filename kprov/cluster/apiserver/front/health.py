"""/healthz, /livez, /readyz: ``ok`` as text/plain; readyz also needs etcd and the watch cache."""

from __future__ import annotations

import asyncio

from aiohttp import web

from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.front.apirequest import ApiRequest
from kprov.cluster.apiserver.front.status import method_not_supported

__all__ = ["PUBLIC_PATHS", "serve_health"]

PUBLIC_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/version"})


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
    problems = []
    if ctx.extras.get("shutting_down"):  # server.shut_down: load balancers must drain it
        problems.append("[-]shutdown failed: reason withheld")
    try:
        await asyncio.wait_for(ctx.store.current_revision(), 2.0)
    except Exception as exc:  # any failure to reach etcd means not ready
        problems.append(f"[-]etcd failed: {type(exc).__name__}")
    if not ctx.cache.ready:
        problems.append("[-]watch-cache failed: not loaded")
    if problems:
        return web.Response(
            text="\n".join(problems) + "\nreadyz check failed", status=500, content_type="text/plain"
        )
    return web.Response(text="ok", content_type="text/plain")
