"""Errors from the API server, decoded from its Status replies.

:class:`ApiError` carries the HTTP code, the Status ``reason`` and message; subclasses exist
for the codes callers branch on (404, 409 conflict vs already-exists, 410 gone). Network
failures after every server was tried raise :class:`ServerUnavailable`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["AlreadyExists", "ApiError", "Conflict", "Gone", "NotFound", "ServerUnavailable", "api_error"]


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str, status: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code} {reason}: {message}")
        self.code = code
        self.reason = reason
        self.message = message
        self.status = status or {}


class NotFound(ApiError):
    pass


class Conflict(ApiError):
    """409 Conflict: a stale resourceVersion (optimistic concurrency lost)."""


class AlreadyExists(ApiError):
    """409 AlreadyExists: create of a name that is taken."""


class Gone(ApiError):
    """410 Gone/Expired: the watch's resourceVersion is too old; relist."""


class ServerUnavailable(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(0, "ServiceUnavailable", message)


def api_error(code: int, body: Any) -> ApiError:
    """Build the right ApiError subclass from an HTTP code and a (maybe Status) body."""
    status = body if isinstance(body, dict) else {}
    reason = str(status.get("reason") or "")
    message = str(status.get("message") or (body if isinstance(body, str) else "") or f"HTTP {code}")
    if code == 404:
        return NotFound(code, reason or "NotFound", message, status)
    if code == 409:
        cls = AlreadyExists if reason == "AlreadyExists" else Conflict
        return cls(code, reason or "Conflict", message, status)
    if code == 410 or reason in ("Expired", "Gone"):
        return Gone(410, reason or "Gone", message, status)
    return ApiError(code, reason or "Unknown", message, status)
