"""Collect every artifact a run needs into one bundle directory, on a connected machine.

Layout of a bundle::

    debs/           a flat apt repository (apt-ftparchive index), self-contained by default
    wheelhouse/     kprov-wheelhouse-<digest>.tar.gz (kprov and its dependencies, as wheels)
    runtime/        kprov-runtime-<digest>-py<X.Y>.tar.gz (the same, installed: what hosts unpack)
    images/         pause.tar, busybox.tar (OCI archives, imported with ctr), standins.tar
                    (kprov's stand-ins for the image mirror: busybox, pause... by public names)
    images/mirror/  the image archives given with --image-archive, loaded into every mirror
    manifest.json   what, which versions, sha256 of every file

Each part is built by the code that owns it (kprov.bundle.aptrepo, kprov.bundle.wheelhouse,
kprov.bundle.runtime, kprov.images); this module only places the results and writes the manifest. Building
again into the same directory is cheap: a current apt repository is not downloaded again
and the wheelhouse comes from its cache; with ``deb_cache``, .debs Debian still serves come
from a deb cache (kprov.bundle.debcache) once apt has resolved them.
:func:`bundle_vars` gives the extra variables with which roles/site.yml uses a bundle
(``kprov apply`` or ``ansible-playbook -e``).
"""

from __future__ import annotations

import shutil
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from kprov.bundle.aptrepo import AptSources, fill_repo
from kprov.bundle.manifest import (
    BundleManifest,
    ImageEntry,
    file_digests,
    parse_packages_index,
    read_manifest,
)
from kprov.bundle.packages import HOST_PACKAGES
from kprov.bundle.runtime import build_runtime
from kprov.bundle.wheelhouse import DEFAULT_CACHE, build_wheelhouse
from kprov.images import build_archive, busybox_image, pause_image
from kprov.images.archive import archive_images
from kprov.images.standins import build_standins

__all__ = ["REPO_INDEX_FILES", "REPO_ROOT", "BundleOptions", "archive_bundle", "build_bundle", "bundle_vars"]

REPO_ROOT = Path(__file__).resolve().parents[2]
REPO_INDEX_FILES = ("Packages", "Packages.gz", "Release")
STANDINS_FILE = "images/standins.tar"
MIRROR_DIR = "images/mirror"
Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class BundleOptions:
    """What goes into a bundle. ``status``: a hosts' dpkg status file to resolve against
    (only what they miss is downloaded); None makes ``debs/`` self-contained."""

    packages: tuple[str, ...] = HOST_PACKAGES
    status: Path | None = None
    sources: AptSources = AptSources()
    wheelhouse: bool = True
    images: bool = True
    image_archives: tuple[Path, ...] = ()  # docker/OCI archives for the image mirror
    repo_root: Path = REPO_ROOT
    wheelhouse_cache: Path = DEFAULT_CACHE
    deb_cache: Path | None = None  # .debs downloaded before (kprov.bundle.debcache; off by default)


def _kprov_version() -> str:
    try:
        return version("kprov")
    except PackageNotFoundError:
        return "unknown"


def build_bundle(out: Path, options: BundleOptions = BundleOptions(),
                 progress: Progress = _quiet) -> BundleManifest:
    """Fill ``out`` with the bundle's parts and write its manifest; returns the manifest."""
    out.mkdir(parents=True, exist_ok=True)
    debs = out / "debs"
    sources = options.sources
    progress(f"debs: {len(options.packages)} packages from {sources.mirror} ({sources.suite})")
    fill_repo(debs, options.packages, status=options.status, sources=options.sources,
              work=out / ".debs-work", cache=options.deb_cache)
    shutil.rmtree(out / ".debs-work", ignore_errors=True)
    shutil.rmtree(debs / "partial", ignore_errors=True)

    wheel_archive = wheel_digest = runtime_archive = runtime_digest = runtime_node_archive = None
    if options.wheelhouse:
        progress("wheelhouse: kprov and its dependencies")
        built = build_wheelhouse(options.repo_root, options.wheelhouse_cache)
        (wheel_archive,), wheel_digest = _ship([built.archive], out, "wheelhouse"), built.digest
        runtime = build_runtime(options.repo_root, options.wheelhouse_cache)
        (runtime_archive, runtime_node_archive), runtime_digest = (
            _ship([runtime.archive, runtime.node_archive], out, "runtime"), runtime.digest)

    images: list[ImageEntry] = []
    if options.images:
        (out / "images").mkdir(exist_ok=True)
        for name, recipe in (("pause", pause_image), ("busybox", busybox_image)):
            progress(f"images: {name}")
            spec = recipe(f"kprov.local/{name}:1")
            digest = build_archive(spec, out / "images" / f"{name}.tar")
            images.append(ImageEntry(spec.reference, f"images/{name}.tar", digest))
        progress("images: stand-ins for the image mirror")
        for reference, digest in build_standins(out / STANDINS_FILE).items():
            images.append(ImageEntry(reference, STANDINS_FILE, digest))
    images += _mirror_archives(out, options.image_archives, progress)

    manifest = BundleManifest(
        kprov_version=_kprov_version(),
        suite=options.sources.suite,
        requested_packages=sorted(set(options.packages)),
        debs=parse_packages_index((debs / "Packages").read_text()),
        wheelhouse_archive=wheel_archive,
        wheelhouse_digest=wheel_digest,
        images=images,
        files=file_digests(out),
        runtime_archive=runtime_archive,
        runtime_digest=runtime_digest,
        runtime_node_archive=runtime_node_archive,
    )
    manifest.write(out)
    return manifest


def _mirror_archives(out: Path, archives: tuple[Path, ...], progress: Progress) -> list[ImageEntry]:
    """Copy the user's image archives into the bundle (each must name its images)."""
    target = out / MIRROR_DIR
    shutil.rmtree(target, ignore_errors=True)
    entries: list[ImageEntry] = []
    for archive in archives:
        names = [image.name for image in archive_images(archive)]
        if (target / archive.name).exists():
            raise ValueError(f"--image-archive {archive}: two archives named {archive.name}")
        target.mkdir(parents=True, exist_ok=True)
        progress(f"images: {archive.name} for the image mirror ({', '.join(names)})")
        shutil.copy2(archive, target / archive.name)
        entries += [ImageEntry(name, f"{MIRROR_DIR}/{archive.name}", "") for name in names]
    return entries


def bundle_vars(bundle: Path) -> dict[str, str | list[str]]:
    """The extra variables with which roles/site.yml installs from ``bundle`` (absolute paths;
    ``kprov_offline_repo_files``: the files of debs/ that roles/offline_repo copies to hosts)."""
    bundle = bundle.resolve()
    manifest = read_manifest(bundle)
    found: dict[str, str | list[str]] = {
        "kprov_bundle_dir": str(bundle),
        "kprov_offline_repo_src": str(bundle / "debs"),
        "kprov_offline_repo_files": [*REPO_INDEX_FILES, *(deb.file for deb in manifest.debs)],
    }
    if manifest.wheelhouse_archive and manifest.wheelhouse_digest:
        found["kprov_wheelhouse_archive"] = str(bundle / manifest.wheelhouse_archive)
        found["kprov_wheelhouse_digest"] = manifest.wheelhouse_digest
    if manifest.runtime_archive and manifest.runtime_digest:
        found["kprov_runtime_archive"] = str(bundle / manifest.runtime_archive)
        found["kprov_runtime_digest"] = manifest.runtime_digest
        if manifest.runtime_node_archive:
            found["kprov_runtime_node_archive"] = str(bundle / manifest.runtime_node_archive)
    mirror: list[str] = []
    for image in manifest.images:
        if image.file == STANDINS_FILE:
            found["kprov_registry_standins_archive"] = str(bundle / image.file)
        elif image.file.startswith(f"{MIRROR_DIR}/"):
            if str(bundle / image.file) not in mirror:
                mirror.append(str(bundle / image.file))
        else:
            found[f"kprov_image_{Path(image.file).stem}_archive"] = str(bundle / image.file)
    if mirror:
        found["kprov_bundle_image_archives"] = mirror
    return found


def archive_bundle(bundle: Path, archive: Path) -> Path:
    """Pack ``bundle`` into one tar.gz (top directory ``kprov-bundle/``) for carrying across."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    tmp = archive.with_name(archive.name + ".partial")
    with tarfile.open(tmp, "w:gz") as tar:
        tar.add(bundle, arcname="kprov-bundle")
    tmp.replace(archive)
    return archive


def _ship(archives: list[Path], out: Path, directory: str) -> list[str]:
    """Copy ``archives``, and only them, into ``out/directory``; their paths inside the bundle."""
    target = out / directory
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir()
    for archive in archives:
        shutil.copy2(archive, target / archive.name)
    return [f"{directory}/{archive.name}" for archive in archives]
