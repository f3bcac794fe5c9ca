"""The NetworkPolicy agent inside kprov-proxy: informers in, table ``ip kprov-netpol`` out.

Design: three informers of its own (NetworkPolicies, Pods, Namespaces) plus the proxy's
Node informer (this node's pod CIDR) set a "changed" flag; the loop lets a burst settle,
compiles this node's ruleset (:func:`~.compiler.compile_node`, pure) and hands it to the
the shared :class:`~kprov.cluster.nftables.apply.NftApplier` for this table: the first sync (and
any after a failure or a vanished table) writes the whole table in one transaction, later
ones only the chains, sets and elements that differ. Pods are slimmed to what policies read
(labels, node, IP, phase, named ports); a pod status change that moves none of these (a
probe result, a restart count) does not wake the loop.

New pods: the table drops traffic of a pod IP in this node's pod CIDR that is not yet in
set ``local-pods``, so a pod is unreachable until the sync that knows its IP has also put
its policies in force (one transaction). ``synced`` turns true after the first successful
sync following the informers' initial lists; ``kprov verify`` reads it from /metrics.

Dual-stack: when this Node's ``spec.podCIDRs`` has an IPv6 range, the same policies are also
compiled for IPv6 into table ``ip6 kprov-netpol`` (its own applier); an IPv4-only node has
the one ``ip`` table it always had.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import subprocess
import time
from collections.abc import Iterator, Sequence
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from kprov.cluster.client import EventHandler, Informer
from kprov.cluster.client.metrics import Histogram
from kprov.cluster.client.resources import NAMESPACES, NETWORK_POLICIES, PODS
from kprov.cluster.client.rest import ApiClient
from kprov.cluster.netpol.compiler import NETPOL_TABLE, NodeScope, compile_node
from kprov.cluster.nftables.apply import SYNC_BUCKETS, NftApplier
from kprov.cluster.nftables.ruleset import FAMILIES, Ruleset

__all__ = ["NetpolAgent", "NetpolMetrics", "slim_pod"]

log = logging.getLogger(__name__)
Obj = dict[str, Any]


def slim_pod(pod: Obj) -> Obj:
    """The parts of a Pod that policies read; two pods equal here compile the same."""
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    return {
        "metadata": {
            "name": meta.get("name"),
            "namespace": meta.get("namespace"),
            "labels": meta.get("labels") or {},
            "resourceVersion": meta.get("resourceVersion"),
        },
        "spec": {
            "nodeName": spec.get("nodeName"),
            "hostNetwork": bool(spec.get("hostNetwork")),
            "containers": [
                {"ports": [p for p in c.get("ports") or [] if p.get("name")]}
                for c in spec.get("containers") or []
            ],
        },
        "status": {"podIP": status.get("podIP"), "podIPs": status.get("podIPs") or [],
                   "phase": status.get("phase")},
    }


def _slim_namespace(namespace: Obj) -> Obj:
    meta = namespace.get("metadata") or {}
    return {"metadata": {"name": meta.get("name"), "labels": meta.get("labels") or {}}}


def _facts(obj: Obj) -> Any:
    return {key: value for key, value in obj.items() if key not in ("apiVersion", "kind")} | {
        "metadata": {k: v for k, v in (obj.get("metadata") or {}).items() if k != "resourceVersion"}
    }


def _table(family: int) -> str:
    return f"{FAMILIES[family].table_family} {NETPOL_TABLE}"


def _pod_cidrs(node: Obj) -> dict[int, str]:
    """The node's pod ranges by family (``spec.podCIDRs``, else ``spec.podCIDR``), first of each."""
    spec = node.get("spec") or {}
    found: dict[int, str] = {}
    for text in spec.get("podCIDRs") or ([spec["podCIDR"]] if spec.get("podCIDR") else []):
        try:
            found.setdefault(ipaddress.ip_network(str(text), strict=False).version, str(text))
        except ValueError:
            continue
    return found


def _rule_count(ruleset: Ruleset) -> int:
    return sum(len(chain.rules) for chain in ruleset.chains.values())


class NetpolMetrics:
    """``kprov_netpol_sync_duration_seconds`` (compile + apply), ``kprov_netpol_rules``,
    ``kprov_netpol_last_sync_timestamp_seconds`` and ``kprov_netpol_synced`` (0/1)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.sync = Histogram(SYNC_BUCKETS)
        self.rules = 0
        self.selected_pods = 0
        self.last_sync = 0.0
        self.synced = False
        registry.register(_Collector(self))

    def record(self, seconds: float, ruleset: Ruleset) -> None:
        self.sync.observe(seconds)
        self.rules = _rule_count(ruleset)
        self.selected_pods = len(
            ruleset.elements.get("ingress-pods", {}).keys() | ruleset.elements.get("egress-pods", {}).keys()
        )
        self.last_sync = time.time()
        self.synced = True


class _Collector(Collector):
    def __init__(self, metrics: NetpolMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(
            "kprov_netpol_sync_duration_seconds",
            "NetworkPolicy rule sync (compile and apply) latency in seconds",
        )
        family.add_metric([], self.metrics.sync.family_buckets(), self.metrics.sync.total)
        yield family
        yield GaugeMetricFamily(
            "kprov_netpol_rules", "Rules in this node's NetworkPolicy table", value=self.metrics.rules
        )
        yield GaugeMetricFamily(
            "kprov_netpol_isolated_pods",
            "Local pods that some NetworkPolicy isolates",
            value=self.metrics.selected_pods,
        )
        yield GaugeMetricFamily(
            "kprov_netpol_last_sync_timestamp_seconds",
            "The last time NetworkPolicy rules were successfully synced",
            value=self.metrics.last_sync,
        )
        yield GaugeMetricFamily(
            "kprov_netpol_synced",
            "1 once the rules of the first complete view of the cluster are in force",
            value=1.0 if self.metrics.synced else 0.0,
        )


class NetpolAgent:
    def __init__(
        self,
        client: ApiClient,
        hostname: str,
        nodes: Informer,
        registry: CollectorRegistry,
        *,
        log_drops: bool = False,
        sync_period: float = 30.0,
        min_sync_period: float = 0.05,
        nft_prefix: Sequence[str] = (),
    ) -> None:
        self.hostname = hostname
        self.nodes = nodes
        self.log_drops = log_drops
        self.sync_period = sync_period
        self.min_sync_period = min_sync_period
        self.metrics = NetpolMetrics(registry)
        self.nft_prefix = list(nft_prefix)  # e.g. ``ip netns exec NAME`` (the bench)
        self.appliers: dict[int, NftApplier] = {4: self._applier(4)}  # and 6 once dual-stack
        self.policies = Informer(client, NETWORK_POLICIES)
        self.pods = Informer(client, PODS, transform=slim_pod)
        self.namespaces = Informer(client, NAMESPACES, transform=_slim_namespace)
        self._changed = asyncio.Event()

    def _wire(self) -> None:
        def mark(*_objs: Obj) -> None:
            self._changed.set()

        def moved(old: Obj, new: Obj) -> None:
            if _facts(old) != _facts(new):
                self._changed.set()

        for informer in (self.policies, self.pods, self.namespaces):
            informer.add_handler(EventHandler(mark, moved, mark))

        def node_moved(old: Obj, new: Obj) -> None:
            if _pod_cidrs(old) != _pod_cidrs(new):
                self._changed.set()

        self.nodes.add_handler(EventHandler(None, node_moved, None))

    def _applier(self, family: int) -> NftApplier:
        return NftApplier(self.nft_prefix, table=_table(family))

    def _scopes(self) -> list[NodeScope]:
        """IPv4's scope always (as before dual-stack), IPv6's when the node has an IPv6 range."""
        own = next((n for n in self.nodes.store.items() if n["metadata"]["name"] == self.hostname), None)
        cidrs = _pod_cidrs(own or {})
        scopes = [NodeScope(self.hostname, cidrs.get(4, ""), self.log_drops)]
        if 6 in cidrs:
            scopes.append(NodeScope(self.hostname, cidrs[6], self.log_drops, family=6))
        return scopes

    def _table_present(self, family: int = 4) -> bool:
        command = [*self.nft_prefix, "nft", "list", "table", *_table(family).split()]
        return subprocess.run(command, capture_output=True, check=False).returncode == 0

    def _sync(
        self,
        scopes: list[NodeScope],
        policies: list[Obj],
        pods: list[Obj],
        namespaces: list[Obj],
        check: bool,
    ) -> Ruleset:
        """Sync each family's table; returns the IPv4 ruleset (what the metrics describe)."""
        rulesets = []
        for scope in scopes:
            if scope.family not in self.appliers:
                self.appliers[scope.family] = self._applier(scope.family)
            applier = self.appliers[scope.family]
            if check and applier.applied is not None and not self._table_present(scope.family):
                log.warning("table %s is gone; recreating it", _table(scope.family))
                applier.forget()
            ruleset = compile_node(scope, policies, pods, namespaces)
            outcome = applier.apply(ruleset)
            if outcome != "unchanged":
                log.info(
                    "network policy rules applied to %s (%s): %d policies, %d rules",
                    _table(scope.family),
                    outcome,
                    len(policies),
                    _rule_count(ruleset),
                )
            rulesets.append(ruleset)
        return rulesets[0]

    async def run(self) -> None:
        """Run until cancelled. The Node informer is the proxy's and is run by it."""
        self._wire()
        tasks = [asyncio.create_task(i.run()) for i in (self.policies, self.pods, self.namespaces)]
        try:
            for informer in (self.policies, self.pods, self.namespaces, self.nodes):
                await informer.wait_synced()
            self._changed.set()
            backoff = 0.5
            while True:
                check = False
                try:
                    async with asyncio.timeout(self.sync_period):
                        await self._changed.wait()
                except TimeoutError:
                    check = True
                self._changed.clear()
                await asyncio.sleep(self.min_sync_period)
                snapshot = (
                    self._scopes(),
                    self.policies.store.items(),
                    self.pods.store.items(),
                    self.namespaces.store.items(),
                )
                try:
                    started = time.perf_counter()
                    ruleset = await asyncio.to_thread(self._sync, *snapshot, check)
                    self.metrics.record(time.perf_counter() - started, ruleset)
                    backoff = 0.5
                except Exception:
                    log.exception("network policy sync failed; retrying in %.1fs", backoff)
                    for applier in self.appliers.values():
                        applier.forget()
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 30.0)
                    self._changed.set()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
