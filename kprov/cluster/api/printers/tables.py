"""Server-side printing: meta.k8s.io/v1 Tables with the columns kubectl users know.

Design: each kind has a `Printer` (column definitions + a row function) in _printers.py;
`to_table` runs it over objects and attaches each row's `object` as kubectl expects
(PartialObjectMetadata by default, the full object for includeObject=Object, none for
None). Kinds without a printer get NAME/AGE. The Table's metadata.resourceVersion and
continue token are left for the server to fill. `human_duration` is kubectl's age format.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from kprov.cluster.api.printers.columns import human_duration
from kprov.cluster.api.printers.custom import custom_printer
from kprov.cluster.api.printers.registry import PRINTERS, Column, Printer, default_printer
from kprov.cluster.api.resources import ResourceInfo

__all__ = ["Column", "column_definitions", "human_duration", "to_table", "translate_timestamp"]


def translate_timestamp(value: str | None, now: dt.datetime) -> str:
    """An RFC 3339 timestamp as an age relative to `now`; `<unknown>` when absent."""
    if not value:
        return "<unknown>"
    try:
        moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return "<unknown>"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return human_duration(now - moment)


def _printer(info: ResourceInfo) -> Printer:
    if info.custom is not None:
        return custom_printer(info.custom.printer_columns)
    return PRINTERS.get((info.group, info.kind)) or default_printer()


def column_definitions(info: ResourceInfo) -> list[dict[str, Any]]:
    return [column.definition() for column in _printer(info).columns]


def _row_object(obj: dict[str, Any], include_object: str) -> dict[str, Any] | None:
    if include_object == "None":
        return None
    if include_object == "Object":
        return obj
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata") or {},
    }


def to_table(
    info: ResourceInfo,
    objects: Iterable[dict[str, Any]],
    *,
    include_object: str = "Metadata",
    now: dt.datetime | None = None,
    no_headers: bool = False,
) -> dict[str, Any]:
    """A Table for `objects`; `no_headers` leaves columnDefinitions empty (watch events after the first)."""
    if include_object not in ("Metadata", "Object", "None"):
        raise ValueError(f"includeObject must be one of Metadata, Object, None; got {include_object!r}")
    moment = now or dt.datetime.now(dt.UTC)
    printer = _printer(info)
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": printer.row(obj, lambda value: translate_timestamp(value, moment))}
        attached = _row_object(obj, include_object)
        if attached is not None:
            row["object"] = attached
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {},
        "columnDefinitions": [] if no_headers else [c.definition() for c in printer.columns],
        "rows": rows,
    }
