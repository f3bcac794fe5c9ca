"""/healthz, /livez, /readyz, as kube-apiserver answers them: ``ok``, or with ``?verbose`` one
``[+]<check> ok`` line per check and ``<endpoint> check passed``; a failing check makes it a 500
listing every check (``[-]<check> failed: reason withheld``); ``?exclude=<check>`` leaves one out.

The checks carry upstream's names. ``ping`` and ``log`` always pass; ``etcd`` reaches the
store; the ``poststarthook/...`` ones stand for the start-up work kprov's server does before it
serves (informers, the watch cache, the CRD and APIService registries, bootstrap objects) and
pass once the watch cache is loaded; ``autoregister-completion`` once the APIService controller
has registered the server's own group-versions; /readyz adds ``informer-sync``, ``shutdown``
and kprov's ``watch-cache``.

:func:`sli_exposition` is the same checks as kube-apiserver's component SLI metrics
(``/metrics/slis``: the ``kubernetes_healthcheck`` gauge per check and type).
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.request.apirequest import ApiRequest
from kprov.cluster.apiserver.request.status import method_not_supported

__all__ = ["PUBLIC_PATHS", "readiness", "serve_health", "sli_exposition"]

PUBLIC_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/version"})


async def readiness(ctx: ApiContext) -> dict[str, str]:
    """Each readiness check by name, with why it fails ("" when it passes)."""
    checks = {"ping": "", "shutdown": "", "etcd": "", "watch-cache": ""}
    if ctx.shutting_down:  # server.shut_down: load balancers must drain it
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


_POST_START_HOOKS = (
    "start-kube-apiserver-admission-initializer", "generic-apiserver-start-informers",
    "start-apiextensions-informers", "start-apiextensions-controllers", "crd-informer-synced",
    "bootstrap-controller", "start-system-namespaces-controller",
    "scheduling/bootstrap-system-priority-classes",
    "start-cluster-authentication-info-controller", "start-kube-aggregator-informers",
    "apiservice-registration-controller", "apiservice-status-available-controller",
    "kube-apiserver-autoregistration", "apiservice-openapi-controller", "start-service-ip-repair-controllers",
)


async def _checks(path: str, ctx: ApiContext) -> dict[str, str]:
    """Each check of ``path`` by name, with why it fails ("" when it passes)."""
    ready = await readiness(ctx)
    started = "" if ctx.cache.ready else "not finished"
    controller = ctx.apiservices
    registered = "" if controller is None or controller.registered else "not finished"
    checks = {"ping": "", "log": "", "etcd": ready["etcd"]}
    if path == "/readyz":
        checks["informer-sync"] = ready["watch-cache"]
    checks.update({f"poststarthook/{hook}": started for hook in _POST_START_HOOKS})
    checks["autoregister-completion"] = registered
    if path == "/readyz":
        checks["shutdown"] = ready["shutdown"]
        checks["watch-cache"] = ready["watch-cache"]
    return checks


async def serve_health(request: ApiRequest, ctx: ApiContext) -> web.StreamResponse | None:
    """The health endpoints (see the module's docstring); None for any other path. Any method
    but GET and HEAD is a 405."""
    path = request.path
    if path not in ("/healthz", "/livez", "/readyz"):
        return None
    if request.method not in ("GET", "HEAD"):
        raise method_not_supported(request.method, path)
    excluded = set(request.query.getall("exclude", []))
    checks = {name: why for name, why in (await _checks(path, ctx)).items() if name not in excluded}
    failed = any(checks.values())
    if not failed and "verbose" not in request.query:
        return web.Response(text="ok", content_type="text/plain")
    lines = [f"[-]{name} failed: reason withheld" if why else f"[+]{name} ok" for name, why in checks.items()]
    lines.append(f"{path.lstrip('/')} check {'failed' if failed else 'passed'}")
    return web.Response(text="\n".join(lines) + "\n", status=500 if failed else 200,
                        content_type="text/plain")
