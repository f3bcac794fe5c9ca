"""HTTPRoutes rendered into HAProxy's configuration: the HTTP port shares the Ingress's
frontend, other listener ports get their own, header/query/method conditions, weighted
server lines, 500 for a rule without a usable backend; and `haproxy -c` takes the result."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from kprov.cluster.ingress.certs import ensure_default_certificate
from kprov.cluster.ingress.haproxy_config import (
    NO_BACKEND,
    ProxySettings,
    filtered_backend_name,
    render,
    server_weights,
)
from kprov.cluster.ingress.routes import EXACT, PREFIX, BackendRef, Route, build_table

SETTINGS = ProxySettings(default_certificate="/s/default.pem", crt_list="/s/crt-list")
ALPHA = BackendRef("web", "alpha", 80)
BETA = BackendRef("web", "beta", 80)
HEADER_FILTERS = (
    ("request-set", "X-Env", "100% prod"),
    ("request-add", "X-Via", "kprov"),
    ("request-del", "X-Debug"),
    ("response-set", "X-Served", "1"),
)
REDIRECT = (("redirect", "https", "", "8443", "301"),)
SERVERS = {ALPHA: [("10.244.1.5", 8080), ("10.244.2.7", 8080)], BETA: [("10.244.3.9", 8080)]}


def _section(config: str, header: str) -> list[str]:
    lines = config.splitlines()
    start = lines.index(header) + 1
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("    ")), len(lines))
    return [line.strip() for line in lines[start:end]]


def _ingress_catch_all() -> dict[str, object]:
    return {
        "metadata": {"name": "i", "namespace": "web"},
        "spec": {
            "rules": [
                {
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": "beta", "port": {"number": 80}}},
                            }
                        ]
                    }
                }
            ]
        },
    }


def test_http_port_routes_join_the_ingress_frontend_before_its_hostless_rules() -> None:
    gateway = {
        80: [Route("g.example", "/app", PREFIX, ALPHA, "web/r", wildcard_any_depth=True)],
        8080: [Route("*.g.example", "/", PREFIX, BETA, "web/s", wildcard_any_depth=True)],
    }
    out = render(build_table([_ingress_catch_all()]), SERVERS, {}, SETTINGS, gateway)
    http = _section(out.config, "frontend http")
    uses = [line for line in http if line.startswith("use_backend")]
    assert uses == [
        "use_backend be:web:alpha:80 if { var(txn.host) -m str g.example } { path -m str '/app' } || "
        "{ var(txn.host) -m str g.example } { path -m beg '/app/' }",
        "use_backend be:web:beta:80 if TRUE",
    ]
    other = _section(out.config, "frontend gateway-8080")
    assert other[0] == "bind :8080"
    assert "use_backend be:web:beta:80 if { var(txn.host) -m reg '^.+\\.g\\.example$' }" in other
    assert other[-1] == "default_backend kprov-404"


def test_header_query_and_method_conditions() -> None:
    route = Route(
        "",
        "/x",
        EXACT,
        ALPHA,
        "web/r",
        headers=(("x-env", "canary blue"),),
        query=(("v", "2"),),
        method="GET",
    )
    out = render(build_table([]), SERVERS, {}, SETTINGS, {9000: [route]})
    assert (
        "use_backend be:web:alpha:80 if { method GET } { req.hdr(x-env) -m str 'canary blue' } "
        "{ url_param(v) -m str '2' } { path -m str '/x' }"
    ) in _section(out.config, "frontend gateway-9000")


def test_a_header_value_the_config_language_would_misread_is_left_out() -> None:
    route = Route("", "/", PREFIX, ALPHA, "web/r", headers=(("x-a", "it's"),))
    out = render(build_table([]), SERVERS, {}, SETTINGS, {9000: [route]})
    assert not any(line.startswith("use_backend") for line in _section(out.config, "frontend gateway-9000"))
    assert out.skipped and "web/r" in out.skipped[0]


def test_a_rule_without_a_usable_backend_answers_500() -> None:
    out = render(build_table([]), {}, {}, SETTINGS, {9000: [Route("", "/", PREFIX, None, "web/r")]})
    assert f"use_backend {NO_BACKEND} if TRUE" in _section(out.config, "frontend gateway-9000")
    assert any("status 500" in line for line in _section(out.config, f"backend {NO_BACKEND}"))


def test_weights_split_each_backends_share_over_its_servers() -> None:
    # alpha 3 over 2 servers (1.5 each), beta 1 over 1 server: 256, 256 and 171 (1.5 : 1.5 : 1)
    weights = server_weights(((ALPHA, 3), (BETA, 1)), SERVERS)
    assert [(ref.service, weight) for ref, _server, weight in weights] == [
        ("alpha", 256),
        ("alpha", 256),
        ("beta", 171),
    ]
    assert server_weights(((ALPHA, 0), (BETA, 0)), SERVERS) == []
    assert [w for _r, _s, w in server_weights(((ALPHA, 1), (BackendRef("web", "gone", 80), 5)), SERVERS)] == [
        256,
        256,
    ]  # a backend without servers takes no share


def test_weighted_backend_lists_servers_with_weights() -> None:
    route = Route("", "/", PREFIX, None, "web/r", weighted=((ALPHA, 1), (BETA, 1)))
    out = render(build_table([]), SERVERS, {}, SETTINGS, {80: [route]})
    [name] = [
        line.split()[1] for line in _section(out.config, "frontend http") if line.startswith("use_backend")
    ]
    assert _section(out.config, f"backend {name}") == [
        "balance roundrobin",
        "server web_alpha_10.244.1.5_8080 10.244.1.5:8080 weight 128",
        "server web_alpha_10.244.2.7_8080 10.244.2.7:8080 weight 128",
        "server web_beta_10.244.3.9_8080 10.244.3.9:8080 weight 256",
    ]


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="HAProxy is not installed here")
def test_haproxy_accepts_the_rendered_configuration(tmp_path: Path) -> None:
    ensure_default_certificate(tmp_path / "default.pem")
    (tmp_path / "crt-list").write_text("")
    settings = ProxySettings(
        default_certificate=str(tmp_path / "default.pem"),
        crt_list=str(tmp_path / "crt-list"),
        admin_socket=str(tmp_path / "admin.sock"),
    )
    gateway = {
        80: [
            Route(
                "*.g.example",
                "/a",
                PREFIX,
                None,
                "web/r",
                headers=(("x-env", "canary"),),
                query=(("v", "2"),),
                method="GET",
                weighted=((ALPHA, 3), (BETA, 1)),
                wildcard_any_depth=True,
            )
        ],
        8080: [
            Route("g.example", "/b", EXACT, BETA, "web/s"),
            Route("g.example", "/h", PREFIX, BETA, "web/h", filters=HEADER_FILTERS),
            Route("g.example", "/r", PREFIX, None, "web/x", filters=REDIRECT),
            Route("", "/", PREFIX, None, "web/t"),
        ],
    }
    out = render(build_table([_ingress_catch_all()]), SERVERS, {}, settings, gateway)
    (tmp_path / "haproxy.cfg").write_text(out.config)
    check = subprocess.run(
        ["haproxy", "-c", "-f", str(tmp_path / "haproxy.cfg")], capture_output=True, text=True, timeout=30
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_https_listener_routes_join_the_https_frontend_and_their_certificates_the_crt_list() -> None:
    gateway = {443: [Route("s.example", "/", PREFIX, ALPHA, "web/r", wildcard_any_depth=True)]}
    certificates = [("s.example", "/s/certs/web_cert.pem"), ("", "/s/certs/web_any.pem")]
    out = render(build_table([]), SERVERS, {}, SETTINGS, gateway, certificates)
    assert "use_backend be:web:alpha:80 if { var(txn.host) -m str s.example }" in _section(
        out.config, "frontend https"
    )
    assert "frontend gateway-443" not in out.config
    assert not any(line.startswith("use_backend") for line in _section(out.config, "frontend http"))
    assert out.crt_list == "/s/certs/web_cert.pem s.example\n/s/certs/web_any.pem\n"


def test_a_rule_with_filters_gets_its_own_backend_with_the_actions_then_the_servers() -> None:
    route = Route("", "/h", PREFIX, BETA, "web/h", filters=HEADER_FILTERS)
    out = render(build_table([]), SERVERS, {}, SETTINGS, {9000: [route]})
    name = filtered_backend_name(route)
    assert f"use_backend {name} if {{ path -m str '/h' }} || {{ path -m beg '/h/' }}" in _section(
        out.config, "frontend gateway-9000"
    )
    assert _section(out.config, f"backend {name}") == [
        "balance roundrobin",
        "http-request set-header X-Env '100%% prod'",
        "http-request add-header X-Via 'kprov'",
        "http-request del-header X-Debug",
        "http-response set-header X-Served '1'",
        "server 10.244.3.9_8080 10.244.3.9:8080",
    ]


def test_a_redirect_rule_answers_with_the_location_and_no_server() -> None:
    route = Route("", "/", PREFIX, None, "web/x", filters=(("redirect", "", "new.example", "", "302"),))
    out = render(build_table([]), SERVERS, {}, SETTINGS, {80: [route]})
    assert _section(out.config, f"backend {filtered_backend_name(route)}") == [
        "balance roundrobin",
        "http-request redirect location %[ssl_fc,iif(https,http)]://new.example%[pathq] code 302",
    ]
    bad = Route("", "/", PREFIX, None, "web/y", filters=(("redirect", "ftp", "", "", "302"),))
    assert render(build_table([]), SERVERS, {}, SETTINGS, {80: [bad]}).skipped
