"""The write path every write takes: create and the guaranteed update (read, mutate, admit,
write with the revision check, retried on conflicts).

Design: a create or update computes the new object with the pure functions of
:mod:`.lifecycle` and kprov.cluster.api (defaults, validation, patches), stops at the
admission chain's stages (:mod:`..admission.chain`: MUTATE after defaults, VALIDATE after
validation, STORE after managedFields), and stores it with a compare-and-swap on the
revision it read; on a lost race it retries from a fresh read unless the client pinned a
resourceVersion (then: 409 Conflict). A write that changes nothing is not written (the
resourceVersion stays). ``dry_run`` runs everything but the write. The REST handlers
(:mod:`.crud`), the subresources and the server's own reconcilers all write through here.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from kprov.cluster.api.kinds.status_zeros import fill_status_zeros
from kprov.cluster.api.resources import ResourceInfo
from kprov.cluster.apiserver import _lib
from kprov.cluster.apiserver.aggregation import conversion
from kprov.cluster.apiserver.attributes import AdmissionAttributes, Stage
from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.handlers.deletion import delete_now
from kprov.cluster.apiserver.handlers.field_manager import field_manager
from kprov.cluster.apiserver.handlers.lifecycle import (
    is_noop,
    prepare_create,
    prepare_update,
    ready_to_delete,
)
from kprov.cluster.apiserver.handlers.storage_hooks import after_failed_create, after_write
from kprov.cluster.apiserver.identity import UserInfo
from kprov.cluster.apiserver.request.apirequest import ApiRequest
from kprov.cluster.apiserver.request.status import MODIFIED, ApiError, already_exists, conflict, not_found
from kprov.cluster.storage import KeyExistsError, KeyNotFoundError, RevisionConflictError, StoredObject

__all__ = ["Mutation", "create_object", "guaranteed_update"]

Mutation = Callable[[dict[str, Any]], dict[str, Any]]


async def create_object(
    ctx: ApiContext,
    request: ApiRequest | None,
    info: ResourceInfo,
    namespace: str,
    obj: Any,
    dry_run: bool = False,
) -> tuple[dict[str, Any], list[str]]:
    """Create through defaults and admission, as ``request``'s user; ``request`` None: the API
    server itself writes."""
    user = request.user if request is not None else None
    obj = prepare_create(info, obj, namespace)
    _lib.drop_unknown_fields(info, obj)
    warnings: list[str] = []  # field validation is the handlers' (they have the body)
    _lib.apply_defaults(info, obj)
    chain = ctx.chain
    attrs = AdmissionAttributes(info, "CREATE", obj, None, user, dry_run=dry_run)
    attrs = await chain.run(ctx, Stage.MUTATE, attrs)
    obj = attrs.obj
    _lib.validate(info, obj, None)
    await chain.run(ctx, Stage.VALIDATE, attrs)
    fill_status_zeros(info, obj)
    name = obj["metadata"]["name"]
    if request is not None and not obj["metadata"].get("managedFields"):
        _lib.record_update(info, None, obj, field_manager(request, "CreateOptions"))
    await chain.run(ctx, Stage.STORE, attrs)
    if dry_run:
        return obj, warnings
    try:
        stored_form = await conversion.to_storage(ctx, info, obj)
        stored = await ctx.store.create(ctx.key(info, namespace, name), stored_form)
    except BaseException as exc:
        await after_failed_create(ctx, info, obj)
        if isinstance(exc, KeyExistsError):
            raise already_exists(info, name) from None
        raise
    after_write(ctx, info, stored.obj, name)
    return stored.obj, warnings


async def guaranteed_update(
    ctx: ApiContext,
    info: ResourceInfo,
    namespace: str,
    name: str,
    mutate: Mutation,
    *,
    pinned_revision: int | None = None,
    dry_run: bool = False,
    subresource: str = "",
    field_manager: str = "",
    user: UserInfo | None = None,
) -> dict[str, Any]:
    """Read, mutate, admit and write with the revision check, retried on conflicts;
    ``user`` None: the API server itself writes."""
    key, chain = ctx.key(info, namespace, name), ctx.chain
    # The first try starts from the watch cache's copy (no etcd read), as kube-apiserver
    # does; the write's revision check catches a stale copy. Any answer other than a
    # successful write (not found, a pinned revision that differs, no change, an error from
    # the mutation or validation) is only given after a fresh read from etcd.
    fresh = False
    for _ in range(20):
        current, fresh = await starting_copy(ctx, info, key, name, fresh)
        if pinned_revision is not None and pinned_revision != current.revision:
            if not fresh:
                fresh = True
                continue
            raise conflict(info, name, MODIFIED)
        try:
            (shown,) = await conversion.read(ctx, info, [current.obj])
            new = prepare_update(info, shown, mutate(copy.deepcopy(shown)), subresource)
            _lib.drop_unknown_fields(info, new)
            if subresource != "status" or info.custom is not None:
                _lib.apply_defaults(info, new)
            attrs = AdmissionAttributes(info, "UPDATE", new, shown, user, subresource, dry_run)
            attrs = await chain.run(ctx, Stage.MUTATE, attrs)
            new = attrs.obj
            _lib.validate(info, new, shown, subresource)
            await chain.run(ctx, Stage.VALIDATE, attrs)
            fill_status_zeros(info, new)
            new = await conversion.to_storage(ctx, info, new)
        except ApiError:
            if not fresh:
                fresh = True
                continue
            raise
        if is_noop(current.obj, new) and not (await ctx.store.stale(key)):
            if not fresh:
                fresh = True
                continue
            return current.obj
        _lib.record_update(info, current.obj, new, field_manager, subresource)
        stored_attrs = AdmissionAttributes(info, "UPDATE", new, current.obj, user, subresource, dry_run)
        await chain.run(ctx, Stage.STORE, stored_attrs)
        if dry_run:
            return new
        try:
            stored = await ctx.store.update(key, new, current.revision)
        except RevisionConflictError:
            if pinned_revision is not None:
                raise conflict(info, name, MODIFIED) from None
            fresh = True
            continue
        except KeyNotFoundError:
            raise not_found(info, name) from None
        if ready_to_delete(info, stored.obj):
            return await delete_now(ctx, info, stored.obj, stored.revision)
        after_write(ctx, info, stored.obj, name)
        return stored.obj
    raise conflict(info, name, "too many concurrent writers; try again")


async def starting_copy(
    ctx: ApiContext, info: ResourceInfo, key: str, name: str, fresh: bool
) -> tuple[StoredObject, bool]:
    """The copy a guarded write starts from, and whether it is etcd's: the watch cache's
    unless ``fresh`` (or the cache has none), else read from etcd, not found only then."""
    current = None if fresh else _cached(ctx, key)
    if current is not None:
        return current, False
    current = await ctx.store.get(key)
    if current is None:
        raise not_found(info, name)
    return current, True


def _cached(ctx: ApiContext, key: str) -> StoredObject | None:
    obj = ctx.cache.get(key)
    version = (obj or {}).get("metadata", {}).get("resourceVersion")
    return StoredObject(key, obj, int(version)) if obj is not None and version else None
