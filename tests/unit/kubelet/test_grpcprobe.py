"""The grpc probe against a real gRPC server on loopback speaking the health protocol."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import grpc
import pytest

from kprov.cluster.kubelet.pods.grpcprobe import decode_status, encode_request
from kprov.cluster.kubelet.pods.probes import Prober, ProbeTarget

# service name -> ServingStatus; the empty name is the server as a whole
STATUSES = {"": 1, "db": 2}


def _reply(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    service = request[2:].decode() if request else ""
    status = STATUSES.get(service, 3)
    return b"\x08" + bytes([status])


@pytest.fixture
async def health_port() -> AsyncIterator[int]:
    server = grpc.aio.server()
    handler = grpc.method_handlers_generic_handler(
        "grpc.health.v1.Health", {"Check": grpc.unary_unary_rpc_method_handler(_reply)}
    )
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield port
    await server.stop(None)


def test_wire_format() -> None:
    assert encode_request("") == b""
    assert encode_request("db") == b"\x0a\x02db"
    assert encode_request("x" * 200)[:3] == b"\x0a\xc8\x01"
    assert decode_status(b"") == 0
    assert decode_status(b"\x08\x01") == 1
    assert decode_status(b"\x12\x01z\x08\x02") == 2  # unknown fields skipped


async def test_grpc_probe_outcomes(health_port: int) -> None:
    prober = Prober(runtime=None)  # type: ignore[arg-type]
    target = ProbeTarget("c1", "127.0.0.1")
    healthy = await prober.run({"grpc": {"port": health_port}}, target, 2.0)
    assert (healthy.ok, healthy.message) == (True, "service healthy")
    sick = await prober.run({"grpc": {"port": health_port, "service": "db"}}, target, 2.0)
    assert (sick.ok, sick.message) == (False, 'service unhealthy (responded with "NOT_SERVING")')
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        closed = probe_socket.getsockname()[1]
    refused = await prober.run({"grpc": {"port": closed}}, target, 2.0)
    assert not refused.ok
    assert refused.message.startswith(f'error: failed to connect service at "127.0.0.1:{closed}"')
