"""Kubernetes ``Status`` errors, worded like the real API server (kubectl prints them as-is).

Handlers raise :class:`ApiError` (from kprov.cluster.api.errors); the app turns it into a
Status reply. The constructors here produce the exact messages kubectl users know.
"""

from __future__ import annotations

from typing import Any

from kprov.cluster.api.errors import ApiError, Cause, status_details
from kprov.cluster.api.resources import ResourceInfo

__all__ = [
    "MODIFIED",
    "ApiError",
    "already_exists",
    "bad_request",
    "conflict",
    "expired",
    "forbidden",
    "internal_error",
    "invalid",
    "method_not_supported",
    "not_found",
    "refused",
    "status_body",
    "success_status",
    "too_large",
    "unauthorized",
    "unavailable",
    "unclassified_error",
]


class StatusError(ApiError):
    """An ApiError carrying the Status ``details`` (name, group, kind)."""

    def __init__(self, message: str, code: int, reason: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, code, reason)
        self.details = details or {}


def status_body(error: ApiError) -> dict[str, Any]:
    details = getattr(error, "details", None)
    return error.status_dict(details or None)


def success_status(info: ResourceInfo, name: str, uid: str = "") -> dict[str, Any]:
    details = status_details({"name": name, "group": info.group, "kind": info.resource, "uid": uid})
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}


def _details(info: ResourceInfo, name: str) -> dict[str, Any]:
    return {"name": name, "group": info.group, "kind": info.resource}


def invalid(info: ResourceInfo, name: str, causes: list[Cause]) -> ApiError:
    """422 Invalid with details, so kubectl prints `The Deployment "x" is invalid: ...`."""
    joined = ", ".join(str(c) for c in causes)
    if len(causes) > 1:
        joined = f"[{joined}]"
    error = StatusError(
        f'{info.kind}{"." + info.group if info.group else ""} "{name}" is invalid: {joined}',
        422,
        "Invalid",
        {"name": name, "group": info.group, "kind": info.kind},
    )
    error.causes = list(causes)
    return error


def not_found(info: ResourceInfo, name: str) -> ApiError:
    return StatusError(f'{info.group_resource} "{name}" not found', 404, "NotFound", _details(info, name))


def already_exists(info: ResourceInfo, name: str) -> ApiError:
    return StatusError(
        f'{info.group_resource} "{name}" already exists', 409, "AlreadyExists", _details(info, name)
    )


# The reason of a write that lost a race (a stale resourceVersion), in kube-apiserver's words.
MODIFIED = "the object has been modified; please apply your changes to the latest version and try again"


def conflict(info: ResourceInfo, name: str, why: str) -> ApiError:
    return StatusError(
        f'Operation cannot be fulfilled on {info.group_resource} "{name}": {why}',
        409,
        "Conflict",
        _details(info, name),
    )


def forbidden(
    user: str, verb: str, resource: str, group: str, namespace: str, name: str = "", subresource: str = ""
) -> ApiError:
    what = f"{resource}/{subresource}" if subresource else resource
    target = f"{resource}.{group}" if group else resource
    if name:
        target += f' "{name}"'
    scope = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
    message = (
        f'{target} is forbidden: User "{user}" cannot {verb} resource "{what}" in API group "{group}"{scope}'
    )
    details: dict[str, Any] = {"group": group, "kind": resource}
    if name:
        details["name"] = name
    return StatusError(message, 403, "Forbidden", details)


def refused(group: str, resource: str, name: str, why: str) -> StatusError:
    """403 for one object, as upstream's NewForbidden(resource, name, err) words it:
    ``pods "p" is forbidden: <why>`` (``<resource>.<group>`` outside the core group)."""
    target = f"{resource}.{group}" if group else resource
    details = {"name": name, "group": group, "kind": resource} if group else {"name": name, "kind": resource}
    return StatusError(f'{target} "{name}" is forbidden: {why}', 403, "Forbidden", details)


def unauthorized() -> ApiError:
    return StatusError("Unauthorized", 401, "Unauthorized")


def bad_request(message: str) -> ApiError:
    return StatusError(message, 400, "BadRequest")


def expired(message: str) -> ApiError:
    return StatusError(message, 410, "Expired")


def too_large(limit: int) -> ApiError:
    """kube-apiserver's words for a body above its limit (3 MiB by default, as ours)."""
    return StatusError(f"Request entity too large: limit is {limit}", 413, "RequestEntityTooLarge")


def method_not_supported(verb: str, what: str) -> ApiError:
    return StatusError(
        f"the server does not allow this method on the requested resource ({verb} {what})",
        405,
        "MethodNotAllowed",
    )


def internal_error(message: str) -> ApiError:
    return StatusError(f"Internal error occurred: {message}", 500, "InternalError")


def unclassified_error(message: str) -> ApiError:
    """What kube-apiserver answers for an error that is no API status (etcd refusing a
    request, say): 500, no reason, the message as it is. kubectl prints it as
    ``Error from server: <message>``."""
    return StatusError(message, 500, "")


def unavailable(message: str) -> ApiError:
    return StatusError(message, 503, "ServiceUnavailable")
