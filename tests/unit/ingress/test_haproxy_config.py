"""Route table + servers → HAProxy text, as data: the routing lines, backends, TLS, skips."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from kprov.cluster.ingress.haproxy_config import ProxySettings, render
from kprov.cluster.ingress.routes import BackendRef, build_table

SETTINGS = ProxySettings(default_certificate="/s/default.pem", crt_list="/s/crt-list")
WEB = BackendRef("ns", "web", 80)


def _ingress(rules: list[dict[str, Any]], **spec: Any) -> Any:
    return {"metadata": {"name": "a", "namespace": "ns"}, "spec": {"rules": rules, **spec}}


def _paths(host: str, path: str, kind: str, service: str = "web") -> dict[str, Any]:
    return {"host": host, "http": {"paths": [
        {"path": path, "pathType": kind, "backend": {"service": {"name": service, "port": {"number": 80}}}}]}}


def _section(config: str, header: str) -> list[str]:
    lines = config.splitlines()
    start = lines.index(header) + 1
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("    ")), len(lines))
    return [line.strip() for line in lines[start:end]]


@pytest.mark.parametrize("host, path, kind, condition", [
    ("a.example", "/", "Prefix", "{ var(txn.host) -m str a.example }"),
    ("a.example", "/api", "Exact", "{ var(txn.host) -m str a.example } { path -m str '/api' }"),
    ("a.example", "/api/", "Prefix",
     "{ var(txn.host) -m str a.example } { path -m str '/api' } || "
     "{ var(txn.host) -m str a.example } { path -m beg '/api/' }"),
    ("", "/", "Prefix", "TRUE"),
    ("", "/x", "ImplementationSpecific", "{ path -m str '/x' } || { path -m beg '/x/' }"),
    ("*.w.example", "/", "Prefix", "{ var(txn.host) -m reg '^[^.]+\\.w\\.example$' }"),
])
def test_routing_condition(host: str, path: str, kind: str, condition: str) -> None:
    out = render(build_table([_ingress([_paths(host, path, kind)])]), {}, {}, SETTINGS)
    for frontend in ("frontend http", "frontend https"):
        assert f"use_backend be:ns:web:80 if {condition}" in _section(out.config, frontend)


def test_unknown_hosts_get_404_and_default_backend_replaces_it() -> None:
    bare = render(build_table([_ingress([_paths("a.example", "/", "Prefix")])]), {}, {}, SETTINGS)
    assert _section(bare.config, "frontend http")[-1] == "default_backend kprov-404"
    assert _section(bare.config, "backend kprov-404") == [
        'http-request return status 404 content-type "text/plain" string "404 page not found"']
    default = {"service": {"name": "fallback", "port": {"name": "http"}}}
    with_default = render(build_table([_ingress([], defaultBackend=default)]), {}, {}, SETTINGS)
    assert _section(with_default.config, "frontend https")[-1] == "default_backend be:ns:fallback:http"


def test_backends_list_ready_pod_addresses_and_an_empty_backend_has_no_server() -> None:
    rules = [_paths("a.example", "/", "Prefix"), _paths("b.example", "/", "Prefix", "idle")]
    table = build_table([_ingress(rules)])
    out = render(table, {WEB: [("10.244.1.5", 8080), ("fd00::7", 8080)]}, {}, SETTINGS)
    assert _section(out.config, "backend be:ns:web:80") == [
        "balance roundrobin", "server 10.244.1.5_8080 10.244.1.5:8080", "server fd00__7_8080 [fd00::7]:8080"]
    assert _section(out.config, "backend be:ns:idle:80") == ["balance roundrobin"]


def test_tls_hosts_get_their_certificate_by_sni_and_http_redirects_to_https() -> None:
    table = build_table([_ingress([_paths("a.example", "/", "Prefix"), _paths("b.example", "/", "Prefix")],
                                  tls=[{"hosts": ["a.example", "b.example"], "secretName": "tls"}])])
    out = render(table, {}, {"ns/tls": "/s/certs/ns_tls.pem"}, SETTINGS)
    assert out.crt_list == "/s/certs/ns_tls.pem a.example\n/s/certs/ns_tls.pem b.example\n"
    assert "bind :443 ssl crt /s/default.pem crt-list /s/crt-list" in _section(out.config, "frontend https")
    http = _section(out.config, "frontend http")
    assert "http-request redirect scheme https code 308 if { var(txn.host) -m str a.example }" in http
    assert not any("redirect" in line for line in _section(out.config, "frontend https"))
    unusable = render(table, {}, {}, SETTINGS)  # a missing or bad Secret: the default certificate
    assert unusable.crt_list == ""


@pytest.mark.parametrize("path", ["/a\n", "/a b", "/a#b", "/it's", '/q"', "/a\nb"])
def test_paths_the_config_language_would_misread_are_left_out_with_a_reason(path: str) -> None:
    out = render(build_table([_ingress([_paths("a.example", path, "Exact")])]), {}, {}, SETTINGS)
    assert not any(line.startswith("use_backend") for line in _section(out.config, "frontend http"))
    assert len(out.skipped) == 1 and "ns/a" in out.skipped[0]


def test_seamless_reload_and_access_log_settings() -> None:
    out = render(build_table([]), {}, {}, SETTINGS)
    glob = _section(out.config, "global")
    assert "stats socket /run/kprov-ingress/admin.sock mode 600 level admin expose-fd listeners" in glob
    assert "log stdout format raw local0" in glob and "hard-stop-after 240s" in glob
    assert "option httplog" in _section(out.config, "defaults")
    # an old worker answers an idle keep-alive connection's next request before closing it
    assert "option idle-close-on-response" in _section(out.config, "defaults")
    assert "nbthread 1" in glob
    assert "mworker-max-reloads 8" in glob  # old workers kept for idle clients are bounded
    three = render(build_table([]), {}, {}, replace(SETTINGS, threads=3))
    assert "nbthread 3" in _section(three.config, "global")


def test_rendering_is_deterministic() -> None:
    ingresses = [_ingress([_paths(f"h{i}.example", "/", "Prefix", f"s{i}") for i in range(20)])]
    servers = {BackendRef("ns", f"s{i}", 80): [("10.0.0.1", 80)] for i in range(20)}
    first = render(build_table(ingresses), servers, {}, SETTINGS)
    assert render(build_table(list(reversed(ingresses))), dict(reversed(list(servers.items()))), {},
                  SETTINGS) == first
