"""Which PersistentVolume can serve a claim, as upstream's PV controller and the scheduler's
VolumeBinding plugin judge it (shared by both here).

Design: a volume fits a claim when it is not being deleted, has the claim's class and
volumeMode, offers every access mode the claim asks for, has at least the requested
capacity, carries labels matching the claim's selector and, once a node is chosen, admits
that node by its nodeAffinity. :func:`find_volume` prefers the volume pre-bound to the claim
(``claimRef`` naming it), else the smallest free fitting one.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from kprov.cluster.api.kinds.nodeselector import node_selector_matches
from kprov.cluster.api.objects import parse_quantity
from kprov.cluster.api.selectors import SelectorError, label_selector_from_object

__all__ = ["claim_class", "find_volume", "prebound_to", "volume_class", "volume_fits"]

Obj = dict[str, Any]


def _meta(obj: Obj) -> dict[str, Any]:
    return obj.get("metadata") or {}


def _size(value: Any) -> Decimal:
    try:
        return parse_quantity(value)
    except (ValueError, ArithmeticError, TypeError):
        return Decimal(0)


def claim_class(claim: Obj) -> str:
    beta = (_meta(claim).get("annotations") or {}).get("volume.beta.kubernetes.io/storage-class")
    return str(beta if beta is not None else (claim.get("spec") or {}).get("storageClassName") or "")


def volume_class(volume: Obj) -> str:
    beta = (_meta(volume).get("annotations") or {}).get("volume.beta.kubernetes.io/storage-class")
    return str(beta if beta is not None else (volume.get("spec") or {}).get("storageClassName") or "")


def prebound_to(volume: Obj, claim: Obj) -> bool:
    """The volume's claimRef names this claim (and, when it has a uid, this very claim)."""
    ref = (volume.get("spec") or {}).get("claimRef")
    if not isinstance(ref, dict):
        return False
    meta = _meta(claim)
    if ref.get("name") != meta.get("name") or ref.get("namespace") != meta.get("namespace"):
        return False
    return not ref.get("uid") or ref.get("uid") == meta.get("uid")


def volume_fits(volume: Obj, claim: Obj, node: tuple[dict[str, str], str] | None = None) -> bool:
    """Whether ``volume`` can serve ``claim`` (``node``: the selected node's labels and name)."""
    vspec, cspec = volume.get("spec") or {}, claim.get("spec") or {}
    if _meta(volume).get("deletionTimestamp"):
        return False
    if volume_class(volume) != claim_class(claim):
        return False
    if (vspec.get("volumeMode") or "Filesystem") != (cspec.get("volumeMode") or "Filesystem"):
        return False
    if not set(cspec.get("accessModes") or []) <= set(vspec.get("accessModes") or []):
        return False
    want = _size(((cspec.get("resources") or {}).get("requests") or {}).get("storage"))
    if _size((vspec.get("capacity") or {}).get("storage")) < want:
        return False
    if cspec.get("selector") is not None:
        try:
            if not label_selector_from_object(cspec["selector"]).matches(_meta(volume).get("labels") or {}):
                return False
        except SelectorError:
            return False
    if node is not None:
        required = (vspec.get("nodeAffinity") or {}).get("required")
        if not node_selector_matches(required, node[0], node[1]):
            return False
    return True


def find_volume(volumes: list[Obj], claim: Obj, node: tuple[dict[str, str], str] | None = None) -> Obj | None:
    """The volume pre-bound to ``claim`` if it fits, else the smallest free one that does."""
    best: Obj | None = None
    for volume in volumes:
        ref = (volume.get("spec") or {}).get("claimRef")
        if prebound_to(volume, claim):
            if volume_fits(volume, claim, node):
                return volume
            continue
        if ref or (volume.get("status") or {}).get("phase") not in (None, "", "Available", "Pending"):
            continue
        if not volume_fits(volume, claim, node):
            continue
        size = _size((volume.get("spec") or {}).get("capacity", {}).get("storage"))
        if best is None or size < _size((best.get("spec") or {}).get("capacity", {}).get("storage")):
            best = volume
    return best
