"""Errors the API library raises, each carrying what the server's Status reply needs.

Design: the library never builds HTTP replies; it raises one of these and the server maps
`code`/`reason`/`causes` to a `Status` object (`status_dict` does the mapping for it).
The dict's keys come in the order of metav1.Status's Go struct (kind, apiVersion, metadata,
status, message, reason, details, code; details: name, group, kind, uid, causes,
retryAfterSeconds; a cause: reason, message, field) and empty fields are left out, as
their ``omitempty`` tags do, so the JSON is kube-apiserver's to the byte.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ApiError",
    "Cause",
    "ConflictError",
    "InvalidError",
    "PatchError",
    "UnsupportedMediaType",
    "status_details",
]


@dataclass(frozen=True)
class Cause:
    """One `details.causes[]` entry: field path, machine reason, human message."""

    field: str
    reason: str
    message: str

    def as_dict(self) -> dict[str, str]:
        pairs = (("reason", self.reason), ("message", self.message), ("field", self.field))
        return {key: value for key, value in pairs if value}

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


@dataclass
class ApiError(Exception):
    """Base: message + HTTP code + Status reason + optional causes."""

    message: str
    code: int = 500
    reason: str = "InternalError"
    causes: list[Cause] = field(default_factory=list)

    def __str__(self) -> str:
        return self.message

    def status_dict(self, details: dict[str, Any] | None = None) -> dict[str, Any]:
        status: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure"}
        if self.message:
            status["message"] = self.message
        if self.reason:  # omitted when unknown, as kube-apiserver's omitempty does
            status["reason"] = self.reason
        merged = dict(details or {})
        if self.causes:
            merged["causes"] = [c.as_dict() for c in self.causes]
        ordered = status_details(merged)
        if ordered:
            status["details"] = ordered
        if self.code:
            status["code"] = self.code
        return status


_DETAIL_FIELDS = ("name", "group", "kind", "uid", "causes", "retryAfterSeconds")


def status_details(details: dict[str, Any]) -> dict[str, Any]:
    """``details`` as metav1.StatusDetails serializes: its fields in Go's struct order, the
    empty ones (``"group": ""`` of a core kind, say) left out."""
    return {key: details[key] for key in _DETAIL_FIELDS if details.get(key)}


class PatchError(ApiError):
    """A patch that cannot be applied: malformed (400), failing test op (422), bad type (415)."""

    def __init__(
        self, message: str, code: int = 400, reason: str = "BadRequest", causes: list[Cause] | None = None
    ) -> None:
        super().__init__(message, code, reason, list(causes or []))


class ConflictError(ApiError):
    """Server-side apply field-manager conflicts (409 Conflict with one cause per field)."""

    def __init__(self, message: str, causes: list[Cause] | None = None) -> None:
        super().__init__(message, 409, "Conflict", list(causes or []))


class InvalidError(ApiError):
    """422 Invalid: `The Pod "x" is invalid: <causes>`."""

    def __init__(self, kind: str, name: str, causes: list[Cause]) -> None:
        joined = ", ".join(str(c) for c in causes)
        if len(causes) > 1:
            joined = "[" + joined + "]"
        super().__init__(f'{kind} "{name}" is invalid: {joined}', 422, "Invalid", list(causes))


class UnsupportedMediaType(ApiError):
    """415: a content type (or protobuf kind) the server cannot decode."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 415, "UnsupportedMediaType")
