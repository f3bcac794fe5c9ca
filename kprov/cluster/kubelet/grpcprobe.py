"""The ``grpc`` probe action: the gRPC Health Checking protocol's ``Check`` against the pod.

Design: one insecure channel to ``<pod IP>:<port>`` per probe (as upstream's prober dials per
probe), the unary call ``/grpc.health.v1.Health/Check`` with the probe's ``service`` (empty:
the server as a whole), within the probe's timeout. SERVING is success; any other status,
a refused connection or a timeout is a failure with upstream's wording ("service unhealthy
(responded with \"NOT_SERVING\")", "timeout: failed to connect service ...").

The two messages have one field each (request: ``string service = 1``; response:
``ServingStatus status = 1``), so they are encoded here by hand instead of adding the
grpcio-health-checking package (and its generated modules) to the node runtime for them.
"""

from __future__ import annotations

import grpc

__all__ = ["STATUS_NAMES", "check_health", "decode_status", "encode_request"]

CHECK_METHOD = "/grpc.health.v1.Health/Check"
STATUS_NAMES = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}
_SERVING = 1


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def encode_request(service: str) -> bytes:
    """HealthCheckRequest: field 1 (length-delimited) = service, omitted when empty."""
    raw = service.encode()
    return b"\x0a" + _varint(len(raw)) + raw if raw else b""


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while pos < len(data):
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
    raise ValueError("truncated varint")


def decode_status(data: bytes) -> int:
    """HealthCheckResponse's field 1 (an enum), 0 when absent; other fields are skipped."""
    pos, status = 0, 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _read_varint(data, pos)
            if field == 1:
                status = value
        elif wire == 2:
            length, pos = _read_varint(data, pos)
            pos += length
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        else:
            raise ValueError(f"unexpected wire type {wire}")
    return status


async def check_health(host: str, port: int, service: str, timeout_s: float) -> tuple[bool, str]:
    """(healthy, message) of one Check call."""
    address = f"{host}:{port}"
    target = f"[{host}]:{port}" if ":" in host else address
    options = [("grpc.primary_user_agent", "kube-probe/1.32"), ("grpc.enable_http_proxy", 0)]
    async with grpc.aio.insecure_channel(target, options=options) as channel:
        try:  # bytes in, bytes out: no serializers
            call = channel.unary_unary(CHECK_METHOD, request_serializer=None, response_deserializer=None)
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
