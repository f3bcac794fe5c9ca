"""Printers and validation of ComponentStatus and VolumeAttachment, as upstream's."""

from __future__ import annotations

from typing import Any

from kprov.cluster.api.printers.registry import PRINTERS
from kprov.cluster.api.resources import REGISTRY
from kprov.cluster.api.validation.core import validate


def _row(kind: tuple[str, str], obj: dict[str, Any]) -> list[Any]:
    return PRINTERS[kind].row(obj, lambda _: "1m")


def test_componentstatus_rows() -> None:
    healthy = {"metadata": {"name": "etcd-0"},
               "conditions": [{"type": "Healthy", "status": "True", "message": "ok"}]}
    failing = {"metadata": {"name": "scheduler"},
               "conditions": [{"type": "Healthy", "status": "False", "message": "m", "error": "e"}]}
    assert _row(("", "ComponentStatus"), healthy) == ["etcd-0", "Healthy", "ok", ""]
    assert _row(("", "ComponentStatus"), failing) == ["scheduler", "Unhealthy", "m", "e"]
    assert _row(("", "ComponentStatus"), {"metadata": {"name": "x"}}) == ["x", "Unknown", "", ""]


def _attachment(**spec: Any) -> dict[str, Any]:
    base = {"attacher": "csi.example.com", "nodeName": "n1", "source": {"persistentVolumeName": "pv"}}
    return {"metadata": {"name": "va"}, "spec": {**base, **spec}}


def _messages(obj: dict[str, Any], old: dict[str, Any] | None = None) -> list[str]:
    info = REGISTRY.get("storage.k8s.io", "v1", "volumeattachments")
    assert info is not None
    return [str(c) for c in validate(info, obj, old)]


def test_volumeattachment_validation() -> None:
    assert _messages(_attachment()) == []
    assert _messages(_attachment(attacher=""))[0] == "spec.attacher: Required value"
    both = _attachment(source={"persistentVolumeName": "pv", "inlineVolumeSpec": {}})
    assert _messages(both) == [
        "spec.source: Forbidden: must specify exactly one of inlineVolumeSpec and persistentVolumeName"
    ]
    moved = _messages(_attachment(nodeName="n2"), _attachment())
    assert len(moved) == 1 and moved[0].startswith("spec: Invalid value")
    assert moved[0].endswith("field is immutable")


def test_volumeattachment_row() -> None:
    obj = {**_attachment(), "status": {"attached": True}}
    row = _row(("storage.k8s.io", "VolumeAttachment"), obj)
    assert row == ["va", "csi.example.com", "pv", "n1", True, "1m"]
