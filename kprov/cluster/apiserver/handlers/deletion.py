"""DELETE: graceful deletion (a grace period, finalizers, propagation policy, preconditions),
and the immediate delete once nothing holds the object back.

Design: a delete first marks the object (deletionTimestamp, the finalizers the propagation
policy adds) and only removes it from etcd when no grace period and no finalizer remain;
admission (NodeRestriction, policies, webhooks) runs before either.
"""

from __future__ import annotations

from typing import Any

from kprov.cluster.api.resources import ResourceInfo
from kprov.cluster.apiserver.attributes import AdmissionAttributes, Stage
from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.handlers.lifecycle import (
    graceful_delete_plan,
    is_noop,
)
from kprov.cluster.apiserver.handlers.storage_hooks import after_delete, after_write
from kprov.cluster.apiserver.identity import UserInfo
from kprov.cluster.apiserver.request.status import (
    MODIFIED,
    conflict,
    not_found,
)
from kprov.cluster.storage import KeyNotFoundError, RevisionConflictError

__all__ = ["delete_now", "delete_object"]


# kinds whose dependents a delete that names no policy orphans (upstream's strategies'
# DefaultGarbageCollectionPolicy: ReplicationControllers kept v1's old behaviour)
_ORPHANING_BY_DEFAULT = frozenset({("", "replicationcontrollers")})


def propagation_policy(info: ResourceInfo, options: dict[str, Any]) -> str:
    """The delete's propagation policy: ``propagationPolicy``, else ``orphanDependents``
    (true: Orphan, false: Background), else the kind's default ("": Background)."""
    policy = options.get("propagationPolicy")
    if policy:
        return str(policy)
    orphan = options.get("orphanDependents")
    if orphan is not None:
        return "Orphan" if orphan else "Background"
    return "Orphan" if (info.group, info.resource) in _ORPHANING_BY_DEFAULT else ""


async def delete_now(
    ctx: ApiContext, info: ResourceInfo, obj: dict[str, Any], revision: int
) -> dict[str, Any]:
    meta = obj["metadata"]
    try:
        gone = await ctx.store.delete(ctx.key(info, meta.get("namespace", ""), meta["name"]), revision)
    except KeyNotFoundError:
        raise not_found(info, meta["name"]) from None
    await after_delete(ctx, info, gone.obj)
    after_write(ctx, info, None, meta["name"])
    return gone.obj


async def delete_object(
    ctx: ApiContext,
    info: ResourceInfo,
    namespace: str,
    name: str,
    options: dict[str, Any],
    dry_run: bool = False,
    *,
    user: UserInfo | None = None,
) -> tuple[dict[str, Any], bool]:
    """Delete or mark for deletion; returns (object, deleted_now)."""
    key = ctx.key(info, namespace, name)
    grace = options.get("gracePeriodSeconds")
    pre = options.get("preconditions") or {}
    policy = propagation_policy(info, options)
    for _ in range(20):
        current = await ctx.store.get(key)
        if current is None:
            raise not_found(info, name)
        meta = current.obj["metadata"]
        if pre.get("uid") and pre["uid"] != meta.get("uid"):
            raise conflict(
                info,
                name,
                f"Precondition failed: UID in precondition: {pre['uid']}, "
                f"UID in object meta: {meta.get('uid')}",
            )
        if pre.get("resourceVersion") and str(pre["resourceVersion"]) != str(current.revision):
            raise conflict(info, name, MODIFIED)
        attrs = AdmissionAttributes(info, "DELETE", None, current.obj, user, dry_run=dry_run)
        await ctx.chain.run(ctx, Stage.VALIDATE, attrs)
        obj = current.obj
        if policy in ("Foreground", "Orphan"):
            finalizer = "foregroundDeletion" if policy == "Foreground" else "orphan"
            if finalizer not in (meta.get("finalizers") or []):
                obj = {
                    **obj,
                    "metadata": {**meta, "finalizers": [*(meta.get("finalizers") or []), finalizer]},
                }
        plan = graceful_delete_plan(info, obj, None if grace is None else int(grace))
        if dry_run:
            return (plan.marked or obj), plan.delete_now
        try:
            if plan.delete_now:
                return await delete_now(ctx, info, obj, current.revision), True
            if is_noop(current.obj, plan.marked or obj):
                return current.obj, False
            stored = await ctx.store.update(key, plan.marked or obj, current.revision)
            after_write(ctx, info, stored.obj, name)
            return stored.obj, False
        except RevisionConflictError:
            continue
    raise conflict(info, name, "too many concurrent writers; try again")

