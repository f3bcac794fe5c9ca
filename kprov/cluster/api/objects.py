"""Small helpers over API objects as plain dicts, shared by the server and the components.

Design: pure functions, no classes to learn. Paths are dotted (`spec.template.spec`);
getters never raise on missing parts. Timestamps are RFC 3339 UTC strings with second
precision, as the API serves them. Quantities parse to `Decimal` exactly.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import re
import time
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = [
    "controller_ref",
    "cpu_millis",
    "deep_copy",
    "format_time",
    "get_condition",
    "get_path",
    "is_controlled_by",
    "is_pod_ready",
    "is_spec_change",
    "memory_bytes",
    "new_controller_ref",
    "now_rfc3339",
    "parse_quantity",
    "parse_time",
    "set_condition",
    "set_path",
]

_NOT_SPEC = frozenset({"apiVersion", "kind", "metadata", "status"})


def deep_copy(obj: Any) -> Any:
    return copy.deepcopy(obj)


def get_path(obj: Mapping[str, Any] | None, path: str, default: Any = None) -> Any:
    """`get_path(pod, "spec.nodeName")`; missing parts or non-dicts on the way give `default`."""
    value: Any = obj
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return default
        value = value[part]
    return default if value is None else value


def set_path(obj: dict[str, Any], path: str, value: Any) -> None:
    """Set a dotted path, creating intermediate dicts."""
    parts = path.split(".")
    target = obj
    for part in parts[:-1]:
        child = target.get(part)
        if not isinstance(child, dict):
            child = {}
            target[part] = child
        target = child
    target[parts[-1]] = value


def is_spec_change(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """True when anything but metadata/status changed: the server bumps metadata.generation then."""
    keys = (set(old) | set(new)) - _NOT_SPEC
    return any(old.get(k) != new.get(k) for k in keys)


# --- time ---------------------------------------------------------------------------------------


def format_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_rfc3339() -> str:
    """Now, to the second (every write stamps a time or two: the text of the current second
    is formatted once, not per call)."""
    return _second_text(int(time.time()))


@functools.lru_cache(maxsize=4)
def _second_text(second: int) -> str:
    return format_time(dt.datetime.fromtimestamp(second, dt.UTC))


def parse_time(text: str | None) -> dt.datetime | None:
    """RFC 3339 (`2024-01-02T03:04:05Z`, fractional seconds and offsets allowed) or None."""
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


# --- conditions ---------------------------------------------------------------------------------


def get_condition(obj: Mapping[str, Any], cond_type: str) -> dict[str, Any] | None:
    for cond in get_path(obj, "status.conditions", []) or []:
        if isinstance(cond, dict) and cond.get("type") == cond_type:
            return cond
    return None


def set_condition(status: dict[str, Any], condition: Mapping[str, Any], now: str | None = None) -> bool:
    """Upsert a condition by type; lastTransitionTime changes only with `status`. Returns changed."""
    conditions: list[dict[str, Any]] = status.setdefault("conditions", [])
    stamp = now or now_rfc3339()
    for index, existing in enumerate(conditions):
        if existing.get("type") != condition.get("type"):
            continue
        merged = {**existing, **condition}
        if existing.get("status") != condition.get("status"):
            merged["lastTransitionTime"] = condition.get("lastTransitionTime", stamp)
        else:
            merged["lastTransitionTime"] = existing.get("lastTransitionTime", stamp)
        if "lastHeartbeatTime" in merged and "lastHeartbeatTime" not in condition:
            merged["lastHeartbeatTime"] = existing["lastHeartbeatTime"]
        changed = merged != existing
        conditions[index] = merged
        return changed
    conditions.append({"lastTransitionTime": stamp, **condition})
    return True


def is_pod_ready(pod: Mapping[str, Any]) -> bool:
    cond = get_condition(pod, "Ready")
    return cond is not None and cond.get("status") == "True"


# --- owner references ---------------------------------------------------------------------------


def new_controller_ref(owner: Mapping[str, Any]) -> dict[str, Any]:
    """The ownerReference a controller puts on what it creates."""
    meta = owner.get("metadata") or {}
    return {
        "apiVersion": owner.get("apiVersion", ""),
        "kind": owner.get("kind", ""),
        "name": meta.get("name", ""),
        "uid": meta.get("uid", ""),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def controller_ref(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    for ref in get_path(obj, "metadata.ownerReferences", []) or []:
        if ref.get("controller"):
            return ref
    return None


def is_controlled_by(obj: Mapping[str, Any], owner: Mapping[str, Any]) -> bool:
    ref = controller_ref(obj)
    return ref is not None and ref.get("uid") == get_path(owner, "metadata.uid")


# --- quantities ---------------------------------------------------------------------------------

_QUANTITY = re.compile(
    r"^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?)$"
)
_SUFFIX = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
}


def parse_quantity(value: str | int | float) -> Decimal:
    """`"100m"` -> 0.1, `"1Gi"` -> 1073741824, `"1e3"` -> 1000. Raises ValueError on bad syntax."""
    if isinstance(value, bool):
        raise ValueError(f"quantity must be a number or string, not {value!r}")
    if isinstance(value, int | float):
        return Decimal(str(value))
    match = _QUANTITY.match(str(value).strip())
    if not match:
        raise ValueError(
            f"quantities must match the regular expression "
            f"'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': {value!r}"
        )
    number, exponent, suffix = match.groups()
    try:
        base = Decimal(number)
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only decimals
        raise ValueError(f"bad quantity {value!r}") from exc
    if exponent:
        return base * (Decimal(10) ** int(exponent[1:]))
    return base * _SUFFIX[suffix or ""]


def cpu_millis(value: str | int | float) -> int:
    """CPU quantity in millicores, rounded up like the scheduler does."""
    millis = parse_quantity(value) * 1000
    return int(millis.to_integral_value(rounding="ROUND_CEILING"))


def memory_bytes(value: str | int | float) -> int:
    """Memory (or any byte) quantity in bytes, rounded up."""
    return int(parse_quantity(value).to_integral_value(rounding="ROUND_CEILING"))
