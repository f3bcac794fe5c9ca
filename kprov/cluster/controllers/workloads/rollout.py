"""Deployment rollout arithmetic, pure: template hashes, revisions, surge/unavailable.

- :func:`template_hash` is the ``pod-template-hash`` label: FNV-1a (32 bit) of the pod
  template as canonical JSON (without that label) plus the collision count, written in the
  consonant alphabet Kubernetes uses so it never spells words.
- :func:`same_template` compares a Deployment's template with a ReplicaSet's, ignoring
  the hash label: this is how ``kubectl rollout undo`` (which copies an old ReplicaSet's
  template back into the Deployment) makes that ReplicaSet current again.
- :func:`resolve_surge_unavailable` turns ints or percentages into pod counts (surge
  rounds up, unavailable rounds down; both 0 means unavailable 1).
"""

from __future__ import annotations

import copy
import json
import math
from typing import Any

__all__ = [
    "HASH_LABEL",
    "REVISION",
    "max_revision",
    "resolve_surge_unavailable",
    "revision_of",
    "same_template",
    "scaled_value",
    "template_hash",
]

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

Obj = dict[str, Any]


def _without_hash(template: Obj) -> Obj:
    clean = copy.deepcopy(template or {})
    labels = (clean.get("metadata") or {}).get("labels")
    if labels and HASH_LABEL in labels:
        del labels[HASH_LABEL]
    return clean


def template_hash(template: Obj, collision_count: int = 0) -> str:
    data = json.dumps(_drop_empty(_without_hash(template)), sort_keys=True, separators=(",", ":")).encode()
    if collision_count:
        data += str(collision_count).encode()
    value = 0x811C9DC5
    for byte in data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    digits = str(value)
    return "".join(_ALPHABET[int(d) % len(_ALPHABET)] for d in digits)[:10]


def _drop_empty(value: Any) -> Any:
    """null, {} and [] mean "unset" (Go's zero values), so they compare equal to absent."""
    if isinstance(value, dict):
        cleaned = {k: _drop_empty(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_drop_empty(v) for v in value]
    return value


def same_template(a: Obj, b: Obj) -> bool:
    def normal(t: Obj) -> str:
        return json.dumps(_drop_empty(_without_hash(t)), sort_keys=True)

    return normal(a) == normal(b)


def revision_of(obj: Obj) -> int:
    value = ((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION)
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0


def max_revision(sets: list[Obj]) -> int:
    return max((revision_of(rs) for rs in sets), default=0)


def scaled_value(value: int | str | None, total: int, round_up: bool, default: int | str) -> int:
    raw = default if value is None else value
    if isinstance(raw, int):
        return raw
    text = str(raw).strip()
    if text.endswith("%"):
        fraction = int(text[:-1]) * total / 100
        return math.ceil(fraction) if round_up else math.floor(fraction)
    return int(text)


def resolve_surge_unavailable(strategy: Obj, replicas: int) -> tuple[int, int]:
    rolling = (strategy or {}).get("rollingUpdate") or {}
    surge = scaled_value(rolling.get("maxSurge"), replicas, True, "25%")
    unavailable = scaled_value(rolling.get("maxUnavailable"), replicas, False, "25%")
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable
