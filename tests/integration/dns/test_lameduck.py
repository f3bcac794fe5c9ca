"""A stopping kprov-dns withdraws its kube-dns endpoint, then answers for its lameduck period.

Against a real API server and etcd: the daemon runs with the kube-dns identity, publishes its
EndpointSlice, and on cancellation (SIGTERM in production) deletes the slice first and keeps
answering queries for ``lameduck_s`` — the moment every kube-proxy needs to drop the endpoint
— before closing its sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import Awaitable, Callable
from typing import Any

import dns.asyncquery
import dns.exception
import dns.message
import dns.rcode

from kprov.cluster.client.errors import NotFound
from kprov.cluster.client.resources import ENDPOINTSLICES, LEASES
from kprov.cluster.client.rest import ApiClient
from kprov.cluster.dns.daemon import DnsDaemon, DnsOptions
from kprov.cluster.dns.publish import PublishOptions, lease_object, slice_object
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


async def test_a_peer_whose_lease_went_stale_is_marked_not_ready_and_back_when_renewed(
        control_plane: ControlPlane) -> None:
    """As the kube-dns identity: a peer's slice says ready but its Lease is 60 s old (a hung
    server, a dead host); the running server marks it not ready. Renewed, it stays ready."""
    dns_client = ApiClient.from_kubeconfig(str(control_plane.kubeconfig_for("system:kprov:kube-dns")))
    admin = ApiClient.from_kubeconfig(str(control_plane.admin_kubeconfig))
    peer = PublishOptions(node_name="peer-test", address="10.77.250.3")
    await admin.create(ENDPOINTSLICES, slice_object(peer, True), "kube-system")
    lease = await admin.create(LEASES, lease_object(peer, dt.datetime.now(dt.UTC) - dt.timedelta(seconds=60)),
                               "kube-system")
    options = DnsOptions(listen=[("127.0.0.1", 0)], http_address="127.0.0.1:0", lameduck_s=0.1,
                         publish=PublishOptions(node_name="watcher-test", address="10.77.250.2", renew_s=0.5,
                                                stale_s=3))
    run = asyncio.create_task(DnsDaemon(dns_client, options).run())

    async def peer_ready() -> bool | None:
        obj = await _slice(admin, "kube-dns-peer-test")
        return None if obj is None else bool(obj["endpoints"][0]["conditions"]["ready"])

    try:
        await _until("the stale peer is marked not ready", lambda: _is(peer_ready, False))
        lease["spec"] = lease_object(peer, dt.datetime.now(dt.UTC))["spec"]
        await admin.update(LEASES, lease)
        current = await admin.get(ENDPOINTSLICES, "kube-dns-peer-test", "kube-system")
        await admin.update(ENDPOINTSLICES, {**current, "endpoints": slice_object(peer, True)["endpoints"]})
        await asyncio.sleep(1.5)  # three of the watcher's rounds, within the peer's stale_s
        assert await peer_ready() is True
    finally:
        run.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run
        for res in (ENDPOINTSLICES, LEASES):
            with contextlib.suppress(NotFound):
                await admin.delete(res, "kube-dns-peer-test", "kube-system")
        await dns_client.close()
        await admin.close()


async def _is(check: Callable[[], Awaitable[Any]], value: Any) -> bool:
    return await check() is value


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
        lease = await admin.get(LEASES, "kube-dns-lameduck-test", "kube-system")
        assert lease["spec"]["holderIdentity"] == "lameduck-test"
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
        with contextlib.suppress(NotFound):
            await admin.get(LEASES, "kube-dns-lameduck-test", "kube-system")
            raise AssertionError("the liveness Lease outlived an orderly stop")
    finally:
        run.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run
        await dns_client.close()
        await admin.close()
