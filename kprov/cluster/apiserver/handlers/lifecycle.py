"""What the server does to an object on create, update and delete (pure functions).

- create: kind/apiVersion checked, name (or generateName + 5 random chars), namespace from the
  URL, a new uid, creationTimestamp, generation 1; client-set resourceVersion and deletion
  fields dropped.
- update: identity fields (uid, creationTimestamp, deletion fields) kept from the stored
  object; the main resource cannot change ``status`` and ``/status`` can change only the
  status and the writer-settable metadata (see :func:`_status_metadata`); ``generation``
  grows only when the spec (anything outside metadata/status) changes.
- delete: an object with finalizers, or a pod bound to a node deleted with a grace period,
  is only *marked* (deletionTimestamp, deletionGracePeriodSeconds); otherwise it goes.
  A marked object whose finalizers become empty is deleted by the next write.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import secrets
import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from kprov.cluster.api.objects import format_time, is_spec_change
from kprov.cluster.api.resources import ResourceInfo
from kprov.cluster.api.validation.pod_ips import sync_pod_ips
from kprov.cluster.apiserver.handlers.csr_conditions import keep_approval_conditions, stamp_conditions
from kprov.cluster.apiserver.handlers.service_fields import drop_type_dependent_fields
from kprov.cluster.apiserver.request.status import ApiError, bad_request

__all__ = [
    "DeletePlan",
    "graceful_delete_plan",
    "is_noop",
    "new_uid",
    "prepare_create",
    "prepare_update",
    "go_field_order",
    "ready_to_delete",
]

_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"
_IDENTITY = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds")
# Metadata a status write may not change, by (group, resource): upstream's status strategies.
_CSR = ("certificates.k8s.io", "certificatesigningrequests")
# Kinds whose create strategy starts them with an empty status (upstream's PrepareForCreate).
_STATUS_CLEARED_ON_CREATE = frozenset({("storage.k8s.io", "volumeattachments")})
_STATUS_RESETS: Mapping[tuple[str, str], tuple[str, ...]] = MappingProxyType({
    ("apps", "deployments"): ("labels",),
    ("", "pods"): ("ownerReferences",),
})


_clock: list[Any] = [0, ""]  # the last whole second formatted, and its text


def _now() -> str:
    second = int(time.time())
    if _clock[0] != second:  # formatting is the costly part; a second's text is reused
        _clock[:] = [second, format_time(dt.datetime.fromtimestamp(second, dt.UTC))]
    return str(_clock[1])


_UIDS_PER_READ = 256
_uid_randomness: list[bytes] = []  # 16-byte pieces of one read of the OS's random source


def new_uid() -> str:
    """A random (version 4) UUID's text: what ``str(uuid.uuid4())`` gives, for a third of
    its cost (every create makes one; docs/decisions/0007). The random bytes come from one
    ``os.urandom`` read per 256 uids: a system call per create showed in the server's profile."""
    if not _uid_randomness:
        data = os.urandom(16 * _UIDS_PER_READ)
        _uid_randomness.extend(data[i : i + 16] for i in range(0, len(data), 16))
    raw = bytearray(_uid_randomness.pop())
    raw[6] = raw[6] & 0x0F | 0x40  # version 4
    raw[8] = raw[8] & 0x3F | 0x80  # RFC 4122 variant
    x = raw.hex()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


# A forked child must not hand out the parent's remaining uids again.
os.register_at_fork(after_in_child=_uid_randomness.clear)


def _check_type(info: ResourceInfo, obj: dict[str, Any]) -> None:
    kind = obj.get("kind") or info.kind
    api_version = obj.get("apiVersion") or info.api_version
    if kind != info.kind or api_version != info.api_version:
        raise bad_request(
            f"the API version in the data ({api_version}) does not match the expected API version "
            f"({info.api_version})"
            if api_version != info.api_version
            else f"the kind in the data ({kind}) does not match the expected kind ({info.kind})"
        )
    obj["kind"], obj["apiVersion"] = info.kind, info.api_version


# ObjectMeta's fields in its Go struct's order (how kube-apiserver writes them).
_META_ORDER = (
    "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
    "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations",
    "ownerReferences", "finalizers", "managedFields",
)
_META_RANK = MappingProxyType({name: rank for rank, name in enumerate(_META_ORDER)})


def go_field_order(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` (in place) with kind, apiVersion, metadata first and metadata's fields in Go's
    order, as kube-apiserver serializes them (clients such as kubectl send keys sorted).
    The other top-level fields keep the order they came in; resourceVersion, which the
    stored form leaves out, still comes last once read back."""
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        # Go's fields picked in order, then any others in the order they came (a stable sort
        # by rank, without a key call per field: the sort's lambda showed in the profile)
        ordered = [(name, meta[name]) for name in _META_ORDER if name in meta]
        if len(ordered) != len(meta):
            ordered += [item for item in meta.items() if item[0] not in _META_RANK]
        meta.clear()
        meta.update(ordered)
    head: dict[str, Any] = {key: obj.pop(key) for key in ("kind", "apiVersion", "metadata") if key in obj}
    rest = dict(obj)
    obj.clear()
    obj.update(head)
    obj.update(rest)
    return obj


def prepare_create(info: ResourceInfo, obj: dict[str, Any], namespace: str) -> dict[str, Any]:
    """Fill the server-owned metadata of a new object (mutates and returns ``obj``)."""
    if not isinstance(obj, dict):
        raise bad_request("the request body must be a JSON object")
    _check_type(info, obj)
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = obj["metadata"] = {}
    if not meta.get("name"):
        prefix = meta.get("generateName")
        if not prefix:
            raise ApiError(
                f'{info.kind}.{info.group or "core"} "" is invalid: metadata.name: Required value: '
                "name or generateName is required",
                422,
                "Invalid",
            )
        meta["name"] = prefix + "".join(secrets.choice(_NAME_CHARS) for _ in range(5))
    if info.namespaced:
        if meta.get("namespace") and meta["namespace"] != namespace:
            raise bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        meta["namespace"] = namespace
    else:
        meta.pop("namespace", None)
    for field in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"):
        meta.pop(field, None)
    meta["uid"] = new_uid()
    meta["creationTimestamp"] = _now()
    if (info.group, info.resource) in _STATUS_CLEARED_ON_CREATE:
        obj.pop("status", None)
    if "spec" in obj:
        meta["generation"] = 1
    else:
        meta.pop("generation", None)
    return go_field_order(obj)


def prepare_update(
    info: ResourceInfo, old: dict[str, Any], new: dict[str, Any], subresource: str = ""
) -> dict[str, Any]:
    """The object to store when ``new`` replaces ``old`` (``new`` is mutated and returned)."""
    if not isinstance(new, dict):
        raise bad_request("the request body must be a JSON object")
    _check_type(info, new)
    meta = new.get("metadata")
    if not isinstance(meta, dict):
        meta = new["metadata"] = {}
    old_meta = old.get("metadata", {})
    if meta.get("name") and meta["name"] != old_meta.get("name"):
        raise bad_request(
            f"the name of the object ({meta['name']}) does not match the name on the URL "
            f"({old_meta.get('name')})"
        )
    meta["name"] = old_meta.get("name")
    if info.namespaced:
        meta["namespace"] = old_meta.get("namespace")
    if "managedFields" not in meta and "managedFields" in old_meta:
        meta["managedFields"] = old_meta["managedFields"]  # omitted = unchanged, as the real server
    for field in _IDENTITY:
        if field in old_meta:
            meta[field] = old_meta[field]
        else:
            meta.pop(field, None)
    if subresource == "ephemeralcontainers":  # everything stays but spec.ephemeralContainers
        wanted = (new.get("spec") or {}).get("ephemeralContainers")
        new.clear()
        new.update(copy.deepcopy(old))
        if wanted:
            new.setdefault("spec", {})["ephemeralContainers"] = wanted
        else:
            new.setdefault("spec", {}).pop("ephemeralContainers", None)
        return new
    if subresource == "approval":  # a CSR's approval: only status.conditions (and metadata)
        conditions = (new.get("status") or {}).get("conditions")
        new_meta = _status_metadata(info, old_meta, meta)
        kept = copy.deepcopy({k: v for k, v in old.items() if k != "metadata"})
        status = kept.setdefault("status", {})
        if conditions:
            if isinstance(conditions, list) and (info.group, info.resource) == _CSR:
                stamp_conditions(old.get("status") or {}, conditions, _now())
            status["conditions"] = conditions
        else:
            status.pop("conditions", None)
        if not status:
            kept.pop("status")
        new.clear()
        new.update(kept)
        new["metadata"] = new_meta
        return new
    if subresource == "status":
        kept = {k: v for k, v in old.items() if k not in ("status", "metadata")}
        status = new.get("status")
        new_meta = _status_metadata(info, old_meta, meta)
        new.clear()
        new.update(kept)
        new["metadata"] = new_meta
        if status is not None:
            new["status"] = status
            _status_rules(info, old, status)
        return new
    if info.group == "" and info.resource == "services":
        drop_type_dependent_fields(old, new)
    if (info.group, info.resource) == _CSR and subresource == "" and "spec" in old:
        new["spec"] = old["spec"]  # a CSR's request is immutable (upstream resets it)
    if info.has_status and subresource == "":
        if "status" in old:
            new["status"] = old["status"]
        else:
            new.pop("status", None)
    if "generation" in old_meta or "spec" in new:
        generation = int(old_meta.get("generation") or 1)
        meta["generation"] = generation + 1 if is_spec_change(old, new) else generation
    else:
        meta.pop("generation", None)
    return go_field_order(new)


def _status_rules(info: ResourceInfo, old: dict[str, Any], status: Any) -> None:
    """What a kind's status strategy does to a written status: a CSR's conditions are
    stamped; a pod's ``podIP`` is ``podIPs[0]`` (as upstream's conversion keeps them)."""
    if (info.group, info.resource) == _CSR:
        _csr_status_conditions(old.get("status") or {}, status)
    elif (info.group, info.resource) == ("", "pods"):
        sync_pod_ips(status)


def _csr_status_conditions(old_status: dict[str, Any], status: Any) -> None:
    conditions = status.get("conditions") if isinstance(status, dict) else None
    if isinstance(conditions, list):
        keep_approval_conditions(copy.deepcopy(old_status), conditions)
        stamp_conditions(old_status, conditions, _now())


def _status_metadata(info: ResourceInfo, old_meta: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """The metadata a ``/status`` write stores, as upstream's status strategies decide it.

    Built-in kinds take the writer's labels, annotations, finalizers and owner references
    (a status patch may carry ``metadata.annotations``); a Deployment keeps its labels and
    a Pod its owner references (their strategies reset those). A custom resource's status
    write keeps the stored metadata whole. Generation and resourceVersion stay the stored ones.
    """
    if info.custom is not None:
        return {**old_meta}
    stored = {**meta}
    for field in ("generation", "resourceVersion"):
        if field in old_meta:
            stored[field] = old_meta[field]
        else:
            stored.pop(field, None)
    reset = _STATUS_RESETS.get((info.group, info.resource), ())
    for field in reset:
        if field in old_meta:
            stored[field] = old_meta[field]
        else:
            stored.pop(field, None)
    return stored


def is_noop(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """True when storing ``new`` would change nothing (resourceVersion aside)."""
    old_meta = {k: v for k, v in old.get("metadata", {}).items() if k != "resourceVersion"}
    new_meta = {k: v for k, v in new.get("metadata", {}).items() if k != "resourceVersion"}
    if old_meta != new_meta:
        return False
    return {k: v for k, v in old.items() if k != "metadata"} == {
        k: v for k, v in new.items() if k != "metadata"
    }


class DeletePlan:
    """Either delete now, or store ``marked`` (deletionTimestamp set) and wait."""

    def __init__(self, marked: dict[str, Any] | None) -> None:
        self.marked = marked

    @property
    def delete_now(self) -> bool:
        return self.marked is None


def _default_grace(info: ResourceInfo, obj: dict[str, Any]) -> int:
    if info.kind == "Pod" and info.group == "":
        value = (obj.get("spec") or {}).get("terminationGracePeriodSeconds")
        return int(value) if value is not None else 30
    return 0


def graceful_delete_plan(info: ResourceInfo, obj: dict[str, Any], grace_seconds: int | None) -> DeletePlan:
    meta = obj.get("metadata", {})
    finalizers = meta.get("finalizers") or []
    spec_finalizers = (obj.get("spec") or {}).get("finalizers") or [] if info.kind == "Namespace" else []
    grace = _default_grace(info, obj) if grace_seconds is None else max(int(grace_seconds), 0)
    bound_pod = info.kind == "Pod" and info.group == "" and bool((obj.get("spec") or {}).get("nodeName"))
    pod_done = (obj.get("status") or {}).get("phase") in ("Succeeded", "Failed")
    waits_for_kubelet = bound_pod and not pod_done and grace > 0
    if not finalizers and not spec_finalizers and not waits_for_kubelet:
        return DeletePlan(None)
    if meta.get("deletionTimestamp"):
        current = meta.get("deletionGracePeriodSeconds")
        if current is not None and grace >= int(current) and (finalizers or spec_finalizers or grace > 0):
            return DeletePlan(obj)  # already marked; a shorter grace period shortens it
    moment = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=grace if waits_for_kubelet else 0)
    marked = {
        **obj,
        "metadata": {
            **meta,
            "deletionTimestamp": format_time(moment),
            "deletionGracePeriodSeconds": grace if waits_for_kubelet else 0,
        },
    }
    if info.kind == "Namespace":
        marked["status"] = {**(obj.get("status") or {}), "phase": "Terminating"}
    return DeletePlan(marked)


def ready_to_delete(info: ResourceInfo, obj: dict[str, Any]) -> bool:
    """A marked object with nothing left to wait for."""
    meta = obj.get("metadata", {})
    if not meta.get("deletionTimestamp") or meta.get("finalizers"):
        return False
    if info.kind == "Namespace" and (obj.get("spec") or {}).get("finalizers"):
        return False
    if info.kind == "Pod" and info.group == "":
        grace = meta.get("deletionGracePeriodSeconds")
        return grace is not None and int(grace) == 0
    return True
