"""Running the API server: connect etcd, load the watch cache, bootstrap, serve HTTPS.

:func:`run_server` is what ``kprov-apiserver`` calls; it returns when the process is asked to
stop (SIGTERM/SIGINT) and then shuts down gracefully (:func:`shut_down`: not ready, a delay
for load balancers to drain it, in-flight requests finish) and closes the etcd connection.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass

from kprov.cluster import collector
from kprov.cluster.api.resources import registry_with
from kprov.cluster.api.runtime_config import enabled_group_versions
from kprov.cluster.apiserver.admission.chain import AdmissionChain
from kprov.cluster.apiserver.admission.metrics import AdmissionMetrics
from kprov.cluster.apiserver.admission.names import enabled_plugins, without_effect
from kprov.cluster.apiserver.admission.plugins import default_plugins, implemented_names
from kprov.cluster.apiserver.admission.podsecurity import PLUGIN_NAME, PodSecurity, load_admission_config
from kprov.cluster.apiserver.aggregation.registry import aggregation_of
from kprov.cluster.apiserver.allocators import Allocators
from kprov.cluster.apiserver.authn.extension_auth import publish as publish_extension_auth
from kprov.cluster.apiserver.authz.policy_reconcile import reconcile_policy
from kprov.cluster.apiserver.bootstrap import bootstrap
from kprov.cluster.apiserver.config import ServerConfig
from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.endpoint_leases import EndpointLeases
from kprov.cluster.apiserver.flowcontrol import Controller, ensure_bootstrap_objects
from kprov.cluster.apiserver.flowcontrol.schema_status import DanglingConditions
from kprov.cluster.apiserver.front.app import Filters, build_front
from kprov.cluster.apiserver.front.audit import open_audit_log
from kprov.cluster.apiserver.front.http1 import HttpFront
from kprov.cluster.apiserver.front.metrics import ApiMetrics, resource_namer
from kprov.cluster.apiserver.front.tls import server_ssl_context
from kprov.cluster.apiserver.handlers.writes import guaranteed_update
from kprov.cluster.apiserver.reconcilers.apiservice_controller import APIServiceController
from kprov.cluster.apiserver.reconcilers.crds import CustomResources
from kprov.cluster.apiserver.satoken import ServiceAccountTokens
from kprov.cluster.storage import Codec, EtcdKV, Store, WatchCache, load_encryption_config, resource_prefix

__all__ = ["bucket_function", "run_server", "shut_down", "start_server"]

_log = logging.getLogger(__name__)

def bucket_function(prefixes: set[str]) -> Callable[[str], str]:
    """key -> its resource prefix (``/registry/apps/deployments/``), for the watch cache."""

    def bucket_of(key: str) -> str:
        rest = key[len("/registry/") :]
        first, _, tail = rest.partition("/")
        second = tail.partition("/")[0]
        two = f"/registry/{first}/{second}/"
        if two in prefixes:
            return two
        return f"/registry/{first}/"

    return bucket_of


class Listeners:
    """The server's listening sockets and their connections, closed together (with the
    request filters and the reconcilers a shutdown closes and stops)."""

    def __init__(self, filters: Filters, reconcilers: _Reconcilers) -> None:
        self._servers: list[tuple[asyncio.AbstractServer, HttpFront]] = []
        self.filters = filters
        self.reconcilers = reconcilers

    def add(self, server: asyncio.AbstractServer, front: HttpFront) -> None:
        self._servers.append((server, front))

    async def cleanup(self, timeout: float = 1.0) -> None:
        """Stop accepting, then close connections as their requests finish."""
        for server, _ in self._servers:
            server.close()
        for _, front in self._servers:
            await front.shutdown(timeout)


async def start_server(config: ServerConfig) -> tuple[Listeners, ApiContext, EtcdKV]:
    """The server's start, as phases: storage and its watch cache, the request filters,
    the objects and reconcilers every server keeps, then the listening sockets."""
    # read first: admission flags or a configuration upstream refuses stop the server at once
    enabled = enabled_plugins(config.enable_admission_plugins, config.disable_admission_plugins)
    pod_security = None
    if PLUGIN_NAME in enabled:
        pod_security = PodSecurity(load_admission_config(config.admission_control_config_file))
    kv, ctx, metrics = await _open_storage(config, enabled)
    if pod_security is not None:
        ctx.shared(PodSecurity, lambda: pod_security)  # the configured one (before any write)
    filters = _install_filters(ctx, config, metrics, pod_security)
    reconcilers = await _start_reconcilers(ctx, config)
    return await _listen(ctx, config, filters, reconcilers), ctx, kv


async def _open_storage(
    config: ServerConfig, enabled: frozenset[str]
) -> tuple[EtcdKV, ApiContext, ApiMetrics | None]:
    """etcd, the store over it and the watch cache, loaded (retried while etcd starts); the
    admission chain of the ``enabled`` plugins."""
    kv = EtcdKV(config.etcd)
    await kv.connect()
    encryption = (
        load_encryption_config(config.encryption_provider_config)
        if config.encryption_provider_config
        else None
    )
    codec = Codec(encryption)
    registry = registry_with(enabled_group_versions(config.runtime_config))
    prefixes = {resource_prefix(i.group, i.resource) for i in registry}
    bucket_of = bucket_function(prefixes)
    cache = WatchCache(kv, codec, bucket_of, capacity=config.watch_cache_capacity)
    metrics: ApiMetrics | None = None
    holder: list[ApiContext] = []  # the registry changes with CRDs: read it at scrape time
    store = Store(kv, codec)
    if config.metrics:
        resource_of = resource_namer(bucket_of, lambda: holder[0].registry if holder else registry)
        metrics = ApiMetrics(resource_of, cache.scope_sizes, cache.consistent_reads)
        store.on_etcd_request = metrics.etcd_request
    store.on_written = cache.adopt
    for attempt in range(60):
        try:
            await cache.start()
            break
        except Exception as exc:  # etcd still starting
            if attempt == 59:
                raise
            _log.warning("waiting for etcd: %s", exc)
            await asyncio.sleep(0.5)
    admission_metrics = None
    if metrics is not None:
        admission_metrics = AdmissionMetrics()
        metrics.register(admission_metrics)
    plugins = default_plugins(guaranteed_update)
    named = [*config.enable_admission_plugins, *config.disable_admission_plugins]
    ignored = without_effect(named, implemented_names(plugins))
    if ignored:  # upstream's names, accepted as kube-apiserver accepts them
        _log.warning("admission plugins without effect (kprov has no such plugin): %s", ", ".join(ignored))
    chain = AdmissionChain(plugins, enabled, admission_metrics)
    ctx = ApiContext(config, registry, store, cache, admission=chain)
    holder.append(ctx)
    return kv, ctx, metrics


def _install_filters(
    ctx: ApiContext, config: ServerConfig, metrics: ApiMetrics | None, pod_security: PodSecurity | None
) -> Filters:
    """What every request passes: priority and fairness, metrics, the audit log, token checks."""
    apf = None
    if config.enable_priority_and_fairness:
        apf = Controller(
            ctx.cache.scope,
            config.max_requests_inflight + config.max_mutating_requests_inflight,
            changes=ctx.cache.changes,
        )
        if metrics is not None:
            metrics.register(apf.metrics.collector(apf.nominal_seats))
    if metrics is not None:
        ctx.watch_metrics = metrics
        if pod_security is not None:
            metrics.register(pod_security.metrics.collector())
    audit = open_audit_log(
        config.audit_policy_file,
        config.audit_log_path,
        config.audit_log_maxsize_mb,
        config.audit_log_maxbackup,
        config.audit_log_maxage_days,
    )
    if config.service_account_key_files or config.service_account_signing_key_file:
        ctx.sa_tokens = ServiceAccountTokens.from_files(
            config.service_account_signing_key_file,
            list(config.service_account_key_files),
            config.service_account_issuer,
            config.api_audiences,
        )
    return Filters(metrics, audit, apf)


@dataclass(frozen=True)
class _Reconcilers:
    """The server's own background loops, stopped in :func:`shut_down`'s order."""

    leases: EndpointLeases
    custom_resources: CustomResources
    apiservices: APIServiceController
    dangling: DanglingConditions


async def _start_reconcilers(ctx: ApiContext, config: ServerConfig) -> _Reconcilers:
    """The objects every cluster has, the RBAC policy, and the server's own reconcilers:
    custom resources, extension authentication, APIServices, the endpoint lease."""
    ip_range, port_range = config.service_cluster_ip_range, config.service_node_port_range
    allocators = Allocators(ctx.store, ctx.cache, ip_range, port_range)
    ctx.allocators = allocators
    await bootstrap(ctx, allocators.first_ip)
    await reconcile_policy(ctx)
    await ensure_bootstrap_objects(ctx)
    dangling = DanglingConditions(ctx)
    dangling.start()
    custom_resources = CustomResources(ctx)
    await custom_resources.start()
    ctx.custom_resources = custom_resources
    await publish_extension_auth(ctx)
    apiservices = APIServiceController(ctx, aggregation_of(ctx))
    await apiservices.start()
    ctx.apiservices = apiservices
    leases = EndpointLeases(ctx, ttl_s=config.endpoint_lease_ttl_s)
    try:
        await leases.beat()  # listed in the kubernetes Endpoints before serving
    except Exception as exc:  # etcd slow to answer: the renewal loop lists it soon
        _log.warning("endpoint lease: %r", exc)
    leases.start()
    return _Reconcilers(leases, custom_resources, apiservices, dangling)


async def _listen(
    ctx: ApiContext, config: ServerConfig, filters: Filters, reconcilers: _Reconcilers
) -> Listeners:
    """HTTPS on the secure port; plain HTTP on loopback when an insecure port is asked for."""
    loop = asyncio.get_running_loop()
    ssl_context = server_ssl_context(config.tls_cert_file, config.tls_key_file, config.client_ca_file)
    listeners = Listeners(filters, reconcilers)
    front = build_front(ctx, filters)
    server = await loop.create_server(
        front,
        config.bind_address,
        config.secure_port,
        ssl=ssl_context,
        backlog=1024,
        reuse_port=config.workers > 1,
    )
    listeners.add(server, front)
    if config.insecure_port:
        local = build_front(ctx, filters, insecure_local=True)
        server = await loop.create_server(
            local, "127.0.0.1", config.insecure_port, reuse_port=config.workers > 1
        )
        listeners.add(server, local)
    return listeners


async def run_server(config: ServerConfig) -> None:
    listeners, ctx, kv = await start_server(config)
    _log.info(
        "serving on https://%s:%d (etcd %s, metrics %s, audit log %s)",
        config.bind_address, config.secure_port, ",".join(config.etcd.servers),
        "on" if config.metrics else "off", config.audit_log_path or "off",
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    collector.settle()  # after the handlers: a SIGTERM meanwhile must still stop cleanly
    await stop.wait()
    await shut_down(config, ctx, listeners)
    audit = listeners.filters.audit
    if audit is not None:
        audit.writer.close()
    await kv.close()


async def shut_down(config: ServerConfig, ctx: ApiContext, listeners: Listeners) -> None:
    """Graceful stop, as kube-apiserver's: /readyz fails at once and the server leaves the
    kubernetes Endpoints, requests are still served for ``--shutdown-delay-duration`` (load
    balancers checking /readyz stop sending new connections meanwhile), then the listeners
    close, in-flight requests finish (``shutdown_timeout_s``) and watches end."""
    ctx.shutting_down = True
    reconcilers = listeners.reconcilers
    await reconcilers.leases.stop()
    if config.shutdown_delay_s > 0:
        _log.info("shutting down: /readyz fails, still serving for %.1fs", config.shutdown_delay_s)
        await asyncio.sleep(config.shutdown_delay_s)
    await listeners.cleanup(config.shutdown_timeout_s)
    await reconcilers.custom_resources.stop()
    await reconcilers.apiservices.stop()
    await reconcilers.dangling.stop()
    await ctx.cache.stop()
