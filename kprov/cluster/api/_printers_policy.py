"""Table printer for policy/v1 PodDisruptionBudgets (columns as upstream's)."""

from __future__ import annotations

from typing import Any

from kprov.cluster.api._printing import AGE, NAME, Age, Column, Printer, created, name_of
from kprov.cluster.api.objects import get_path

__all__ = ["PODDISRUPTIONBUDGET"]


def _or_na(value: Any) -> str:
    return "N/A" if value is None else str(value)


def _row(obj: dict[str, Any], age: Age) -> list[Any]:
    return [
        name_of(obj),
        _or_na(get_path(obj, "spec.minAvailable")),
        _or_na(get_path(obj, "spec.maxUnavailable")),
        int(get_path(obj, "status.disruptionsAllowed", 0) or 0),
        created(obj, age),
    ]


PODDISRUPTIONBUDGET = Printer(
    (
        NAME,
        Column("Min Available", description="The minimum number of pods that must be available."),
        Column("Max Unavailable", description="The maximum number of pods that may be unavailable."),
        Column(
            "Allowed Disruptions", "integer", "Calculated number of pods that may be disrupted at this time."
        ),
        AGE,
    ),
    _row,
)
