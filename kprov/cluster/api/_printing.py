"""Table printing building blocks: columns, printers, and the cells every kind shares.

Design: a `Printer` is a tuple of `Column`s plus a function from (object, age formatter) to
cells. Per-kind printers live in _printers_*.py and format cells the way the real server's
printers do (`1/1`, `80/TCP`, `<none>`, `Init:0/1`, `3 (5m ago)`), so kubectl prints them
unchanged; _printers.py maps kinds to them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kprov.cluster.api.objects import get_path

__all__ = ["AGE", "NAME", "NONE", "Age", "Column", "Printer", "created", "default_printer", "name_of"]

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
