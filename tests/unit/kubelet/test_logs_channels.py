from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from kprov.cluster.kubelet.streaming.logs import (
    LogFormatError,
    follow,
    parse_line,
    read_records,
    render,
    tail_lines,
)
from kprov.cluster.streaming import channels as ch

LINES = (
    b"2026-01-01T00:00:00.000000001Z stdout F first\n"
    b"2026-01-01T00:00:01.000000000Z stderr P par\n"
    b"2026-01-01T00:00:01.500000000Z stderr F tial\n"
    b"2026-01-01T00:00:02.000000000Z stdout F \n"
    b"2026-01-01T00:00:03.000000000Z stdout F last line\n"
)


def test_parse_line() -> None:
    rec = parse_line(b"2026-01-01T00:00:00Z stderr P hello world\n")
    assert (rec.timestamp, rec.stream, rec.partial, rec.text) == (
        "2026-01-01T00:00:00Z",
        "stderr",
        True,
        b"hello world",
    )
    assert parse_line(b"2026-01-01T00:00:00Z stdout F").text == b""
    with pytest.raises(LogFormatError):
        parse_line(b"just some text")


def test_render_joins_partials_and_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    path.write_bytes(LINES + b"2026-01-01T00:00:04Z stdout F incomplete-no-newline")
    records = read_records(path)
    assert render(records) == b"first\npartial\n\nlast line\n"
    stamped = render(records, timestamps=True).splitlines()
    assert stamped[0] == b"2026-01-01T00:00:00.000000001Z first"
    assert stamped[1] == b"2026-01-01T00:00:01.000000000Z partial"


def test_tail_counts_logical_lines(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    path.write_bytes(LINES)
    records = read_records(path)
    assert render(tail_lines(records, 1)) == b"last line\n"
    assert render(tail_lines(records, 3)) == b"partial\n\nlast line\n"
    assert render(tail_lines(records, 0)) == b""
    assert tail_lines(records, 100) == records and tail_lines(records, None) == records


async def test_follow_yields_appended_lines_until_stopped(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    path.write_bytes(LINES)
    alive = {"yes": True}

    async def keep_going() -> bool:
        return alive["yes"]

    got: list[bytes] = []

    async def reader() -> None:
        async for rec in follow(path, path.stat().st_size, keep_going, poll_s=0.01):
            got.append(rec.text)

    task = asyncio.create_task(reader())
    await asyncio.sleep(0.05)
    with path.open("ab") as fh:
        fh.write(b"2026-01-01T00:00:05Z stdout F new one\n2026-01-01T00:00:06Z stdout F half")
    await asyncio.sleep(0.05)
    with path.open("ab") as fh:
        fh.write(b"-done\n")
    alive["yes"] = False
    await asyncio.wait_for(task, 2)
    assert got == [b"new one", b"half-done"]


def test_channel_frames() -> None:
    assert ch.encode(ch.STDOUT, b"hi") == b"\x01hi"
    frame = ch.decode(b"\xff\x00")
    assert frame.channel == ch.CLOSE and frame.data == b"\x00"
    with pytest.raises(ValueError):
        ch.decode(b"")
    assert ch.parse_resize(b'{"Width":80,"Height":24}\n') == (80, 24)
    assert ch.parse_resize(b"garbage") is None


def test_exit_status_messages_match_kubectl_expectations() -> None:
    assert json.loads(ch.exit_status(0)) == {"metadata": {}, "status": "Success"}
    failure = json.loads(ch.exit_status(3))
    assert failure["status"] == "Failure" and failure["reason"] == "NonZeroExitCode"
    assert failure["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]


def test_protocol_negotiation() -> None:
    assert ch.pick_protocol("v5.channel.k8s.io") == "v5.channel.k8s.io"
    assert ch.pick_protocol("v4.channel.k8s.io, v5.channel.k8s.io") == "v5.channel.k8s.io"
    assert ch.pick_protocol("v4.channel.k8s.io") == "v4.channel.k8s.io"
    assert ch.pick_protocol("channel.k8s.io") == "channel.k8s.io"
    assert ch.pick_protocol("base64.channel.k8s.io") is None and ch.pick_protocol(None) is None


def test_the_first_protocol_sends_no_success_and_only_a_failures_text() -> None:
    assert ch.v1_error_frame(ch.encode(ch.ERROR, ch.exit_status(0))) is None
    failed = ch.v1_error_frame(ch.encode(ch.ERROR, ch.exit_status(2)))
    assert failed == b"\x03command terminated with non-zero exit code: exit status 2"
    assert ch.v1_error_frame(ch.encode(ch.STDOUT, b'{"status": "Success"}')) == b'\x01{"status": "Success"}'
    assert ch.v1_error_frame(b"") == b""


def test_since_and_byte_limit() -> None:
    import datetime as dt

    from kprov.cluster.kubelet.streaming.logs import ByteLimit, LogRecord, parse_time, since

    old = LogRecord("2026-11-23T16:17:51.871719123Z", "stdout", False, b"old")
    new = LogRecord("2026-11-23T16:18:51.000000001Z", "stdout", False, b"new")
    start = parse_time("2026-11-23T16:18:00Z")
    assert start == dt.datetime(2026, 11, 23, 16, 18, tzinfo=dt.UTC)
    assert since([old, new], start) == [new] and since([old, new], None) == [old, new]
    assert parse_time("not a time") is None
    limit = ByteLimit(1)
    assert limit.take(b"abc") == b"a" and limit.exhausted and limit.take(b"d") == b""
    assert ByteLimit(None).take(b"abc") == b"abc"
