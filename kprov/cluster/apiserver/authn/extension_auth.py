"""kube-system/extension-apiserver-authentication: how servers behind APIServices verify
who calls them, published as kube-apiserver publishes it.

Design: at start-up the server writes the ConfigMap's keys from its own flags -
``client-ca-file`` (the CA of client certificates, so an extension server can accept users
directly), and, when a front-proxy CA is configured, ``requestheader-client-ca-file`` (the
CA that signed this server's proxy client certificate), ``requestheader-allowed-names``,
``requestheader-username-headers``, ``requestheader-group-headers`` and
``requestheader-extra-headers-prefix`` (JSON lists of strings). Each API server writes the
same values; a write happens only when the data differs.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from kprov.cluster.apiserver.config import ServerConfig
from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.handlers import writes
from kprov.cluster.apiserver.request.status import ApiError

__all__ = ["NAME", "NAMESPACE", "authentication_data", "publish"]

_log = logging.getLogger(__name__)
NAME = "extension-apiserver-authentication"
NAMESPACE = "kube-system"


def _read(path: str) -> str:
    return Path(path).read_text() if path else ""


def _go_json(values: tuple[str, ...]) -> str:
    return json.dumps(list(values), separators=(",", ":"))


def authentication_data(config: ServerConfig) -> dict[str, str]:
    data: dict[str, str] = {}
    client_ca = _read(config.client_ca_file)
    if client_ca:
        data["client-ca-file"] = client_ca
    front_proxy_ca = _read(config.requestheader_client_ca_file)
    if front_proxy_ca:
        data["requestheader-client-ca-file"] = front_proxy_ca
        data["requestheader-allowed-names"] = _go_json(config.requestheader_allowed_names)
        data["requestheader-username-headers"] = _go_json(config.requestheader_username_headers)
        data["requestheader-group-headers"] = _go_json(config.requestheader_group_headers)
        data["requestheader-extra-headers-prefix"] = _go_json(config.requestheader_extra_headers_prefix)
    return data


async def publish(ctx: ApiContext) -> None:
    """Create or update the ConfigMap (logged, never fatal: the server serves without it)."""
    info = ctx.registry.get("", "v1", "configmaps")
    assert info is not None
    data = authentication_data(ctx.config)
    if not data:
        return
    try:
        current = ctx.cache.get(ctx.key(info, NAMESPACE, NAME))
        if current is None:
            obj: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap",
                                   "metadata": {"name": NAME, "namespace": NAMESPACE}, "data": data}
            await writes.create_object(ctx, None, info, NAMESPACE, obj)
        elif current.get("data") != data:
            await writes.guaranteed_update(ctx, info, NAMESPACE, NAME, lambda o: {**o, "data": data})
    except ApiError as exc:
        if exc.code != 409:
            _log.warning("%s/%s: %s", NAMESPACE, NAME, exc)
