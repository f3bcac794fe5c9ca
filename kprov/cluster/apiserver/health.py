"""/healthz, /livez, /readyz: ``ok`` as text/plain; readyz also needs etcd and the watch cache."""

from __future__ import annotations

import asyncio

from aiohttp import web

from kprov.cluster.apiserver.context import CONTEXT

__all__ = ["PUBLIC_PATHS", "add_health_routes"]

PUBLIC_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/version"})


def add_health_routes(app: web.Application) -> None:
    async def ok(_: web.Request) -> web.Response:
        return web.Response(text="ok", content_type="text/plain")

    async def ready(request: web.Request) -> web.Response:
        ctx = request.app[CONTEXT]
        problems = []
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

    app.router.add_get("/healthz", ok)
    app.router.add_get("/livez", ok)
    app.router.add_get("/readyz", ready)
