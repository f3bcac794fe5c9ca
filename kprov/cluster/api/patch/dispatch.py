"""PATCH: one entry point over the four patch content types the API accepts.

Design: `apply_patch` decodes the body, dispatches on the content type to one private
module per patch kind (`_json_patch`, `_merge_patch`, `_strategic`, `_apply`), and returns
a new dict; the live object is never mutated. Errors are `PatchError` (400/415/422) or
`ConflictError` (409) carrying what the server's Status needs. Server-side apply also
creates: pass `live=None` when the object does not exist yet.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from kprov.cluster.api.errors import PatchError
from kprov.cluster.api.objects import now_rfc3339
from kprov.cluster.api.patch.json_patch import apply_json_patch
from kprov.cluster.api.patch.merge_patch import apply_merge_patch
from kprov.cluster.api.patch.server_side_apply import server_side_apply
from kprov.cluster.api.patch.strategic import apply_strategic_merge_patch
from kprov.cluster.api.resources import ResourceInfo
from kprov.cluster.api.schema.known_fields import root_type, type_for_kind
from kprov.cluster.api.wire.bounded_decode import check_depth, load_yaml

__all__ = [
    "APPLY_PATCH",
    "JSON_PATCH",
    "MERGE_PATCH",
    "PATCH_TYPES",
    "STRATEGIC_MERGE_PATCH",
    "apply_patch",
    "decode_patch_body",
]

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH)


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def decode_patch_body(body: bytes | str | dict | list, content_type: str) -> Any:
    """Bytes -> JSON value (YAML for apply patches); already-decoded values pass through."""
    if isinstance(body, dict | list):
        return body
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        value = load_yaml(text) if _media_type(content_type) == APPLY_PATCH else json.loads(text)
        check_depth(value, text)
        return value
    except RecursionError:
        raise PatchError("error decoding patch: exceeded max depth") from None
    except (ValueError, yaml.YAMLError) as exc:
        raise PatchError(f"error decoding patch: {exc}") from exc


def apply_patch(
    info: ResourceInfo,
    live: dict[str, Any] | None,
    patch_body: bytes | str | dict | list,
    content_type: str,
    *,
    field_manager: str | None = None,
    force: bool = False,
    subresource: str = "",
    type_name: str | None = None,
    now: str | None = None,
) -> dict[str, Any]:
    """Return `live` with the patch applied.

    `subresource="scale"` patches an autoscaling/v1 Scale (pass `type_name` for other
    non-root shapes). For server-side apply, `live=None` means create.
    """
    media = _media_type(content_type)
    if media not in PATCH_TYPES:
        raise PatchError(
            f"the body of the request was in an unknown format - accepted media types include: "
            f"{', '.join(PATCH_TYPES)}",
            code=415,
            reason="UnsupportedMediaType",
        )
    body = decode_patch_body(patch_body, content_type)
    if type_name is None:
        type_name = type_for_kind("autoscaling", "Scale") if subresource == "scale" else root_type(info)
    current = live or {}
    if media == JSON_PATCH:
        result = apply_json_patch(current, body)
    elif media == MERGE_PATCH:
        if not isinstance(body, dict):
            raise PatchError("merge patch body must be a JSON object")
        result = apply_merge_patch(current, body)
    elif media == STRATEGIC_MERGE_PATCH:
        if not isinstance(body, dict):
            raise PatchError("strategic merge patch body must be a JSON object")
        result = apply_strategic_merge_patch(current, body, type_name)
    else:
        return server_side_apply(
            info,
            live,
            body,
            field_manager or "",
            force=force,
            now=now or now_rfc3339(),
            subresource=subresource,
        )
    if not isinstance(result, dict):
        raise PatchError("the patched object must be a JSON object")
    return result
