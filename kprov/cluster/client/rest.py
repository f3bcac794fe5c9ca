"""The async API client: JSON over HTTPS (aiohttp), client certificates, server failover.

One :class:`ApiClient` holds one aiohttp session with a bounded connection pool, so many
requests can be in flight at once (the scheduler keeps hundreds of bindings in flight).
Requests go to the current server; when it cannot be reached the next one in the
kubeconfig's server list is tried, and the client stays on whichever answered.

Objects are plain dicts exactly as the API returns them. Helpers cover the verbs the
components need: get, list (with pagination), create, update (PUT with resourceVersion for
optimistic concurrency), patch (merge, strategic, JSON patch), delete (propagation policy,
preconditions), watch (an async iterator of :class:`WatchEvent`), the status subresource,
pods/binding and discovery. A non-2xx reply raises an :mod:`~kprov.cluster.client.errors`
exception built from the server's Status.

With ``lean=True`` plain requests (everything but watches) go over
:class:`~.lean_http.LeanHttp` instead of aiohttp: a fraction of the client CPU per
request, for components that send one or more requests per object (the scheduler).

JSON goes through orjson (bodies, replies and every watch event): a component like the
scheduler decodes two watch events and sends a request per pod, and the standard
library's codec was a visible share of its CPU.
"""

from __future__ import annotations

import asyncio
import builtins
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson

from kprov.cluster.client.errors import ServerUnavailable, api_error
from kprov.cluster.client.kubeconfig import ClientConfig, load_kubeconfig, ssl_context
from kprov.cluster.client.lean_http import LeanHttp
from kprov.cluster.client.resources import BINDINGS, Resource

__all__ = ["PATCH_TYPES", "ApiClient", "WatchEvent"]

PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
}
_DUMPS_OPTIONS = orjson.OPT_NON_STR_KEYS  # as json.dumps: int keys become strings
_FAILOVER_ERRORS = (aiohttp.ClientConnectorError, aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)


@dataclass(frozen=True)
class WatchEvent:
    type: str  # ADDED, MODIFIED, DELETED, BOOKMARK
    object: dict[str, Any]


def _decode(status: int, raw: bytes) -> Any:
    try:
        decoded: Any = orjson.loads(raw) if raw else {}
    except ValueError:
        decoded = raw.decode(errors="replace")
    if status >= 300:
        raise api_error(status, decoded)
    return decoded


def _params(values: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in values.items():
        if value is None or value == "":
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out


class ApiClient:
    """An async client of one cluster (one or more API servers)."""

    def __init__(
        self, config: ClientConfig, *, max_connections: int = 128, timeout: float = 30.0, lean: bool = False
    ) -> None:
        self.config = config
        self._max_connections = max_connections
        self._timeout = timeout
        self._current = 0
        self._session: aiohttp.ClientSession | None = None
        self._retired: list[aiohttp.ClientSession] = []  # pools of the previous client certificate
        self._lean_enabled = lean
        self._lean: LeanHttp | None = None

    @classmethod
    def from_kubeconfig(
        cls, path: str | os.PathLike[str], user_agent: str = "kprov", **kwargs: Any
    ) -> ApiClient:
        return cls(load_kubeconfig(path, user_agent=user_agent), **kwargs)

    @property
    def server(self) -> str:
        return self.config.servers[self._current]

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._lean is not None:
            await self._lean.close()
            self._lean = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        for stale in self._retired:
            await stale.close()
        self._retired = []

    def use_token(self, token: str) -> None:
        """Send this bearer token from the next request on (a refreshed ServiceAccount token)."""
        if self._lean_enabled:
            raise ValueError("a lean client's headers are fixed when it connects")
        self.config = replace(self.config, token=token)
        if self._session is not None:
            self._session.headers["Authorization"] = f"Bearer {token}"

    async def use_client_certificate(self, cert_pem: bytes, key_pem: bytes) -> None:
        """Authenticate with this certificate from the next request on (a rotated one).

        Requests already under way (watches) finish on the previous connection pool, which
        is closed at the next rotation: its certificate is still valid until then.
        """
        if self._lean_enabled:
            raise ValueError("a lean client's credentials are fixed when it connects")
        self.config = replace(self.config, cert_pem=cert_pem, key_pem=key_pem)
        for stale in self._retired:
            await stale.close()
        self._retired = [self._session] if self._session is not None else []
        self._session = None

    def _headers(self) -> dict[str, str]:
        headers = {"User-Agent": self.config.user_agent, "Accept": "application/json"}
        if self.config.token:
            headers["Authorization"] = f"Bearer {self.config.token}"
        headers.update(self.config.extra_headers)
        return headers

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            headers = self._headers()
            connector = aiohttp.TCPConnector(
                ssl=ssl_context(self.config) or False, limit=self._max_connections, keepalive_timeout=60
            )
            self._session = aiohttp.ClientSession(connector=connector, headers=headers)
        return self._session

    async def _open(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None,
        data: bytes | None,
        headers: dict[str, str],
        timeout: aiohttp.ClientTimeout,
    ) -> aiohttp.ClientResponse:
        session = self._get_session()
        last: Exception | None = None
        for attempt in range(len(self.config.servers)):
            index = (self._current + attempt) % len(self.config.servers)
            try:
                resp = await session.request(
                    method, self.config.servers[index] + path, params=params, data=data,
                    headers=headers, timeout=timeout,
                )
            except _FAILOVER_ERRORS as exc:
                last = exc
                continue
            self._current = index
            return resp
        raise ServerUnavailable(f"no API server reachable ({', '.join(self.config.servers)}): {last}")

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> Any:
        """Send one request; return the decoded JSON body (or text), raise ApiError on failure."""
        data = None if body is None else orjson.dumps(body, option=_DUMPS_OPTIONS)
        if self._lean_enabled:
            status, raw = await self._lean_request(method, path, _params(params or {}), data, content_type)
            return _decode(status, raw)
        headers = {"Content-Type": content_type} if data is not None else {}
        resp = await self._open(
            method, path, _params(params or {}), data, headers, aiohttp.ClientTimeout(total=self._timeout)
        )
        async with resp:
            return _decode(resp.status, await resp.read())

    async def _lean_request(
        self, method: str, path: str, params: dict[str, str], data: bytes | None, content_type: str
    ) -> tuple[int, bytes]:
        if self._lean is None:
            self._lean = LeanHttp(ssl_context(self.config) or None, self._headers(), self._max_connections)
        target = f"{path}?{urlencode(params)}" if params else path
        last: Exception | None = None
        for attempt in range(len(self.config.servers)):
            index = (self._current + attempt) % len(self.config.servers)
            try:
                async with asyncio.timeout(self._timeout):
                    reply = await self._lean.request(
                        self.config.servers[index], method, target, data, content_type
                    )
            except TimeoutError:  # an OSError too, but a slow server is not a reason to fail over
                raise
            except OSError as exc:  # refused, reset, unreachable: the next server
                last = exc
                continue
            self._current = index
            return reply
        raise ServerUnavailable(f"no API server reachable ({', '.join(self.config.servers)}): {last}")

    # ---- verbs -------------------------------------------------------------------------

    async def get(
        self, res: Resource, name: str, namespace: str | None = None, subresource: str | None = None
    ) -> dict[str, Any]:
        return await self.request("GET", res.path(namespace, name, subresource))  # type: ignore[no-any-return]

    async def list(
        self,
        res: Resource,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        resource_version: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
    ) -> dict[str, Any]:
        """One page of a list; ``items`` plus ``metadata.resourceVersion``/``continue``."""
        params = {
            "labelSelector": label_selector, "fieldSelector": field_selector,
            "resourceVersion": resource_version, "limit": limit, "continue": continue_token,
        }
        return await self.request("GET", res.path(namespace), params=params)  # type: ignore[no-any-return]

    async def list_all(
        self,
        res: Resource,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        page_size: int = 0,
    ) -> tuple[builtins.list[dict[str, Any]], str]:
        """Every item (following ``continue``) and the list's resourceVersion."""
        # builtins.list: inside the class, ``list`` is the verb above
        items: builtins.list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page = await self.list(
                res, namespace, label_selector=label_selector, field_selector=field_selector,
                limit=page_size or None, continue_token=token,
            )
            for item in page.get("items") or []:
                item.setdefault("apiVersion", res.api_version)
                item.setdefault("kind", res.kind)
                items.append(item)
            meta = page.get("metadata") or {}
            token = meta.get("continue")
            if not token:
                return items, str(meta.get("resourceVersion", ""))

    async def create(
        self,
        res: Resource,
        obj: dict[str, Any],
        namespace: str | None = None,
        subresource: str | None = None,
        name: str | None = None,
    ) -> dict[str, Any]:
        ns = namespace or (obj.get("metadata") or {}).get("namespace")
        body = {"apiVersion": res.api_version, "kind": res.kind, **obj}
        return await self.request("POST", res.path(ns, name, subresource), body=body)  # type: ignore[no-any-return]

    async def update(
        self, res: Resource, obj: dict[str, Any], subresource: str | None = None
    ) -> dict[str, Any]:
        """PUT the whole object; its metadata.resourceVersion makes it a compare-and-swap."""
        meta = obj.get("metadata") or {}
        body = {"apiVersion": res.api_version, "kind": res.kind, **obj}
        path = res.path(meta.get("namespace"), meta["name"], subresource)
        return await self.request("PUT", path, body=body)  # type: ignore[no-any-return]

    async def update_status(self, res: Resource, obj: dict[str, Any]) -> dict[str, Any]:
        return await self.update(res, obj, subresource="status")

    async def patch(
        self,
        res: Resource,
        name: str,
        patch: Any,
        namespace: str | None = None,
        *,
        patch_type: str = "merge",
        subresource: str | None = None,
    ) -> dict[str, Any]:
        return await self.request(  # type: ignore[no-any-return]
            "PATCH", res.path(namespace, name, subresource), body=patch, content_type=PATCH_TYPES[patch_type]
        )

    async def delete(
        self,
        res: Resource,
        name: str,
        namespace: str | None = None,
        *,
        propagation_policy: str | None = None,
        uid: str | None = None,
        resource_version: str | None = None,
        grace_period_seconds: int | None = None,
    ) -> dict[str, Any]:
        options: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if propagation_policy:
            options["propagationPolicy"] = propagation_policy
        if grace_period_seconds is not None:
            options["gracePeriodSeconds"] = grace_period_seconds
        pre = {k: v for k, v in (("uid", uid), ("resourceVersion", resource_version)) if v}
        if pre:
            options["preconditions"] = pre
        return await self.request("DELETE", res.path(namespace, name), body=options)  # type: ignore[no-any-return]

    async def bind(self, namespace: str, pod_name: str, node_name: str, pod_uid: str | None = None) -> None:
        """Bind a pod to a node through the pods/binding subresource."""
        meta: dict[str, Any] = {"name": pod_name, "namespace": namespace}
        if pod_uid:
            meta["uid"] = pod_uid
        body = {"metadata": meta, "target": {"apiVersion": "v1", "kind": "Node", "name": node_name}}
        await self.request(
            "POST", f"{BINDINGS.base}/namespaces/{namespace}/pods/{pod_name}/binding",
            body={"apiVersion": "v1", "kind": "Binding", **body},
        )

    async def watch(
        self,
        res: Resource,
        namespace: str | None = None,
        *,
        resource_version: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        timeout_seconds: int = 300,
        allow_bookmarks: bool = True,
    ) -> AsyncIterator[WatchEvent]:
        """Stream changes after ``resource_version``; raises Gone on 410 (relist then)."""
        params = _params({
            "watch": True, "resourceVersion": resource_version, "labelSelector": label_selector,
            "fieldSelector": field_selector, "timeoutSeconds": timeout_seconds,
            "allowWatchBookmarks": allow_bookmarks,
        })
        timeout = aiohttp.ClientTimeout(total=None, connect=self._timeout, sock_read=timeout_seconds + 30)
        resp = await self._open("GET", res.path(namespace), params, None, {}, timeout)
        async with resp:
            if resp.status >= 300:
                raw = await resp.read()
                try:
                    body: Any = orjson.loads(raw)
                except ValueError:
                    body = raw.decode(errors="replace")
                raise api_error(resp.status, body)
            pending = b""
            async for chunk in resp.content.iter_any():
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if not line.strip():
                        continue
                    event = orjson.loads(line)
                    if event.get("type") == "ERROR":
                        status = event.get("object") or {}
                        raise api_error(int(status.get("code") or 500), status)
                    yield WatchEvent(event.get("type", ""), event.get("object") or {})

    async def discover(self) -> builtins.list[Resource]:
        """Every top-level resource in the preferred version of each group (legacy discovery)."""
        group_versions = ["v1"]
        groups = await self.request("GET", "/apis")
        for group in groups.get("groups") or []:
            preferred = (group.get("preferredVersion") or {}).get("groupVersion")
            if preferred:
                group_versions.append(preferred)
        lists = await asyncio.gather(
            *(self.request("GET", f"/api/{gv}" if gv == "v1" else f"/apis/{gv}") for gv in group_versions),
            return_exceptions=True,
        )
        found: list[Resource] = []
        for gv, listing in zip(group_versions, lists, strict=True):
            if isinstance(listing, BaseException):
                continue
            group, _, version = gv.rpartition("/")
            for entry in listing.get("resources") or []:
                if "/" in entry.get("name", ""):
                    continue
                found.append(Resource(
                    group, version, entry["name"], entry.get("kind", ""), bool(entry.get("namespaced")),
                    tuple(entry.get("verbs") or ()),
                ))
        return found
