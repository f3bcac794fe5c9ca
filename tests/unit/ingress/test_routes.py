"""Ingress → route table, as data: class selection, precedence, path and host semantics."""

from __future__ import annotations

from typing import Any

import pytest

from kprov.cluster.ingress.routes import (
    BackendRef,
    Route,
    build_table,
    host_matches,
    is_default_class,
    is_ours,
    path_matches,
)


def _ingress(name: str, rules: list[dict[str, Any]], created: str = "2026-01-01T00:00:00Z",
             **spec: Any) -> Any:
    return {"metadata": {"name": name, "namespace": "ns", "creationTimestamp": created},
            "spec": {"rules": rules, **spec}}


def _rule(host: str, *paths: tuple[str, str, str]) -> dict[str, Any]:
    return {"host": host, "http": {"paths": [
        {"path": p, "pathType": t, "backend": {"service": {"name": s, "port": {"number": 80}}}}
        for p, t, s in paths]}}


# Upstream's table (concepts/services-networking/ingress, "Examples"), plus the edges.
@pytest.mark.parametrize("kind, rule, request_path, matches", [
    ("Prefix", "/", "/anything", True),
    ("Prefix", "/", "/", True),
    ("Exact", "/foo", "/foo", True),
    ("Exact", "/foo", "/bar", False),
    ("Exact", "/foo", "/foo/", False),
    ("Exact", "/foo/", "/foo", False),
    ("Prefix", "/foo", "/foo", True),
    ("Prefix", "/foo", "/foo/", True),
    ("Prefix", "/foo/", "/foo", True),
    ("Prefix", "/foo/", "/foo/", True),
    ("Prefix", "/aaa/bb", "/aaa/bbb", False),
    ("Prefix", "/aaa/bbb", "/aaa/bbb", True),
    ("Prefix", "/aaa/bbb/", "/aaa/bbb", True),
    ("Prefix", "/aaa/bbb", "/aaa/bbb/", True),
    ("Prefix", "/aaa/bbb", "/aaa/bbb/ccc", True),
    ("Prefix", "/aaa/bbb", "/aaa/bbbxyz", False),
    ("Prefix", "/foo", "/FOO", False),
    ("ImplementationSpecific", "/api", "/api/v1", True),
    ("ImplementationSpecific", "/api", "/apis", False),
])
def test_path_semantics(kind: str, rule: str, request_path: str, matches: bool) -> None:
    table = build_table([_ingress("a", [_rule("", (rule, kind, "s"))])])
    route = table.routes[0]
    assert path_matches(route.path_type, route.path, request_path) is matches


@pytest.mark.parametrize("rule, request_host, matches", [
    ("foo.bar.com", "foo.bar.com", True),
    ("foo.bar.com", "FOO.bar.com", True),
    ("foo.bar.com", "baz.bar.com", False),
    ("*.foo.com", "bar.foo.com", True),
    ("*.foo.com", "baz.bar.foo.com", False),
    ("*.foo.com", "foo.com", False),
    ("*.foo.com", ".foo.com", False),
    ("", "anything.example", True),
])
def test_host_semantics(rule: str, request_host: str, matches: bool) -> None:
    assert host_matches(rule, request_host) is matches


@pytest.mark.parametrize("spec, annotations, default, ours", [
    ({"ingressClassName": "kprov"}, {}, False, True),
    ({"ingressClassName": "nginx"}, {}, True, False),
    ({}, {"kubernetes.io/ingress.class": "kprov"}, False, True),
    ({}, {"kubernetes.io/ingress.class": "nginx"}, True, False),
    ({}, {}, True, True),
    ({}, {}, False, False),
    ({"ingressClassName": "kprov"}, {"kubernetes.io/ingress.class": "nginx"}, False, True),
])
def test_class_selection(spec: dict[str, Any], annotations: dict[str, str], default: bool,
                         ours: bool) -> None:
    ingress = {"metadata": {"name": "a", "namespace": "ns", "annotations": annotations}, "spec": spec}
    assert is_ours(ingress, "kprov", default) is ours


def test_order_exact_hosts_then_wildcards_then_any_longest_path_first_exact_before_prefix() -> None:
    table = build_table([
        _ingress("a", [
            _rule("", ("/", "Prefix", "catch")),
            _rule("*.b.example", ("/", "Prefix", "wild")),
            _rule("a.example", ("/", "Prefix", "root"), ("/api", "Prefix", "api-prefix"),
                  ("/api", "Exact", "api-exact"), ("/api/v1", "Prefix", "v1")),
        ]),
    ])
    assert [(r.host, r.path, r.path_type, r.backend.service) for r in table.routes] == [
        ("a.example", "/api/v1", "Prefix", "v1"),
        ("a.example", "/api", "Exact", "api-exact"),
        ("a.example", "/api", "Prefix", "api-prefix"),
        ("a.example", "/", "Prefix", "root"),
        ("*.b.example", "/", "Prefix", "wild"),
        ("", "/", "Prefix", "catch"),
    ]


def test_same_rule_in_two_ingresses_the_older_wins_and_default_backend_and_tls_too() -> None:
    backend = {"service": {"name": "old-default", "port": {"name": "http"}}}
    newer = _ingress("newer", [_rule("a.example", ("/", "Prefix", "new"))], "2026-02-01T00:00:00Z",
                     defaultBackend={"service": {"name": "new-default", "port": {"number": 80}}},
                     tls=[{"hosts": ["a.example"], "secretName": "new-tls"}])
    older = _ingress("older", [_rule("a.example", ("/", "Prefix", "old"))], "2026-01-01T00:00:00Z",
                     defaultBackend=backend, tls=[{"hosts": ["A.example"], "secretName": "old-tls"}])
    table = build_table([newer, older])
    assert table.routes == [Route("a.example", "/", "Prefix", BackendRef("ns", "old", 80), "ns/older")]
    assert table.default_backend == BackendRef("ns", "old-default", "http")
    assert table.tls == {"a.example": "ns/old-tls"}
    assert table.ingresses == ["ns/older", "ns/newer"]


def test_resource_backends_and_incomplete_ports_are_left_out() -> None:
    ingress = _ingress("a", [{"host": "a.example", "http": {"paths": [
        {"path": "/r", "pathType": "Prefix", "backend": {"resource": {"kind": "Bucket", "name": "b"}}},
        {"path": "/p", "pathType": "Prefix", "backend": {"service": {"name": "s", "port": {}}}},
    ]}}])
    assert build_table([ingress]).routes == []


@pytest.mark.parametrize("value, default",
                         [("true", True), ("True", False), ("TRUE", False), ("false", False)])
def test_only_exactly_true_marks_the_default_class(value: str, default: bool) -> None:
    ingress_class = {"metadata": {"annotations": {"ingressclass.kubernetes.io/is-default-class": value}}}
    assert is_default_class(ingress_class) is default
