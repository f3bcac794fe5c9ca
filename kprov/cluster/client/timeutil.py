"""Kubernetes timestamps: RFC 3339 in UTC, seconds (``Time``) or microseconds (``MicroTime``)."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["format_micro_time", "format_time", "now", "parse_time"]


def now() -> datetime:
    return datetime.now(UTC)


def format_time(when: datetime | None = None) -> str:
    return (when or now()).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
