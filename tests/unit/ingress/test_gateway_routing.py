"""The Gateway API's pure part: which objects are ours, the route table by port with the
spec's precedence, hostname intersection, and the conditions and reasons of each status."""

from __future__ import annotations

from typing import Any

import pytest

from kprov.cluster.ingress.gateway.filters import filter_actions
from kprov.cluster.ingress.gateway.routing import (
    gateway_routing,
    hostname_intersection,
    merge_conditions,
)
from kprov.cluster.ingress.routes import EXACT, PREFIX, BackendRef, path_matches

CONTROLLER = "kprov.io/gateway-controller"
Obj = dict[str, Any]


def _class(name: str = "kprov", controller: str = CONTROLLER) -> Obj:
    return {"metadata": {"name": name, "generation": 1}, "spec": {"controllerName": controller}}


def _gateway(
    name: str = "gw",
    namespace: str = "web",
    listeners: list[Obj] | None = None,
    class_name: str = "kprov",
    **spec: Any,
) -> Obj:
    listeners = listeners if listeners is not None else [{"name": "http", "port": 80, "protocol": "HTTP"}]
    return {
        "metadata": {"name": name, "namespace": namespace, "generation": 2},
        "spec": {"gatewayClassName": class_name, "listeners": listeners, **spec},
    }


def _route(
    name: str,
    rules: list[Obj],
    namespace: str = "web",
    hostnames: list[str] | None = None,
    parents: list[Obj] | None = None,
    created: str = "2026-01-01T00:00:00Z",
) -> Obj:
    return {
        "metadata": {"name": name, "namespace": namespace, "generation": 3, "creationTimestamp": created},
        "spec": {
            "parentRefs": parents if parents is not None else [{"name": "gw"}],
            "hostnames": hostnames or [],
            "rules": rules,
        },
    }


def _rule(*matches: Obj, backends: list[Obj] | None = None) -> Obj:
    rule: Obj = {"backendRefs": backends if backends is not None else [{"name": "alpha", "port": 80}]}
    if matches:
        rule["matches"] = list(matches)
    return rule


def _prefix(value: str) -> Obj:
    return {"path": {"type": "PathPrefix", "value": value}}


SERVICES = {
    f"{ns}/{name}": {"metadata": {"name": name, "namespace": ns}}
    for ns in ("web", "other")
    for name in ("alpha", "beta")
}


def _run(
    gateways: list[Obj],
    routes: list[Obj],
    grants: list[Obj] | None = None,
    classes: list[Obj] | None = None,
    addresses: list[str] | None = None,
) -> Any:
    return gateway_routing(
        classes if classes is not None else [_class()],
        gateways,
        routes,
        grants or [],
        SERVICES,
        controller_name=CONTROLLER,
        addresses=addresses if addresses is not None else ["10.77.8.14"],
        reserved_ports=frozenset({443}),
    )


def _conds(conditions: list[Obj]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in conditions}


def test_only_classes_naming_our_controller_are_accepted_and_only_their_gateways_served() -> None:
    result = _run(
        [_gateway(), _gateway("theirs", class_name="other")],
        [_route("r", [_rule()])],
        classes=[_class(), _class("other", "example.com/other")],
    )
    assert set(result.class_conditions) == {"kprov"}
    assert _conds(result.class_conditions["kprov"])["Accepted"] == ("True", "Accepted")
    assert set(result.gateway_status) == {"web/gw"}


def test_a_served_gateway_is_accepted_and_programmed_with_the_instances_addresses() -> None:
    result = _run([_gateway()], [_route("r", [_rule()])])
    status = result.gateway_status["web/gw"]
    assert _conds(status["conditions"]) == {
        "Accepted": ("True", "Accepted"),
        "Programmed": ("True", "Programmed"),
    }
    assert status["addresses"] == [{"type": "IPAddress", "value": "10.77.8.14"}]
    [listener] = status["listeners"]
    assert listener["attachedRoutes"] == 1
    assert listener["supportedKinds"] == [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"}]
    assert _conds(listener["conditions"]) == {
        "Accepted": ("True", "Accepted"),
        "Conflicted": ("False", "NoConflicts"),
        "ResolvedRefs": ("True", "ResolvedRefs"),
        "Programmed": ("True", "Programmed"),
    }
    assert all(c["observedGeneration"] == 2 for c in status["conditions"])


def test_no_live_instance_leaves_the_gateway_not_programmed() -> None:
    status = _run([_gateway()], [], addresses=[]).gateway_status["web/gw"]
    assert _conds(status["conditions"])["Programmed"] == ("False", "AddressNotAssigned")


@pytest.mark.parametrize(
    ("listener", "reason"),
    [
        ({"name": "tcp", "port": 9000, "protocol": "TCP"}, "UnsupportedProtocol"),
        ({"name": "https", "port": 443, "protocol": "HTTP"}, "PortUnavailable"),
    ],
)
def test_listeners_kprov_cannot_serve_are_not_accepted(listener: Obj, reason: str) -> None:
    status = _run([_gateway(listeners=[listener])], [_route("r", [_rule()])]).gateway_status["web/gw"]
    assert _conds(status["listeners"][0]["conditions"])["Accepted"] == ("False", reason)
    assert _conds(status["conditions"])["Accepted"] == ("False", "ListenersNotValid")
    assert status["listeners"][0]["attachedRoutes"] == 0


def test_two_listeners_on_one_port_and_hostname_conflict() -> None:
    listeners = [
        {"name": "a", "port": 8080, "protocol": "HTTP"},
        {"name": "b", "port": 8080, "protocol": "HTTP"},
    ]
    status = _run([_gateway(listeners=listeners)], []).gateway_status["web/gw"]
    assert [_conds(x["conditions"])["Conflicted"] for x in status["listeners"]] == [
        ("True", "HostnameConflict")
    ] * 2


def test_requested_addresses_are_not_supported() -> None:
    status = _run([_gateway(addresses=[{"type": "IPAddress", "value": "10.0.0.1"}])], []).gateway_status[
        "web/gw"
    ]
    assert _conds(status["conditions"])["Accepted"] == ("False", "UnsupportedAddress")


def test_routes_by_hostname_and_prefix_in_the_specs_precedence() -> None:
    older = _route(
        "older",
        [
            _rule(_prefix("/"), backends=[{"name": "alpha", "port": 80}]),
            _rule(_prefix("/api"), backends=[{"name": "beta", "port": 80}]),
        ],
        hostnames=["a.example"],
    )
    catch_all = _route("any", [_rule()], created="2026-01-02T00:00:00Z")
    wildcard = _route("wild", [_rule()], hostnames=["*.example"], created="2026-01-03T00:00:00Z")
    exact = _route(
        "exact",
        [_rule({"path": {"type": "Exact", "value": "/x"}})],
        hostnames=["a.example"],
        created="2026-01-04T00:00:00Z",
    )
    routes = _run([_gateway()], [catch_all, wildcard, exact, older]).routes_by_port[80]
    assert [(r.host, r.path_type, r.path, r.ingress) for r in routes] == [
        ("a.example", EXACT, "/x", "web/exact"),
        ("a.example", PREFIX, "/api", "web/older"),
        ("a.example", PREFIX, "/", "web/older"),
        ("*.example", PREFIX, "/", "web/wild"),
        ("", PREFIX, "/", "web/any"),
    ]
    assert routes[1].backend == BackendRef("web", "beta", 80)
    assert routes[3].wildcard_any_depth
    assert path_matches(routes[1].path_type, routes[1].path, "/api/v1")
    assert not path_matches(routes[1].path_type, routes[1].path, "/apiv1")


def test_more_header_matches_win_and_the_older_route_breaks_ties() -> None:
    plain = _route("plain", [_rule(_prefix("/"))], created="2026-01-01T00:00:00Z")
    headed = _route(
        "headed",
        [
            _rule(
                {
                    "path": {"type": "PathPrefix", "value": "/"},
                    "headers": [{"name": "X-Env", "value": "canary"}],
                    "method": "GET",
                    "queryParams": [{"name": "v", "value": "2"}],
                }
            )
        ],
        created="2026-01-05T00:00:00Z",
    )
    twin = _route(
        "twin", [_rule(_prefix("/"), backends=[{"name": "beta", "port": 80}])], created="2026-01-02T00:00:00Z"
    )
    routes = _run([_gateway()], [twin, headed, plain]).routes_by_port[80]
    assert [r.ingress for r in routes] == ["web/headed", "web/plain", "web/twin"]
    assert routes[0].headers == (("x-env", "canary"),) and routes[0].method == "GET"
    assert routes[0].query == (("v", "2"),)


def test_weighted_backends_keep_their_weights_and_zero_weight_is_left_out() -> None:
    rule = _rule(
        backends=[
            {"name": "alpha", "port": 80, "weight": 3},
            {"name": "beta", "port": 80, "weight": 1},
            {"name": "beta", "port": 8080, "weight": 0},
        ]
    )
    [route] = _run([_gateway()], [_route("r", [rule])]).routes_by_port[80]
    assert route.backend is None
    assert route.weighted == ((BackendRef("web", "alpha", 80), 3), (BackendRef("web", "beta", 80), 1))


def test_section_name_and_port_select_the_listener() -> None:
    listeners = [
        {"name": "http", "port": 80, "protocol": "HTTP"},
        {"name": "alt", "port": 8080, "protocol": "HTTP"},
    ]
    result = _run(
        [_gateway(listeners=listeners)],
        [
            _route("r", [_rule()], parents=[{"name": "gw", "sectionName": "alt"}]),
            _route("missing", [_rule()], parents=[{"name": "gw", "sectionName": "nope"}]),
        ],
    )
    assert set(result.routes_by_port) == {8080}
    [parent] = result.route_parents["web/missing"]
    assert _conds(parent["conditions"])["Accepted"] == ("False", "NoMatchingParent")
    assert [x["attachedRoutes"] for x in result.gateway_status["web/gw"]["listeners"]] == [0, 1]


def test_a_route_from_another_namespace_needs_a_listener_allowing_it() -> None:
    route = _route("r", [_rule()], namespace="other", parents=[{"name": "gw", "namespace": "web"}])
    denied = _run([_gateway()], [route])
    [parent] = denied.route_parents["other/r"]
    assert _conds(parent["conditions"])["Accepted"] == ("False", "NotAllowedByListeners")
    assert parent["parentRef"] == {
        "group": "gateway.networking.k8s.io",
        "kind": "Gateway",
        "name": "gw",
        "namespace": "web",
    }
    assert parent["controllerName"] == CONTROLLER
    allowing = [
        {"name": "http", "port": 80, "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": "All"}}}
    ]
    allowed = _run([_gateway(listeners=allowing)], [route])
    assert _conds(allowed.route_parents["other/r"][0]["conditions"])["Accepted"] == ("True", "Accepted")


def test_hostnames_that_cannot_meet_the_listeners_are_not_accepted() -> None:
    listeners = [{"name": "http", "port": 80, "protocol": "HTTP", "hostname": "*.example"}]
    result = _run(
        [_gateway(listeners=listeners)],
        [_route("r", [_rule()], hostnames=["a.other"]), _route("s", [_rule()])],
    )
    assert _conds(result.route_parents["web/r"][0]["conditions"])["Accepted"] == (
        "False",
        "NoMatchingListenerHostname",
    )
    assert [r.host for r in result.routes_by_port[80]] == ["*.example"]


@pytest.mark.parametrize(
    ("listener", "route", "served"),
    [
        ("", "a.example", "a.example"),
        ("a.example", "", "a.example"),
        ("*.example", "a.b.example", "a.b.example"),
        ("a.example", "*.example", "a.example"),
        ("*.example", "*.b.example", "*.b.example"),
        ("*.b.example", "*.example", "*.b.example"),
        ("a.example", "b.example", None),
        ("*.example", "example", None),
        ("*.a.example", "*.b.example", None),
    ],
)
def test_hostname_intersection(listener: str, route: str, served: str | None) -> None:
    assert hostname_intersection(listener, route) == served


@pytest.mark.parametrize(
    ("backend", "grants", "reason"),
    [
        ({"name": "gone", "port": 80}, [], "BackendNotFound"),
        ({"name": "alpha", "port": 80, "kind": "Pod"}, [], "InvalidKind"),
        ({"name": "alpha", "port": 80, "namespace": "other"}, [], "RefNotPermitted"),
        (
            {"name": "alpha", "port": 80, "namespace": "other"},
            [
                {
                    "metadata": {"namespace": "other"},
                    "spec": {
                        "from": [
                            {
                                "group": "gateway.networking.k8s.io",
                                "kind": "HTTPRoute",
                                "namespace": "elsewhere",
                            }
                        ],
                        "to": [{"group": "", "kind": "Service"}],
                    },
                }
            ],
            "RefNotPermitted",
        ),
        (
            {"name": "alpha", "port": 80, "namespace": "other"},
            [
                {
                    "metadata": {"namespace": "other"},
                    "spec": {
                        "from": [
                            {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": "web"}
                        ],
                        "to": [{"group": "", "kind": "Service", "name": "alpha"}],
                    },
                }
            ],
            "ResolvedRefs",
        ),
    ],
)
def test_backend_refs_resolve_or_say_why(backend: Obj, grants: list[Obj], reason: str) -> None:
    result = _run([_gateway()], [_route("r", [_rule(backends=[backend])])], grants=grants)
    [parent] = result.route_parents["web/r"]
    assert _conds(parent["conditions"])["ResolvedRefs"] == (
        "True" if reason == "ResolvedRefs" else "False",
        reason,
    )
    assert _conds(parent["conditions"])["Accepted"] == ("True", "Accepted")
    [route] = result.routes_by_port[80]
    assert (route.backend is not None) == (reason == "ResolvedRefs")  # None: answered with 500


def test_filters_are_reported_unsupported_rather_than_ignored() -> None:
    rule = {**_rule(), "filters": [{"type": "URLRewrite", "urlRewrite": {"hostname": "x.example"}}]}
    result = _run([_gateway()], [_route("r", [rule])])
    assert _conds(result.route_parents["web/r"][0]["conditions"])["Accepted"] == ("False", "UnsupportedValue")
    assert 80 not in result.routes_by_port


def test_parents_of_other_controllers_gateways_get_no_status_from_us() -> None:
    result = _run([_gateway()], [_route("r", [_rule()], parents=[{"name": "unknown"}])])
    assert "web/r" not in result.route_parents


def test_transition_time_is_kept_while_the_status_stays() -> None:
    old = [
        {"type": "Accepted", "status": "True", "lastTransitionTime": "T0"},
        {"type": "Programmed", "status": "False", "lastTransitionTime": "T0"},
    ]
    new = [{"type": "Accepted", "status": "True"}, {"type": "Programmed", "status": "True"}]
    assert [c["lastTransitionTime"] for c in merge_conditions(old, new, "T1")] == ["T0", "T1"]


TLS_SECRETS = {
    "web/cert": {"metadata": {"name": "cert", "namespace": "web"}, "type": "kubernetes.io/tls"},
    "other/cert": {"metadata": {"name": "cert", "namespace": "other"}, "type": "kubernetes.io/tls"},
}


def _https(
    name: str = "https",
    port: int = 443,
    secret: str = "cert",
    namespace: str | None = None,
    hostname: str = "s.example",
) -> Obj:
    ref: Obj = {"name": secret} if namespace is None else {"name": secret, "namespace": namespace}
    return {
        "name": name,
        "port": port,
        "protocol": "HTTPS",
        "hostname": hostname,
        "tls": {"mode": "Terminate", "certificateRefs": [ref]},
    }


def _run_tls(listeners: list[Obj], grants: list[Obj] | None = None) -> Any:
    return gateway_routing(
        [_class()],
        [_gateway(listeners=listeners)],
        [_route("r", [_rule()])],
        grants or [],
        SERVICES,
        controller_name=CONTROLLER,
        addresses=["10.77.8.14"],
        reserved_ports=frozenset({10254}),
        https_port=443,
        secrets=TLS_SECRETS,
    )


def test_an_https_listener_serves_its_secret_by_its_hostname_on_the_https_port() -> None:
    result = _run_tls([_https()])
    assert result.certificates == [("s.example", "web/cert")]
    assert [r.host for r in result.routes_by_port[443]] == ["s.example"]
    status = result.gateway_status["web/gw"]["listeners"][0]
    assert _conds(status["conditions"])["Programmed"] == ("True", "Programmed")
    assert status["attachedRoutes"] == 1


@pytest.mark.parametrize(
    ("listener", "grants", "condition", "reason"),
    [
        (_https(secret="gone"), [], "ResolvedRefs", "InvalidCertificateRef"),
        (_https(namespace="other"), [], "ResolvedRefs", "RefNotPermitted"),
        (_https(port=8443), [], "Accepted", "PortUnavailable"),
        ({**_https(), "tls": {"mode": "Passthrough"}}, [], "Accepted", "UnsupportedProtocol"),
    ],
)
def test_https_listeners_that_cannot_be_served_say_why(
    listener: Obj, grants: list[Obj], condition: str, reason: str
) -> None:
    result = _run_tls([listener], grants)
    conditions = _conds(result.gateway_status["web/gw"]["listeners"][0]["conditions"])
    assert conditions[condition] == ("False", reason)
    assert conditions["Programmed"] == ("False", "Invalid")
    assert result.certificates == [] and 443 not in result.routes_by_port


def test_a_reference_grant_lets_a_gateway_use_another_namespaces_secret() -> None:
    grant = {
        "metadata": {"namespace": "other"},
        "spec": {
            "from": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": "web"}],
            "to": [{"group": "", "kind": "Secret", "name": "cert"}],
        },
    }
    assert _run_tls([_https(namespace="other")], [grant]).certificates == [("s.example", "other/cert")]


def test_http_and_https_on_one_port_conflict() -> None:
    listeners = [{"name": "plain", "port": 443, "protocol": "HTTP"}, _https()]
    result = _run_tls(listeners)
    conflicts = [_conds(x["conditions"])["Conflicted"] for x in result.gateway_status["web/gw"]["listeners"]]
    assert conflicts == [("True", "ProtocolConflict")] * 2


def test_header_modifiers_and_redirects_become_the_rules_actions() -> None:
    rule = {
        **_rule(),
        "filters": [
            {
                "type": "RequestHeaderModifier",
                "requestHeaderModifier": {
                    "set": [{"name": "X-Env", "value": "prod"}],
                    "add": [{"name": "X-Via", "value": "kprov"}],
                    "remove": ["X-Debug"],
                },
            },
            {
                "type": "ResponseHeaderModifier",
                "responseHeaderModifier": {"set": [{"name": "X-Served", "value": "1"}]},
            },
        ],
    }
    [route] = _run([_gateway()], [_route("r", [rule])]).routes_by_port[80]
    assert route.filters == (
        ("request-set", "X-Env", "prod"),
        ("request-add", "X-Via", "kprov"),
        ("request-del", "X-Debug"),
        ("response-set", "X-Served", "1"),
    )


@pytest.mark.parametrize(
    ("redirect", "listener_port", "action"),
    [
        ({"scheme": "https"}, 80, ("redirect", "https", "", "", "302")),
        ({"scheme": "https", "statusCode": 301}, 8088, ("redirect", "https", "", "", "301")),
        ({"hostname": "new.example"}, 8088, ("redirect", "", "new.example", "8088", "302")),
        ({"hostname": "new.example"}, 80, ("redirect", "", "new.example", "", "302")),
        ({"scheme": "http", "port": 80}, 8088, ("redirect", "http", "", "", "302")),
        ({"scheme": "https", "port": 8443}, 80, ("redirect", "https", "", "8443", "302")),
    ],
)
def test_redirect_ports_follow_the_spec(redirect: Obj, listener_port: int, action: tuple[str, ...]) -> None:
    rule = {"filters": [{"type": "RequestRedirect", "requestRedirect": redirect}]}
    assert filter_actions(rule, listener_port) == (action,)


def test_a_redirect_with_a_path_is_unsupported() -> None:
    rule = {
        "filters": [
            {
                "type": "RequestRedirect",
                "requestRedirect": {"path": {"type": "ReplaceFullPath", "replaceFullPath": "/x"}},
            }
        ]
    }
    result = _run([_gateway()], [_route("r", [rule])])
    assert _conds(result.route_parents["web/r"][0]["conditions"])["Accepted"] == ("False", "UnsupportedValue")
