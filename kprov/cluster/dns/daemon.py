"""kprov-dns's process: informers on Services, EndpointSlices and Pods feed the index,
the DNS server answers from it, HTTP serves health and metrics.

The server starts answering at once (forwarding works without the API); /readyz turns
ready only when every informer has listed, so nothing routes cluster names to a server
with a partial index. The Pod informer runs only for verified pod records. With
``publish`` set, the server keeps its kube-dns EndpointSlice and liveness Lease
(:mod:`.publish`, reading the informers' caches and a Lease informer of its own), withdrawn
on an orderly stop, and then goes on answering for ``lameduck_s`` (CoreDNS's ``lameduck``)
before it closes its sockets: every node's kube-proxy needs that moment to drop the
endpoint, and a query routed to a closed port is refused, not retried elsewhere (seen on a
lab during a rolling restart, one refused query per restarted server without it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from kprov.cluster.client import EventHandler, Informer
from kprov.cluster.client.resources import ENDPOINTSLICES, LEASES, PODS, SERVICES
from kprov.cluster.client.rest import ApiClient
from kprov.cluster.dns.forward import Forwarder
from kprov.cluster.dns.http import start_http
from kprov.cluster.dns.index import ClusterIndex
from kprov.cluster.dns.publish import LEASE_SELECTOR, Publisher, PublishOptions
from kprov.cluster.dns.records import ZoneConfig
from kprov.cluster.dns.server import DnsServer

__all__ = ["DnsDaemon", "DnsOptions"]

log = logging.getLogger(__name__)


@dataclass
class DnsOptions:
    listen: list[tuple[str, int]] = field(default_factory=lambda: [("0.0.0.0", 53)])
    http_address: str = "0.0.0.0:9153"
    zone: ZoneConfig = field(default_factory=ZoneConfig)
    forwarder: Forwarder = field(default_factory=lambda: Forwarder([]))
    publish: PublishOptions | None = None
    lameduck_s: float = 2.0


def wire_index(index: ClusterIndex, services: Informer, slices: Informer, pods: Informer | None) -> None:
    """Connect the informers' events to the index's setters."""

    def upd(fn: Any) -> Any:
        return lambda _old, new: fn(new)

    services.add_handler(EventHandler(index.set_service, upd(index.set_service), index.delete_service))
    slices.add_handler(EventHandler(index.set_slice, upd(index.set_slice), index.delete_slice))
    if pods is not None:
        pods.add_handler(EventHandler(index.set_pod, upd(index.set_pod), index.delete_pod))


class DnsDaemon:
    def __init__(self, client: ApiClient, options: DnsOptions) -> None:
        self.client = client
        self.options = options
        self.index = ClusterIndex()
        self.server = DnsServer(self.index, options.zone, options.forwarder)
        self.informers = [Informer(client, SERVICES), Informer(client, ENDPOINTSLICES)]
        if options.zone.pods == "verified":
            self.informers.append(Informer(client, PODS))
        wire_index(self.index, self.informers[0], self.informers[1],
                   self.informers[2] if len(self.informers) > 2 else None)

    def ready(self) -> bool:
        return all(i.has_synced.is_set() for i in self.informers)

    async def run(self) -> None:
        tasks = [asyncio.create_task(i.run()) for i in self.informers]
        publisher = None
        if self.options.publish is not None:
            leases = Informer(self.client, LEASES, namespace=self.options.publish.namespace,
                              label_selector=LEASE_SELECTOR)
            publisher = Publisher(
                self.client, self.options.publish, self.ready, self.informers[0].store,
                self.informers[1].store, leases.store,
                lambda: leases.has_synced.is_set() and self.informers[1].has_synced.is_set(),
            )
            tasks += [asyncio.create_task(leases.run()), asyncio.create_task(publisher.run())]
        for host, port in self.options.listen:
            await self.server.start(host, port)
            log.info("answering DNS on %s:%d (udp, tcp)", host, port)
        http = await start_http(self.server, self.options.http_address, self.ready)
        try:
            for informer in self.informers:
                await informer.wait_synced()
            log.info("index synced: %d services", len(self.index.services))
            await asyncio.Event().wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if publisher is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(publisher.withdraw(), 3)
                log.info("endpoint withdrawn; answering %.1fs more before closing", self.options.lameduck_s)
                await asyncio.sleep(self.options.lameduck_s)
            await self.server.close()
            await http.cleanup()
