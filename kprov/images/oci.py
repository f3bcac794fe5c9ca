"""Write an OCI image archive (image layout in a tar) from an :class:`ImageSpec`.

An archive holds one image or several (``build_multi_archive``: blobs shared). Each image has
one uncompressed layer holding the spec's files, an OCI image config
(entrypoint, cmd, env, working dir), a manifest, ``index.json`` with the
``io.containerd.image.name`` annotation (so ``ctr images import`` names the image), and a
docker-style ``manifest.json`` (so docker-archive readers work too). Output is
deterministic: fixed mtimes and sorted entries, so the same spec gives the same digests.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["FileEntry", "ImageSpec", "build_archive", "build_multi_archive", "normalize_reference"]

LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar"
CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"


@dataclass(frozen=True)
class FileEntry:
    """One entry of the image's only layer: a file (data), a directory, or a symlink."""

    path: str  # inside the image, relative (no leading slash)
    data: bytes | None = None
    mode: int = 0o644
    symlink_to: str | None = None
    is_dir: bool = False


@dataclass
class ImageSpec:
    reference: str  # e.g. "kprov.local/busybox:1" (normalized on build)
    files: list[FileEntry] = field(default_factory=list)
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=lambda: ["PATH=/bin:/usr/bin:/sbin:/usr/sbin"])
    working_dir: str = "/"
    user: str = ""  # the image config's User ("uid" or "uid:gid"); empty: root
    architecture: str = "amd64"


def normalize_reference(reference: str) -> str:
    """Return the fully qualified name containerd stores: docker.io/library/x:latest style."""
    name, tag = reference, "latest"
    last = reference.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = reference.rsplit(":", 1)
    first = name.split("/", 1)[0]
    if "/" not in name:
        name = f"docker.io/library/{name}"
    elif "." not in first and ":" not in first and first != "localhost":
        name = f"docker.io/{name}"
    return f"{name}:{tag}"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _add(tar: tarfile.TarFile, info: tarfile.TarInfo, data: bytes | None = None) -> None:
    info.mtime = 0
    info.uname = info.gname = ""
    info.uid = info.gid = 0
    tar.addfile(info, io.BytesIO(data) if data is not None else None)


def _layer(files: list[FileEntry]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in sorted(files, key=lambda e: e.path):
            info = tarfile.TarInfo(entry.path.strip("/"))
            if entry.is_dir:
                info.type, info.mode = tarfile.DIRTYPE, entry.mode
                _add(tar, info)
            elif entry.symlink_to is not None:
                info.type, info.linkname, info.mode = tarfile.SYMTYPE, entry.symlink_to, 0o777
                _add(tar, info)
            else:
                data = entry.data or b""
                info.size, info.mode = len(data), entry.mode
                _add(tar, info, data)
    return buf.getvalue()


def _image_blobs(spec: ImageSpec, layer: bytes) -> tuple[bytes, bytes]:
    """The config and manifest blobs of ``spec`` over its (already built) layer."""
    config_section: dict[str, object] = {
        "Entrypoint": spec.entrypoint or None,
        "Cmd": spec.cmd or None,
        "Env": spec.env,
        "WorkingDir": spec.working_dir,
    }
    if spec.user:
        config_section["User"] = spec.user
    config = json.dumps(
        {
            "architecture": spec.architecture,
            "os": "linux",
            "config": config_section,
            "rootfs": {"type": "layers", "diff_ids": [_digest(layer)]},
        },
        sort_keys=True,
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": {"mediaType": CONFIG_MEDIA_TYPE, "digest": _digest(config), "size": len(config)},
            "layers": [{"mediaType": LAYER_MEDIA_TYPE, "digest": _digest(layer), "size": len(layer)}],
        },
        sort_keys=True,
    ).encode()
    return config, manifest


def build_archive(spec: ImageSpec, out: Path) -> str:
    """Write the OCI archive for ``spec`` to ``out``; return the manifest digest."""
    return build_multi_archive([spec], out)[normalize_reference(spec.reference)]


def build_multi_archive(specs: list[ImageSpec], out: Path) -> dict[str, str]:
    """Write one OCI archive holding every spec (blobs shared: specs with the same file list
    have one layer); return each normalized reference's manifest digest."""
    layers: dict[int, bytes] = {}  # id(spec.files) -> layer: specs sharing a file list share a layer
    blobs: dict[str, bytes] = {}
    index_entries: list[dict[str, object]] = []
    docker_entries: list[dict[str, object]] = []
    digests: dict[str, str] = {}
    for spec in specs:
        reference = normalize_reference(spec.reference)
        layer = layers.get(id(spec.files))
        if layer is None:
            layer = layers[id(spec.files)] = _layer(spec.files)
        config, manifest = _image_blobs(spec, layer)
        for blob in (layer, config, manifest):
            blobs.setdefault(_digest(blob), blob)
        digests[reference] = _digest(manifest)
        index_entries.append(
            {
                "mediaType": MANIFEST_MEDIA_TYPE,
                "digest": _digest(manifest),
                "size": len(manifest),
                "annotations": {
                    "io.containerd.image.name": reference,
                    "org.opencontainers.image.ref.name": reference.rsplit(":", 1)[1],
                },
            }
        )
        docker_entries.append(
            {
                "Config": "blobs/sha256/" + _digest(config)[7:],
                "RepoTags": [reference],
                "Layers": ["blobs/sha256/" + _digest(layer)[7:]],
            }
        )
    index = json.dumps({"schemaVersion": 2, "manifests": index_entries}, sort_keys=True).encode()
    docker_manifest = json.dumps(docker_entries).encode()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out, "w") as tar:
        for directory in ("blobs", "blobs/sha256"):
            info = tarfile.TarInfo(directory)
            info.type = tarfile.DIRTYPE
            _add(tar, info)
        for name, data in (
            ("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'),
            ("index.json", index),
            ("manifest.json", docker_manifest),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            _add(tar, info, data)
        for digest, blob in blobs.items():
            info = tarfile.TarInfo("blobs/sha256/" + digest[7:])
            info.size = len(blob)
            _add(tar, info, blob)
    return digests
