"""Per-request warnings and audit annotations that admission adds deep in a write, as
upstream's ``warning.AddWarning(ctx, ...)`` and ``audit.AddAuditAnnotations(ctx, ...)``.

Both live in context variables the request handler resets on every request (a connection's
requests share one context). A warning added twice in one request is kept once (a write
retried after a lost compare-and-swap admits the object again); the response carries them
as ``Warning: 299 - "<text>"`` headers, in the order they were added.
"""

from __future__ import annotations

from contextvars import ContextVar

__all__ = [
    "add_audit_annotation",
    "add_warning",
    "audit_annotations",
    "reset_request",
    "take_warnings",
]

_WARNINGS: ContextVar[list[str] | None] = ContextVar("kprov_request_warnings", default=None)
_ANNOTATIONS: ContextVar[dict[str, str] | None] = ContextVar("kprov_request_audit_annotations", default=None)


def reset_request() -> None:
    if _WARNINGS.get() is not None:
        _WARNINGS.set(None)
    if _ANNOTATIONS.get() is not None:
        _ANNOTATIONS.set(None)


def add_warning(text: str) -> None:
    found = _WARNINGS.get()
    if found is None:
        _WARNINGS.set([text])
    elif text not in found:
        found.append(text)


def take_warnings() -> list[str]:
    """The warnings added so far in this request, which are then forgotten."""
    found = _WARNINGS.get()
    if not found:
        return []
    _WARNINGS.set(None)
    return found


def add_audit_annotation(key: str, value: str) -> None:
    found = _ANNOTATIONS.get()
    if found is None:
        _ANNOTATIONS.set({key: value})
    else:
        found.setdefault(key, value)  # as upstream: the first value of a key stays


def audit_annotations() -> dict[str, str] | None:
    return _ANNOTATIONS.get()
