"""One API request, decoded once by the front: what authentication, authorization and the
handlers read of it, as an immutable value.

The front serves requests on two HTTP stacks
(:mod:`kprov.cluster.apiserver.front.http1`'s lean one, and aiohttp's for the WebSocket
upgrades it hands over); their request objects differ, and neither belongs
below the HTTP layer. :func:`decode` turns either into an :class:`ApiRequest`: the method,
the path and its RequestInfo (upstream's RequestInfo resolver, :mod:`.requestinfo`), the
query as a read-only multi-mapping, the headers read-only (the proxies forward them all;
Accept, Content-Type, Authorization and Impersonate-* are read below), the body bytes, the
client's address and TLS session (the client certificate), and, once authentication ran,
the user (:meth:`ApiRequest.with_user`; the handlers read it as ``requester``, the audit
record as ``user``). The handlers take no separate user or body: both are read here.

A handler that takes the connection over (a watch's or a log's streamed reply, exec/attach/
port-forward's WebSocket, the aggregation proxy's relays) gets a :class:`Connection` as well:
a narrow handle that starts a streamed reply or yields the WebSocket request, and offers no
query or headers (those are read from the value).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from aiohttp import web
from multidict import CIMultiDictProxy, MultiMapping

from kprov.cluster.apiserver.request.requestinfo import RequestInfo, parse_bool, parse_request_info
from kprov.cluster.apiserver.request.wire import AnyReply, AnyRequest, Request, StreamingReply

if TYPE_CHECKING:
    from kprov.cluster.apiserver.identity import UserInfo

__all__ = ["ApiRequest", "Connection", "decode"]


class ApiRequest(NamedTuple):  # a tuple: made on every request, cheaper than a frozen dataclass
    """One request as everything below the front reads it."""

    method: str
    path: str
    query_string: str
    query: MultiMapping[str]  # read-only
    headers: CIMultiDictProxy[str]
    body: bytes
    remote: str | None  # the client's address
    tls: Any  # the connection's ssl.SSLObject (its client certificate), None over plain TCP
    info: RequestInfo | None  # None for a non-resource path (discovery, health, openapi...)
    user: UserInfo | None = None  # who sent it, once authenticated

    @property
    def content_length(self) -> int | None:
        raw = self.headers.get("Content-Length")
        return int(raw) if raw is not None and raw.isdigit() else None

    @property
    def requester(self) -> UserInfo:
        """Who sent it, where authentication has run (the handlers, dispatched after it)."""
        if self.user is None:
            raise RuntimeError(f"{self.method} {self.path} read before authentication")
        return self.user

    def with_user(self, user: UserInfo) -> ApiRequest:
        return ApiRequest(*self[:-1], user)  # (on every request: cheaper than _replace)

    def with_body(self, body: bytes) -> ApiRequest:
        return self._replace(body=body)


def decode(raw: AnyRequest) -> ApiRequest:
    """``raw`` as an :class:`ApiRequest`. The lean front has the body in hand; an aiohttp
    request's body is read by the front later (:meth:`ApiRequest.with_body`), after the
    checks that come before reading it."""
    query = raw.query
    info = parse_request_info(raw.method, raw.path, parse_bool(query.get("watch")))
    transport = raw.transport
    tls = transport.get_extra_info("ssl_object") if transport is not None else None
    body = raw.body if isinstance(raw, Request) else b""
    return ApiRequest(
        raw.method, raw.path, raw.query_string, query, raw.headers, body, raw.remote, tls, info
    )


class Connection:
    """The connection under an :class:`ApiRequest`, for the handlers that write to it
    themselves: a streamed reply, or a WebSocket. Query and headers are not here."""

    __slots__ = ("_raw",)

    def __init__(self, raw: AnyRequest) -> None:
        self._raw = raw

    @property
    def lean(self) -> bool:
        """Served by :mod:`kprov.cluster.apiserver.front.http1` (a raw Upgrade is its), not by
        aiohttp (WebSockets)."""
        return isinstance(self._raw, Request)

    def stream_reply(self, headers: dict[str, str], status: int = 200) -> AnyReply:
        """A chunked reply, not yet started (:meth:`prepare` sends its head)."""
        if isinstance(self._raw, Request):
            return StreamingReply(status, headers)
        response = web.StreamResponse(status=status, headers=headers)
        response.enable_chunked_encoding()
        return response

    async def prepare(self, reply: AnyReply) -> None:
        """Send the head of ``reply`` (from :meth:`stream_reply`)."""
        raw = self._raw
        if isinstance(reply, StreamingReply):
            if not isinstance(raw, Request):
                raise TypeError("a lean front's reply for an aiohttp request")
            await reply.prepare(raw)
        else:
            if isinstance(raw, Request):
                raise TypeError("an aiohttp reply for a lean front's request")
            await reply.prepare(raw)

    async def start_stream(self, headers: dict[str, str], status: int = 200) -> AnyReply:
        """A chunked reply, its head sent."""
        reply = self.stream_reply(headers, status)
        await self.prepare(reply)
        return reply

    def websocket(self) -> web.BaseRequest:
        """The request to hand to ``web.WebSocketResponse.prepare``: a WebSocket upgrade is
        always aiohttp's (the lean front hands every one over)."""
        if not isinstance(self._raw, web.BaseRequest):
            raise TypeError("a WebSocket upgrade reached its handler through the lean front")
        return self._raw
