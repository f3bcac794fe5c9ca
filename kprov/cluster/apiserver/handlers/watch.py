"""Watch: a chunked stream of ``{"type":..,"object":..}`` lines from the watch cache.

resourceVersion semantics (KUBECTL.md §8): unset or "0" -> a synthetic ADDED for every
matching object first, then changes; N -> only changes after N (410 Expired as an ERROR event
when N is older than the cache remembers; when N is newer than this server has seen, it
waits for its cache to catch up - another server may have written it). Selectors are applied
to old and new state, so an object leaving the selection arrives as DELETED and one entering
as ADDED. Bookmarks when allowWatchBookmarks; the stream ends after timeoutSeconds. With a
Table Accept header each event object is a one-row Table, columns only in the first. Custom
objects are shown as a read shows them (:mod:`..aggregation.conversion`: defaults from storage, converted
to the watched version); a conversion webhook that fails ends the stream with an ERROR event.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from typing import Any

from kprov.cluster.api.resources import ResourceInfo
from kprov.cluster.api.wire.protobuf_encode import encodable, watch_frame
from kprov.cluster.apiserver import _lib
from kprov.cluster.apiserver.aggregation import conversion
from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.handlers.listing import make_matcher
from kprov.cluster.apiserver.request.apirequest import ApiRequest, Connection
from kprov.cluster.apiserver.request.negotiation import (
    JSON,
    PROTOBUF,
    json_bytes,
    wants_protobuf,
    wants_table,
)
from kprov.cluster.apiserver.request.requestinfo import RequestInfo, parse_bool
from kprov.cluster.apiserver.request.status import ApiError, bad_request, expired, status_body
from kprov.cluster.apiserver.request.wire import AnyReply
from kprov.cluster.storage import CacheEvent, RevisionExpiredError

__all__ = ["handle_watch"]

_DEFAULT_TIMEOUT_S = 1800.0


class _Encoder:
    def __init__(self, info: ResourceInfo, table: bool, include_object: str, protobuf: bool = False) -> None:
        self.info = info
        self.table = table
        self.include_object = include_object
        self.protobuf = protobuf and not table and encodable(info.api_version, info.kind)
        self.convert = _lib.converts(info)
        self.first = True

    @property
    def content_type(self) -> str:
        return PROTOBUF + ";stream=watch" if self.protobuf else JSON

    def plain(self, kind: str, obj: dict[str, Any]) -> bytes:
        """An ERROR or BOOKMARK event: the object itself, never a Table."""
        if self.protobuf:
            return watch_frame(kind, obj)
        return json_bytes({"type": kind, "object": obj}) + b"\n"

    def line(self, kind: str, obj: dict[str, Any], event: CacheEvent | None = None) -> bytes:
        if self.protobuf:
            return watch_frame(kind, obj)
        if not self.table:
            if event is not None and event.type == kind:
                return event.json_line()
            return json_bytes({"type": kind, "object": obj}) + b"\n"
        table = _lib.table(self.info, [obj], self.include_object, no_headers=not self.first)
        table["metadata"] = {"resourceVersion": obj.get("metadata", {}).get("resourceVersion", "")}
        self.first = False
        return json_bytes({"type": kind, "object": table}) + b"\n"


def _transition(event: CacheEvent, matches: Any) -> str | None:
    now = event.type != "DELETED" and matches(event.obj)
    before = event.prev is not None and matches(event.prev)
    if event.type == "DELETED":
        return "DELETED" if before else None
    if now and before:
        return "MODIFIED"
    if now:
        return "ADDED"
    return "DELETED" if before else None


def _timeout_of(query: Any) -> float:
    """``timeoutSeconds``, else a random time in [1, 2) times the default, as upstream spreads
    the watches' ends."""
    try:
        if query.get("timeoutSeconds"):
            return float(query["timeoutSeconds"])
    except ValueError:
        raise bad_request("timeoutSeconds must be a number") from None
    return _DEFAULT_TIMEOUT_S * (1 + random.random())


async def _starting_point(
    ctx: ApiContext, prefix: str, raw_rv: str, matches: Callable[[dict[str, Any]], bool]
) -> tuple[list[dict[str, Any]], int]:
    """The objects sent as ADDED first (only without a resourceVersion: the state now) and the
    revision the events follow from."""
    if raw_rv in ("", "0"):
        objects, since = ctx.cache.snapshot(prefix)
        return [o for o in objects if matches(o)], since
    try:
        since = int(raw_rv)
    except ValueError:
        raise bad_request(f"invalid resourceVersion {raw_rv!r}") from None
    if since > ctx.cache.revision:
        await ctx.cache.wait_for(since, 5.0)
    return [], since


def _bookmark(info: ResourceInfo, revision: int) -> dict[str, Any]:
    """A BOOKMARK event's object: the kind, with only the revision the watch has reached."""
    return {
        "kind": info.kind,
        "apiVersion": info.api_version,
        "metadata": {"resourceVersion": str(revision)},
    }


async def _lines(
    ctx: ApiContext,
    info: ResourceInfo,
    encoder: _Encoder,
    batch: list[CacheEvent],
    matches: Callable[[dict[str, Any]], bool],
) -> list[bytes]:
    """The encoded lines a batch of the cache's events becomes for this watcher: each event
    as the transition it is for the watcher's selectors (or none), converted if asked."""
    chunk = []
    for item in batch:
        kind = _transition(item, matches)
        if kind is not None:
            obj = item.obj if kind != "DELETED" or item.type == "DELETED" else {**item.obj}
            shown = (await conversion.read(ctx, info, [obj]))[0] if encoder.convert else obj
            # the cache's encoded line serves only while the object is the cached one
            chunk.append(encoder.line(kind, shown, item if shown is item.obj else None))
    return chunk


async def handle_watch(
    request: ApiRequest, connection: Connection, ctx: ApiContext, info: ResourceInfo, ri: RequestInfo
) -> AnyReply:
    """The watch ``request`` asks for, streamed on ``connection`` (the one thing it needs of
    the HTTP layer: a chunked reply written as events come; everything else is read from
    ``request``)."""
    query = request.query
    field_selector = query.get("fieldSelector", "")
    if ri.name:  # GET .../pods/x?watch=true
        field_selector = ",".join(filter(None, [field_selector, f"metadata.name={ri.name}"]))
    matches = make_matcher(info, query.get("labelSelector"), field_selector)
    timeout = _timeout_of(query)
    bookmarks = parse_bool(query.get("allowWatchBookmarks"))
    prefix = ctx.prefix(info, ri.namespace)
    include_object = query.get("includeObject", "Metadata")
    encoder = _Encoder(info, wants_table(request), include_object, wants_protobuf(request))
    initial, since = await _starting_point(ctx, prefix, query.get("resourceVersion", ""), matches)
    error: dict[str, Any] | None = None
    try:
        sub = ctx.cache.subscribe(prefix, since)
    except RevisionExpiredError as exc:
        sub = None
        error = status_body(expired(f"too old resource version: {exc.requested} ({exc.oldest})"))

    headers = {"Content-Type": encoder.content_type, "Cache-Control": "no-cache"}
    response = await connection.start_stream(headers)
    if sub is None:
        await response.write(encoder.plain("ERROR", error or {}))
        return response
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    metrics = ctx.watch_metrics  # apiserver_watch_events_total
    interval = ctx.config.bookmark_interval_s
    try:
        if initial and encoder.convert:
            initial = await conversion.read(ctx, info, initial)
        if initial:
            await response.write(b"".join(encoder.line("ADDED", o) for o in initial))
            if metrics is not None:
                metrics.watch_sent(info.group, info.version, info.resource, len(initial))
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                event = await sub.next(min(remaining, interval) if bookmarks else remaining)
            except TimeoutError:
                # not the cache's revision: the wait may have timed out with an event just
                # queued, and a bookmark past it could make a resuming client skip it
                revision = sub.bookmark()
                if bookmarks and revision is not None and deadline - loop.time() > 0:
                    await response.write(encoder.plain("BOOKMARK", _bookmark(info, revision)))
                continue
            if event is None:
                break
            chunk = await _lines(ctx, info, encoder, [event, *sub.drain()], matches)
            if chunk:
                await response.write(b"".join(chunk))
                if metrics is not None:
                    metrics.watch_sent(info.group, info.version, info.resource, len(chunk))
            if sub.closed:
                break
    except ApiError as exc:  # a conversion webhook failed: the stream ends with its error
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            await response.write(encoder.plain("ERROR", status_body(exc)))
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        sub.close()
    with contextlib.suppress(ConnectionResetError, RuntimeError):
        await response.write_eof()
    return response
