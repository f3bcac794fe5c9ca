"""Who a write's fields belong to: the ``fieldManager`` of a create, update or patch.

kube-apiserver records a manager for every write, not only for server-side apply: the
request's ``?fieldManager=`` when given (checked as upstream's ValidateFieldManager: at most
128 bytes, printable characters; otherwise 422 for the CreateOptions, UpdateOptions or
PatchOptions), else the product part of its User-Agent (what precedes the first ``/``,
unprintable characters dropped, cut at 128 bytes). So ``kubectl scale`` or a controller
that writes without naming itself still owns what it changed, and a later apply that
takes such a field conflicts with that manager, as against kube-apiserver.
"""

from __future__ import annotations

import functools

from kprov.cluster.api.errors import Cause
from kprov.cluster.api.validation.field_errors import Errors
from kprov.cluster.apiserver.request.apirequest import ApiRequest
from kprov.cluster.apiserver.request.status import StatusError

__all__ = ["MAX_BYTES", "apply_manager", "field_manager", "from_user_agent", "refuse_force"]

MAX_BYTES = 128


def field_manager(request: ApiRequest, options_kind: str) -> str:
    """The write's manager; ``options_kind`` (``CreateOptions``...) names a refused one."""
    given = request.query.get("fieldManager", "")
    if not given:
        return from_user_agent(request.headers.get("User-Agent", ""))
    return _checked(given, options_kind)


def apply_manager(request: ApiRequest) -> str:
    """An apply's manager: required, as upstream's ValidatePatchOptions."""
    given = request.query.get("fieldManager", "")
    if not given:
        raise _invalid("PatchOptions", [Cause("fieldManager", "FieldValueRequired",
                                              "Required value: is required for apply patch")])
    return _checked(given, "PatchOptions")


def refuse_force(request: ApiRequest) -> None:
    """``?force=`` belongs to apply alone (any value, as upstream reads a set option)."""
    if "force" in request.query:
        raise _invalid("PatchOptions", [Cause("force", "FieldValueForbidden",
                                              "Forbidden: may not be specified for non-apply patch")])


def _checked(given: str, options_kind: str) -> str:
    errors = Errors()
    if len(given.encode()) > MAX_BYTES:
        errors.too_long("fieldManager", MAX_BYTES)
    byte_at = 0
    for char in given:
        if not char.isprintable():
            detail = f"invalid character U+{ord(char):04X} (at position {byte_at})"
            errors.invalid("fieldManager", given, detail)
        byte_at += len(char.encode())
    if errors.causes:
        raise _invalid(options_kind, errors.causes)
    return given


def _invalid(options_kind: str, causes: list[Cause]) -> StatusError:
    joined = ", ".join(str(c) for c in causes)
    if len(causes) > 1:
        joined = f"[{joined}]"
    error = StatusError(f'{options_kind}.meta.k8s.io "" is invalid: {joined}', 422, "Invalid",
                        {"group": "meta.k8s.io", "kind": options_kind})
    error.causes = list(causes)
    return error


@functools.lru_cache(maxsize=64)  # (a server hears a handful of User-Agents, on every write)
def from_user_agent(user_agent: str) -> str:
    """The User-Agent's product, as a manager name (``kubectl/v1.32.0 (linux/amd64)`` → ``kubectl``)."""
    manager = ""
    size = 0
    for char in user_agent.split("/", 1)[0]:
        if not char.isprintable():
            continue
        width = len(char.encode())
        if size + width > MAX_BYTES:
            break
        manager += char
        size += width
    return manager
