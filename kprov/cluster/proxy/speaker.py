"""Layer-2 announcement of LoadBalancer addresses: one node per address, elected by a Lease.

MetalLB's L2 mode, inside kprov-proxy (which runs on every node and already watches
Services, EndpointSlices and Nodes). After each sync the daemon hands
:meth:`L2Speaker.update` the addresses this node qualifies for (:mod:`.l2_candidates`); for
each one a task contends for the Lease ``kube-system/kprov-l2-<address>`` with the client-go
algorithm (:class:`~kprov.cluster.client.leader.LeaderElector`, identity = the node name). The
winner adds the address to its InternalIP's interface (:mod:`.announced_addresses`), sends
gratuitous ARP (:mod:`.garp`) at once and twice more within 2 s (a frame can be lost), and
records a ``nodeAssigned`` Event on each Service of the address, worded as MetalLB's. An
IPv6 address goes on the interface of the node's IPv6 InternalIP and is announced by
unsolicited Neighbour Advertisements (:mod:`.unsolicited_na`) instead; the kernel answers
the Neighbour Solicitations for it, as it answers ARP for an IPv4 one.

Timings: Lease 3 s, renew deadline 2 s, retry 1 s (:data:`TIMINGS`). A candidate takes an
address over once it has seen the Lease unchanged for 3 s on its own clock; it looks every
second, so a dead holder's address moves within 3 to 5 s, inside issue 55's 5 s bound
(upstream components use 15/10/2 s: a 17 s outage per address). A holder that cannot renew for
2 s drops the address before anyone may take it (2 s < 3 s), so two nodes answer ARP for it
only if clocks run very differently. The price: per address, each qualifying node reads the
Lease once a second and the holder writes it once a second.

A node that stops qualifying (not Ready, no local endpoint under policy Local, the address
gone from the Service) cancels its task: the address is removed and the Lease released
(holder cleared), so another node takes it within one retry period. Shutdown does the same
for every address.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kprov.cluster.client.events import EventRecorder
from kprov.cluster.client.leader import LeaderElectionConfig, LeaderElector, LeadershipLost
from kprov.cluster.client.rest import ApiClient
from kprov.cluster.proxy.announced_addresses import AnnouncedAddresses, interface_holding
from kprov.cluster.proxy.garp import send_announcement
from kprov.cluster.proxy.l2_candidates import lease_name
from kprov.cluster.proxy.unsolicited_na import send_advertisement

__all__ = ["L2Speaker", "LeaseTimings", "TIMINGS"]

log = logging.getLogger(__name__)

LEASE_NAMESPACE = "kube-system"
GARP_REPEATS = (0.5, 1.5)  # seconds after the first announcement, then after the previous one


@dataclass(frozen=True)
class LeaseTimings:
    lease_duration: float = 3.0
    renew_deadline: float = 2.0
    retry_period: float = 1.0


TIMINGS = LeaseTimings()


class L2Speaker:
    def __init__(
        self,
        client: ApiClient,
        node_name: str,
        state_dir: Path,
        service_lookup: Callable[[str], dict[str, Any] | None],
        timings: LeaseTimings = TIMINGS,
    ) -> None:
        self.client = client
        self.node_name = node_name
        self.addresses = AnnouncedAddresses(state_dir)
        self.service_lookup = service_lookup  # "namespace/name" -> the Service from the informer
        self.timings = timings
        self.events = EventRecorder(client, "kprov-proxy", node_name)
        self.node_ip = ""
        self.node_ipv6 = ""
        self._services: dict[str, tuple[str, ...]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._retiring: dict[str, asyncio.Task[None]] = {}  # cancelled, still removing the address

    async def start(self) -> None:
        """Remove what a killed predecessor left announced."""
        left = await asyncio.to_thread(self.addresses.sweep)
        if left:
            log.info("removed addresses a previous run announced: %s", ", ".join(left))

    def update(self, wanted: dict[str, tuple[str, ...]], node_ip: str, node_ipv6: str = "") -> None:
        """Contend for exactly the addresses in ``wanted`` (address -> its Services); an IPv6
        address goes on the interface holding ``node_ipv6``, an IPv4 one on ``node_ip``'s."""
        self.node_ip = node_ip
        self.node_ipv6 = node_ipv6
        self._services = dict(wanted)
        for address in [a for a in self._tasks if a not in wanted]:
            log.info("no longer a candidate for %s", address)
            self._retire(address, self._tasks.pop(address))
        for address in wanted:
            if address not in self._tasks:
                previous = self._retiring.get(address)
                self._tasks[address] = asyncio.create_task(
                    self._contend(address, previous), name=f"l2 {address}")

    def _retire(self, address: str, task: asyncio.Task[None]) -> None:
        task.cancel()
        self._retiring[address] = task

        def forget(done: asyncio.Task[None]) -> None:
            if self._retiring.get(address) is done:
                del self._retiring[address]

        task.add_done_callback(forget)

    def contending(self) -> list[str]:
        return sorted(self._tasks)

    async def close(self) -> None:
        for address, task in list(self._tasks.items()):
            self._retire(address, task)
        self._tasks.clear()
        await asyncio.gather(*self._retiring.values(), return_exceptions=True)
        await asyncio.to_thread(self.addresses.sweep)

    async def _contend(self, address: str, previous: asyncio.Task[None] | None) -> None:
        if previous is not None:  # wanted again while the last round still removes the address
            await asyncio.gather(previous, return_exceptions=True)
        t = self.timings
        elector = LeaderElector(self.client, LeaderElectionConfig(
            name=lease_name(address), namespace=LEASE_NAMESPACE, identity=self.node_name,
            lease_duration=t.lease_duration, renew_deadline=t.renew_deadline, retry_period=t.retry_period,
        ))
        try:
            while True:
                try:
                    await elector.run(lambda: self._announce(address))
                except LeadershipLost as exc:
                    log.warning("%s; no longer announcing %s", exc, address)
                except Exception:
                    log.exception("announcing %s failed; contending again", address)
                    if elector.is_leader:
                        with contextlib.suppress(Exception):  # the Lease then simply expires
                            await elector.release()
                    await asyncio.sleep(t.retry_period)
        finally:
            if elector.is_leader:
                await asyncio.wait_for(elector.release(), t.renew_deadline)

    async def _announce(self, address: str) -> None:
        ipv6 = ipaddress.ip_address(address).version == 6
        node_ip = self.node_ipv6 if ipv6 else self.node_ip
        interface = await asyncio.to_thread(interface_holding, node_ip) if node_ip else ""
        if not interface:
            raise OSError(f"no interface holds the node address {node_ip!r}")
        send = send_advertisement if ipv6 else send_announcement  # NDP or ARP
        try:
            await asyncio.to_thread(self.addresses.add, address, interface)
            log.info("announcing %s on %s", address, interface)
            await asyncio.to_thread(send, interface, address)
            await self._record_assigned(address)
            for delay in GARP_REPEATS:
                await asyncio.sleep(delay)
                await asyncio.to_thread(send, interface, address)
            await asyncio.Event().wait()  # hold until cancelled (lease lost, no longer wanted, stop)
        finally:
            log.info("no longer announcing %s", address)
            await asyncio.to_thread(self.addresses.remove, address)

    async def _record_assigned(self, address: str) -> None:
        message = f'announcing from node "{self.node_name}" with protocol "layer2"'
        for key in self._services.get(address, ()):
            service = self.service_lookup(key)
            if service is None:
                continue
            reference = {**service, "apiVersion": "v1", "kind": "Service"}
            try:
                await self.events.record(reference, "Normal", "nodeAssigned", message)
            except Exception:  # an Event is a courtesy: never drop the address over it
                log.exception("the nodeAssigned Event for %s was not recorded", key)
