"""SPDY/3.1 framing and a session (either side): as much of SPDY as Kubernetes streaming uses.

kubectl and client-go open port-forward (and, before 1.30, exec/attach) as a SPDY session:
the client opens streams with SYN_STREAM frames whose header block says what each stream
is for (``streamType``, ``port``, ``requestID``), the server answers every one with a
SYN_REPLY, and both sides send DATA frames, FIN on the last. kubectl 1.30+ carries the same
SPDY bytes inside WebSocket binary messages ("tunneling", subprotocol
``SPDY/3.1+portforward.k8s.io``), so the session here reads a plain byte stream and does
not care how it arrived.

Header blocks are zlib streams compressed with SPDY/3's fixed dictionary (one compression
context per direction for the whole connection; each block ends with a sync flush). Go's
SPDY peer (spdystream) neither sends nor honours WINDOW_UPDATE, so there is no flow control
to speak; SETTINGS and WINDOW_UPDATE from other peers are read and ignored. Why not a
library: no maintained Python SPDY implementation exists (SPDY was retired for HTTP/2 in
2016); the subset is small (seven frame types) and its wire format is fixed.

The same session also plays the client (:meth:`Session.open_stream`): the kubelet dials the
container runtime's CRI streaming server (containerd serves attach over SPDY only with a
stdin close signal) and opens the ``error``/``stdin``/``stdout``/``stderr``/``resize``
streams itself, odd stream ids as SPDY gives the initiator.
"""

from __future__ import annotations

import asyncio
import struct
import zlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

__all__ = [
    "DATA",
    "FLAG_FIN",
    "GOAWAY",
    "HEADERS",
    "PING",
    "RST_STREAM",
    "SETTINGS",
    "SYN_REPLY",
    "SYN_STREAM",
    "WINDOW_UPDATE",
    "Frame",
    "FrameReader",
    "HeaderCodec",
    "Session",
    "SpdyError",
    "SpdyStream",
    "encode_control",
    "encode_data",
    "header_dictionary",
]

VERSION = 3
DATA = 0
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 0x01
RST_PROTOCOL_ERROR = 1
RST_CANCEL = 5
MAX_DATA_CHUNK = 32 * 1024
MAX_FRAME = 1 << 24

# SPDY/3 (draft 3, section 2.6.10.1): the zlib dictionary for header blocks is 65
# length-prefixed words followed by a block of common status lines, dates and media types.
_DICTIONARY_WORDS = (
    "options", "head", "post", "put", "delete", "trace", "accept", "accept-charset", "accept-encoding",
    "accept-language", "accept-ranges", "age", "allow", "authorization", "cache-control", "connection",
    "content-base", "content-encoding", "content-language", "content-length", "content-location",
    "content-md5", "content-range", "content-type", "date", "etag", "expect", "expires", "from", "host",
    "if-match", "if-modified-since", "if-none-match", "if-range", "if-unmodified-since",
    "last-modified", "location", "max-forwards", "pragma", "proxy-authenticate", "proxy-authorization",
    "range", "referer", "retry-after", "server", "te", "trailer", "transfer-encoding", "upgrade",
    "user-agent", "vary", "via", "warning", "www-authenticate", "method", "get", "status", "200 OK",
    "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin",
)
_DICTIONARY_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request"
    "401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented"
    "503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 "
    "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,"
    "application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age="
    "gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)


def header_dictionary() -> bytes:
    """SPDY/3's zlib dictionary (1,423 bytes)."""
    out = bytearray()
    for word in _DICTIONARY_WORDS:
        out += struct.pack(">I", len(word)) + word.encode()
    return bytes(out) + _DICTIONARY_TAIL.encode()


class SpdyError(Exception):
    """The peer broke the protocol; the session ends."""


@dataclass(frozen=True)
class Frame:
    kind: int  # DATA or a control frame type
    flags: int
    stream_id: int = 0
    data: bytes = b""  # DATA: the payload; control frames: the payload after the ids
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 0  # RST_STREAM / GOAWAY status code, PING id


class HeaderCodec:
    """One direction's header compression (the zlib context lives as long as the connection)."""

    def __init__(self) -> None:
        dictionary = header_dictionary()
        self._compress = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, 15, 9,
                                          zlib.Z_DEFAULT_STRATEGY, dictionary)
        self._decompress = zlib.decompressobj(15, dictionary)

    def encode(self, headers: Mapping[str, str]) -> bytes:
        raw = bytearray(struct.pack(">I", len(headers)))
        for name, value in headers.items():
            key, val = name.lower().encode(), value.encode()
            raw += struct.pack(">I", len(key)) + key + struct.pack(">I", len(val)) + val
        return self._compress.compress(bytes(raw)) + self._compress.flush(zlib.Z_SYNC_FLUSH)

    def decode(self, block: bytes) -> dict[str, str]:
        try:
            raw = self._decompress.decompress(block)
        except zlib.error as err:
            raise SpdyError(f"bad header block: {err}") from None
        try:
            (count,) = struct.unpack_from(">I", raw, 0)
            at, headers = 4, {}
            for _ in range(count):
                (length,) = struct.unpack_from(">I", raw, at)
                name = raw[at + 4: at + 4 + length].decode().lower()
                at += 4 + length
                (length,) = struct.unpack_from(">I", raw, at)
                value = raw[at + 4: at + 4 + length].decode()
                at += 4 + length
                headers[name] = value.split("\0", 1)[0]  # several values are NUL-separated; the first is used
        except (struct.error, UnicodeDecodeError) as err:
            raise SpdyError(f"bad header block: {err}") from None
        return headers


def encode_control(kind: int, flags: int, payload: bytes) -> bytes:
    return struct.pack(">HHI", 0x8000 | VERSION, kind, (flags << 24) | len(payload)) + payload


def encode_data(stream_id: int, flags: int, data: bytes) -> bytes:
    return struct.pack(">II", stream_id & 0x7FFFFFFF, (flags << 24) | len(data)) + data


class FrameReader:
    """Cut a byte stream into frames; header blocks are decoded with the peer's codec."""

    def __init__(self, codec: HeaderCodec) -> None:
        self._codec = codec
        self._buffer = bytearray()

    def feed(self, chunk: bytes) -> list[Frame]:
        self._buffer += chunk
        frames: list[Frame] = []
        while len(self._buffer) >= 8:
            word, flags_length = struct.unpack_from(">II", self._buffer, 0)
            length = flags_length & 0xFFFFFF
            if len(self._buffer) < 8 + length:
                break
            payload = bytes(self._buffer[8: 8 + length])
            del self._buffer[: 8 + length]
            frames.append(self._frame(word, flags_length >> 24, payload))
        return frames

    def _frame(self, word: int, flags: int, payload: bytes) -> Frame:
        if not word & 0x80000000:
            return Frame(DATA, flags, word & 0x7FFFFFFF, payload)
        version, kind = (word >> 16) & 0x7FFF, word & 0xFFFF
        if version != VERSION:
            raise SpdyError(f"unsupported SPDY version {version}")
        try:
            if kind == SYN_STREAM:
                (stream_id,) = struct.unpack_from(">I", payload, 0)
                return Frame(kind, flags, stream_id & 0x7FFFFFFF, headers=self._codec.decode(payload[10:]))
            if kind in (SYN_REPLY, HEADERS):
                (stream_id,) = struct.unpack_from(">I", payload, 0)
                return Frame(kind, flags, stream_id & 0x7FFFFFFF, headers=self._codec.decode(payload[4:]))
            if kind == RST_STREAM:
                stream_id, status = struct.unpack_from(">II", payload, 0)
                return Frame(kind, flags, stream_id & 0x7FFFFFFF, status=status)
            if kind == PING:
                return Frame(kind, flags, status=struct.unpack_from(">I", payload, 0)[0])
            if kind == GOAWAY:
                last, status = struct.unpack_from(">II", payload, 0)
                return Frame(kind, flags, last & 0x7FFFFFFF, status=status)
        except struct.error:
            raise SpdyError(f"short SPDY control frame of type {kind}") from None
        return Frame(kind, flags, data=payload)  # SETTINGS, WINDOW_UPDATE, unknown: read and ignored


Send = Callable[[bytes], Awaitable[None]]


class SpdyStream:
    """One stream of a session: the client's headers, its inbound bytes, our writes to it."""

    def __init__(self, session: Session, stream_id: int, headers: dict[str, str]) -> None:
        self.session = session
        self.id = stream_id
        self.headers = headers
        self._inbound: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.remote_closed = False
        self.local_closed = False

    def _deliver(self, data: bytes, fin: bool) -> None:
        if self.remote_closed:
            return
        if data:
            self._inbound.put_nowait(data)
        if fin:
            self.remote_closed = True
            self._inbound.put_nowait(None)

    async def read(self) -> bytes:
        """The next chunk from the peer; b'' once the peer closed its side (FIN or reset)."""
        chunk = await self._inbound.get()
        if chunk is None:
            self._inbound.put_nowait(None)  # stay at end of stream for later readers
            return b""
        return chunk

    async def write(self, data: bytes) -> None:
        if self.local_closed:
            return
        for at in range(0, len(data), MAX_DATA_CHUNK):
            await self.session.send_frame(encode_data(self.id, 0, data[at: at + MAX_DATA_CHUNK]))

    async def close(self) -> None:
        """Half-close: an empty DATA frame with FIN."""
        if not self.local_closed:
            self.local_closed = True
            await self.session.send_frame(encode_data(self.id, FLAG_FIN, b""))

    async def reset(self, status: int = RST_CANCEL) -> None:
        self.local_closed = True
        self._deliver(b"", True)
        await self.session.send_frame(encode_control(RST_STREAM, 0, struct.pack(">II", self.id, status)))


class Session:
    """One SPDY connection: accepts the peer's streams, opens its own, answers pings."""

    def __init__(self, send: Send, on_stream: Callable[[SpdyStream], None]) -> None:
        self._send = send
        self._on_stream = on_stream
        self._reader = FrameReader(HeaderCodec())
        self._out_codec = HeaderCodec()
        self._lock = asyncio.Lock()
        self.streams: dict[int, SpdyStream] = {}
        self.goaway = False
        self._next_id = 1  # streams we open (as the client) have odd ids

    async def open_stream(self, headers: Mapping[str, str]) -> SpdyStream:
        """Open a stream to the peer (SYN_STREAM); its reply is not waited for."""
        stream_id = self._next_id
        self._next_id += 2
        stream = self.streams[stream_id] = SpdyStream(self, stream_id, dict(headers))
        async with self._lock:  # header blocks must go out in compression order
            block = self._out_codec.encode(headers)
            await self._send(encode_control(SYN_STREAM, 0, struct.pack(">IIBB", stream_id, 0, 0, 0) + block))
        return stream

    async def send_frame(self, frame: bytes) -> None:
        async with self._lock:
            await self._send(frame)

    async def feed(self, chunk: bytes) -> None:
        """Process bytes from the peer (any split); raises SpdyError on a protocol error."""
        for frame in self._reader.feed(chunk):
            await self._handle(frame)

    async def _handle(self, frame: Frame) -> None:
        if frame.kind == DATA:
            stream = self.streams.get(frame.stream_id)
            if stream is not None:
                stream._deliver(frame.data, bool(frame.flags & FLAG_FIN))
        elif frame.kind == SYN_STREAM:
            if frame.stream_id in self.streams:
                raise SpdyError(f"stream {frame.stream_id} opened twice")
            stream = self.streams[frame.stream_id] = SpdyStream(self, frame.stream_id, frame.headers)
            async with self._lock:  # the reply's header block must go out in compression order
                block = self._out_codec.encode({})
                await self._send(encode_control(SYN_REPLY, 0, struct.pack(">I", frame.stream_id) + block))
            if frame.flags & FLAG_FIN:
                stream._deliver(b"", True)
            self._on_stream(stream)
        elif frame.kind == SYN_REPLY:
            pass  # the peer accepted a stream we opened; nothing to wait for
        elif frame.kind == RST_STREAM:
            stream = self.streams.get(frame.stream_id)
            if stream is not None:
                stream.local_closed = True
                stream._deliver(b"", True)
        elif frame.kind == PING:
            await self.send_frame(encode_control(PING, 0, struct.pack(">I", frame.status)))
        elif frame.kind == GOAWAY:
            self.goaway = True

    def close_all(self) -> None:
        """The connection is gone: every stream reads end of stream."""
        for stream in self.streams.values():
            stream.local_closed = True
            stream._deliver(b"", True)
