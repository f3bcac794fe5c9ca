"""The bundle's manifest: what a bundle holds, in which versions, and every file's sha256.

``manifest.json`` sits at the top of a bundle directory. It lists the Debian packages
(name, version, architecture, file — read from the repository's own ``Packages`` index),
the wheelhouse (archive and source digest), the images (reference, file, manifest digest)
and a sha256 for every other file, so a bundle copied across an air gap can be checked
before use (:func:`verify_bundle`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "MANIFEST_NAME",
    "BundleManifest",
    "DebEntry",
    "ImageEntry",
    "file_digests",
    "parse_packages_index",
    "read_manifest",
    "verify_bundle",
]

MANIFEST_NAME = "manifest.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class DebEntry:
    name: str
    version: str
    architecture: str
    file: str


@dataclass(frozen=True)
class ImageEntry:
    reference: str
    file: str
    digest: str


@dataclass(frozen=True)
class BundleManifest:
    """Everything a bundle holds; ``files`` maps each path (relative to the bundle) to its sha256."""

    kprov_version: str
    suite: str
    requested_packages: list[str]
    debs: list[DebEntry]
    wheelhouse_archive: str | None
    wheelhouse_digest: str | None
    images: list[ImageEntry]
    files: dict[str, str] = field(default_factory=dict)
    runtime_archive: str | None = None  # kprov installed into a tree (kprov.bundle.runtime)
    runtime_digest: str | None = None
    runtime_node_archive: str | None = None  # the same runtime cut to what nodes run

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT_VERSION, **asdict(self)}, indent=2, sort_keys=True) + "\n"

    def write(self, bundle: Path) -> Path:
        path = bundle / MANIFEST_NAME
        path.write_text(self.to_json())
        return path


def parse_packages_index(text: str) -> list[DebEntry]:
    """The packages of an apt ``Packages`` index (stanzas separated by blank lines)."""
    entries = []
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line and not line[0].isspace() and ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if "Package" in fields:
            filename = fields.get("Filename", "").removeprefix("./")
            entries.append(DebEntry(fields["Package"], fields.get("Version", ""),
                                    fields.get("Architecture", ""), filename))
    return sorted(entries, key=lambda e: (e.name, e.version))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_digests(bundle: Path) -> dict[str, str]:
    """sha256 of every regular file under ``bundle`` except the manifest and apt's scratch dirs."""
    digests = {}
    for path in sorted(bundle.rglob("*")):
        rel = path.relative_to(bundle)
        if not path.is_file() or rel.as_posix() == MANIFEST_NAME or "partial" in rel.parts:
            continue
        digests[rel.as_posix()] = _sha256(path)
    return digests


def read_manifest(bundle: Path) -> BundleManifest:
    """Load ``bundle/manifest.json``; ValueError naming the file and field when it is not one."""
    path = bundle / MANIFEST_NAME
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ValueError(f"{path}: no manifest; is {bundle} a bundle made by `kprov bundle`?") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: line {exc.lineno}: not JSON ({exc.msg})") from exc
    if data.get("format") != FORMAT_VERSION:
        found = data.get("format")
        raise ValueError(f"{path}: field `format` is {found!r}; this kprov reads {FORMAT_VERSION}")
    try:
        return BundleManifest(
            kprov_version=data["kprov_version"],
            suite=data["suite"],
            requested_packages=list(data["requested_packages"]),
            debs=[DebEntry(**d) for d in data["debs"]],
            wheelhouse_archive=data["wheelhouse_archive"],
            wheelhouse_digest=data["wheelhouse_digest"],
            images=[ImageEntry(**i) for i in data["images"]],
            files=dict(data["files"]),
            runtime_archive=data.get("runtime_archive"),
            runtime_digest=data.get("runtime_digest"),
            runtime_node_archive=data.get("runtime_node_archive"),
        )
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{path}: missing or malformed field {exc}; rebuild with `kprov bundle`") from exc


def verify_bundle(bundle: Path) -> list[str]:
    """Problems found comparing the files on disk with the manifest (empty: the bundle is intact)."""
    manifest = read_manifest(bundle)
    actual = file_digests(bundle)
    problems = [f"missing: {name}" for name in sorted(set(manifest.files) - set(actual))]
    problems += [f"not in the manifest: {name}" for name in sorted(set(actual) - set(manifest.files))]
    problems += [f"sha256 differs: {name}" for name in sorted(set(manifest.files) & set(actual))
                 if manifest.files[name] != actual[name]]
    return problems
