"""Table printing building blocks: columns, printers, and the cells every kind shares.

Design: a `Printer` is a tuple of `Column`s plus a function from (object, age formatter) to
cells. Per-kind printers live in _printers_*.py and format cells the way the real server's
printers do (`1/1`, `80/TCP`, `<none>`, `Init:0/1`, `3 (5m ago)`), so kubectl prints them
unchanged; _printers.py maps kinds to them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kprov.cluster.api.objects import get_path

__all__ = [
    "AGE",
    "NAME",
    "NONE",
    "Age",
    "Column",
    "Printer",
    "created",
    "default_printer",
    "human_duration",
    "name_of",
]

Age = Callable[[str | None], str]
NONE = "<none>"


@dataclass(frozen=True)
class Column:
    name: str
    type: str = "string"
    description: str = ""
    priority: int = 0
    format: str = ""

    def definition(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "description": self.description or self.name,
            "priority": self.priority,
        }


@dataclass(frozen=True)
class Printer:
    columns: tuple[Column, ...]
    row: Callable[[dict[str, Any], Age], list[Any]]


NAME = Column("Name", format="name", description="Name must be unique within a namespace.")
AGE = Column(
    "Age",
    description="CreationTimestamp is a timestamp representing the server time when this object was created.",
)


def name_of(obj: dict[str, Any]) -> str:
    return str(get_path(obj, "metadata.name", ""))


def created(obj: dict[str, Any], age: Age) -> str:
    return age(get_path(obj, "metadata.creationTimestamp"))


def default_printer() -> Printer:
    return Printer((NAME, AGE), lambda obj, age: [name_of(obj), created(obj, age)])


def human_duration(delta: dt.timedelta) -> str:
    """kubectl's age format: 45s, 5m, 3m20s, 3h12m, 20h, 2d, 3d4h, 400d, 2y10d."""
    seconds = int(delta.total_seconds())
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        rest = seconds % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = seconds // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"
