"""GatewayClasses, Gateways, HTTPRoutes, ReferenceGrants → routes by port and statuses (pure).

What is ours: a GatewayClass whose ``spec.controllerName`` is our controller name; a
Gateway whose ``spec.gatewayClassName`` names such a class; an HTTPRoute ``parentRef``
naming such a Gateway (group ``gateway.networking.k8s.io``, kind ``Gateway``, the route's
namespace unless given). Other parents are left to their controllers.

Listeners: ``HTTP`` on any port the node does not reserve (the Ingress's HTTPS port, the
health ports) is served; ``HTTPS`` (TLS mode Terminate) on the Ingress's HTTPS port only,
with its first ``certificateRefs`` Secret (``kubernetes.io/tls``; another namespace's needs
a ReferenceGrant from Gateways: else ResolvedRefs ``InvalidCertificateRef`` or
``RefNotPermitted``) served by SNI on the listener's hostname; other protocols are not
Accepted (``UnsupportedProtocol``). Two listeners of one Gateway on one port are
``Conflicted`` with the same hostname (``HostnameConflict``) or with different protocols
(``ProtocolConflict``); both are left out. ``allowedRoutes``: namespaces ``Same`` and ``All``
(``Selector`` admits nothing yet), kinds ``HTTPRoute`` only (others: ``InvalidRouteKinds``).

A route attaches to a listener when the parentRef's ``sectionName``/``port`` select it, the
listener admits the route's namespace, and their hostnames intersect (the spec's rules: an
exact name, or a wildcard ``*.a.b`` matching one *or more* labels; the more specific of the
two is served). Filters: RequestHeaderModifier, ResponseHeaderModifier and RequestRedirect
(scheme, hostname, port, statusCode; not path) become proxy actions of the rule
(:mod:`.filters`). Its status per parent: ``Accepted`` (``Accepted``,
``NoMatchingParent``, ``NotAllowedByListeners``, ``NoMatchingListenerHostname``,
``UnsupportedValue`` for other filters, backendRef filters, redirect paths and
regular-expression matches, which kprov does not serve) and ``ResolvedRefs``
(``ResolvedRefs``, ``InvalidKind``, ``RefNotPermitted`` for another namespace's Service
without a ReferenceGrant there, ``BackendNotFound``). Unusable backends are left out of
the weights; a rule with none left answers 500, as the spec asks.

Order within a port (first match wins), the spec's precedence: exact hostnames, then
wildcards (longer first), then none; then Exact paths before PathPrefix, longer prefixes
first; a method match; more header matches; more query matches; then the older route
(creation time, then namespace/name) and its rule and match order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kprov.cluster.ingress.gateway.filters import filter_actions, unsupported
from kprov.cluster.ingress.routes import EXACT, PREFIX, BackendRef, Route

__all__ = [
    "GROUP",
    "GatewayResult",
    "Listener",
    "condition",
    "gateway_routing",
    "hostname_intersection",
    "merge_conditions",
]

GROUP = "gateway.networking.k8s.io"
HTTP_ROUTE = "HTTPRoute"

Obj = dict[str, Any]


@dataclass(frozen=True)
class Listener:
    gateway: str  # namespace/name
    name: str
    port: int
    hostname: str  # "" = any
    namespaces_from: str  # Same, All or Selector
    valid: bool
    certificate: str = ""  # HTTPS: the Secret "namespace/name" it serves


@dataclass
class GatewayResult:
    routes_by_port: dict[int, list[Route]] = field(default_factory=dict)
    class_conditions: dict[str, list[Obj]] = field(default_factory=dict)  # class name → conditions
    gateway_status: dict[str, Obj] = field(default_factory=dict)  # namespace/name → status
    route_parents: dict[str, list[Obj]] = field(default_factory=dict)  # namespace/name → our parents[]
    certificates: list[tuple[str, str]] = field(default_factory=list)  # (SNI hostname or "", Secret)


def condition(kind: str, ok: bool, reason: str, message: str, generation: int) -> Obj:
    """A metav1.Condition without its lastTransitionTime (:func:`merge_conditions` adds it)."""
    return {"type": kind, "status": "True" if ok else "False", "reason": reason, "message": message,
            "observedGeneration": generation}


def merge_conditions(old: Iterable[Obj], new: list[Obj], now: str) -> list[Obj]:
    """``new`` with each condition's lastTransitionTime kept from ``old`` while its status is
    unchanged, else ``now``."""
    before = {c.get("type"): c for c in old}
    out = []
    for cond in new:
        prior = before.get(cond["type"]) or {}
        same = prior.get("status") == cond["status"] and prior.get("lastTransitionTime")
        out.append({**cond, "lastTransitionTime": prior["lastTransitionTime"] if same else now})
    return out


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def _key(obj: Obj) -> str:
    meta = _meta(obj)
    return f"{meta.get('namespace')}/{meta.get('name')}" if meta.get("namespace") else str(meta.get("name"))


def _generation(obj: Obj) -> int:
    return int(_meta(obj).get("generation") or 0)


def _age(obj: Obj) -> tuple[str, str, str]:
    meta = _meta(obj)
    return (str(meta.get("creationTimestamp") or ""), str(meta.get("namespace") or ""), str(meta.get("name")))


def _wildcard_covers(wildcard: str, name: str) -> bool:
    """``*.a.b`` covers ``x.a.b`` and ``y.x.a.b`` (Gateway API: one or more labels)."""
    return name.endswith(wildcard[1:]) and len(name) > len(wildcard) - 1


def hostname_intersection(listener: str, route: str) -> str | None:
    """The hostname served for a listener's and a route's hostnames ("" = any); None when
    they cannot both match one request. Of two that overlap, the more specific is served."""
    listener, route = listener.lower(), route.lower()
    if not listener or listener == route:
        return route
    if not route:
        return listener
    listener_wild, route_wild = listener.startswith("*."), route.startswith("*.")
    if listener_wild and not route_wild:
        return route if _wildcard_covers(listener, route) else None
    if route_wild and not listener_wild:
        return listener if _wildcard_covers(route, listener) else None
    if listener_wild and route_wild:
        longer, shorter = (listener, route) if len(listener) > len(route) else (route, listener)
        return longer if longer.endswith(shorter[1:]) else None
    return None


# ---- GatewayClasses and Gateways --------------------------------------------------------

def _class_conditions(gateway_class: Obj) -> list[Obj]:
    generation = _generation(gateway_class)
    return [
        condition("Accepted", True, "Accepted", "Accepted by kprov-ingress", generation),
        condition("SupportedVersion", True, "SupportedVersion", "Gateway API CRDs installed by kprov",
                  generation),
    ]


def _route_kinds(listener: Obj) -> tuple[list[Obj], bool]:
    """(supportedKinds, whether every listed kind is supported)."""
    kinds = (listener.get("allowedRoutes") or {}).get("kinds")
    if not kinds:
        return [{"group": GROUP, "kind": HTTP_ROUTE}], True
    good = [k for k in kinds if (k.get("group") or GROUP) == GROUP and k.get("kind") == HTTP_ROUTE]
    return ([{"group": GROUP, "kind": HTTP_ROUTE}] if good else []), len(good) == len(kinds)


@dataclass(frozen=True)
class _NodePorts:
    reserved: frozenset[int]  # no listener may take these
    https: int  # the Ingress's HTTPS port: HTTPS listeners are served there, in its frontend


def _certificate(gateway: Obj, spec: Obj, secrets: Mapping[str, Obj],
                 grants: list[Obj]) -> tuple[str, str, str]:
    """(the Secret "namespace/name" or "", ResolvedRefs reason, message) of an HTTPS listener."""
    namespace = str(_meta(gateway).get("namespace"))
    refs = (spec.get("tls") or {}).get("certificateRefs") or []
    if not refs:
        return "", "InvalidCertificateRef", "an HTTPS listener needs tls.certificateRefs"
    ref = refs[0]
    name, target = str(ref.get("name")), str(ref.get("namespace") or namespace)
    if (ref.get("group") or "") != "" or (ref.get("kind") or "Secret") != "Secret":
        return "", "InvalidCertificateRef", f"certificateRef {name} is not a Secret"
    if target != namespace and not _granted(grants, "Gateway", namespace, target, "Secret", name):
        return "", "RefNotPermitted", (f"no ReferenceGrant in {target} allows Gateways of {namespace} "
                                       f"to use Secret {name}")
    secret = secrets.get(f"{target}/{name}")
    if secret is None or secret.get("type") != "kubernetes.io/tls":
        return "", "InvalidCertificateRef", f"Secret {target}/{name} is not a kubernetes.io/tls Secret"
    return f"{target}/{name}", "ResolvedRefs", "Refs resolved"


def _listener_acceptance(spec: Obj, ports: _NodePorts) -> tuple[str, str]:
    port, protocol = int(spec.get("port") or 0), spec.get("protocol")
    if protocol == "HTTPS":
        if (spec.get("tls") or {}).get("mode", "Terminate") != "Terminate":
            return "UnsupportedProtocol", "only TLS mode Terminate is served"
        if port != ports.https:
            return "PortUnavailable", f"HTTPS listeners are served on port {ports.https}"
        return "Accepted", "Listener accepted"
    if protocol != "HTTP":
        return "UnsupportedProtocol", f"protocol {protocol} is not served (HTTP and HTTPS are)"
    if port in ports.reserved or port == ports.https:
        return "PortUnavailable", f"port {port} is taken on the nodes"
    return "Accepted", "Listener accepted"


def _listeners(gateway: Obj, ports: _NodePorts, secrets: Mapping[str, Obj],
               grants: list[Obj]) -> tuple[list[Listener], list[Obj]]:
    """The Gateway's listeners and their status entries (attachedRoutes filled in later)."""
    key = _key(gateway)
    generation = _generation(gateway)
    specs = (gateway.get("spec") or {}).get("listeners") or []
    seen: dict[tuple[int, str], int] = {}
    protocols: dict[int, set[str]] = {}
    for spec in specs:
        slot = (int(spec.get("port") or 0), str(spec.get("hostname") or "").lower())
        seen[slot] = seen.get(slot, 0) + 1
        protocols.setdefault(slot[0], set()).add(str(spec.get("protocol")))
    listeners: list[Listener] = []
    statuses: list[Obj] = []
    for spec in specs:
        port = int(spec.get("port") or 0)
        hostname = str(spec.get("hostname") or "").lower()
        kinds, kinds_ok = _route_kinds(spec)
        if len(protocols[port]) > 1:
            conflict = ("ProtocolConflict", "another listener has this port with another protocol")
        elif seen[(port, hostname)] > 1:
            conflict = ("HostnameConflict", "another listener has this port and hostname")
        else:
            conflict = ("NoConflicts", "No conflicts")
        accepted = _listener_acceptance(spec, ports)
        secret, refs_reason, refs_message = "", "ResolvedRefs", "Refs resolved"
        if spec.get("protocol") == "HTTPS" and accepted[0] == "Accepted":
            secret, refs_reason, refs_message = _certificate(gateway, spec, secrets, grants)
        if not kinds_ok:
            refs_reason, refs_message = "InvalidRouteKinds", "only HTTPRoute is supported"
        ok = (accepted[0] == "Accepted" and conflict[0] == "NoConflicts" and bool(kinds)
              and refs_reason in ("ResolvedRefs", "InvalidRouteKinds"))
        conditions = [
            condition("Accepted", accepted[0] == "Accepted", *accepted, generation),
            condition("Conflicted", conflict[0] != "NoConflicts", *conflict, generation),
            condition("ResolvedRefs", refs_reason == "ResolvedRefs", refs_reason, refs_message, generation),
            condition("Programmed", ok, "Programmed" if ok else "Invalid",
                      "Listener programmed" if ok else "Listener is not served", generation),
        ]
        namespaces = ((spec.get("allowedRoutes") or {}).get("namespaces") or {}).get("from") or "Same"
        listeners.append(Listener(key, str(spec.get("name")), port, hostname, str(namespaces), ok, secret))
        statuses.append({"name": spec.get("name"), "supportedKinds": kinds, "attachedRoutes": 0,
                         "conditions": conditions})
    return listeners, statuses


def _gateway_conditions(gateway: Obj, listeners: list[Listener], addresses: list[str]) -> list[Obj]:
    generation = _generation(gateway)
    if (gateway.get("spec") or {}).get("addresses"):
        accepted = (False, "UnsupportedAddress", "spec.addresses is not supported: the Gateway is served "
                    "on the nodes' addresses")
    elif not any(listener.valid for listener in listeners):
        accepted = (False, "ListenersNotValid", "no listener is valid")
    else:
        accepted = (True, "Accepted", "Gateway accepted")
    if not accepted[0]:
        programmed = (False, "Invalid", "the Gateway is not accepted")
    elif not addresses:
        programmed = (False, "AddressNotAssigned", "no kprov-ingress instance is live")
    else:
        programmed = (True, "Programmed", "Gateway programmed in HAProxy on the workers")
    return [condition("Accepted", *accepted, generation), condition("Programmed", *programmed, generation)]


# ---- HTTPRoutes ---------------------------------------------------------------------------

def _granted(grants: Iterable[Obj], from_kind: str, from_namespace: str, namespace: str, to_kind: str,
             name: str) -> bool:
    """A ReferenceGrant in ``namespace`` lets ``from_kind`` objects of ``from_namespace`` name
    the core ``to_kind`` object ``name`` (a Service, a Secret)."""
    for grant in grants:
        if _meta(grant).get("namespace") != namespace:
            continue
        spec = grant.get("spec") or {}
        froms = any(f.get("group") == GROUP and f.get("kind") == from_kind
                    and f.get("namespace") == from_namespace for f in spec.get("from") or [])
        tos = any((t.get("group") or "") == "" and t.get("kind") == to_kind
                  and t.get("name") in (None, "", name) for t in spec.get("to") or [])
        if froms and tos:
            return True
    return False


@dataclass
class _Backends:
    weighted: list[tuple[BackendRef, int]] = field(default_factory=list)
    problem: tuple[str, str] | None = None  # (reason, message) of the first unusable backendRef


def _resolve(route: Obj, rule: Obj, services: Mapping[str, Obj], grants: list[Obj]) -> _Backends:
    namespace = str(_meta(route).get("namespace"))
    out = _Backends()
    for ref in rule.get("backendRefs") or []:
        group, kind = ref.get("group") or "", ref.get("kind") or "Service"
        target_ns = str(ref.get("namespace") or namespace)
        name = str(ref.get("name"))
        if group != "" or kind != "Service":
            out.problem = out.problem or ("InvalidKind", f"backendRef {group}/{kind} {name} is not a Service")
        elif target_ns != namespace and not _granted(grants, HTTP_ROUTE, namespace, target_ns, "Service",
                                                     name):
            out.problem = out.problem or ("RefNotPermitted", f"no ReferenceGrant in {target_ns} allows "
                                          f"HTTPRoutes of {namespace} to use Service {name}")
        elif f"{target_ns}/{name}" not in services:
            out.problem = out.problem or ("BackendNotFound", f"Service {target_ns}/{name} not found")
        elif ref.get("port") is None:
            out.problem = out.problem or ("BackendNotFound", f"Service {target_ns}/{name}: no port given")
        else:
            out.weighted.append((BackendRef(target_ns, name, int(ref["port"])), int(ref.get("weight", 1))))
    return out


def _route_entries(route: Obj, rule_index: int, rule: Obj, host: str, backends: _Backends,
                   listener_port: int) -> list[tuple[tuple[Any, ...], Route]]:
    ident = _key(route)
    weighted = tuple((ref, w) for ref, w in backends.weighted if w > 0)
    single = weighted[0][0] if len(weighted) == 1 else None
    actions = filter_actions(rule, listener_port)
    out = []
    matches = rule.get("matches") or [{"path": {"type": "PathPrefix", "value": "/"}}]
    for match_index, match in enumerate(matches):
        path = match.get("path") or {}
        path_type = EXACT if path.get("type") == "Exact" else PREFIX
        value = str(path.get("value") or "/")
        headers = tuple(sorted((str(h["name"]).lower(), str(h["value"])) for h in match.get("headers") or []))
        query = tuple(sorted((str(q["name"]), str(q["value"])) for q in match.get("queryParams") or []))
        method = str(match.get("method") or "")
        entry = Route(host, value, path_type, single, ident, headers, query, method,
                      weighted if len(weighted) > 1 else (), wildcard_any_depth=True, filters=actions)
        rank = 2 if not host else (1 if host.startswith("*.") else 0)
        precedence = (rank, -len(host) if rank == 1 else 0, host, 0 if path_type == EXACT else 1,
                      -len(value.rstrip("/")), 0 if method else 1, -len(headers), -len(query),
                      _age(route), rule_index, match_index)
        out.append((precedence, entry))
    return out


def _parent_status(ref: Obj, controller: str, conditions: list[Obj]) -> Obj:
    parent = {"group": ref.get("group") or GROUP, "kind": ref.get("kind") or "Gateway",
              "name": ref.get("name")}
    for optional in ("namespace", "sectionName", "port"):
        if ref.get(optional) is not None:
            parent[optional] = ref[optional]
    return {"parentRef": parent, "controllerName": controller, "conditions": conditions}


def _attach(route: Obj, ref: Obj, listeners: list[Listener],
            gateway_ns: str) -> tuple[str, str, list[tuple[Listener, str]]]:
    """(reason, message, [(listener, served hostname)]) for one parentRef."""
    namespace = str(_meta(route).get("namespace"))
    section, port = ref.get("sectionName"), ref.get("port")
    chosen = [item for item in listeners
              if (section is None or item.name == section) and (port is None or item.port == port)]
    if not chosen:
        return "NoMatchingParent", "no listener matches the parentRef's sectionName/port", []
    allowed = [item for item in chosen if item.valid and (
        item.namespaces_from == "All" or (item.namespaces_from == "Same" and namespace == gateway_ns))]
    if not allowed:
        return "NotAllowedByListeners", "no listener admits routes of this namespace or kind", []
    hostnames = [str(h).lower() for h in (route.get("spec") or {}).get("hostnames") or []] or [""]
    served = [(item, host) for item in allowed for name in hostnames
              if (host := hostname_intersection(item.hostname, name)) is not None]
    if not served:
        return "NoMatchingListenerHostname", "no listener hostname matches the route's hostnames", []
    return "Accepted", "Route accepted", served


def gateway_routing(
    classes: Iterable[Obj],
    gateways: Iterable[Obj],
    routes: Iterable[Obj],
    grants: Iterable[Obj],
    services: Mapping[str, Obj],
    *,
    controller_name: str,
    addresses: list[str],
    reserved_ports: frozenset[int] = frozenset(),
    https_port: int = 443,
    secrets: Mapping[str, Obj] | None = None,
) -> GatewayResult:
    """Everything the controller serves and reports for the Gateway API, from the caches.
    ``services``: "namespace/name" → Service (only existence is read here); ``secrets``: the
    TLS Secrets by "namespace/name"."""
    result = GatewayResult()
    grants = list(grants)
    ours = {str(_meta(c).get("name")): c for c in classes
            if (c.get("spec") or {}).get("controllerName") == controller_name}
    for name, gateway_class in ours.items():
        result.class_conditions[name] = _class_conditions(gateway_class)
    by_gateway: dict[str, tuple[Obj, list[Listener], list[Obj]]] = {}
    for gateway in sorted(gateways, key=_age):
        if (gateway.get("spec") or {}).get("gatewayClassName") not in ours:
            continue
        ports = _NodePorts(reserved_ports, https_port)
        listeners, statuses = _listeners(gateway, ports, secrets or {}, grants)
        result.certificates += [(item.hostname, item.certificate) for item in listeners
                                if item.valid and item.certificate]
        by_gateway[_key(gateway)] = (gateway, listeners, statuses)
    entries: dict[int, list[tuple[tuple[Any, ...], Route]]] = {}
    for route in sorted(routes, key=_age):
        namespace = str(_meta(route).get("namespace"))
        generation = _generation(route)
        rules = (route.get("spec") or {}).get("rules") or [{}]
        resolved = [_resolve(route, rule, services, grants) for rule in rules]
        problem = next((r.problem for r in resolved if r.problem), None)
        unserved = next((why for rule in rules if (why := unsupported(rule))), "")
        parents: list[Obj] = []
        for ref in (route.get("spec") or {}).get("parentRefs") or []:
            if (ref.get("group") or GROUP) != GROUP or (ref.get("kind") or "Gateway") != "Gateway":
                continue
            gateway_key = f"{ref.get('namespace') or namespace}/{ref.get('name')}"
            if gateway_key not in by_gateway:
                continue
            gateway, listeners, statuses = by_gateway[gateway_key]
            reason, message, served = _attach(route, ref, listeners, str(_meta(gateway).get("namespace")))
            if reason == "Accepted" and unserved:
                reason, message, served = "UnsupportedValue", unserved, []
            refs_ok = problem is None
            conditions = [
                condition("Accepted", reason == "Accepted", reason, message, generation),
                condition("ResolvedRefs", refs_ok, "ResolvedRefs" if refs_ok else problem[0],  # type: ignore[index]
                          "Resolved all the Object references for the Route" if refs_ok else problem[1],  # type: ignore[index]
                          generation),
            ]
            parents.append(_parent_status(ref, controller_name, conditions))
            for listener in {item for item, _host in served}:
                index = next(i for i, s in enumerate(statuses) if s["name"] == listener.name)
                statuses[index]["attachedRoutes"] += 1
            for listener, host in served:
                for rule_index, (rule, backends) in enumerate(zip(rules, resolved, strict=True)):
                    entries.setdefault(listener.port, []).extend(
                        _route_entries(route, rule_index, rule, host, backends, listener.port))
        if parents:
            result.route_parents[_key(route)] = parents
    for key, (gateway, listeners, statuses) in by_gateway.items():
        result.gateway_status[key] = {
            "addresses": [{"type": "IPAddress", "value": a} for a in addresses],
            "conditions": _gateway_conditions(gateway, listeners, addresses),
            "listeners": statuses,
        }
    for port, found in entries.items():
        unique: dict[Route, tuple[Any, ...]] = {}
        for precedence, entry in found:
            unique.setdefault(entry, precedence)
        ordered = sorted(unique.items(), key=lambda item: item[1])
        result.routes_by_port[port] = [entry for entry, _precedence in ordered]
    return result
