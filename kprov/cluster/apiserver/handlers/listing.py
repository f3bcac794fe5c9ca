"""Lists: selectors, paging with continue tokens, and where the data comes from.

- ``resourceVersion=0``: the watch cache as it is (cheapest; may lag other servers slightly).
- ``resourceVersion`` unset: a consistent read. The current etcd revision R is read (a cheap
  count-only range); the watch cache is waited on until it has reached R and serves the first
  page from memory. Upstream reads etcd instead when the cache is not there within 3 s; here
  a cache that is behind but advancing is waited for (up to ``_LAGGING_CACHE_WAIT_S``), and
  only one that stops advancing for 3 s sends the list to etcd: on a saturated server the
  cache lags by seconds while it keeps up, and reading and decoding tens of thousands of
  objects from etcd costs the server far more than the wait, which made it lag more
  (docs/decisions/0011, round 4). With ``limit``, the continue token records R and the next
  key, and the snapshot the page came from is kept (:mod:`kprov.cluster.storage.list_snapshots`),
  so all pages form one snapshot.
- ``continue=<token>``: the next page from the kept snapshot at the token's revision, from
  memory; if this server no longer has it (expired, another server, a restart), from etcd
  at that revision (410 once compacted).

The continue token is opaque base64 of ``{"rv": R, "start": key}``.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from time import perf_counter
from typing import Any

from kprov.cluster.api.kinds import events
from kprov.cluster.api.resources import ResourceInfo
from kprov.cluster.api.selectors import (
    FieldSelector,
    SelectorError,
    parse_field_selector,
    parse_label_selector,
)
from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.request.status import bad_request, expired
from kprov.cluster.storage import RevisionExpiredError

__all__ = ["ListResult", "Matcher", "list_objects", "make_matcher"]

Matcher = Callable[[dict[str, Any]], bool]
_LAGGING_CACHE_WAIT_S = 20.0  # a consistent list waits this long at most for a cache that advances


@dataclass(frozen=True)
class ListResult:
    items: list[dict[str, Any]]
    revision: int
    continue_token: str = ""
    remaining: int | None = None


def make_matcher(info: ResourceInfo, label_selector: str | None, field_selector: str | None) -> Matcher:
    try:
        labels = parse_label_selector(label_selector)
        fields = parse_field_selector(field_selector, info)
    except (SelectorError, ValueError) as exc:
        raise bad_request(str(exc)) from None
    if (info.group, info.kind) == ("events.k8s.io", "Event"):  # matched on the stored core form
        fields = FieldSelector(
            tuple(replace(r, field=events.core_field_label(r.field)) for r in fields.requirements)
        )
    if labels.empty and fields.empty:
        return lambda obj: True
    if fields.empty:
        return labels.matches_object
    return lambda obj: labels.matches_object(obj) and fields.matches(obj)


def _encode_token(revision: int, start: str) -> str:
    raw = json.dumps({"rv": revision, "start": start}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str) -> tuple[int, str]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        return int(data["rv"]), str(data["start"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise bad_request("continue key is not valid: the token could not be decoded") from None


async def _from_etcd(
    ctx: ApiContext, prefix: str, matches: Matcher, limit: int, start: str | None, revision: int
) -> ListResult:
    items: list[dict[str, Any]] = []
    next_key: str | None = start
    remaining = 0
    while True:
        want = max(limit - len(items), 1) if limit else 0
        try:
            page = await ctx.store.list(prefix, limit=want, start_key=next_key, revision=revision)
        except RevisionExpiredError:
            raise expired(
                "The provided continue parameter is too old to display a consistent list result. "
                "You can start a new list without the continue parameter."
            ) from None
        revision = page.revision
        items.extend(s.obj for s in page.items if matches(s.obj))
        next_key, remaining = page.next_key, page.remaining
        if not next_key or not limit or len(items) >= limit:
            break
    token = _encode_token(revision, next_key) if next_key else ""
    return ListResult(items, revision, token, remaining if token else None)


async def list_objects(
    ctx: ApiContext,
    info: ResourceInfo,
    namespace: str,
    matches: Matcher,
    *,
    limit: int = 0,
    continue_token: str = "",
    resource_version: str = "",
) -> ListResult:
    prefix = ctx.prefix(info, namespace)
    if continue_token:
        revision, start = _decode_token(continue_token)
        if not start.startswith(prefix):
            raise bad_request("continue key is not valid for this list")
        kept = ctx.cache.list_snapshots.get(prefix, revision)
        if kept is not None and limit:
            keys, objects = kept
            first = bisect.bisect_left(keys, start)
            return _page(ctx, prefix, keys, objects, first, revision, matches, limit)
        return await _from_etcd(ctx, prefix, matches, limit, start, revision)
    if resource_version in ("", None):
        began = perf_counter()
        current = await ctx.store.current_revision()
        fresh = await ctx.cache.wait_for(current, while_advancing_s=_LAGGING_CACHE_WAIT_S)
        reads, bucket = ctx.cache.consistent_reads, ctx.cache.bucket_of(prefix)
        if not fresh:
            waited = perf_counter() - began
            try:
                listed = await _from_etcd(ctx, prefix, matches, limit, None, 0)
            except Exception:
                reads.record(bucket, waited, success=False, fallback=True)
                raise
            reads.record(bucket, waited, success=True, fallback=True)
            return listed
        reads.record(bucket, perf_counter() - began, success=True, fallback=False)
    keys, objects, revision = ctx.cache.keyed_snapshot(prefix)
    if not limit or resource_version == "0":
        return ListResult([o for o in objects if matches(o)], revision)
    return _page(ctx, prefix, keys, objects, 0, revision, matches, limit)


def _page(
    ctx: ApiContext,
    prefix: str,
    keys: list[str],
    objects: list[dict[str, Any]],
    first: int,
    revision: int,
    matches: Matcher,
    limit: int,
) -> ListResult:
    """Up to ``limit`` matching objects of a snapshot from index ``first``; when more remain,
    the snapshot is kept for the continue token's pages."""
    items: list[dict[str, Any]] = []
    for index in range(first, len(objects)):
        obj = objects[index]
        if not matches(obj):
            continue
        items.append(obj)
        if len(items) >= limit:
            rest = len(objects) - index - 1
            if not rest:
                break
            ctx.cache.list_snapshots.put(prefix, revision, keys, objects)
            return ListResult(items, revision, _encode_token(revision, keys[index] + "\x00"), rest)
    return ListResult(items, revision)
