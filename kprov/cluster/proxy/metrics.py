"""kprov-proxy's Prometheus metrics on ``--metrics-bind-address`` (127.0.0.1:10249, plain
HTTP on loopback as kube-proxy's default): ``kubeproxy_sync_proxy_rules_duration_seconds``
(one observation per rule sync), ``kubeproxy_sync_proxy_rules_last_timestamp_seconds``,
/healthz and /livez (``ok``), and /proxyMode (``nftables``, the mode's name as kube-proxy
answers it; the e2e suite reads it to skip or pick mode-specific specs). Recorded as plain
numbers per sync; formatted at scrape time."""

from __future__ import annotations

import time
from collections.abc import Iterator

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from kprov.cluster.client.metrics import Histogram
from kprov.cluster.nftables.apply import SYNC_BUCKETS

__all__ = ["PROXY_MODE", "ProxyMetrics", "start_metrics"]

PROXY_MODE = "nftables"  # what /proxyMode answers: kprov-proxy programs nftables only

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class ProxyMetrics:
    def __init__(self) -> None:
        self.sync = Histogram(SYNC_BUCKETS)
        self.last_sync = 0.0  # wall-clock time of the last successful sync
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Collector(self))

    def synced(self, seconds: float) -> None:
        self.sync.observe(seconds)
        self.last_sync = time.time()


class _Collector(Collector):
    def __init__(self, metrics: ProxyMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(
            "kubeproxy_sync_proxy_rules_duration_seconds", "SyncProxyRules latency in seconds"
        )
        family.add_metric([], self.metrics.sync.family_buckets(), self.metrics.sync.total)
        yield family
        yield GaugeMetricFamily(
            "kubeproxy_sync_proxy_rules_last_timestamp_seconds",
            "The last time proxy rules were successfully synced",
            value=self.metrics.last_sync,
        )


async def start_metrics(metrics: ProxyMetrics, address: str) -> web.AppRunner | None:
    """Serve /metrics and /healthz on ``address`` (host:port; an empty one or port 0: off)."""
    host, _, port = address.rpartition(":")
    if not address or not int(port or 0):
        return None

    async def serve(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(metrics.registry), headers={"Content-Type": CONTENT_TYPE})

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def proxy_mode(_: web.Request) -> web.Response:
        return web.Response(text=PROXY_MODE)

    app = web.Application()
    app.router.add_get("/metrics", serve)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/livez", healthz)
    app.router.add_get("/proxyMode", proxy_mode)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, host.strip("[]") or "127.0.0.1", int(port), reuse_address=True).start()
    return runner
