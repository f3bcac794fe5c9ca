"""Unpacking one image of a stand-ins archive (an OCI layout tar) into a directory: the
stand-in tests run what they built in a chroot, with nothing of this machine's."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

__all__ = ["unpack"]


def unpack(archive: Path, reference: str, into: Path) -> dict[str, Any]:
    """Extract the single layer of ``reference`` into ``into``; return its image config."""
    with tarfile.open(archive) as tar:

        def blob(digest: str) -> Any:
            return tar.extractfile("blobs/sha256/" + digest.removeprefix("sha256:"))

        index = json.load(tar.extractfile("index.json"))  # type: ignore[arg-type]
        names = {m["annotations"]["io.containerd.image.name"]: m for m in index["manifests"]}
        entry = names[reference]
        manifest = json.load(blob(entry["digest"]))
        (layer,) = manifest["layers"]
        config: dict[str, Any] = json.load(blob(manifest["config"]["digest"]))
        with tarfile.open(fileobj=blob(layer["digest"])) as files:
            files.extractall(into, filter="fully_trusted")
    return config
