"""Table printers for FlowSchemas and PriorityLevelConfigurations (columns as upstream's:
a schema's level, precedence, distinguisher and whether its level is missing, from the
``Dangling`` condition, ``?`` without one; a level's type and, for Limited ones, shares and
queuing parameters, ``<none>`` otherwise)."""

from __future__ import annotations

from typing import Any

from kprov.cluster.api.printers.columns import AGE, NAME, Age, Column, Printer, created, name_of

__all__ = ["FLOWSCHEMA", "PRIORITYLEVELCONFIGURATION"]

_NONE = "<none>"


def _flow_schema_row(obj: dict[str, Any], age: Age) -> list[Any]:
    spec = obj.get("spec") or {}
    method = (spec.get("distinguisherMethod") or {}).get("type") or _NONE
    missing = "?"
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Dangling":
            missing = condition.get("status", "")
            break
    level = (spec.get("priorityLevelConfiguration") or {}).get("name", "")
    return [name_of(obj), level, int(spec.get("matchingPrecedence") or 0), method, created(obj, age), missing]


def _priority_level_row(obj: dict[str, Any], age: Age) -> list[Any]:
    spec = obj.get("spec") or {}
    shares: Any = _NONE
    queues: Any = _NONE
    hand: Any = _NONE
    limit: Any = _NONE
    limited = spec.get("limited")
    if isinstance(limited, dict):
        shares = limited.get("nominalConcurrencyShares", 0)
        queuing = (limited.get("limitResponse") or {}).get("queuing")
        if isinstance(queuing, dict):
            queues, hand, limit = (
                queuing.get("queues", 0),
                queuing.get("handSize", 0),
                queuing.get("queueLengthLimit", 0),
            )
    return [name_of(obj), spec.get("type", ""), shares, queues, hand, limit, created(obj, age)]


FLOWSCHEMA = Printer(
    (
        NAME,
        Column("PriorityLevel", description="priorityLevelConfiguration"),
        Column("MatchingPrecedence", "integer", "matchingPrecedence"),
        Column("DistinguisherMethod", description="distinguisherMethod"),
        AGE,
        Column("MissingPL", description="references a broken or non-existent PriorityLevelConfiguration"),
    ),
    _flow_schema_row,
)
PRIORITYLEVELCONFIGURATION = Printer(
    (
        NAME,
        Column("Type", description="type"),
        Column("NominalConcurrencyShares", description="nominalConcurrencyShares"),
        Column("Queues", description="queues"),
        Column("HandSize", description="handSize"),
        Column("QueueLengthLimit", description="queueLengthLimit"),
        AGE,
    ),
    _priority_level_row,
)
