"""Build small OCI image archives locally (no registry is reachable from lab hosts).

An image is one uncompressed layer made from files of this machine (by default the static
busybox binary and links to its applets), a config, a manifest and an index, laid out as
an OCI image layout in a tar archive that ``ctr image import`` (and ``ctr -n k8s.io``)
accepts. The index carries the image name in the ``io.containerd.image.name`` annotation.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kprov.lab.errors import LabError

__all__ = ["BUSYBOX", "DEFAULT_APPLETS", "OciImage", "build_busybox_image"]

BUSYBOX = Path("/bin/busybox")
DEFAULT_APPLETS: tuple[str, ...] = (
    "sh", "cat", "echo", "env", "hostname", "id", "ip", "ls", "mkdir", "nc", "ps", "sleep", "test",
    "true", "false", "uname", "wget", "httpd", "date", "grep",
)
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


@dataclass
class OciImage:
    """An image under construction: files of the one layer, plus the run config."""

    name: str  # fully qualified, e.g. docker.io/lab/busybox:latest
    cmd: Sequence[str] = ("/bin/sh",)
    env: Sequence[str] = ("PATH=/bin:/usr/bin",)
    files: dict[str, bytes] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    modes: dict[str, int] = field(default_factory=dict)

    def add_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        self.files[path.lstrip("/")] = data
        self.modes[path.lstrip("/")] = mode

    def add_symlink(self, path: str, target: str) -> None:
        self.links[path.lstrip("/")] = target

    def layer(self) -> bytes:
        """The layer tar: parent directories first, then files and links, deterministic."""
        paths = [*self.files, *self.links]
        parents = {str(Path(p).parent) for p in paths if str(Path(p).parent) != "."}
        dirs = sorted(parents | {"tmp", "proc", "sys", "dev"})
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for directory in dirs:
                info = tarfile.TarInfo(directory)
                info.type, info.mode = tarfile.DIRTYPE, 0o1777 if directory == "tmp" else 0o755
                tar.addfile(info)
            for path in sorted(self.files):
                info = tarfile.TarInfo(path)
                info.size, info.mode = len(self.files[path]), self.modes.get(path, 0o644)
                tar.addfile(info, io.BytesIO(self.files[path]))
            for path in sorted(self.links):
                info = tarfile.TarInfo(path)
                info.type, info.linkname = tarfile.SYMTYPE, self.links[path]
                tar.addfile(info)
        return buffer.getvalue()

    def blobs(self) -> tuple[bytes, bytes, bytes, bytes]:
        """(layer, config, manifest, index) as bytes."""
        layer = self.layer()
        config = _json({
            "architecture": "amd64", "os": "linux",
            "config": {"Cmd": list(self.cmd), "Env": list(self.env)},
            "rootfs": {"type": "layers", "diff_ids": [_digest(layer)]},
        })
        manifest = _json({
            "schemaVersion": 2, "mediaType": MEDIA_MANIFEST,
            "config": {"mediaType": MEDIA_CONFIG, "digest": _digest(config), "size": len(config)},
            "layers": [{"mediaType": MEDIA_LAYER, "digest": _digest(layer), "size": len(layer)}],
        })
        tag = self.name.rsplit(":", 1)[1] if ":" in self.name.rsplit("/", 1)[-1] else "latest"
        annotations: Mapping[str, str] = {
            "io.containerd.image.name": self.name, "org.opencontainers.image.ref.name": tag,
        }
        index = _json({"schemaVersion": 2, "manifests": [
            {"mediaType": MEDIA_MANIFEST, "digest": _digest(manifest), "size": len(manifest),
             "annotations": dict(annotations)},
        ]})
        return layer, config, manifest, index

    def write(self, out: Path) -> Path:
        """Write the OCI layout archive to ``out``."""
        layer, config, manifest, index = self.blobs()
        entries = {"oci-layout": _json({"imageLayoutVersion": "1.0.0"}), "index.json": index}
        for blob in (layer, config, manifest):
            entries["blobs/sha256/" + _digest(blob).removeprefix("sha256:")] = blob
        out.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(out, "w") as tar:
            for name, data in entries.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        return out


def build_busybox_image(out: Path, name: str = "docker.io/lab/busybox:latest",
                        applets: Sequence[str] = DEFAULT_APPLETS, busybox: Path = BUSYBOX,
                        cmd: Sequence[str] = ("/bin/sh",)) -> Path:
    """A one-layer image of the static busybox with links for ``applets``."""
    if not busybox.is_file():
        raise LabError(f"{busybox} not found: install busybox-static (apt-get install busybox-static)")
    image = OciImage(name=name, cmd=cmd)
    image.add_file("bin/busybox", busybox.read_bytes(), 0o755)
    for applet in applets:
        image.add_symlink(f"bin/{applet}", "busybox")
    image.add_file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n")
    image.add_file("etc/group", b"root:x:0:\nnogroup:x:65534:\n")
    return image.write(out)
