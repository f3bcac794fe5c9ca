"""The ``grpc`` probe action: the gRPC Health Checking protocol's ``Check`` against the pod.

Design: one insecure channel to ``<pod IP>:<port>`` per probe (as upstream's prober dials per
probe), the unary call ``/grpc.health.v1.Health/Check`` with the probe's ``service`` (empty:
the server as a whole), within the probe's timeout. SERVING is success; any other status,
a refused connection or a timeout is a failure with upstream's wording ("service unhealthy
(responded with \"NOT_SERVING\")", "timeout: failed to connect service ...").

The two messages have one field each (request: ``string service = 1``; response:
``ServingStatus status = 1``), so they are encoded with the shared wire layer
(:mod:`kprov.cluster.api.wire.protowire`) instead of adding the grpcio-health-checking package
(and its generated modules) to the node runtime for them.
"""

from __future__ import annotations

import grpc

from kprov.cluster.api.wire.protowire import encode_varint, iter_fields

__all__ = ["STATUS_NAMES", "check_health", "decode_status", "encode_request"]

CHECK_METHOD = "/grpc.health.v1.Health/Check"
STATUS_NAMES = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}
_SERVING = 1


def encode_request(service: str) -> bytes:
    """HealthCheckRequest: field 1 (length-delimited) = service, omitted when empty."""
    raw = service.encode()
    return b"\x0a" + encode_varint(len(raw)) + raw if raw else b""


def decode_status(data: bytes) -> int:
    """HealthCheckResponse's field 1 (an enum), 0 when absent; other fields are skipped."""
    status = 0
    for number, wire, value in iter_fields(data):
        if number == 1 and wire == 0 and isinstance(value, int):
            status = value
    return status


async def check_health(host: str, port: int, service: str, timeout_s: float) -> tuple[bool, str]:
    """(healthy, message) of one Check call."""
    address = f"{host}:{port}"
    target = f"[{host}]:{port}" if ":" in host else address
    options = [("grpc.primary_user_agent", "kube-probe/1.32"), ("grpc.enable_http_proxy", 0)]
    async with grpc.aio.insecure_channel(target, options=options) as channel:
        try:  # bytes in, bytes out: no serializers
            call: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(
                CHECK_METHOD, request_serializer=None, response_deserializer=None
            )
            reply = await call(encode_request(service), timeout=timeout_s)
        except grpc.aio.AioRpcError as err:
            if err.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                return False, f"timeout: health rpc did not complete within {timeout_s:g}s"
            if err.code() == grpc.StatusCode.UNAVAILABLE:
                return False, f'error: failed to connect service at "{address}": {err.details()}'
            return False, f"error: health rpc probe failed: {err.code().name}: {err.details()}"
    status = decode_status(reply)
    if status != _SERVING:
        return False, f'service unhealthy (responded with "{STATUS_NAMES.get(status, str(status))}")'
    return True, "service healthy"
