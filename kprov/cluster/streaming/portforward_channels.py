"""Port-forward's WebSocket channel protocols: choosing one, the channel layout, the frames.

Besides kubectl's SPDY session tunnelled in WebSocket messages (``SPDY/3.1+portforward.k8s.io``,
:mod:`kprov.cluster.kubelet.streaming.portforward`), the kubelet serves port-forward as upstream's
``handleWebSocketStreams`` does for other clients (the official Python client, kr8s):

- the ports come from the ``ports`` query (repeatable, comma-separated, 1..65535);
- each port has two channels, data ``2*i`` (both ways) and error ``2*i+1`` (to the client);
- the first frame on each of those channels carries the port as 2 bytes little-endian;
- ``v4.channel.k8s.io`` (and no subprotocol at all) sends binary messages: one channel byte,
  then the data; ``v4.base64.channel.k8s.io`` sends text messages: the channel as an ASCII
  digit, then the data in base64;
- ``v5.channel.k8s.io`` is v4 plus the stream-close message of kube 1.30+: ``\\xff`` then a
  channel byte half-closes that channel (from the client: no more data for the pod; from the
  server: the pod closed the connection). Upstream's kubelet does not offer v5 for
  port-forward, so it is chosen only when the client offers nothing else (the Python client
  offers ``v5, v4`` and must get v4: it fails on a close message).

When a client offers protocols of which none is served, the upgrade is refused with a 403
and upstream's words, never accepted in silence.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

__all__ = [
    "BASE64_PROTOCOL",
    "CHANNEL_PROTOCOLS",
    "CLOSE",
    "SERVED_PROTOCOLS",
    "TUNNEL_PROTOCOL",
    "V4_PROTOCOL",
    "V5_PROTOCOL",
    "ChannelCodec",
    "PortsError",
    "data_channel",
    "error_channel",
    "offered_protocols",
    "parse_ports",
    "pick_protocol",
    "port_prefix",
    "unsupported_message",
]

V4_PROTOCOL = "v4.channel.k8s.io"
BASE64_PROTOCOL = "v4.base64.channel.k8s.io"
V5_PROTOCOL = "v5.channel.k8s.io"
TUNNEL_PROTOCOL = "SPDY/3.1+portforward.k8s.io"
CHANNEL_PROTOCOLS = (V4_PROTOCOL, BASE64_PROTOCOL, V5_PROTOCOL)
SERVED_PROTOCOLS = (V4_PROTOCOL, BASE64_PROTOCOL, TUNNEL_PROTOCOL, V5_PROTOCOL)  # preference order
CLOSE = 255


class PortsError(ValueError):
    """The ``ports`` query is missing or malformed (upstream's messages)."""


def offered_protocols(header: str | None) -> list[str]:
    return [p.strip() for p in (header or "").split(",") if p.strip()]


def pick_protocol(header: str | None) -> str | None:
    """The subprotocol to answer with: "" when the client offered none (binary v4, as
    upstream), the most preferred one served among those offered, else None (refuse)."""
    offered = offered_protocols(header)
    if not offered:
        return ""
    for wanted in SERVED_PROTOCOLS:
        if wanted in offered:
            return wanted
    return None


def unsupported_message(header: str | None) -> str:
    offered = " ".join(offered_protocols(header))
    served = " ".join(["", *SERVED_PROTOCOLS]).strip()
    return (
        "unable to upgrade websocket connection: requested protocol(s) are not supported: "
        f"[{offered}]; supports [{served}]"
    )


def parse_ports(values: list[str]) -> list[int]:
    """The ports of a ``ports`` query (each value may hold several, comma-separated)."""
    if not values:
        raise PortsError('query parameter "ports" is required')
    ports: list[int] = []
    for value in values:
        if not value:
            raise PortsError('query parameter "ports" cannot be empty')
        for part in value.split(","):
            if not part.isdigit() or int(part) > 65535:
                reason = "value out of range" if part.isdigit() else "invalid syntax"
                raise PortsError(
                    f'unable to parse "{value}" as a port: strconv.ParseUint: parsing "{part}": {reason}'
                )
            if int(part) < 1:
                raise PortsError(f'port "{value}" must be > 0')
            ports.append(int(part))
    return ports


def data_channel(index: int) -> int:
    return 2 * index


def error_channel(index: int) -> int:
    return 2 * index + 1


def port_prefix(port: int) -> bytes:
    """What the first frame of a port's data and error channels carries."""
    return port.to_bytes(2, "little")


@dataclass(frozen=True)
class ChannelCodec:
    """Frames of one negotiated protocol (binary, or base64 text)."""

    protocol: str

    @property
    def binary(self) -> bool:
        return self.protocol != BASE64_PROTOCOL

    @property
    def closes(self) -> bool:
        return self.protocol == V5_PROTOCOL

    def encode(self, channel: int, data: bytes) -> bytes | str:
        if self.binary:
            return bytes([channel]) + data
        return chr(ord("0") + channel) + base64.b64encode(data).decode()

    def close_frame(self, channel: int) -> bytes:
        return bytes([CLOSE, channel])

    def decode(self, message: bytes | str) -> tuple[int, bytes]:
        """(channel, data) of a client message; ValueError when it is empty or not decodable."""
        if not message:
            raise ValueError("empty websocket message: a channel byte is required")
        if isinstance(message, str):
            channel = ord(message[0]) - ord("0") if not self.binary else ord(message[0])
            rest = message[1:]
            data = base64.b64decode(rest) if not self.binary else rest.encode()
            return channel, data
        return message[0], bytes(message[1:])
