"""The Kubernetes websocket channel protocol (v5.channel.k8s.io, also v4 and v1) used by exec.

Every websocket message is binary: one channel byte, then data. Channels: 0 stdin,
1 stdout, 2 stderr, 3 error/status (a metav1.Status as JSON, sent once at the end),
4 resize (``{"Width":W,"Height":H}``), and in v5 only, 255 = close: ``\\xff\\x00`` from the
client means "stdin is finished". Exit codes travel as a Failure status with reason
NonZeroExitCode and a cause ExitCode whose message is the number.

The first version, ``channel.k8s.io`` (what the conformance suite's websocket exec asks for),
carries no status on success and only the failure's message text otherwise
(:func:`v1_error_frame` rewrites a status frame so).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CLOSE",
    "ERROR",
    "PROTOCOLS",
    "V1_PROTOCOL",
    "RESIZE",
    "STDERR",
    "STDIN",
    "STDOUT",
    "Frame",
    "decode",
    "encode",
    "exit_status",
    "failure_status",
    "parse_resize",
    "pick_protocol",
    "v1_error_frame",
]

STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io", "channel.k8s.io")
V1_PROTOCOL = "channel.k8s.io"


@dataclass(frozen=True)
class Frame:
    channel: int
    data: bytes


def encode(channel: int, data: bytes) -> bytes:
    return bytes([channel]) + data


def decode(message: bytes) -> Frame:
    if not message:
        raise ValueError("empty websocket message: a channel byte is required")
    return Frame(message[0], bytes(message[1:]))


def pick_protocol(offered: str | None) -> str | None:
    """The subprotocol to answer with, from the client's Sec-WebSocket-Protocol header."""
    names = [p.strip() for p in (offered or "").split(",") if p.strip()]
    for wanted in PROTOCOLS:
        if wanted in names:
            return wanted
    return None


def exit_status(exit_code: int) -> bytes:
    if exit_code == 0:
        return json.dumps({"metadata": {}, "status": "Success"}).encode()
    body: dict[str, Any] = {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: exit status {exit_code}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(exit_code)}]},
    }
    return json.dumps(body).encode()


def failure_status(message: str, reason: str = "InternalError") -> bytes:
    return json.dumps({"metadata": {}, "status": "Failure", "message": message, "reason": reason}).encode()


def parse_resize(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a resize message, or None when it is not valid JSON."""
    try:
        size = json.loads(data.decode())
        return int(size.get("Width", 0)), int(size.get("Height", 0))
    except (ValueError, AttributeError, TypeError):
        return None


def v1_error_frame(message: bytes) -> bytes | None:
    """A frame as the v1 protocol sends it: an error-channel Status becomes its message text
    (None, nothing sent, for Success); other frames pass unchanged."""
    if not message or message[0] != ERROR:
        return message
    try:
        status = json.loads(message[1:].decode())
    except (ValueError, UnicodeDecodeError):
        return message
    if not isinstance(status, dict):
        return message
    if status.get("status") == "Success":
        return None
    return encode(ERROR, str(status.get("message", "")).encode())
