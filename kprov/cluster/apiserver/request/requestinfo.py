"""URL -> what the request is about (group, version, resource, namespace, name, subresource,
verb), the way Kubernetes' RequestInfo resolver reads API paths:

``/api/v1/namespaces/default/pods/web/status`` ->
(group "", version v1, resource pods, namespace default, name web, subresource status).
The verb comes from the HTTP method plus name/watch: GET on a collection is ``list`` (or
``watch`` with ``watch=true``), GET on an object ``get``, POST ``create``, PUT ``update``,
PATCH ``patch``, DELETE ``delete`` / ``deletecollection``.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

__all__ = ["RequestInfo", "parse_bool", "parse_request_info"]

_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def parse_bool(value: str | None, default: bool = False) -> bool:
    """Go's strconv.ParseBool; anything else is ``default`` (an empty value too)."""
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    return default


class RequestInfo(NamedTuple):  # a tuple: made on every request, cheaper than a frozen dataclass
    group: str
    version: str
    resource: str
    namespace: str
    name: str
    subresource: str
    verb: str
    proxy_path: str = ""  # a proxy subresource's path after ".../proxy" ("" or "/...")

    @property
    def is_collection(self) -> bool:
        return not self.name


_MEMO_MAX_PATH = 256


def parse_request_info(method: str, path: str, watch: bool) -> RequestInfo | None:
    """None when the path is not a resource path (discovery, health, openapi...)."""
    if len(path) <= _MEMO_MAX_PATH:  # clients repeat paths: a collection's on every create
        return _remembered(method, path, watch)
    return _parse(method, path, watch)


@functools.lru_cache(maxsize=4096)
def _remembered(method: str, path: str, watch: bool) -> RequestInfo | None:
    return _parse(method, path, watch)


def _parse(method: str, path: str, watch: bool) -> RequestInfo | None:
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    if not rest:
        return None
    namespace = ""
    if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in ("status", "finalize"):
        namespace, rest = rest[1], rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) >= 2 else ""
    if len(rest) >= 3 and rest[2] == "proxy":  # pods/x/proxy/any/path: the path is the pod's
        marker = f"/{resource}/{name}/proxy"
        tail = path[path.index(marker) + len(marker):]
        verb = _verb(method, name, watch)
        return RequestInfo(group, version, resource, namespace, name, "proxy", verb, tail)
    subresource = "/".join(rest[2:])
    return RequestInfo(group, version, resource, namespace, name, subresource, _verb(method, name, watch))


_FIXED_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch"}


def _verb(method: str, name: str, watch: bool) -> str:
    fixed = _FIXED_VERBS.get(method)
    if fixed is not None:
        return fixed
    if method in ("GET", "HEAD"):
        if watch and method == "GET":  # a HEAD never streams: it is a get or a list
            return "watch"
        return "get" if name else "list"
    if method == "DELETE":
        return "delete" if name else "deletecollection"
    return method.lower()
