"""kprov-ingress's process: informers → route table → HAProxy files → a seamless reload.

Five informers (Ingresses, IngressClasses, Services, EndpointSlices, and Secrets of type
``kubernetes.io/tls`` only) mark the state dirty on any event; one sync loop waits a short
moment to gather a burst of events, then renders the whole configuration from the caches
(:mod:`.routes`, :mod:`.endpoints`, :mod:`.haproxy_config`) and, only when the files'
bytes changed, checks and reloads HAProxy (:mod:`.haproxy`). Rendering from the caches,
never from events, keeps it level-based: a missed or merged event cannot leave a stale
route behind.

Every node's instance serves on its own (no leader): they all render the same file from
the same caches. Each writes ``status.loadBalancer.ingress`` of our Ingresses only when it
differs from what it would write; all compute the same value (the addresses of
``--publish-service``'s LoadBalancer status, else the live instances' addresses from their
presence Leases, :mod:`.presence`), so they agree.
With ``ensure_class`` the IngressClass is created when it is missing (the roles' way to
install the default class).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from kprov.cluster.client import EventHandler, Informer
from kprov.cluster.client.errors import AlreadyExists, ApiError, NotFound
from kprov.cluster.client.lease_renewal import renew_lease
from kprov.cluster.client.resources import (
    ENDPOINTSLICES,
    INGRESS_CLASSES,
    INGRESSES,
    LEASES,
    SECRETS,
    SERVICES,
)
from kprov.cluster.client.rest import ApiClient
from kprov.cluster.ingress.certs import ensure_default_certificate, secret_pem, write_private
from kprov.cluster.ingress.endpoints import SERVICE_NAME_LABEL, servers_for
from kprov.cluster.ingress.gateway.crds import (
    GATEWAY_CLASSES,
    GATEWAYS,
    HTTP_ROUTES,
    REFERENCE_GRANTS,
    ensure_crds,
    ensure_gateway_class,
)
from kprov.cluster.ingress.gateway.routing import GatewayResult, gateway_routing
from kprov.cluster.ingress.gateway.status import class_status, gateway_status, route_status
from kprov.cluster.ingress.haproxy import HAProxy, HAProxyError, stamp
from kprov.cluster.ingress.haproxy_config import ProxySettings, render
from kprov.cluster.ingress.presence import LEASE_SELECTOR, PresenceOptions, live_addresses, presence_lease
from kprov.cluster.ingress.routes import DEFAULT_CLASS_ANNOTATION, build_table, is_default_class, is_ours

__all__ = ["IngressDaemon", "IngressOptions", "desired_status"]

log = logging.getLogger(__name__)

Obj = dict[str, Any]


@dataclass
class IngressOptions:
    class_name: str = "kprov"
    controller_name: str = "kprov.io/ingress"
    ensure_class: bool = False
    default_class: bool = False
    publish_service: str = ""  # namespace/name of a LoadBalancer Service whose status is copied
    presence: PresenceOptions | None = None  # this instance's address, announced by a Lease
    default_ssl_certificate: str = ""  # namespace/name of a TLS Secret
    state_dir: Path = Path("/var/lib/kprov/ingress")
    http_address: str = "0.0.0.0:10254"
    haproxy_binary: str = "haproxy"
    settle_s: float = 0.05
    settings: ProxySettings = field(default_factory=ProxySettings)
    gateway_controller_name: str = ""  # serve the Gateway API's classes naming it ("" = off)
    ensure_gateway_crds: bool = False  # create or upgrade kprov's Gateway API CRDs at start
    reserved_ports: frozenset[int] = frozenset()  # no Gateway listener may take these


_NODE_PORTS = frozenset({22, 2379, 2380, 6443, 10249, 10250, 10256})


def _port_of(bind: str) -> int:
    return int(bind.rpartition(":")[2])


def desired_status(options: IngressOptions, services: dict[str, Obj], leases: list[Obj],
                   now: dt.datetime) -> list[dict[str, str]]:
    """``status.loadBalancer.ingress`` for our Ingresses."""
    if options.publish_service:
        service = services.get(options.publish_service) or {}
        entries = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        return [{k: str(e[k]) for k in ("ip", "hostname") if e.get(k)} for e in entries]
    return [{"ip": address} for address in live_addresses(leases, now)]


class _Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.reloads = Counter("kprov_ingress_reloads", "HAProxy reloads (and the first start)",
                               ["result"], registry=self.registry)
        self.apply_seconds = Histogram("kprov_ingress_config_apply_seconds",
                                       "Render, check and reload of a changed configuration",
                                       registry=self.registry)
        self.ingresses = Gauge("kprov_ingress_ingresses", "Ingresses of this class", registry=self.registry)
        self.routes = Gauge("kprov_ingress_routes", "Host/path rules in the configuration",
                            registry=self.registry)


class IngressDaemon:
    def __init__(self, client: ApiClient, options: IngressOptions) -> None:
        self.client = client
        self.options = options
        self.ingresses = Informer(client, INGRESSES)
        self.classes = Informer(client, INGRESS_CLASSES)
        self.services = Informer(client, SERVICES)
        self.slices = Informer(client, ENDPOINTSLICES)
        self.secrets = Informer(client, SECRETS, field_selector="type=kubernetes.io/tls")
        self.informers = [self.ingresses, self.classes, self.services, self.slices, self.secrets]
        self.gateway_informers: list[Informer] = []
        if options.gateway_controller_name:
            self.gateway_informers = [Informer(client, res) for res in
                                      (GATEWAY_CLASSES, GATEWAYS, HTTP_ROUTES, REFERENCE_GRANTS)]
            self.informers += self.gateway_informers
        self.leases: Informer | None = None
        if options.presence is not None and not options.publish_service:
            self.leases = Informer(client, LEASES, namespace=options.presence.namespace,
                                   label_selector=LEASE_SELECTOR)
            self.informers.append(self.leases)
        self.proxy = HAProxy(str(options.state_dir / "haproxy.cfg"), options.haproxy_binary,
                             options.settings.admin_socket)
        self.metrics = _Metrics()
        self._dirty = asyncio.Event()
        self._files: tuple[str, str] = ("", "")
        self._complaints: dict[str, str] = {}
        self.served = asyncio.Event()  # the first configuration is loaded
        mark = EventHandler(self._mark, lambda _old, _new: self._mark(), self._mark)
        for informer in self.informers:
            informer.add_handler(mark)

    def _mark(self, *_objs: Obj) -> None:
        self._dirty.set()

    def ready(self) -> bool:
        return self.served.is_set() and self.proxy.running

    # ---- one sync ---------------------------------------------------------------------

    def _class_state(self) -> tuple[bool, bool]:
        """(our IngressClass exists and names our controller, it is the default class)."""
        ours = self.classes.store.get(self.options.class_name)
        if not ours or (ours.get("spec") or {}).get("controller") != self.options.controller_name:
            return False, False
        return True, is_default_class(ours)

    def _complain(self, key: str, why: str) -> None:
        if self._complaints.get(key) != why:
            self._complaints[key] = why
            log.warning("TLS Secret %s: %s; its hosts get the default certificate", key, why)

    def _certificates(self, secrets: set[str]) -> tuple[dict[str, str], bool]:
        """Write the usable Secrets' PEM files; (secret → path, whether any file changed)."""
        paths: dict[str, str] = {}
        changed = False
        for key in sorted(secrets):
            pem, why = secret_pem(self.secrets.store.get(key))
            if pem is None:
                self._complain(key, why)
                continue
            self._complaints.pop(key, None)
            path = self.options.state_dir / "certs" / (key.replace("/", "_") + ".pem")
            changed |= write_private(path, pem)
            paths[key] = str(path)
        default = Path(self.options.settings.default_certificate)
        if self.options.default_ssl_certificate:
            pem, why = secret_pem(self.secrets.store.get(self.options.default_ssl_certificate))
            if pem is not None:
                changed |= write_private(default, pem)
            else:
                self._complain(self.options.default_ssl_certificate, why)
        ensure_default_certificate(default)
        return paths, changed

    def _ours(self) -> list[Obj]:
        exists, default = self._class_state()
        if not exists:
            return []
        return [i for i in self.ingresses.store.items() if is_ours(i, self.options.class_name, default)]

    def _reserved_ports(self) -> frozenset[int]:
        settings = self.options.settings
        own = {_port_of(settings.https_bind), _port_of(settings.monitor_bind),
               _port_of(self.options.http_address)}
        return self.options.reserved_ports | _NODE_PORTS | own

    def _gateway(self, addresses: list[str]) -> GatewayResult:
        if not self.gateway_informers:
            return GatewayResult()
        classes, gateways, routes, grants = (i.store.items() for i in self.gateway_informers)
        services = {f"{s['metadata'].get('namespace')}/{s['metadata']['name']}": s
                    for s in self.services.store.items()}
        secrets = {f"{s['metadata'].get('namespace')}/{s['metadata']['name']}": s
                   for s in self.secrets.store.items()}
        return gateway_routing(classes, gateways, routes, grants, services,
                               controller_name=self.options.gateway_controller_name,
                               addresses=addresses, reserved_ports=self._reserved_ports(),
                               https_port=_port_of(self.options.settings.https_bind), secrets=secrets)

    def _status_addresses(self) -> list[dict[str, str]]:
        services = {key: self.services.store.get(key) or {} for key in [self.options.publish_service] if key}
        leases = self.leases.store.items() if self.leases is not None else []
        return desired_status(self.options, services, leases, dt.datetime.now(dt.UTC))

    async def sync(self) -> None:
        started = time.monotonic()
        ours = self._ours()
        table = build_table(ours)
        addresses = self._status_addresses()
        gateway = self._gateway([a["ip"] for a in addresses if a.get("ip")])
        backends = set(table.backends())
        for port_routes in gateway.routes_by_port.values():
            backends.update(r.backend for r in port_routes if r.backend is not None)
            backends.update(ref for r in port_routes for ref, _weight in r.weighted)
        by_service: dict[str, list[Obj]] = {}
        for piece in self.slices.store.items():
            meta = piece.get("metadata") or {}
            service = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
            if service:
                by_service.setdefault(f"{meta.get('namespace')}/{service}", []).append(piece)
        servers = {
            ref: servers_for(ref, self.services.store.get(f"{ref.namespace}/{ref.service}"),
                             by_service.get(f"{ref.namespace}/{ref.service}", []))
            for ref in backends
        }
        wanted = set(table.tls.values()) | {secret for _host, secret in gateway.certificates}
        certificates, certs_changed = self._certificates(wanted)
        listener_certificates = [(host, certificates[secret]) for host, secret in gateway.certificates
                                 if secret in certificates]
        rendered = render(table, servers, certificates, self.options.settings, gateway.routes_by_port,
                          listener_certificates)
        self.metrics.ingresses.set(len(ours))
        self.metrics.routes.set(len(table.routes))
        files = (rendered.config, rendered.crt_list)
        if files != self._files or certs_changed or not self.proxy.running:
            for reason in rendered.skipped:
                log.warning("%s", reason)
            write_private(Path(self.options.settings.crt_list), rendered.crt_list.encode())
            config, digest = stamp(rendered.config)
            write_private(Path(self.proxy.config_path), config.encode())
            try:
                await self.proxy.apply(digest)  # ReloadNotTaken: the sync loop tries again
            except HAProxyError as exc:
                self.metrics.reloads.labels("error").inc()
                log.error("HAProxy refused the new configuration, the old one goes on serving: %s", exc)
                self._files = files
                return
            self._files = files
            self.metrics.reloads.labels("success").inc()
            self.metrics.apply_seconds.observe(time.monotonic() - started)
            log.info("configuration applied: %d ingresses, %d routes, %d backends (%.0f ms)",
                     len(ours), len(table.routes), len(servers), (time.monotonic() - started) * 1000)
            self.served.set()
        await self._write_status(ours, addresses)
        if self.gateway_informers:
            await self._write_gateway_status(gateway)

    async def _patch_status(self, informer: Informer, key: str, status: Obj) -> None:
        obj = informer.store.get(key) or {}
        meta = obj.get("metadata") or {}
        try:
            await self.client.patch(informer.resource, meta["name"], {"status": status},
                                    meta.get("namespace"), subresource="status")
        except ApiError as exc:
            log.warning("status of %s %s not written: %s", informer.resource.kind, key, exc)

    async def _write_gateway_status(self, result: GatewayResult) -> None:
        classes, gateways, routes, _grants = self.gateway_informers
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for name, conditions in result.class_conditions.items():
            want = class_status(classes.store.get(name) or {}, conditions, now)
            if want is not None:
                await self._patch_status(classes, name, want)
        for key, computed in result.gateway_status.items():
            want = gateway_status(gateways.store.get(key) or {}, computed, now)
            if want is not None:
                await self._patch_status(gateways, key, want)
        for key, parents in result.route_parents.items():
            controller = self.options.gateway_controller_name
            want = route_status(routes.store.get(key) or {}, parents, controller, now)
            if want is not None:
                await self._patch_status(routes, key, want)

    async def _write_status(self, ours: list[Obj], want: list[dict[str, str]]) -> None:
        for ingress in ours:
            have = ((ingress.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
            if have == want:
                continue
            meta = ingress["metadata"]
            try:
                body = {"status": {"loadBalancer": {"ingress": want}}}
                await self.client.patch(INGRESSES, meta["name"], body, meta.get("namespace"),
                                        subresource="status")
            except ApiError as exc:
                log.warning("status of Ingress %s/%s not written: %s", meta.get("namespace"), meta["name"],
                            exc)

    # ---- the loops --------------------------------------------------------------------

    async def ensure_class(self) -> None:
        body: Obj = {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "IngressClass",
            "metadata": {"name": self.options.class_name},
            "spec": {"controller": self.options.controller_name},
        }
        if self.options.default_class:
            body["metadata"]["annotations"] = {DEFAULT_CLASS_ANNOTATION: "true"}
        with contextlib.suppress(AlreadyExists):
            await self.client.create(INGRESS_CLASSES, body)
            log.info("IngressClass %s created", self.options.class_name)

    async def _keep_presence(self, presence: PresenceOptions) -> None:
        """Renew this instance's Lease; each round also re-reads who is alive (a dead peer's
        Lease expires without any event)."""
        last: Obj | None = None
        while True:
            try:
                last = await renew_lease(self.client, presence_lease(presence, dt.datetime.now(dt.UTC)), last)
            except ApiError as exc:
                log.warning("presence Lease %s not renewed: %s", presence.lease_name, exc)
                last = None
            self._dirty.set()
            await asyncio.sleep(presence.renew_s)

    async def _withdraw(self, presence: PresenceOptions) -> None:
        with contextlib.suppress(NotFound, ApiError, OSError, TimeoutError):
            await asyncio.wait_for(self.client.delete(LEASES, presence.lease_name, presence.namespace), 3)

    async def _sync_loop(self) -> None:
        while True:
            await self._dirty.wait()
            await asyncio.sleep(self.options.settle_s)
            self._dirty.clear()
            try:
                await self.sync()
            except Exception:  # noqa: BLE001 - a failed sync is retried, the proxy keeps serving
                log.exception("sync failed; retrying in 1s")
                await asyncio.sleep(1)
                self._dirty.set()

    async def _serve_http(self) -> web.AppRunner:
        async def healthz(_request: web.Request) -> web.Response:
            if self.served.is_set() and not self.proxy.running:
                return web.Response(status=500, text="haproxy is not running")
            return web.Response(text="ok")

        async def readyz(_request: web.Request) -> web.Response:
            if self.ready():
                return web.Response(text="ok")
            return web.Response(status=503, text="not serving yet")

        async def metrics(_request: web.Request) -> web.Response:
            return web.Response(body=generate_latest(self.metrics.registry), content_type="text/plain",
                                charset="utf-8")

        app = web.Application()
        app.router.add_get("/healthz", healthz)
        app.router.add_get("/readyz", readyz)
        app.router.add_get("/metrics", metrics)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        host, _, port = self.options.http_address.rpartition(":")
        await web.TCPSite(runner, host.strip("[]") or "0.0.0.0", int(port)).start()
        return runner

    async def run(self) -> None:
        self.options.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        Path(self.options.settings.admin_socket).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        http = await self._serve_http()
        while self.options.ensure_gateway_crds:
            try:
                await ensure_crds(self.client)
                if self.options.gateway_controller_name:
                    await ensure_gateway_class(self.client, self.options.gateway_controller_name)
                break
            except (ApiError, OSError, TimeoutError) as exc:  # the informers wait for the CRDs anyway
                log.warning("Gateway API CRDs not installed yet: %s; retrying in 2s", exc)
                await asyncio.sleep(2)
        tasks = [asyncio.create_task(i.run()) for i in self.informers]
        try:
            if self.options.ensure_class:
                await self.ensure_class()
            for informer in self.informers:
                await informer.wait_synced()
            self._dirty.set()
            tasks.append(asyncio.create_task(self._sync_loop()))
            await self.served.wait()
            if self.leases is not None and self.options.presence is not None:
                tasks.append(asyncio.create_task(self._keep_presence(self.options.presence)))
            code = await self.proxy.wait()
            raise RuntimeError(f"haproxy exited with status {code}")
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if self.leases is not None and self.options.presence is not None:
                await self._withdraw(self.options.presence)
            await self.proxy.stop()
            await http.cleanup()
