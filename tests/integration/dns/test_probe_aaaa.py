"""verify's DNS probe asking AAAA (dual-stack clusters) of a real kprov-dns server on loopback."""

from __future__ import annotations

import asyncio
import sys

from kprov.cluster.dns.forward import Forwarder
from kprov.cluster.dns.index import ClusterIndex
from kprov.cluster.dns.records import ZoneConfig
from kprov.cluster.dns.server import DnsServer
from kprov.deploy.verify.dns_probe import dns_probe_command, parse_probe_output


async def test_probe_asks_aaaa_and_reads_the_ipv6_cluster_ip() -> None:
    index = ClusterIndex()
    web = {"metadata": {"name": "web", "namespace": "default"},
           "spec": {"clusterIP": "10.96.0.20", "clusterIPs": ["10.96.0.20", "fd00:10:96::14"]}}
    index.set_service(web)
    server = DnsServer(index, ZoneConfig(), Forwarder([]))
    port, _tcp = await server.start("127.0.0.1", 0)
    try:
        async def probe(qtype: str) -> tuple[str, list[str]]:
            proc = await asyncio.create_subprocess_shell(
                dns_probe_command("web.default.svc.cluster.local", "127.0.0.1", port, python=sys.executable,
                                  qtype=qtype),
                stdout=asyncio.subprocess.PIPE)
            out, _ = await proc.communicate()
            return parse_probe_output(out.decode())

        assert await probe("AAAA") == ("NOERROR", ["fd00:10:96::14"])
        assert await probe("A") == ("NOERROR", ["10.96.0.20"])
    finally:
        await server.close()
