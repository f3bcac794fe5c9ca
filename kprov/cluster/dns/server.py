"""The DNS server loop: UDP and TCP on asyncio, wire format by dnspython.

dnspython (not dnslib) because it is the maintained, complete one: EDNS0 (payload size,
BADVERS), truncation at record boundaries (``prefer_truncation``), name compression, and
an asyncio client we reuse for forwarding. Its parse+build is most of a query's cost, so
zone answers go through a response cache keyed by the query's bytes after the ID (and the
transport, which sets the size limit): a repeated question is one dict lookup and a
2-byte splice. The cache is dropped whenever the index's generation moves, so an answer
is never older than the informer event that changed it. Forwarded answers are cached by
:class:`~.forward.Forwarder` instead (their TTLs age).

Per query: a header-only FORMERR for unparseable input, NOTIMP for opcodes other than
QUERY, BADVERS for EDNS versions above 0; zone and reverse names answered from
:func:`~.records.lookup` with AA set; anything else forwarded (RA set, since we recurse
for the client). UDP answers are cut to the client's EDNS payload (512 without EDNS) with
TC set, so the client retries over TCP, where answers go up to 64 KiB, several per
connection, until it is idle for ``tcp_idle`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import struct
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, cast

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype

from kprov.cluster.dns.forward import Forwarder
from kprov.cluster.dns.index import ClusterIndex
from kprov.cluster.dns.records import Answer, Record, ZoneConfig, lookup

__all__ = ["DnsServer", "ServerStats"]

log = logging.getLogger(__name__)

MAX_UDP_PAYLOAD = 4096
_PORT_PICK_ATTEMPTS = 8  # port-0 picks before giving up when TCP finds the UDP number taken


@dataclass
class ServerStats:
    udp: int = 0
    tcp: int = 0
    cache_hits: int = 0
    zone: int = 0
    forwarded: int = 0
    formerr: int = 0
    truncated: int = 0
    nxdomain: int = 0
    servfail: int = 0


def _header_only(wire: bytes, rcode: int) -> bytes:
    flags = struct.unpack("!H", wire[2:4])[0]
    flags = (flags & 0x7900) | 0x8000 | rcode  # keep opcode and RD, set QR
    return wire[:2] + struct.pack("!HHHHH", flags, 0, 0, 0, 0)


class DnsServer:
    def __init__(
        self,
        index: ClusterIndex,
        config: ZoneConfig,
        forwarder: Forwarder | None = None,
        *,
        cache_entries: int = 50_000,
        tcp_idle: float = 10.0,
    ) -> None:
        self.index = index
        self.config = config
        self.forwarder = forwarder
        self.cache_entries = cache_entries
        self.tcp_idle = tcp_idle
        self.stats = ServerStats()
        self._cache: dict[bytes, bytes] = {}
        self._cache_generation = -1
        self._servers: list[Any] = []
        self._transports: list[asyncio.BaseTransport] = []
        self._tasks: set[asyncio.Task[Any]] = set()

    # ---- one query -----------------------------------------------------------------------
    def handle(self, wire: bytes, tcp: bool) -> bytes | None | Coroutine[Any, Any, bytes | None]:
        """The reply's bytes, None to drop, or a coroutine (forwarding) that makes them."""
        if self._cache_generation != self.index.generation:
            self._cache.clear()
            self._cache_generation = self.index.generation
        key = (b"T" if tcp else b"U") + wire[2:]
        hit = self._cache.get(key)
        if hit is not None:
            self.stats.cache_hits += 1
            return wire[:2] + hit
        if len(wire) < 12:
            return None
        try:
            query = dns.message.from_wire(wire)
        except dns.message.BadEDNS:
            return _header_only(wire, dns.rcode.FORMERR)
        except dns.exception.DNSException:
            self.stats.formerr += 1
            return _header_only(wire, dns.rcode.FORMERR)
        if query.flags & dns.flags.QR:
            return None
        if query.opcode() != dns.opcode.QUERY:
            return _header_only(wire, dns.rcode.NOTIMP)
        if len(query.question) != 1:
            self.stats.formerr += 1
            return _header_only(wire, dns.rcode.FORMERR)
        if query.edns > 0:
            response = dns.message.make_response(query)
            response.use_edns(0, 0, 1232)
            response.set_rcode(dns.rcode.BADVERS)
            return response.to_wire()
        question = query.question[0]
        qname = question.name.to_text().lower()
        answer: Answer | None = None
        if question.rdclass == dns.rdataclass.IN:
            answer = lookup(self.index, self.config, qname, dns.rdatatype.to_text(question.rdtype))
        if answer is None:
            self.stats.forwarded += 1
            return self._forward(query, tcp)
        self.stats.zone += 1
        if answer.chase:
            return self._chase(query, answer, tcp)
        out = self._render(query, answer, tcp)
        if len(self._cache) >= self.cache_entries:
            self._cache.clear()
        self._cache[key] = out[2:]
        return out

    def _max_size(self, query: dns.message.Message, tcp: bool) -> int:
        if tcp:
            return 65535
        if query.edns >= 0:
            return max(512, min(query.payload, MAX_UDP_PAYLOAD))
        return 512

    def _wire(self, query: dns.message.Message, response: dns.message.Message, tcp: bool) -> bytes:
        if query.edns >= 0:
            response.use_edns(0, 0, MAX_UDP_PAYLOAD)
        out = response.to_wire(max_size=self._max_size(query, tcp), prefer_truncation=True)
        if response.rcode() == dns.rcode.NXDOMAIN:
            self.stats.nxdomain += 1
        elif response.rcode() == dns.rcode.SERVFAIL:
            self.stats.servfail += 1
        if len(out) > 2 and out[2] & 0x02:
            self.stats.truncated += 1
        return out

    def _render(self, query: dns.message.Message, answer: Answer, tcp: bool) -> bytes:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA | dns.flags.RA
        response.set_rcode(dns.rcode.from_text(answer.rcode))
        qname = query.question[0].name
        lowered = qname.to_text().lower()
        for section, records in ((response.answer, answer.answer), (response.authority, answer.authority),
                                 (response.additional, answer.additional)):
            self._add(response, section, records, qname, lowered)
        return self._wire(query, response, tcp)

    @staticmethod
    def _add(response: dns.message.Message, section: list[Any], records: list[Record],
             qname: dns.name.Name, lowered: str) -> None:
        for rec in records:
            name = qname if rec.name == lowered else dns.name.from_text(rec.name)
            rdtype = dns.rdatatype.from_text(rec.rtype)
            rrset = response.find_rrset(section, name, dns.rdataclass.IN, rdtype, create=True)
            rrset.add(dns.rdata.from_text(dns.rdataclass.IN, rdtype, rec.value), rec.ttl)

    async def _forward(self, query: dns.message.Message, tcp: bool) -> bytes:
        question = query.question[0]
        reply = None
        if self.forwarder is not None and self.forwarder.upstreams:
            reply = await self.forwarder.resolve(question.name.to_text(), question.rdtype, question.rdclass)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.RA
        if reply is None:
            response.set_rcode(dns.rcode.SERVFAIL)
        else:
            response.set_rcode(reply.rcode())
            response.answer = list(reply.answer)
            response.authority = list(reply.authority)
            response.additional = list(reply.additional)
        return self._wire(query, response, tcp)

    async def _chase(self, query: dns.message.Message, answer: Answer, tcp: bool) -> bytes:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA | dns.flags.RA
        qname = query.question[0].name
        self._add(response, response.answer, answer.answer, qname, qname.to_text().lower())
        if self.forwarder is not None and self.forwarder.upstreams:
            reply = await self.forwarder.resolve(answer.chase + ".", query.question[0].rdtype)
            if reply is not None:
                response.answer.extend(reply.answer)
                if reply.rcode() == dns.rcode.NXDOMAIN:
                    response.set_rcode(dns.rcode.NXDOMAIN)
        return self._wire(query, response, tcp)

    # ---- transports ----------------------------------------------------------------------
    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _udp_reply(
        self, transport: asyncio.DatagramTransport, pending: Coroutine[Any, Any, bytes | None], addr: Any
    ) -> None:
        try:
            out = await pending
        except Exception:
            log.exception("query failed")
            return
        if out is not None and not transport.is_closing():
            transport.sendto(out, addr)

    async def _tcp_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    async with asyncio.timeout(self.tcp_idle):
                        head = await reader.readexactly(2)
                    size = struct.unpack("!H", head)[0]
                    async with asyncio.timeout(self.tcp_idle):
                        wire = await reader.readexactly(size)
                except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
                    return
                self.stats.tcp += 1
                out = self.handle(wire, True)
                if out is not None and not isinstance(out, bytes):
                    out = await out
                if out is None:
                    return
                writer.write(struct.pack("!H", len(out)) + out)
                await writer.drain()
        except Exception:
            log.exception("tcp client failed")
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def start(self, host: str, port: int) -> tuple[int, int]:
        """Listen on UDP and TCP ``host:port``; returns the (udp, tcp) ports bound."""
        server = self
        loop = asyncio.get_running_loop()

        class _Udp(asyncio.DatagramProtocol):
            transport: asyncio.DatagramTransport

            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                # a datagram endpoint's transport (asyncio's or uvloop's)
                self.transport = cast(asyncio.DatagramTransport, transport)

            def datagram_received(self, data: bytes, addr: Any) -> None:
                server.stats.udp += 1
                try:
                    out = server.handle(data, False)
                except Exception:
                    log.exception("query failed")
                    return
                if out is None:
                    return
                if isinstance(out, bytes):
                    self.transport.sendto(out, addr)
                else:
                    server._spawn(server._udp_reply(self.transport, out, addr))

        # Port 0 asks for one number free for both protocols: the kernel picks the UDP port and
        # TCP can find that number taken, so pick again (a few tries) rather than fail.
        for attempt in range(_PORT_PICK_ATTEMPTS):
            transport, _ = await loop.create_datagram_endpoint(_Udp, local_addr=(host, port))
            udp_port = transport.get_extra_info("sockname")[1]
            try:
                tcp = await asyncio.start_server(self._tcp_client, host, port or udp_port, reuse_address=True)
            except OSError as err:
                transport.close()
                if port or err.errno != errno.EADDRINUSE or attempt == _PORT_PICK_ATTEMPTS - 1:
                    raise
                continue
            break
        self._transports.append(transport)
        self._servers.append(tcp)
        return udp_port, tcp.sockets[0].getsockname()[1]

    def udp_ports(self) -> list[int]:
        """The UDP ports this server answers on (what ``start`` bound, port 0 resolved)."""
        return [t.get_extra_info("sockname")[1] for t in self._transports]

    async def close(self) -> None:
        for transport in self._transports:
            transport.close()
        for srv in self._servers:
            srv.close()
            with contextlib.suppress(Exception):
                await srv.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
