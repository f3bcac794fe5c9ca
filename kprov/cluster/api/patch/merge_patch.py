"""RFC 7386 JSON Merge Patch.

Design: a recursive merge over plain values: objects merge key by key, `null` deletes,
everything else (lists included) replaces. The input is never mutated.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["apply_merge_patch"]


def apply_merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply_merge_patch(result.get(key), value)
    return result
