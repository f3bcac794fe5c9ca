"""Builders for validation causes in the real API server's wording.

Design: `Errors` collects `Cause`s; its methods mirror apimachinery's field error types
(Required, Invalid, NotSupported, Forbidden, Duplicate, NotFound, TooLong) so messages read
`spec.containers[0].image: Required value` exactly like the real server's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from kprov.cluster.api.errors import Cause

__all__ = ["Errors", "go_value"]


def go_value(value: Any) -> str:
    """How Go's %#v-ish error formatting shows a value: strings quoted, others as JSON."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


class Errors:
    def __init__(self) -> None:
        self.causes: list[Cause] = []

    def required(self, field: str, detail: str = "") -> None:
        self.causes.append(
            Cause(field, "FieldValueRequired", "Required value" + (f": {detail}" if detail else ""))
        )

    def invalid(self, field: str, value: Any, detail: str) -> None:
        self.causes.append(Cause(field, "FieldValueInvalid", f"Invalid value: {go_value(value)}: {detail}"))

    def not_supported(self, field: str, value: Any, supported: Iterable[str]) -> None:
        quoted = ", ".join(json.dumps(s) for s in supported)
        self.causes.append(
            Cause(
                field,
                "FieldValueNotSupported",
                f"Unsupported value: {go_value(value)}: supported values: {quoted}",
            )
        )

    def forbidden(self, field: str, detail: str) -> None:
        self.causes.append(Cause(field, "FieldValueForbidden", f"Forbidden: {detail}"))

    def duplicate(self, field: str, value: Any) -> None:
        self.causes.append(Cause(field, "FieldValueDuplicate", f"Duplicate value: {go_value(value)}"))

    def not_found(self, field: str, value: Any) -> None:
        self.causes.append(Cause(field, "FieldValueNotFound", f"Not found: {go_value(value)}"))

    def too_long(self, field: str, limit: int) -> None:
        self.causes.append(Cause(field, "FieldValueTooLong", f"Too long: must have at most {limit} bytes"))

    def immutable(self, field: str, value: Any) -> None:
        self.invalid(field, value, "field is immutable")

    def each(self, field: str, value: Any, messages: Iterable[str]) -> None:
        for message in messages:
            self.invalid(field, value, message)
