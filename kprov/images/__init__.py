"""kprov.images: build small OCI image archives locally and import them on nodes.

No registry is needed anywhere: an image is built from files on this machine (a static
busybox is the usual base) into an OCI archive, uploaded over SSH and imported with
``ctr -n k8s.io images import`` so the CRI plugin of containerd sees it.

- :mod:`kprov.images.oci`: :class:`ImageSpec` -> OCI archive bytes on disk (:func:`build_archive`)
- :mod:`kprov.images.recipes`: ready-made specs (busybox, pause)
- :mod:`kprov.images.push`: upload + import on hosts (the engine's connectors)

The names below are imported on first use: ``python -m kprov.images.mirror_load``, which the
registry role runs on every control-plane host in every apply, needs none of them, and
importing push and its SSH stack up front was most of its start (``-X importtime`` on a lab
host).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kprov.images.oci import FileEntry, ImageSpec, build_archive, normalize_reference
    from kprov.images.push import PushResult, SSHTarget, import_command, push_archive
    from kprov.images.recipes import BUSYBOX_PATH, busybox_image, pause_image

__all__ = [
    "BUSYBOX_PATH",
    "FileEntry",
    "ImageSpec",
    "PushResult",
    "SSHTarget",
    "build_archive",
    "busybox_image",
    "import_command",
    "normalize_reference",
    "pause_image",
    "push_archive",
]

_HOMES = {
    "FileEntry": "kprov.images.oci",
    "ImageSpec": "kprov.images.oci",
    "build_archive": "kprov.images.oci",
    "normalize_reference": "kprov.images.oci",
    "PushResult": "kprov.images.push",
    "SSHTarget": "kprov.images.push",
    "import_command": "kprov.images.push",
    "push_archive": "kprov.images.push",
    "BUSYBOX_PATH": "kprov.images.recipes",
    "busybox_image": "kprov.images.recipes",
    "pause_image": "kprov.images.recipes",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'kprov.images' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
