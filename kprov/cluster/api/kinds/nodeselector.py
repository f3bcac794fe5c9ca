"""Does a node (its labels and name) satisfy a NodeSelector, as a PersistentVolume's
``spec.nodeAffinity.required`` states it: any term matches when all its matchExpressions
(on labels) and matchFields (on ``metadata.name``) do; an empty term matches nothing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["node_selector_matches", "requirement_matches"]


def requirement_matches(req: Mapping[str, Any], values: Mapping[str, str]) -> bool:
    key, op, wanted = req.get("key", ""), req.get("operator", ""), req.get("values") or []
    present = key in values
    if op == "In":
        return present and values[key] in wanted
    if op == "NotIn":
        return not present or values[key] not in wanted
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt") and present and wanted:
        try:
            have, limit = int(values[key]), int(wanted[0])
        except ValueError:
            return False
        return have > limit if op == "Gt" else have < limit
    return False


def node_selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str], name: str) -> bool:
    """None (no selector) matches every node."""
    if selector is None:
        return True
    for term in selector.get("nodeSelectorTerms") or []:
        exprs = term.get("matchExpressions") or []
        fields = term.get("matchFields") or []
        if not exprs and not fields:
            continue
        if all(requirement_matches(r, labels) for r in exprs) and all(
            requirement_matches(r, {"metadata.name": name}) for r in fields
        ):
            return True
    return False
