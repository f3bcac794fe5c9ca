"""Which images an image archive holds, and how skopeo names each one inside it.

Two archive formats are in use: ``docker save`` tarballs (``manifest.json`` listing each
image's ``RepoTags``) and OCI image layouts in a tar (``index.json``; the image's name in the
``io.containerd.image.name`` annotation, as ``ctr export`` and kprov's builder write it, or a
full reference in ``org.opencontainers.image.ref.name``). kprov's own archives carry both.

Only the two small index files are read (the tar's members are listed, blobs are not
extracted). The copying itself is skopeo's: :func:`source_reference` gives the transport
reference (``docker-archive:PATH:NAME`` when the archive has RepoTags, else
``oci-archive:PATH[:REF]``) for one image.
"""

from __future__ import annotations

import json
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kprov.images.oci import normalize_reference

__all__ = ["ArchiveError", "ArchiveImage", "archive_images", "source_reference"]

_CONTAINERD_NAME = "io.containerd.image.name"
_OCI_REF_NAME = "org.opencontainers.image.ref.name"


class ArchiveError(ValueError):
    """The file is not an image archive kprov can read, or names no image."""


@dataclass(frozen=True)
class ArchiveImage:
    """One image of an archive: its public name and how skopeo selects it in the archive."""

    name: str  # normalized: docker.io/library/busybox:latest
    transport: str  # docker-archive | oci-archive
    selector: str  # after "PATH:" in the transport reference; "" for an archive's only image


def _member_json(tar: tarfile.TarFile, name: str) -> Any:
    for candidate in (name, f"./{name}"):
        try:
            member = tar.getmember(candidate)
        except KeyError:
            continue
        handle = tar.extractfile(member)
        if handle is None:
            break
        try:
            return json.loads(handle.read())
        except ValueError as exc:
            raise ArchiveError(f"{name} is not JSON: {exc}") from exc
    return None


def _has_repository(reference: str) -> bool:
    """A full image reference (name[:tag]) rather than a bare tag such as "latest" or "1"."""
    return "/" in reference or ":" in reference


def _docker_images(manifest: Any) -> list[ArchiveImage]:
    images: list[ArchiveImage] = []
    for entry in manifest if isinstance(manifest, list) else []:
        for tag in entry.get("RepoTags") or []:
            images.append(ArchiveImage(normalize_reference(tag), "docker-archive", tag))
    return images


def _oci_images(index: Any) -> list[ArchiveImage]:
    manifests = index.get("manifests") or [] if isinstance(index, dict) else []
    images: list[ArchiveImage] = []
    for entry in manifests:
        notes = entry.get("annotations") or {}
        name = notes.get(_CONTAINERD_NAME) or ""
        ref_name = notes.get(_OCI_REF_NAME) or ""
        if not name and _has_repository(ref_name):
            name = ref_name
        if not name:
            continue
        selector = "" if len(manifests) == 1 else ref_name
        if len(manifests) > 1 and not ref_name:
            raise ArchiveError(f"image {name} has no {_OCI_REF_NAME} annotation to select it by")
        images.append(ArchiveImage(normalize_reference(name), "oci-archive", selector))
    return images


def archive_images(path: Path) -> list[ArchiveImage]:
    """The named images in the archive at ``path`` (docker RepoTags preferred)."""
    try:
        with tarfile.open(path) as tar:
            docker = _member_json(tar, "manifest.json")
            index = _member_json(tar, "index.json")
    except (OSError, tarfile.TarError) as exc:
        raise ArchiveError(f"{path}: not a readable tar archive: {exc}") from exc
    images = _docker_images(docker) if docker is not None else []
    if not images and index is not None:
        images = _oci_images(index)
    if not images:
        raise ArchiveError(f"{path}: no named image (neither docker RepoTags nor OCI name annotations)")
    names = [image.name for image in images]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ArchiveError(f"{path}: names an image twice: {', '.join(duplicates)}")
    return images


def source_reference(path: Path | str, image: ArchiveImage) -> str:
    """skopeo's source reference for ``image`` inside the archive at ``path``."""
    suffix = f":{image.selector}" if image.selector else ""
    return f"{image.transport}:{path}{suffix}"
