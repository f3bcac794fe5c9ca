"""A stopping kprov-dns withdraws its kube-dns endpoint, then answers for its lameduck period.

Against a real API server and etcd: the daemon runs with the kube-dns identity, publishes its
EndpointSlice, and on cancellation (SIGTERM in production) deletes the slice first and keeps
answering queries for ``lameduck_s`` — the moment every kube-proxy needs to drop the endpoint
— before closing its sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

import dns.asyncquery
import dns.exception
import dns.message
import dns.rcode

from kprov.cluster.client.errors import NotFound
from kprov.cluster.client.resources import ENDPOINTSLICES
from kprov.cluster.client.rest import ApiClient
from kprov.cluster.dns.daemon import DnsDaemon, DnsOptions
from kprov.cluster.dns.publish import PublishOptions
from tests.integration.conftest import ControlPlane

NAME = "kubernetes.default.svc.cluster.local."


async def _slice(admin: ApiClient, name: str) -> dict[str, Any] | None:
    try:
        return await admin.get(ENDPOINTSLICES, name, "kube-system")
    except NotFound:
        return None


async def _until(what: str, check: Callable[[], Awaitable[bool]], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        await asyncio.sleep(0.05)


async def _answers(port: int) -> bool:
    try:
        query = dns.message.make_query(NAME, "A")
        reply = await dns.asyncquery.udp(query, "127.0.0.1", port=port, timeout=0.5)
    except (dns.exception.Timeout, ConnectionRefusedError, OSError):
        return False
    return reply.rcode() == dns.rcode.NOERROR


async def test_a_stopping_server_withdraws_its_endpoint_then_answers_for_its_lameduck(
        control_plane: ControlPlane) -> None:
    dns_client = ApiClient.from_kubeconfig(str(control_plane.kubeconfig_for("system:kprov:kube-dns")))
    admin = ApiClient.from_kubeconfig(str(control_plane.admin_kubeconfig))
    options = DnsOptions(listen=[("127.0.0.1", 0)], http_address="127.0.0.1:0", lameduck_s=1.5,
                         publish=PublishOptions(node_name="lameduck-test", address="10.77.250.1"))
    daemon = DnsDaemon(dns_client, options)
    run = asyncio.create_task(daemon.run())
    try:
        async def published_ready() -> bool:
            obj = await _slice(admin, "kube-dns-lameduck-test")
            return bool(obj and obj["endpoints"][0]["conditions"]["ready"])

        await _until("its slice is published ready", published_ready)
        (port,) = daemon.server.udp_ports()
        assert await _answers(port)

        run.cancel()

        async def withdrawn() -> bool:
            return await _slice(admin, "kube-dns-lameduck-test") is None

        await _until("its slice is withdrawn", withdrawn, 5)
        withdrawn_at = time.monotonic()
        assert not run.done()
        assert await _answers(port), "stopped answering as soon as the endpoint was withdrawn"
        with contextlib.suppress(asyncio.CancelledError):
            await run
        assert time.monotonic() - withdrawn_at >= 1.0  # the lameduck period, less the poll's delay
        assert not await _answers(port)
    finally:
        run.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run
        await dns_client.close()
        await admin.close()
