"""Kubernetes timestamps: RFC 3339 in UTC, seconds (``Time``) or microseconds (``MicroTime``).

``format_time()`` for "now" is formatted once per second (it is called for every event a
busy component records)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

__all__ = ["format_micro_time", "format_time", "now", "parse_time"]


def now() -> datetime:
    return datetime.now(UTC)


_last_second: list[tuple[int, str]] = [(-1, "")]


def format_time(when: datetime | None = None) -> str:
    if when is None:
        second = int(time.time())
        cached = _last_second[0]
        if cached[0] == second:
            return cached[1]
        text = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        _last_second[0] = (second, text)
        return text
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_micro_time(when: datetime | None = None) -> str:
    return (when or now()).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str | None) -> datetime | None:
    """Parse either form; None for empty or unparsable input."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
