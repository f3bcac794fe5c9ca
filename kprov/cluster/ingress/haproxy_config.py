"""A route table + the backends' servers → HAProxy's configuration text (pure).

Two files come out: ``haproxy.cfg`` and the ``crt-list`` its HTTPS listener reads. The
layout:

- ``global``: the admin socket with ``expose-fd listeners`` (a reload hands the listening
  sockets to the new worker: no connection refused during a reload), access logs to
  stdout (the unit's journal), ``hard-stop-after`` bounding how long an old worker may
  finish its connections, and ``nbthread`` (:attr:`ProxySettings.threads`).
- ``defaults``: ``option idle-close-on-response``. On a reload the old worker would close
  its idle keep-alive connections at once; a client that sends on one at that moment gets
  no answer (Python's http.client, like most clients for a non-idempotent request, does not
  retry): 20-34 failed requests per 100 reloads under load in ``bench_ingress``. With the
  option the old worker keeps an idle connection until its next request, answers it with
  ``Connection: close``, and only then closes it: 0 failed. An old worker then lives while a
  client holds an idle connection (up to ``timeout http-keep-alive``), about 4 MiB each:
  ``mworker-max-reloads`` (:attr:`ProxySettings.max_reloads_survived`) stops a worker that
  has outlived that many reloads, so a burst of reloads leaves at most that many behind
  (20 reloads with idle clients: 21 workers and 82 MiB without it, 9 and 37 MiB with 8).
- ``frontend http`` and ``frontend https`` share the routing: the Host header without
  its port, lower-cased, into ``txn.host``; one ``use_backend`` per route in the table's
  order (first match wins); the default backend last (the Ingresses' defaultBackend, else
  ``kprov-404``). A host that has TLS is redirected from HTTP to HTTPS with 308, as
  ingress-nginx does by default.
- The HTTPS listener serves the default certificate first (the one for a name no
  Ingress lists, and for clients without SNI) and, through the crt-list, each TLS host's
  Secret filtered by SNI on exactly that host.
- One backend per Service port, ``roundrobin`` over the ready pod addresses; an empty one
  answers 503. ``kprov-404`` answers ``404 page not found``.
- A monitor frontend on loopback: ``/healthz`` and HAProxy's Prometheus ``/metrics``.
- Both address families: a listener without an address (``:80``) gets a second ``bind
  :::80 v6only`` when :attr:`ProxySettings.ipv6` is on (the host has IPv6), as
  ingress-nginx listens on ``[::]:80`` unless IPv6 is disabled; so the Ingress and Gateway
  listeners answer on a dual-stack node's IPv6 address too. A listener given an address
  keeps that address alone.

Path conditions follow :func:`~kprov.cluster.ingress.routes.path_matches` exactly: Exact is
``path -m str``; Prefix ``/a/b`` is ``path -m str /a/b`` or ``path -m beg /a/b/``. A path
or host with a character HAProxy's config language would read specially is left out
(with the reason in :attr:`Rendered.skipped`), never half-quoted.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from kprov.cluster.ingress.endpoints import Server
from kprov.cluster.ingress.routes import EXACT, BackendRef, Route, RouteTable

__all__ = [
    "NO_BACKEND",
    "NOT_FOUND_BACKEND",
    "ProxySettings",
    "bind_lines",
    "Rendered",
    "backend_name",
    "filtered_backend_name",
    "render",
    "server_weights",
    "weighted_backend_name",
]

NOT_FOUND_BACKEND = "kprov-404"
NO_BACKEND = "kprov-500"
_SAFE_VALUE = re.compile(r"[A-Za-z0-9 !$%&()*+,./:;<=>?@\[\]^_`{|}~-]+")
_SAFE_TOKEN = re.compile(r"[A-Za-z0-9!#$%&*+.^_`|~-]+")
_SAFE_PATH = re.compile(r"/[A-Za-z0-9/._~!$&()*+,;=:@%-]*")
_SAFE_HOST = re.compile(r"(\*\.)?[a-z0-9]([a-z0-9.-]*[a-z0-9])?")


@dataclass(frozen=True)
class ProxySettings:
    http_bind: str = ":80"
    https_bind: str = ":443"
    monitor_bind: str = "127.0.0.1:10246"
    admin_socket: str = "/run/kprov-ingress/admin.sock"
    default_certificate: str = "/var/lib/kprov/ingress/default.pem"
    crt_list: str = "/var/lib/kprov/ingress/crt-list"
    hard_stop_after: str = "240s"
    maxconn: int = 4000
    timeout_connect: str = "5s"
    timeout_client: str = "60s"
    timeout_server: str = "60s"
    timeout_tunnel: str = "1h"
    #: HAProxy's threads. On a 2-core worker under load, 1 thread served 12,050 requests/s
    #: where 2 served 10,750 (``bench_ingress``): the proxy shares the node with its pods.
    threads: int = 1
    max_reloads_survived: int = 8
    ipv6: bool = False  # listeners without an address listen on IPv6 too (:func:`bind_lines`)


@dataclass
class Rendered:
    config: str
    crt_list: str
    skipped: list[str] = field(default_factory=list)


def backend_name(ref: BackendRef) -> str:
    return f"be:{ref.namespace}:{ref.service}:{ref.port}"


def weighted_backend_name(weighted: tuple[tuple[BackendRef, int], ...]) -> str:
    parts = ".".join(f"{ref.namespace}:{ref.service}:{ref.port}_w{weight}" for ref, weight in weighted)
    return f"bw:{parts}"


def server_weights(weighted: tuple[tuple[BackendRef, int], ...],
                   servers: Mapping[BackendRef, list[Server]]) -> list[tuple[BackendRef, Server, int]]:
    """HAProxy weights (1..256) giving each backend its share of ``weight / total``, split
    evenly over its servers; a backend without servers or with weight 0 gets no line."""
    live = [(ref, weight, servers[ref]) for ref, weight in weighted if weight > 0 and servers.get(ref)]
    total = sum(weight for _ref, weight, _found in live)
    out: list[tuple[BackendRef, Server, int]] = []
    if not total:
        return out
    most = max(weight / len(found) for _ref, weight, found in live)
    for ref, weight, found in live:
        share = max(1, min(256, round(256 * (weight / len(found)) / most)))
        out += [(ref, server, share) for server in found]
    return out


def _host_condition(host: str, any_depth: bool = False) -> str:
    if not host:
        return ""
    if host.startswith("*."):
        suffix = re.escape(host[1:])
        label = ".+" if any_depth else "[^.]+"
        return f"{{ var(txn.host) -m reg '^{label}{suffix}$' }} "
    return f"{{ var(txn.host) -m str {host} }} "


def _extra_conditions(route: Route) -> str:
    parts = [f"{{ method {route.method} }} " if route.method else ""]
    parts += [f"{{ req.hdr({name}) -m str '{value}' }} " for name, value in route.headers]
    parts += [f"{{ url_param({name}) -m str '{value}' }} " for name, value in route.query]
    return "".join(parts)


def _condition(route: Route) -> str:
    host = _host_condition(route.host, route.wildcard_any_depth) + _extra_conditions(route)
    if route.path_type == EXACT:
        return f"{host}{{ path -m str '{route.path}' }}"
    prefix = route.path.rstrip("/")
    if not prefix:
        return host.strip() or "TRUE"
    return f"{host}{{ path -m str '{prefix}' }} || {host}{{ path -m beg '{prefix}/' }}"


def _unsafe(route: Route) -> str:
    if route.host and not _SAFE_HOST.fullmatch(route.host):
        return f"{route.ingress}: host {route.host!r} left out: not a DNS name"
    if not _SAFE_PATH.fullmatch(route.path):
        return f"{route.ingress}: path {route.path!r} left out: characters the proxy does not take"
    for name, value in route.headers + route.query:
        if not _SAFE_TOKEN.fullmatch(name) or not _SAFE_VALUE.fullmatch(value):
            return f"{route.ingress}: match {name!r}={value!r} left out: characters the proxy does not take"
    if route.method and not route.method.isalpha():
        return f"{route.ingress}: method {route.method!r} left out"
    return _unsafe_filter(route)


def filtered_backend_name(route: Route) -> str:
    """The backend of one rule with filters: its actions, then its servers (or redirect)."""
    digest = hashlib.sha256(repr((route.filters, route.backend, route.weighted)).encode()).hexdigest()
    return f"bf:{digest[:16]}"


def _filter_lines(route: Route) -> list[str]:
    lines = []
    for action in route.filters:
        kind = action[0]
        if kind == "redirect":
            _kind, scheme, host, port, code = action
            location = (f"{scheme or '%[ssl_fc,iif(https,http)]'}://{host or '%[var(txn.host)]'}"
                        f"{':' + port if port else ''}%[pathq]")
            lines.append(f"    http-request redirect location {location} code {code}")
            continue
        side, verb = kind.split("-")
        keyword = {"set": "set-header", "add": "add-header", "del": "del-header"}[verb]
        value = f" '{action[2].replace('%', '%%')}'" if verb != "del" else ""
        lines.append(f"    http-{side} {keyword} {action[1]}{value}")
    return lines


def _unsafe_filter(route: Route) -> str:
    for action in route.filters:
        if action[0] == "redirect":
            _kind, scheme, host, port, code = action
            if scheme not in ("", "http", "https") or (host and not _SAFE_HOST.fullmatch(host)) or \
                    not (port == "" or port.isdigit()) or code not in ("301", "302"):
                return f"{route.ingress}: redirect {action[1:]!r} left out"
            continue
        if not _SAFE_TOKEN.fullmatch(action[1]) or (len(action) > 2 and not _SAFE_VALUE.fullmatch(action[2])):
            return f"{route.ingress}: header filter {action[1:]!r} left out: characters the proxy refuses"
    return ""


def _target(route: Route) -> str:
    if route.filters:
        return filtered_backend_name(route)
    if route.weighted:
        return weighted_backend_name(route.weighted)
    return backend_name(route.backend) if route.backend is not None else NO_BACKEND


def _server_line(server: Server) -> str:
    ip, port = server
    address = f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
    return f"    server {ip.replace(':', '_')}_{port} {address}"


def _routing(table: RouteTable, https: bool, skipped: list[str],
             routes: list[Route] | None = None) -> list[str]:
    lines = ["    http-request set-var(txn.host) req.hdr(host),field(1,:),lower"]
    if https:
        lines.append("    http-request set-header X-Forwarded-Proto https")
    else:
        for host in sorted(h for h in table.tls if _SAFE_HOST.fullmatch(h)):
            condition = _host_condition(host).strip()
            lines.append(f"    http-request redirect scheme https code 308 if {condition}")
        lines.append("    http-request set-header X-Forwarded-Proto http")
    for route in table.routes if routes is None else routes:
        reason = _unsafe(route)
        if reason:
            if https or routes is not None:
                skipped.append(reason)
            continue
        lines.append(f"    use_backend {_target(route)} if {_condition(route)}")
    default = backend_name(table.default_backend) if table.default_backend else NOT_FOUND_BACKEND
    lines.append(f"    default_backend {default}")
    return lines


def _crt_list(table: RouteTable, certificates: Mapping[str, str],
              gateway_certificates: Sequence[tuple[str, str]]) -> str:
    """One line per TLS host whose Secret is usable; the others get the default certificate.
    Then the HTTPS listeners': filtered on the listener's hostname, or (no hostname) on the
    certificate's own names."""
    lines = []
    for host, secret in sorted(table.tls.items()):
        path = certificates.get(secret)
        if path and _SAFE_HOST.fullmatch(host):
            lines.append(f"{path} {host}")
    for host, path in gateway_certificates:
        if not host:
            lines.append(path)
        elif _SAFE_HOST.fullmatch(host):
            lines.append(f"{path} {host}")
    return "".join(f"{line}\n" for line in lines)


def _bind_port(bind: str) -> int:
    return int(bind.rpartition(":")[2])


def _bind_host(bind: str) -> str:
    return bind.rpartition(":")[0]


def bind_lines(bind: str, ipv6: bool, options: str = "") -> list[str]:
    """``bind`` (``[IP]:PORT``), plus its IPv6 twin ``:::PORT v6only`` when it names no
    address and ``ipv6`` is on (``v6only``: the IPv4 socket keeps IPv4)."""
    suffix = f" {options}" if options else ""
    lines = [f"    bind {bind}{suffix}"]
    if ipv6 and not _bind_host(bind):
        lines.append(f"    bind :::{_bind_port(bind)} v6only{suffix}")
    return lines


def _merged(ingress_routes: list[Route], gateway_routes: list[Route]) -> list[Route]:
    """One port's Ingress and Gateway routes: exact hosts, then wildcards (longer first), then
    no host; within one host the Ingress's rules come before the HTTPRoutes' (a stable sort)."""
    def key(route: Route) -> tuple[int, int, str]:
        rank = 2 if not route.host else (1 if route.host.startswith("*.") else 0)
        return (rank, -len(route.host) if rank == 1 else 0, route.host)
    return sorted([*ingress_routes, *gateway_routes], key=key)


def _gateway_frontends(table: RouteTable, gateway_routes: Mapping[int, list[Route]],
                       settings: ProxySettings, skipped: list[str]) -> list[str]:
    empty = RouteTable()
    lines: list[str] = []
    for port in sorted(gateway_routes):
        if port in (_bind_port(settings.http_bind), _bind_port(settings.https_bind)):
            continue
        bind = f"{_bind_host(settings.http_bind)}:{port}"
        lines += ["", f"frontend gateway-{port}", *bind_lines(bind, settings.ipv6),
                  *_routing(empty, False, skipped, gateway_routes[port])]
    return lines


def _backends(table: RouteTable, routes: list[Route],
              servers: Mapping[BackendRef, list[Server]]) -> list[str]:
    out: list[str] = []
    refs = set(table.backends())
    refs.update(r.backend for r in routes if r.backend is not None)
    refs.update(ref for r in routes for ref, _weight in r.weighted)
    for ref in sorted(refs, key=lambda r: (r.namespace, r.service, str(r.port))):
        out += ["", f"backend {backend_name(ref)}", "    balance roundrobin"]
        out += [_server_line(server) for server in servers.get(ref, [])]
    groups = sorted({r.weighted for r in routes if r.weighted}, key=weighted_backend_name)
    for weighted in groups:
        out += ["", f"backend {weighted_backend_name(weighted)}", "    balance roundrobin",
                *_weighted_servers(weighted, servers)]
    filtered = {filtered_backend_name(r): r for r in routes if r.filters and not _unsafe_filter(r)}
    for name in sorted(filtered):
        route = filtered[name]
        out += ["", f"backend {name}", "    balance roundrobin", *_filter_lines(route)]
        if any(action[0] == "redirect" for action in route.filters):
            continue
        if route.weighted:
            out += _weighted_servers(route.weighted, servers)
        elif route.backend is not None:
            out += [_server_line(server) for server in servers.get(route.backend, [])]
        else:
            out.append('    http-request return status 500 content-type "text/plain" string "no backend"')
    return out


def _weighted_servers(weighted: tuple[tuple[BackendRef, int], ...],
                      servers: Mapping[BackendRef, list[Server]]) -> list[str]:
    out = []
    for ref, server, weight in server_weights(weighted, servers):
        name = f"    server {ref.namespace}_{ref.service}_"
        line = _server_line(server).replace("    server ", name, 1)
        out.append(f"{line} weight {weight}")
    return out


def render(
    table: RouteTable,
    servers: Mapping[BackendRef, list[Server]],
    certificates: Mapping[str, str],
    settings: ProxySettings,
    gateway_routes: Mapping[int, list[Route]] | None = None,
    gateway_certificates: Sequence[tuple[str, str]] = (),
) -> Rendered:
    """``certificates``: "namespace/secret" → PEM file (certificate and key) of usable Secrets.
    ``gateway_routes``: the HTTPRoutes' rules by listener port, in precedence order; the
    HTTP and HTTPS ports join the Ingress's frontends, every other port gets its own.
    ``gateway_certificates``: the HTTPS listeners' (hostname or "", PEM file)."""
    skipped: list[str] = []
    gateway_routes = gateway_routes or {}
    http_routes = _merged(table.routes, gateway_routes.get(_bind_port(settings.http_bind), []))
    https_routes = _merged(table.routes, gateway_routes.get(_bind_port(settings.https_bind), []))
    all_gateway = [r for port in sorted(gateway_routes) for r in gateway_routes[port]]
    out = [
        "# Written by kprov-ingress from the cluster's Ingresses; every change is overwritten.",
        "global",
        f"    stats socket {settings.admin_socket} mode 600 level admin expose-fd listeners",
        "    stats timeout 2m",
        f"    hard-stop-after {settings.hard_stop_after}",
        f"    mworker-max-reloads {settings.max_reloads_survived}",
        f"    maxconn {settings.maxconn}",
        f"    nbthread {settings.threads}",
        "    log stdout format raw local0",
        "",
        "defaults",
        "    mode http",
        "    log global",
        "    option httplog",
        "    option forwardfor",
        "    option redispatch",
        "    option idle-close-on-response",
        "    retries 2",
        f"    timeout connect {settings.timeout_connect}",
        f"    timeout client {settings.timeout_client}",
        f"    timeout server {settings.timeout_server}",
        f"    timeout tunnel {settings.timeout_tunnel}",
        "    timeout http-request 10s",
        "    timeout http-keep-alive 60s",
        "",
        "frontend monitor",
        f"    bind {settings.monitor_bind}",
        "    http-request set-log-level silent",
        "    monitor-uri /healthz",
        "    http-request use-service prometheus-exporter if { path /metrics }",
        "",
        "frontend http",
        *bind_lines(settings.http_bind, settings.ipv6),
        *_routing(table, False, skipped, http_routes),
        *_gateway_frontends(table, gateway_routes, settings, skipped),
        "",
        "frontend https",
        *bind_lines(settings.https_bind, settings.ipv6,
                    f"ssl crt {settings.default_certificate} crt-list {settings.crt_list}"),
        *_routing(table, True, skipped, https_routes),
        "",
        f"backend {NOT_FOUND_BACKEND}",
        '    http-request return status 404 content-type "text/plain" string "404 page not found"',
        "",
        f"backend {NO_BACKEND}",
        '    http-request return status 500 content-type "text/plain" string "no backend"',
        *_backends(table, all_gateway, servers),
    ]
    return Rendered("\n".join(out) + "\n", _crt_list(table, certificates, gateway_certificates),
                    list(dict.fromkeys(skipped)))
