"""The framing between a run and the connection keeper (``persist_daemon``) on a Unix socket.

A message is a JSON header and zero or more binary blobs (command stdin/stdout, file
contents) sent as they are, never re-encoded: ``u32 header length | header | blobs``, the
header naming each blob's length under ``"blobs"``. Both sides are kprov of the same
install, so there is no version negotiation; a malformed frame closes the connection.
"""

from __future__ import annotations

import json
import socket
import struct
from collections.abc import Sequence
from typing import Any

__all__ = ["WireClosed", "receive", "send"]

_LENGTH = struct.Struct("!I")
_MAX_HEADER = 1 << 20


class WireClosed(ConnectionError):
    """The other side closed the socket (between messages or in the middle of one)."""


def send(sock: socket.socket, header: dict[str, Any], blobs: Sequence[bytes] = ()) -> None:
    head = json.dumps({**header, "blobs": [len(b) for b in blobs]}, separators=(",", ":")).encode()
    sock.sendall(_LENGTH.pack(len(head)) + head)
    for blob in blobs:
        if blob:
            sock.sendall(blob)


def _exactly(sock: socket.socket, size: int) -> bytes:
    buffer = bytearray(size)
    view = memoryview(buffer)
    got = 0
    while got < size:
        n = sock.recv_into(view[got:], size - got)
        if n == 0:
            raise WireClosed("connection closed")
        got += n
    return bytes(buffer)


def receive(sock: socket.socket) -> tuple[dict[str, Any], list[bytes]]:
    (size,) = _LENGTH.unpack(_exactly(sock, _LENGTH.size))
    if size > _MAX_HEADER:
        raise WireClosed(f"header of {size} bytes refused")
    header = json.loads(_exactly(sock, size))
    if not isinstance(header, dict):
        raise WireClosed("header is not an object")
    blobs = [_exactly(sock, int(n)) if n else b"" for n in header.pop("blobs", [])]
    return header, blobs
