"""kprov-dns's HTTP side: /healthz (the loop answers), /readyz (informers synced) and
Prometheus /metrics.

The hot path only bumps plain integers (:class:`~.server.ServerStats`); a custom
prometheus_client collector turns them into counters at scrape time, in a registry of
this server's own (no module-level registry).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from kprov.cluster.dns.server import DnsServer

__all__ = ["start_http"]


class _DnsCollector(Collector):
    def __init__(self, server: DnsServer) -> None:
        self.server = server

    def collect(self) -> Iterator[Metric]:
        s = self.server.stats
        requests = CounterMetricFamily("kprov_dns_requests", "DNS requests received", labels=["proto"])
        requests.add_metric(["udp"], s.udp)
        requests.add_metric(["tcp"], s.tcp)
        yield requests
        answered = CounterMetricFamily("kprov_dns_answers", "Answers by source", labels=["source"])
        answered.add_metric(["cache"], s.cache_hits)
        answered.add_metric(["zone"], s.zone)
        answered.add_metric(["forward"], s.forwarded)
        yield answered
        rcodes = CounterMetricFamily("kprov_dns_responses_rcode", "Non-NOERROR responses",
                                     labels=["rcode"])
        rcodes.add_metric(["NXDOMAIN"], s.nxdomain)
        rcodes.add_metric(["SERVFAIL"], s.servfail)
        rcodes.add_metric(["FORMERR"], s.formerr)
        yield rcodes
        yield CounterMetricFamily("kprov_dns_truncated", "UDP answers truncated (TC set)", value=s.truncated)
        fwd = self.server.forwarder
        if fwd is not None:
            cache = CounterMetricFamily("kprov_dns_forward_cache", "Forward cache lookups", labels=["result"])
            cache.add_metric(["hit"], fwd.hits)
            cache.add_metric(["miss"], fwd.misses)
            yield cache
        index = self.server.index
        yield GaugeMetricFamily("kprov_dns_services", "Services in the index", value=len(index.services))
        yield GaugeMetricFamily("kprov_dns_index_generation", "Index changes so far", value=index.generation)


async def start_http(server: DnsServer, address: str, ready: Callable[[], bool]) -> web.AppRunner:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_DnsCollector(server))

    async def healthz(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def readyz(_request: web.Request) -> web.Response:
        if ready():
            return web.Response(text="ok")
        return web.Response(status=503, text="informers not synced")

    async def metrics(_request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(registry), content_type="text/plain", charset="utf-8")

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    host, _, port = address.rpartition(":")
    await web.TCPSite(runner, host.strip("[]") or "0.0.0.0", int(port)).start()
    return runner
