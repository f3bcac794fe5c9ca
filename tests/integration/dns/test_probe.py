"""verify's stdlib DNS probe against a real kprov-dns server on loopback."""

from __future__ import annotations

import asyncio
import sys

from kprov.cluster.dns.forward import Forwarder
from kprov.cluster.dns.index import ClusterIndex
from kprov.cluster.dns.records import ZoneConfig
from kprov.cluster.dns.server import DnsServer
from kprov.deploy.verify.dns_probe import dns_probe_command, parse_probe_output


async def test_probe_reads_the_answer_and_nxdomain() -> None:
    index = ClusterIndex()
    web = {"metadata": {"name": "web", "namespace": "default"}, "spec": {"clusterIP": "10.96.0.20"}}
    index.set_service(web)
    server = DnsServer(index, ZoneConfig(), Forwarder([]))
    port, _tcp = await server.start("127.0.0.1", 0)  # the probe asks over UDP
    try:
        async def probe(name: str) -> tuple[str, list[str]]:
            proc = await asyncio.create_subprocess_shell(
                dns_probe_command(name, "127.0.0.1", port, python=sys.executable),
                stdout=asyncio.subprocess.PIPE)
            out, _ = await proc.communicate()
            return parse_probe_output(out.decode())

        assert await probe("web.default.svc.cluster.local") == ("NOERROR", ["10.96.0.20"])
        assert await probe("nope.default.svc.cluster.local") == ("NXDOMAIN", [])
    finally:
        await server.close()
