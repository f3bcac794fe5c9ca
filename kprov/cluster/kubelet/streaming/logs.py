"""CRI container log files: parse, tail and follow them for ``kubectl logs``.

The runtime writes one record per line: ``<RFC3339Nano time> <stream> <P|F> <text>``,
where ``P`` marks a partial line (continued by the next record) and ``F`` a full one.
:func:`parse_line` reads one record; :func:`render` turns records back into what kubectl
shows (optionally with the timestamp prefix); :func:`tail_lines` takes the last N logical
lines; :func:`since` keeps the records written at or after a time (``sinceSeconds`` /
``sinceTime``); :class:`ByteLimit` cuts the output after ``limitBytes``; :func:`follow`
yields new complete records as the file grows, until told to stop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ByteLimit",
    "LogFormatError",
    "LogRecord",
    "follow",
    "parse_line",
    "parse_time",
    "read_records",
    "render",
    "since",
    "tail_lines",
]


class LogFormatError(ValueError):
    pass


@dataclass(frozen=True)
class LogRecord:
    timestamp: str
    stream: str  # stdout | stderr
    partial: bool
    text: bytes  # without the trailing newline


def parse_line(line: bytes) -> LogRecord:
    """One CRI log line (with or without its trailing newline)."""
    line = line.rstrip(b"\n")
    parts = line.split(b" ", 3)
    if len(parts) < 3 or parts[1] not in (b"stdout", b"stderr") or parts[2] not in (b"P", b"F"):
        raise LogFormatError(f"not a CRI log line: {line[:80]!r}")
    text = parts[3] if len(parts) == 4 else b""
    return LogRecord(parts[0].decode(), parts[1].decode(), parts[2] == b"P", text)


def render(records: Iterable[LogRecord], timestamps: bool = False) -> bytes:
    """Join records into output lines; a partial record continues on the next one."""
    out = bytearray()
    at_line_start = True
    for rec in records:
        if timestamps and at_line_start:
            out += rec.timestamp.encode() + b" "
        out += rec.text
        if not rec.partial:
            out += b"\n"
        at_line_start = not rec.partial
    return bytes(out)


def read_records(path: Path) -> list[LogRecord]:
    records = []
    with path.open("rb") as fh:
        for line in fh:
            if line.endswith(b"\n"):
                try:
                    records.append(parse_line(line))
                except LogFormatError:
                    continue
    return records


def parse_time(stamp: str) -> dt.datetime | None:
    """An RFC 3339 time (nanoseconds allowed; a ``Z`` or an offset), or None if it is not one."""
    text = stamp.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    head, dot, rest = text.partition(".")
    if dot:  # keep at most microseconds: datetime has no finer unit
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[:min(digits, 6)]}{rest[digits:]}"
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def since(records: list[LogRecord], start: dt.datetime | None) -> list[LogRecord]:
    """The records written at or after ``start`` (all when None; unparsable stamps are kept)."""
    if start is None:
        return records
    kept = []
    for rec in records:
        stamp = parse_time(rec.timestamp)
        if stamp is None or stamp >= start:
            kept.append(rec)
    return kept


class ByteLimit:
    """How much of ``limitBytes`` is left: :meth:`take` trims a chunk to it."""

    def __init__(self, limit: int | None) -> None:
        self.left = limit

    @property
    def exhausted(self) -> bool:
        return self.left is not None and self.left <= 0

    def take(self, chunk: bytes) -> bytes:
        if self.left is None:
            return chunk
        chunk = chunk[: max(0, self.left)]
        self.left -= len(chunk)
        return chunk


def tail_lines(records: list[LogRecord], count: int | None) -> list[LogRecord]:
    """The records making up the last ``count`` logical lines (None or negative: all)."""
    if count is None or count < 0:
        return records
    if count == 0:
        return []
    full_seen = 0
    for index in range(len(records) - 1, -1, -1):
        if not records[index].partial:
            full_seen += 1
            if full_seen == count + 1:
                return records[index + 1 :]
    return records


async def follow(
    path: Path, start_offset: int, keep_going: Callable[[], Awaitable[bool]], poll_s: float = 0.2
) -> AsyncIterator[LogRecord]:
    """Yield records appended after ``start_offset``; stop once ``await keep_going()`` is False and
    the file holds nothing new (so the last lines of a finished container are delivered)."""
    offset = start_offset
    pending = b""
    while True:
        data = b""
        try:
            with path.open("rb") as fh:
                fh.seek(offset)
                data = fh.read()
        except FileNotFoundError:
            data = b""
        if data:
            offset += len(data)
            pending += data
            *lines, pending = pending.split(b"\n")
            for line in lines:
                try:
                    yield parse_line(line)
                except LogFormatError:
                    continue
            continue
        if not await keep_going():
            return
        await asyncio.sleep(poll_s)
