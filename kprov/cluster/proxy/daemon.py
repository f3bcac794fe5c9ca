"""kprov-proxy's loop: informers in, one nftables transaction out, plus the node's network.

Three informers (Services, EndpointSlices, Nodes; the first two without objects labelled
``service.kubernetes.io/service-proxy-name`` or ``service.kubernetes.io/headless``, as
kube-proxy lists them) feed a :class:`~.tracker.ServiceTracker`
and set a "changed" flag; the loop waits for a change (or the resync period), lets a burst
settle for ``min_sync_period``, then syncs:

1. service ports of the dirty services -> :class:`~.rules.RulesCompiler` -> ruleset, per
   address family the node serves (:mod:`.families`: ``ip kprov``, and ``ip6 kprov`` on a
   dual-stack node);
2. :class:`~kprov.cluster.nftables.apply.NftApplier` applies it only if it differs (a delta
   transaction, or a full one on the first sync / after a failure / if the table vanished);
3. stale UDP conntrack entries of removed endpoints are deleted;
4. with network management on: the CNI conflist from this Node's podCIDR, and routes to the
   other nodes' pod CIDRs (:mod:`kprov.cluster.network`);
5. with ``announce_load_balancer_ips`` on: the LoadBalancer addresses this node qualifies
   for go to the layer-2 speaker (:mod:`.speaker`), which contends for each one's Lease and
   makes the winner answer ARP (IPv4) or NDP (IPv6) for it.

With ``network_policy`` on, the NetworkPolicy agent (:mod:`kprov.cluster.netpol.agent`) runs
beside the loop: it shares the Node informer, the nft writer and the /metrics registry, and
owns its own table (``ip kprov-netpol``) and sync loop.

Blocking work (nft, conntrack, ip) runs in a worker thread; informer handlers and the
tracker stay on the event loop. A failed sync is retried with backoff and shows in healthz.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kprov.cluster.client import EventHandler, Informer
from kprov.cluster.client.resources import ENDPOINTSLICES, NODES, SERVICES
from kprov.cluster.client.rest import ApiClient
from kprov.cluster.netpol.agent import NetpolAgent
from kprov.cluster.network.cni import conflist, write_conflist
from kprov.cluster.network.routes import (
    RouteManager,
    local_networks,
    node_internal_ip,
    node_internal_ips,
    node_pod_cidrs,
    plan_routes,
)
from kprov.cluster.proxy.families import FamilyProxier, by_family, families, family_settings, sync_families
from kprov.cluster.proxy.healthz import HealthState, start_healthz
from kprov.cluster.proxy.l2_candidates import announceable, node_qualifies
from kprov.cluster.proxy.metrics import ProxyMetrics, start_metrics
from kprov.cluster.proxy.rules import ProxySettings
from kprov.cluster.proxy.service_health import ServiceHealthServers, health_checks
from kprov.cluster.proxy.servicemap import PROXY_SELECTOR, ServicePort
from kprov.cluster.proxy.speaker import L2Speaker
from kprov.cluster.proxy.tracker import Changes, ServiceTracker

__all__ = ["ProxyDaemon", "ProxyOptions"]

log = logging.getLogger(__name__)

Obj = dict[str, Any]


@dataclass
class ProxyOptions:
    hostname: str = field(default_factory=socket.gethostname)
    node_ips: tuple[str, ...] = ()  # of either family, primary first
    cluster_cidr: str = ""  # comma list, one CIDR per family, primary first
    healthz_address: str = "0.0.0.0:10256"
    metrics_address: str = ""  # host:port of /metrics ("" : off)
    sync_period: float = 30.0
    min_sync_period: float = 0.05
    cni_conf_dir: Path | None = None  # None: do not write the CNI config
    manage_routes: bool = False
    network_policy: bool = False  # run the NetworkPolicy agent (kprov.cluster.netpol.agent)
    log_dropped_packets: bool = False  # the agent's drops log at kernel debug level
    announce_load_balancer_ips: bool = False  # layer-2 announcement (kprov.cluster.proxy.speaker)
    state_dir: Path = Path("/run/kprov-proxy")  # what this node announces, for a restart to clean up


def _node_facts(node: Obj) -> tuple[tuple[str, ...], tuple[tuple[int, str], ...], bool]:
    addresses = tuple(sorted(node_internal_ips(node).items()))
    return (tuple(node_pod_cidrs(node)), addresses, node_qualifies(node))


# upstream kube-proxy's conntrack defaults (KubeProxyConntrackConfiguration): established TCP
# flows kept a day, half-closed (CLOSE_WAIT) ones an hour (the kernel's own: 5 days, 60 s)
CONNTRACK_TIMEOUTS = {
    "net.netfilter.nf_conntrack_tcp_timeout_established": "86400",
    "net.netfilter.nf_conntrack_tcp_timeout_close_wait": "3600",
}


def _write_sysctl(name: str, value: str) -> None:
    path = Path("/proc/sys") / name.replace(".", "/")
    with contextlib.suppress(OSError):
        if path.exists() and path.read_text().strip() != value:
            path.write_text(value)


class ProxyDaemon:
    def __init__(self, client: ApiClient, options: ProxyOptions) -> None:
        self.client = client
        self.options = options
        self.cluster_cidrs = tuple(c for c in options.cluster_cidr.split(",") if c)
        self.families = families(options.node_ips, self.cluster_cidrs)
        self.tracker = ServiceTracker(self.families)
        self.health = HealthState()
        self.metrics = ProxyMetrics()
        self.proxiers = [FamilyProxier(family) for family in self.families]  # primary first
        self._changed = asyncio.Event()
        self.services = Informer(client, SERVICES, label_selector=PROXY_SELECTOR)
        self.slices = Informer(client, ENDPOINTSLICES, label_selector=PROXY_SELECTOR)
        self.nodes = Informer(client, NODES)
        self._cni_written = ""
        self._routes = RouteManager(options.node_ips[0]) if options.node_ips else None
        self.speaker: L2Speaker | None = None
        if options.announce_load_balancer_ips:
            self.speaker = L2Speaker(client, options.hostname, options.state_dir, self.services.store.get)
        self.netpol: NetpolAgent | None = None
        if options.network_policy:
            self.netpol = NetpolAgent(
                client,
                options.hostname,
                self.nodes,
                self.metrics.registry,
                log_drops=options.log_dropped_packets,
                sync_period=options.sync_period,
                min_sync_period=options.min_sync_period,
            )

    # ---- informer handlers (event loop) -------------------------------------------------
    def _mark(self) -> None:
        self.health.queued()
        self._changed.set()

    def _wire(self) -> None:
        t = self.tracker

        def on(fn: Any) -> Any:
            def handler(*objs: Obj) -> None:
                fn(*objs)
                self._mark()

            return handler

        self.services.add_handler(
            EventHandler(on(t.set_service), on(lambda _old, new: t.set_service(new)), on(t.delete_service))
        )
        self.slices.add_handler(
            EventHandler(on(t.set_slice), on(lambda old, new: t.set_slice(new, old)), on(t.delete_slice))
        )
        def node_moved(old: Obj, new: Obj) -> None:  # heartbeats alone change nothing here
            if _node_facts(old) != _node_facts(new):
                self._mark()

        self.nodes.add_handler(EventHandler(on(lambda _n: None), node_moved, on(lambda _n: None)))

    # ---- sync (worker thread for the blocking parts) ------------------------------------
    def _settings(self, nodes: list[Obj]) -> list[ProxySettings]:
        """One family's settings per proxier: its node addresses (flags, then the Node's
        InternalIPs of that family) and its cluster CIDR."""
        ips = list(self.options.node_ips)
        own = next((n for n in nodes if n["metadata"]["name"] == self.options.hostname), None)
        if own is not None:
            internal = node_internal_ip(own)
            if internal and internal not in ips:
                ips.append(internal)
            for address in by_family(node_internal_ips(own).values()).get(6, []):
                if address not in ips:
                    ips.append(address)
        name = self.options.hostname
        return [family_settings(p.family, ips, self.cluster_cidrs, name) for p in self.proxiers]

    def _sync_network(self, nodes: list[Obj]) -> None:
        own = next((n for n in nodes if n["metadata"]["name"] == self.options.hostname), None)
        cidr = ",".join(node_pod_cidrs(own or {}))
        if self.options.cni_conf_dir is not None and cidr and cidr != self._cni_written:
            if write_conflist(self.options.cni_conf_dir, conflist(cidr.split(","))):
                log.info("wrote the CNI config for pod CIDRs %s", cidr)
            self._cni_written = cidr
        if self.options.manage_routes and self._routes is not None:
            underlay = ipaddress.ip_address(self._routes.node_ip).version
            plan = plan_routes(nodes, self.options.hostname, local_networks(), underlay)
            for change in self._routes.apply(plan):
                log.info("route %s", change)

    def _sync(
        self, settings: list[ProxySettings], changes: Changes, nodes: list[Obj], check: bool
    ) -> list[list[ServicePort]]:
        """Apply the tracker's changes to every family's table; each family's service ports."""
        for proxier in self.proxiers:
            if check and proxier.applier.applied is not None and not proxier.table_present():
                log.warning("table %s is gone; recreating it", proxier.table)
                proxier.applier.forget()
        outcomes = sync_families(self.proxiers, settings, lambda family: self.tracker.ports(family, changes))
        ports = [proxier.applied_ports for proxier in self.proxiers]
        for proxier, outcome, family_ports in zip(self.proxiers, outcomes, ports, strict=True):
            if outcome != "unchanged":
                log.info("rules applied to %s (%s): %d service ports",
                         proxier.table, outcome, len(family_ports))
        if self.options.manage_routes or self.options.cni_conf_dir is not None:
            self._sync_network(nodes)
        return ports

    def _announce(self, speaker: L2Speaker, settings: list[ProxySettings],
                  ports: list[list[ServicePort]], nodes: list[Obj]) -> None:
        """Layer-2 announcements of every family this node has an address of (ARP for IPv4,
        NDP for IPv6): each family's load-balancer addresses from its own service ports."""
        wanted: dict[str, tuple[str, ...]] = {}
        node_ip = {4: "", 6: ""}
        for family_settings_, family_ports in zip(settings, ports, strict=True):
            if not family_settings_.node_ips:
                continue
            node_ip[family_settings_.family] = family_settings_.node_ips[0]
            wanted.update(announceable(family_ports, nodes, self.options.hostname))
        speaker.update(wanted, node_ip[4], node_ip[6])

    # ---- main loop ----------------------------------------------------------------------
    async def run(self) -> None:
        if self.options.manage_routes:
            _write_sysctl("net.ipv4.ip_forward", "1")
        _write_sysctl("net.bridge.bridge-nf-call-iptables", "1")
        for name, value in CONNTRACK_TIMEOUTS.items():
            _write_sysctl(name, value)
        self._wire()
        tasks = [asyncio.create_task(i.run()) for i in (self.services, self.slices, self.nodes)]
        if self.netpol is not None:
            tasks.append(asyncio.create_task(self.netpol.run()))
        healthz = await start_healthz(self.health, self.options.healthz_address)
        metrics = await start_metrics(self.metrics, self.options.metrics_address)
        service_health = ServiceHealthServers()
        try:
            if self.speaker is not None:
                await self.speaker.start()
            for informer in (self.services, self.slices, self.nodes):
                await informer.wait_synced()
            backoff = 0.5
            self._changed.set()
            while True:
                check = False
                try:
                    async with asyncio.timeout(self.options.sync_period):
                        await self._changed.wait()
                except TimeoutError:
                    check = True
                self._changed.clear()
                await asyncio.sleep(self.options.min_sync_period)
                nodes = self.nodes.store.items()
                settings = self._settings(nodes)
                changes = self.tracker.take_changes()  # here: the informers feed the tracker in this thread
                try:
                    started = time.perf_counter()
                    ports = await asyncio.to_thread(self._sync, settings, changes, nodes, check)
                    self.metrics.synced(time.perf_counter() - started)
                    self.health.synced()
                    # health check ports: the primary family's
                    await service_health.update(health_checks(ports[0], self.options.hostname))
                    if self.speaker is not None:
                        self._announce(self.speaker, settings, ports, nodes)
                    backoff = 0.5
                except Exception:
                    log.exception("sync failed; retrying in %.1fs", backoff)
                    for proxier in self.proxiers:
                        proxier.reset()
                    self.tracker.mark_all_dirty()
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 30.0)
                    self._mark()
        finally:
            if self.speaker is not None:
                await self.speaker.close()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await service_health.close()
            await healthz.cleanup()
            if metrics is not None:
                await metrics.cleanup()
