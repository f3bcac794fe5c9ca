"""Ingress objects → an ordered route table (pure: no I/O, no HAProxy).

Which Ingresses are ours (:func:`is_ours`): ``spec.ingressClassName`` names our class; or,
with no class name, the legacy annotation ``kubernetes.io/ingress.class`` names it; or,
with neither, our class is the cluster's default (annotated
``ingressclass.kubernetes.io/is-default-class: "true"``).

The table is in first-match-wins order, so a proxy only has to try rules in turn:

1. rules whose ``host`` is exact, then those with a wildcard host (``*.example.com``
   matches exactly one label in place of ``*``), then rules without a host (every host);
2. within a host, the longest path first and, at equal length, Exact before Prefix, as
   the Ingress API's precedence says;
3. the same (host, path, type) in two Ingresses: the older Ingress wins (creation time,
   then namespace/name), as ingress-nginx does.

Path types: Exact matches the path string exactly (case-sensitive). Prefix matches element
by element on ``/``: ``/foo`` and ``/foo/`` both match ``/foo``, ``/foo/`` and
``/foo/bar`` but never ``/foobar``; ``/`` matches everything. ImplementationSpecific is
matched as Prefix here (the choice is the class's; element-wise is the one that surprises
nobody). :func:`path_matches` is that rule as a function, the reference the rendered
HAProxy conditions are tested against.

A request matching no rule goes to the oldest ``spec.defaultBackend`` among our Ingresses,
else it gets 404. TLS: each ``spec.tls[]`` entry maps its hosts to the Secret (same
namespace); a host listed twice keeps the older Ingress's Secret.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CLASS_ANNOTATION",
    "DEFAULT_CLASS_ANNOTATION",
    "EXACT",
    "IMPLEMENTATION_SPECIFIC",
    "PREFIX",
    "BackendRef",
    "Route",
    "RouteTable",
    "build_table",
    "host_matches",
    "is_default_class",
    "is_ours",
    "path_matches",
]

CLASS_ANNOTATION = "kubernetes.io/ingress.class"
DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
EXACT = "Exact"
PREFIX = "Prefix"
IMPLEMENTATION_SPECIFIC = "ImplementationSpecific"

Obj = dict[str, Any]


@dataclass(frozen=True, order=True)
class BackendRef:
    """A Service port an Ingress routes to: ``port`` is a number or a port name."""

    namespace: str
    service: str
    port: int | str

    @property
    def name(self) -> str:
        return f"{self.namespace}/{self.service}:{self.port}"


@dataclass(frozen=True)
class Route:
    """One first-match rule. The fields after ``ingress`` are the Gateway API's additions
    (:mod:`kprov.cluster.ingress.gateway`); an Ingress leaves them at their defaults."""

    host: str  # "" = every host; "*.example.com" = a wildcard
    path: str
    path_type: str  # Exact or Prefix (ImplementationSpecific is mapped to Prefix)
    backend: BackendRef | None  # None: no usable backend, answered with 500
    ingress: str  # namespace/name of the Ingress or HTTPRoute, for messages
    headers: tuple[tuple[str, str], ...] = ()  # (name, value) all of which must be equal
    query: tuple[tuple[str, str], ...] = ()  # (parameter, value) all of which must be equal
    method: str = ""
    weighted: tuple[tuple[BackendRef, int], ...] = ()  # >1 backend: (backend, weight)
    wildcard_any_depth: bool = False  # Gateway API: "*." stands for one or more labels
    filters: tuple[tuple[str, ...], ...] = ()  # Gateway API filter actions (gateway.filters.filter_actions)


@dataclass
class RouteTable:
    routes: list[Route] = field(default_factory=list)
    default_backend: BackendRef | None = None
    tls: dict[str, str] = field(default_factory=dict)  # host -> "namespace/secret"
    ingresses: list[str] = field(default_factory=list)  # ours, namespace/name

    def backends(self) -> list[BackendRef]:
        refs = {r.backend for r in self.routes if r.backend is not None}
        refs.update(ref for r in self.routes for ref, _weight in r.weighted)
        if self.default_backend is not None:
            refs.add(self.default_backend)
        return sorted(refs, key=lambda r: (r.namespace, r.service, str(r.port)))


def is_default_class(ingress_class: Obj) -> bool:
    annotations = (ingress_class.get("metadata") or {}).get("annotations") or {}
    return annotations.get(DEFAULT_CLASS_ANNOTATION) == "true"  # exactly, as upstream


def is_ours(ingress: Obj, class_name: str, class_is_default: bool) -> bool:
    """Whether the Ingress belongs to the class ``class_name``."""
    named = (ingress.get("spec") or {}).get("ingressClassName")
    if named:
        return bool(named == class_name)
    annotated = ((ingress.get("metadata") or {}).get("annotations") or {}).get(CLASS_ANNOTATION)
    if annotated:
        return bool(annotated == class_name)
    return class_is_default


def _trimmed(path: str) -> str:
    return path.rstrip("/")


def path_matches(path_type: str, rule_path: str, request_path: str) -> bool:
    """The Ingress API's path semantics (ImplementationSpecific as Prefix)."""
    if path_type == EXACT:
        return request_path == rule_path
    prefix = _trimmed(rule_path)
    if not prefix:
        return True
    return request_path == prefix or request_path.startswith(prefix + "/")


def host_matches(rule_host: str, request_host: str) -> bool:
    """Exact hosts compare whole (case-insensitive); ``*.a.b`` stands for one label."""
    request = request_host.lower()
    if not rule_host:
        return True
    if rule_host.startswith("*."):
        suffix = rule_host[1:].lower()
        return request.endswith(suffix) and "." not in request[: -len(suffix)] and len(request) > len(suffix)
    return request == rule_host.lower()


def _age_key(ingress: Obj) -> tuple[str, str, str]:
    meta = ingress.get("metadata") or {}
    created = str(meta.get("creationTimestamp") or "")
    return (created, str(meta.get("namespace") or ""), str(meta.get("name") or ""))


def _backend(namespace: str, backend: Obj | None) -> BackendRef | None:
    service = (backend or {}).get("service") or {}
    name = service.get("name")
    port = service.get("port") or {}
    number, port_name = port.get("number"), port.get("name")
    if not name or (number is None and not port_name):
        return None  # a resource backend, or an incomplete one: nothing kprov can route to
    return BackendRef(namespace, str(name), int(number) if number is not None else str(port_name))


def _host_rank(host: str) -> int:
    if not host:
        return 2
    return 1 if host.startswith("*.") else 0


def _route_key(route: Route) -> tuple[int, str, int, int]:
    return (_host_rank(route.host), route.host, -len(route.path), 0 if route.path_type == EXACT else 1)


def _routes_of(ingress: Obj) -> Iterable[Route]:
    meta = ingress.get("metadata") or {}
    namespace = str(meta.get("namespace") or "default")
    ident = f"{namespace}/{meta.get('name')}"
    for rule in (ingress.get("spec") or {}).get("rules") or []:
        host = str(rule.get("host") or "").lower()
        for entry in ((rule.get("http") or {}).get("paths")) or []:
            ref = _backend(namespace, entry.get("backend"))
            if ref is None:
                continue
            path_type = entry.get("pathType") or IMPLEMENTATION_SPECIFIC
            path = str(entry.get("path") or "/")
            yield Route(host, path, EXACT if path_type == EXACT else PREFIX, ref, ident)


def build_table(ingresses: Iterable[Obj]) -> RouteTable:
    """Our Ingresses (already filtered by :func:`is_ours`) → the ordered table."""
    table = RouteTable()
    seen: set[tuple[str, str, str]] = set()
    routes: list[Route] = []
    for ingress in sorted(ingresses, key=_age_key):
        meta = ingress.get("metadata") or {}
        namespace = str(meta.get("namespace") or "default")
        table.ingresses.append(f"{namespace}/{meta.get('name')}")
        for route in _routes_of(ingress):
            match = (route.host, route.path, route.path_type)
            if match not in seen:
                seen.add(match)
                routes.append(route)
        spec = ingress.get("spec") or {}
        if table.default_backend is None:
            table.default_backend = _backend(namespace, spec.get("defaultBackend"))
        for tls in spec.get("tls") or []:
            secret = tls.get("secretName")
            if not secret:
                continue
            for host in tls.get("hosts") or []:
                table.tls.setdefault(str(host).lower(), f"{namespace}/{secret}")
    table.routes = sorted(routes, key=_route_key)  # stable: the older Ingress stays first
    return table
