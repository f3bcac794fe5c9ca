"""Reaching a webhook: its URL (or its Service's first ready endpoint) and the TLS context of
its caBundle. Admission webhooks and CRD conversion webhooks call the same way, so both use
this one client (it sits below both).
"""

from __future__ import annotations

import base64
import ssl
from collections.abc import Mapping
from typing import Any

from kprov.cluster.apiserver.context import ApiContext

__all__ = ["webhook_endpoint", "webhook_ssl_context"]


async def webhook_endpoint(ctx: ApiContext, hook: Mapping[str, Any]) -> tuple[str, str | None]:
    """The URL to POST to and the TLS server name to check (None: the URL's host)."""
    config = hook.get("clientConfig") or {}
    if config.get("url"):
        return str(config["url"]), None
    service = config.get("service") or {}
    namespace, name = str(service.get("namespace", "")), str(service.get("name", ""))
    port = int(service.get("port") or 443)
    path = str(service.get("path") or "/")
    svc = ctx.cache.get(f"/registry/services/{namespace}/{name}")
    if svc is None:
        raise ConnectionError(f'service "{name}" not found')
    target: Any = port
    for svc_port in (svc.get("spec") or {}).get("ports") or []:
        if svc_port.get("port") == port:
            target = svc_port.get("targetPort", port)
    endpoints = ctx.cache.get(f"/registry/endpoints/{namespace}/{name}") or {}
    for subset in endpoints.get("subsets") or []:
        addresses = subset.get("addresses") or []
        if not addresses:
            continue
        number = port
        for ep_port in subset.get("ports") or []:
            if (
                isinstance(target, str)
                and ep_port.get("name") == target
                or len(subset.get("ports") or []) == 1
            ):
                number = int(ep_port.get("port", port))
            elif isinstance(target, int):
                number = target
        return f"https://{addresses[0]['ip']}:{number}{path}", f"{name}.{namespace}.svc"
    raise ConnectionError(f'service "{namespace}/{name}" has no ready endpoints')


def webhook_ssl_context(hook: Mapping[str, Any]) -> ssl.SSLContext:
    bundle = (hook.get("clientConfig") or {}).get("caBundle")
    context = ssl.create_default_context()
    if bundle:
        context.load_verify_locations(cadata=base64.b64decode(bundle).decode())
    return context
