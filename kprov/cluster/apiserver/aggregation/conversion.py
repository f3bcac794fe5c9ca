"""Custom objects between versions: defaulting from storage and conversion (None or Webhook).

Design: a custom object is stored in the version that was the CRD's storage version when it
was written. Reading it (get, list, watch, the response to a write, the current state an
update starts from) first fills in the defaults of the schema of the version it is stored
in - so a default added to a CRD shows on objects written before, as upstream does when it
decodes from etcd - and then converts it to the version asked for; writing converts the
request's object to the storage version. Conversion ``None`` rewrites apiVersion. Conversion
``Webhook`` sends the objects that are in another version, together, in one ConversionReview
(apiextensions.k8s.io/v1, or v1beta1 if that is the only one the CRD names) over HTTPS to
the CRD's webhook (a Service resolved to a ready endpoint, or a URL; the certificate checked
against caBundle), as the admission webhooks are called. Its answer is checked as upstream
checks it (same uid, success, one object per object sent, each in the version asked for and
of the same kind) and only the labels and annotations of its metadata are taken: the rest
of each object's metadata is the original's. A failed or invalid conversion is a 500 naming
the webhook's CRD kind.

Built-in kinds served in several versions (HorizontalPodAutoscalers: autoscaling/v2 stored,
v1 converted; the optional beta versions of ValidatingAdmissionPolicies and flowcontrol's
kinds, views of v1) go through their own pure conversion (`BUILTIN`), the same way.
"""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import Mapping
from typing import Any

import aiohttp

from kprov.cluster.api.crd import pruning as crd_pruning
from kprov.cluster.api.kinds import beta_conversion, events, hpa_conversion
from kprov.cluster.api.resources import ResourceInfo
from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.request.status import ApiError, internal_error
from kprov.cluster.apiserver.webhook_client import webhook_endpoint, webhook_ssl_context  # admission's too

__all__ = ["BUILTIN", "builtin_converts", "read", "storage_api_version", "to_storage"]

# (group, kind) -> (stored apiVersion, conversion of an object to a given apiVersion)
BUILTIN = {
    ("autoscaling", "HorizontalPodAutoscaler"): (hpa_conversion.V2, hpa_conversion.convert),
    ("events.k8s.io", "Event"): (events.CORE, events.convert),  # stored as core/v1 Events
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"): (
        beta_conversion.ADMISSION_V1,
        beta_conversion.convert_admission_policy,
    ),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"): (
        beta_conversion.ADMISSION_V1,
        beta_conversion.convert_admission_policy,
    ),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"): (
        beta_conversion.FLOWCONTROL_V1,
        beta_conversion.convert_flow_schema,
    ),
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"): (
        beta_conversion.FLOWCONTROL_V1,
        beta_conversion.convert_priority_level,
    ),
}


def builtin_converts(info: ResourceInfo) -> bool:
    if info.custom is not None or (info.group, info.kind) not in BUILTIN:
        return False
    # the v1 of the kinds with optional beta views is stored as it is served
    return info.group not in _V1_STORED_GROUPS or (info.group, info.version) in beta_conversion.VIEWS


_V1_STORED_GROUPS = frozenset(group for group, _ in beta_conversion.VIEWS)

_TIMEOUT_S = 30.0  # upstream's fixed timeout for conversion webhooks
_REVIEW_VERSIONS = ("v1", "v1beta1")


def storage_api_version(info: ResourceInfo) -> str:
    if info.custom is None:
        builtin = BUILTIN.get((info.group, info.kind))
        return builtin[0] if builtin is not None else info.api_version
    return f"{info.group}/{info.custom.storage_version}"


async def read(
    ctx: ApiContext, info: ResourceInfo, objects: list[dict[str, Any]], *, defaults: bool = True
) -> list[dict[str, Any]]:
    """Stored objects as ``info``'s version shows them (new dicts where anything changed;
    ``defaults=False`` skips defaulting, for an object this request has just written)."""
    custom = info.custom
    if custom is None:
        builtin = BUILTIN.get((info.group, info.kind))
        if builtin is None:
            return objects
        return [builtin[1](obj, info.api_version) for obj in objects]
    shown = list(objects)
    if defaults and custom.defaults_on_read:
        for index, obj in enumerate(shown):
            node = custom.nodes.get(str(obj.get("apiVersion", "")).rpartition("/")[2])
            if node is not None and crd_pruning.lacks_defaults(node, obj):
                shown[index] = copy.deepcopy(obj)
                crd_pruning.default(node, shown[index])
    others = [i for i, obj in enumerate(shown) if obj.get("apiVersion") != info.api_version]
    if others:
        converted = await _convert(ctx, info, [shown[i] for i in others], info.api_version)
        for index, obj in zip(others, converted, strict=True):
            shown[index] = obj
    return shown


async def to_storage(ctx: ApiContext, info: ResourceInfo, obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` (in ``info``'s version) in the version its resource is stored in."""
    target = storage_api_version(info)
    if obj.get("apiVersion") == target:
        return obj
    builtin = BUILTIN.get((info.group, info.kind)) if info.custom is None else None
    if builtin is not None:
        return builtin[1](obj, target)
    return (await _convert(ctx, info, [obj], target))[0]


async def _convert(
    ctx: ApiContext, info: ResourceInfo, objects: list[dict[str, Any]], target: str
) -> list[dict[str, Any]]:
    webhook = info.custom.webhook if info.custom is not None else None
    if webhook is None:
        return [{**obj, "apiVersion": target} for obj in objects]
    what = f"{info.group}/{info.version}, Kind={info.kind}"
    try:
        answer = await _call(ctx, webhook, objects, target)
    except ApiError:
        raise
    except (TimeoutError, aiohttp.ClientError, ConnectionError, OSError, ValueError) as exc:
        detail = "context deadline exceeded" if isinstance(exc, asyncio.TimeoutError) else str(exc)
        raise internal_error(f"conversion webhook for {what} failed: {detail}") from None
    return _checked(what, objects, answer, target)


async def _call(
    ctx: ApiContext, webhook: Mapping[str, Any], objects: list[dict[str, Any]], target: str
) -> tuple[str, Mapping[str, Any]]:
    versions = [v for v in webhook.get("conversionReviewVersions") or [] if v in _REVIEW_VERSIONS]
    if not versions:
        accepted = list(webhook.get("conversionReviewVersions") or [])
        raise ValueError(
            f"no supported conversion review versions: the webhook accepts {accepted}, "
            f"the server sends {list(_REVIEW_VERSIONS)}"
        )
    uid = str(uuid.uuid4())
    review = {
        "kind": "ConversionReview",
        "apiVersion": f"apiextensions.k8s.io/{versions[0]}",
        "request": {"uid": uid, "desiredAPIVersion": target, "objects": objects},
    }
    url, server_name = await webhook_endpoint(ctx, webhook)
    connector = aiohttp.TCPConnector(ssl=webhook_ssl_context(webhook))
    timeout = aiohttp.ClientTimeout(total=_TIMEOUT_S)
    async with (
        aiohttp.ClientSession(connector=connector, timeout=timeout) as session,
        session.post(
            url, json=review, server_hostname=server_name, headers={"Accept": "application/json"}
        ) as reply,
    ):
        if reply.status != 200:
            raise ConnectionError(f"the server responded with status {reply.status}")
        answer = await reply.json(content_type=None)
    response = answer.get("response") if isinstance(answer, Mapping) else None
    if not isinstance(response, Mapping):
        raise ValueError("no response provided")
    return uid, response


def _checked(
    what: str, objects: list[dict[str, Any]], answer: tuple[str, Mapping[str, Any]], target: str
) -> list[dict[str, Any]]:
    uid, response = answer
    if response.get("uid") != uid:
        got = response.get("uid")
        raise internal_error(
            f"conversion webhook for {what} failed: expected response.uid={uid!r}, got {got!r}"
        )
    result = response.get("result") or {}
    if result.get("status") != "Success":
        raise internal_error(f"conversion webhook for {what} returned failure: {result.get('message', '')}")
    converted = response.get("convertedObjects")
    if not isinstance(converted, list) or len(converted) != len(objects):
        count = len(converted) if isinstance(converted, list) else 0
        raise internal_error(
            f"conversion webhook for {what} returned {count} objects, expected {len(objects)}"
        )
    out = []
    for index, (original, new) in enumerate(zip(objects, converted, strict=True)):
        problem = ""
        if not isinstance(new, dict):
            problem = "not an object"
        elif new.get("apiVersion") != target:
            problem = f"invalid apiVersion {new.get('apiVersion')!r}, expected {target!r}"
        elif new.get("kind") != original.get("kind"):
            problem = f"invalid kind {new.get('kind')!r}, expected {original.get('kind')!r}"
        if problem:
            raise internal_error(
                f"conversion webhook for {what} returned invalid converted object at index {index}: {problem}"
            )
        out.append({**new, "metadata": _kept_metadata(original.get("metadata") or {}, new.get("metadata"))})
    return out


def _kept_metadata(original: Mapping[str, Any], converted: Any) -> dict[str, Any]:
    """The original metadata with the converted object's labels and annotations."""
    meta = dict(original)
    converted = converted if isinstance(converted, Mapping) else {}
    for key in ("labels", "annotations"):
        if isinstance(converted.get(key), Mapping):
            meta[key] = dict(converted[key])
        else:
            meta.pop(key, None)
    return meta
