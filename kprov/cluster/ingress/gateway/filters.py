"""An HTTPRoute rule's filters → proxy actions, and what kprov-ingress does not serve (pure).

RequestHeaderModifier, ResponseHeaderModifier and RequestRedirect (scheme, hostname, port,
statusCode) become ordered actions HAProxy's configuration renders
(:mod:`..haproxy_config`); other filters, backendRef filters, redirect paths and
regular-expression matches make the rule unsupported, which the route's status reports.
"""

from __future__ import annotations

from typing import Any

__all__ = ["filter_actions", "unsupported"]

Obj = dict[str, Any]

_FILTERS = frozenset({"RequestHeaderModifier", "ResponseHeaderModifier", "RequestRedirect"})


def unsupported(rule: Obj) -> str:
    """Why kprov-ingress cannot serve the rule as asked ("" when it can): a route using it is
    reported UnsupportedValue rather than served partly."""
    if any(r.get("filters") for r in rule.get("backendRefs") or []):
        return "backendRef filters are not supported by kprov-ingress"
    for entry in rule.get("filters") or []:
        if entry.get("type") not in _FILTERS:
            return f"filter {entry.get('type')} is not supported by kprov-ingress"
        if entry.get("type") == "RequestRedirect" and (entry.get("requestRedirect") or {}).get("path"):
            return "RequestRedirect with a path is not supported by kprov-ingress"
    for match in rule.get("matches") or []:
        kinds = [(match.get("path") or {}).get("type")]
        kinds += [h.get("type") for h in match.get("headers") or []]
        kinds += [q.get("type") for q in match.get("queryParams") or []]
        if "RegularExpression" in kinds:
            return "RegularExpression matches are not supported by kprov-ingress"
    return ""


def _header_actions(prefix: str, modifier: Obj) -> list[tuple[str, ...]]:
    actions: list[tuple[str, ...]] = []
    actions += [(f"{prefix}-set", str(h.get("name")), str(h.get("value"))) for h in modifier.get("set") or []]
    actions += [(f"{prefix}-add", str(h.get("name")), str(h.get("value"))) for h in modifier.get("add") or []]
    actions += [(f"{prefix}-del", str(name)) for name in modifier.get("remove") or []]
    return actions


def filter_actions(rule: Obj, listener_port: int) -> tuple[tuple[str, ...], ...]:
    """A rule's filters as proxy actions, in order: ``("request-set", name, value)``,
    ``-add``, ``-del`` (and ``response-…``), ``("redirect", scheme, hostname, port, code)``
    with "" for "as the request"; the port follows the spec: the given one, else none when
    the scheme is given (its well-known port), else the listener's (none for 80 and 443)."""
    actions: list[tuple[str, ...]] = []
    for entry in rule.get("filters") or []:
        kind = entry.get("type")
        if kind == "RequestHeaderModifier":
            actions += _header_actions("request", entry.get("requestHeaderModifier") or {})
        elif kind == "ResponseHeaderModifier":
            actions += _header_actions("response", entry.get("responseHeaderModifier") or {})
        elif kind == "RequestRedirect":
            redirect = entry.get("requestRedirect") or {}
            scheme = str(redirect.get("scheme") or "")
            port = redirect.get("port")
            if port is None and not scheme and listener_port not in (80, 443):
                port = listener_port
            if port is not None and (scheme, int(port)) in (("http", 80), ("https", 443)):
                port = None
            actions.append(("redirect", scheme, str(redirect.get("hostname") or ""),
                            "" if port is None else str(port), str(redirect.get("statusCode") or 302)))
    return tuple(actions)
