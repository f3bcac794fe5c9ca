"""kprov-dns's server on loopback: UDP, TCP, truncation, EDNS0, forwarding to a stub upstream
(never the machine's resolvers), the response cache following index updates, /metrics."""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import dns.asyncquery
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from kprov.cluster.dns.forward import Forwarder, Upstream
from kprov.cluster.dns.http import start_http
from kprov.cluster.dns.index import ClusterIndex
from kprov.cluster.dns.records import ZoneConfig
from kprov.cluster.dns.server import DnsServer

HOST = "127.0.0.1"


class StubUpstream(asyncio.DatagramProtocol):
    """A resolver that knows one name (outside.lab -> 192.0.2.7) and counts questions."""

    def __init__(self) -> None:
        self.questions = 0

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.questions += 1
        query = dns.message.from_wire(data)
        response = dns.message.make_response(query)
        name = query.question[0].name.to_text().lower()
        if name == "outside.lab." and query.question[0].rdtype == dns.rdatatype.A:
            response.answer.append(dns.rrset.from_text(query.question[0].name, 60, "IN", "A", "192.0.2.7"))
        else:
            response.set_rcode(dns.rcode.NXDOMAIN)
        self.transport.sendto(response.to_wire(), addr)


async def listen(server: DnsServer) -> int:
    udp_port, _tcp_port = await server.start(HOST, 0)
    return udp_port


async def test_port_zero_picks_again_when_tcp_finds_the_udp_number_taken(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The kernel picks the UDP port; another socket may hold that number for TCP."""
    real_start_server = asyncio.start_server
    refused: list[int] = []

    async def start_server_taken_once(*args: Any, **kwargs: Any) -> asyncio.Server:
        if not refused:
            refused.append(args[2])
            raise OSError(errno.EADDRINUSE, "address already in use")
        return await real_start_server(*args, **kwargs)

    monkeypatch.setattr(asyncio, "start_server", start_server_taken_once)
    server = DnsServer(ClusterIndex(), ZoneConfig(), Forwarder([]))
    try:
        udp_port, tcp_port = await server.start(HOST, 0)
        assert udp_port == tcp_port and len(refused) == 1
        assert server.udp_ports() == [udp_port]  # the first pick's UDP socket was let go
    finally:
        await server.close()


@pytest.fixture
async def setup() -> AsyncIterator[tuple[DnsServer, int, StubUpstream]]:
    loop = asyncio.get_running_loop()
    stub = StubUpstream()
    transport, _ = await loop.create_datagram_endpoint(lambda: stub, local_addr=(HOST, 0))
    up_port = transport.get_extra_info("sockname")[1]
    index = ClusterIndex()
    index.set_service({"metadata": {"name": "web", "namespace": "default"},
                       "spec": {"clusterIP": "10.96.0.20", "ports": [{"name": "http", "port": 80}]}})
    index.set_service({"metadata": {"name": "big", "namespace": "default"}, "spec": {"clusterIP": "None"}})
    index.set_slice({"metadata": {"name": "big-1", "namespace": "default",
                                  "labels": {"kubernetes.io/service-name": "big"}},
                     "endpoints": [{"addresses": [f"10.244.0.{i + 1}"], "conditions": {"ready": True}}
                                   for i in range(100)]})
    index.set_service({"metadata": {"name": "ext", "namespace": "default"},
                       "spec": {"type": "ExternalName", "externalName": "outside.lab"}})
    server = DnsServer(index, ZoneConfig(), Forwarder([Upstream(HOST, up_port)], timeout=1.0))
    port = await listen(server)
    yield server, port, stub
    await server.close()
    transport.close()


async def udp(port: int, name: str, rdtype: str = "A", **kw: Any) -> dns.message.Message:
    return await dns.asyncquery.udp(dns.message.make_query(name, rdtype, **kw), HOST, port=port, timeout=2)


async def test_udp_and_tcp_answers_keep_the_question_case(setup: Any) -> None:
    _server, port, _ = setup
    reply = await udp(port, "Web.Default.SVC.cluster.local.")
    assert reply.rcode() == dns.rcode.NOERROR and reply.flags & dns.flags.AA
    assert [(r.name.to_text(), r.ttl, [x.to_text() for x in r]) for r in reply.answer] == [
        ("Web.Default.SVC.cluster.local.", 30, ["10.96.0.20"])]
    tcp = await dns.asyncquery.tcp(dns.message.make_query("web.default.svc.cluster.local", "A"), HOST,
                                   port=port, timeout=2)
    assert [x.to_text() for x in tcp.answer[0]] == ["10.96.0.20"]


async def test_nxdomain_and_nodata_carry_the_soa(setup: Any) -> None:
    _server, port, _ = setup
    reply = await udp(port, "nope.default.svc.cluster.local")
    assert reply.rcode() == dns.rcode.NXDOMAIN
    assert reply.authority[0].rdtype == dns.rdatatype.SOA
    nodata = await udp(port, "web.default.svc.cluster.local", "AAAA")
    assert nodata.rcode() == dns.rcode.NOERROR and not nodata.answer
    assert nodata.authority[0].rdtype == dns.rdatatype.SOA


async def test_big_answer_truncates_over_udp_and_is_whole_over_tcp(setup: Any) -> None:
    server, port, _ = setup
    small = await udp(port, "big.default.svc.cluster.local")
    assert small.flags & dns.flags.TC
    edns = await udp(port, "big.default.svc.cluster.local", use_edns=0, payload=4096)
    assert not edns.flags & dns.flags.TC and len(edns.answer[0]) == 100 and edns.edns == 0
    tcp = await dns.asyncquery.tcp(dns.message.make_query("big.default.svc.cluster.local", "A"), HOST,
                                   port=port, timeout=2)
    assert len(tcp.answer[0]) == 100
    assert server.stats.truncated >= 1


async def test_forwarding_uses_the_upstream_and_caches(setup: Any) -> None:
    _server, port, stub = setup
    reply = await udp(port, "outside.lab")
    assert [x.to_text() for x in reply.answer[0]] == ["192.0.2.7"] and not reply.flags & dns.flags.AA
    again = await udp(port, "OUTSIDE.lab")
    assert [x.to_text() for x in again.answer[0]] == ["192.0.2.7"]
    assert stub.questions == 1
    missing = await udp(port, "missing.lab")
    assert missing.rcode() == dns.rcode.NXDOMAIN


async def test_externalname_is_a_cname_chased_upstream(setup: Any) -> None:
    _server, port, _ = setup
    reply = await udp(port, "ext.default.svc.cluster.local")
    assert [r.rdtype for r in reply.answer] == [dns.rdatatype.CNAME, dns.rdatatype.A]
    assert reply.answer[1][0].to_text() == "192.0.2.7"


async def test_no_upstream_gives_servfail() -> None:
    server = DnsServer(ClusterIndex(), ZoneConfig(), Forwarder([]))
    port = await listen(server)
    try:
        reply = await udp(port, "outside.lab")
        assert reply.rcode() == dns.rcode.SERVFAIL
    finally:
        await server.close()


async def test_cached_answers_follow_index_updates(setup: Any) -> None:
    server, port, _ = setup
    first = await udp(port, "web.default.svc.cluster.local")
    await udp(port, "web.default.svc.cluster.local")
    assert server.stats.cache_hits >= 1 and first.answer
    server.index.set_service({"metadata": {"name": "web", "namespace": "default"},
                              "spec": {"clusterIP": "10.96.0.99"}})
    after = await udp(port, "web.default.svc.cluster.local")
    assert [x.to_text() for x in after.answer[0]] == ["10.96.0.99"]


async def test_garbage_gets_formerr_and_edns1_badvers(setup: Any) -> None:
    _server, port, _ = setup
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    try:
        await loop.sock_connect(sock, (HOST, port))
        await loop.sock_sendall(sock, b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xff")
        data = await asyncio.wait_for(loop.sock_recv(sock, 512), 2)
    finally:
        sock.close()
    assert data[:2] == b"\x12\x34" and data[3] & 0x0F == dns.rcode.FORMERR
    reply = await udp(port, "web.default.svc.cluster.local", use_edns=1)
    assert reply.rcode() == dns.rcode.BADVERS


async def test_health_ready_and_metrics(setup: Any) -> None:
    server, port, _ = setup
    await udp(port, "web.default.svc.cluster.local")
    ready = {"v": False}
    # port 0: the kernel picks a free TCP port (a number free for UDP may be taken for TCP)
    runner = await start_http(server, f"{HOST}:0", lambda: ready["v"])
    try:
        http_port = runner.addresses[0][1]
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://{HOST}:{http_port}/healthz") as r:
                assert r.status == 200
            async with session.get(f"http://{HOST}:{http_port}/readyz") as r:
                assert r.status == 503
            ready["v"] = True
            async with session.get(f"http://{HOST}:{http_port}/readyz") as r:
                assert r.status == 200
            async with session.get(f"http://{HOST}:{http_port}/metrics") as r:
                text = await r.text()
        assert 'kprov_dns_requests_total{proto="udp"}' in text
        assert "kprov_dns_services 3.0" in text
    finally:
        await runner.cleanup()
