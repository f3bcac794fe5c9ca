"""kprov.images: build small OCI image archives locally and import them on nodes.

No registry is needed anywhere: an image is built from files on this machine (a static
busybox is the usual base) into an OCI archive, uploaded over SSH and imported with
``ctr -n k8s.io images import`` so the CRI plugin of containerd sees it.

- :mod:`kprov.images.oci`: :class:`ImageSpec` -> OCI archive bytes on disk (:func:`build_archive`)
- :mod:`kprov.images.recipes`: ready-made specs (busybox, pause)
- :mod:`kprov.images.push`: upload + import on hosts (paramiko)
"""

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
