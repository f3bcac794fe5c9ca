"""On a control-plane host: put the images of archives into the local mirror by public name.

Run on the host (kprov's runtime is installed there), by the registry role for the
archives of the bundle and kprov's stand-ins, and by ``kprov images load`` over SSH:

    /opt/kprov/venv/bin/python -m kprov.images.mirror_load [--force] ARCHIVE... [--changed ARCHIVE]...

Each image goes to the mirror's loader (the only writer, plain HTTP on loopback) as
``<registry>/<repository>:<tag>`` (docker.io/library/busybox:latest), the layout the
nodes' hosts.toml files ask for. skopeo does the copying (blobs the mirror holds are not
sent again). An image the mirror already has under its name is skipped unless its archive
is new or changed (``--changed``) or ``--force`` is given: one HEAD request per image, so a
re-run that changes nothing costs no copy. Prints one line per image: ``loaded NAME`` or
``present NAME``; exits 1 when any image failed.

``--record-names``: after every image of an archive is in the mirror, its names are written
beside it (``ARCHIVE.names``, one per line). The registry role's query reads that list and
asks the loader for each name (one curl, in the run's look-ahead batch), so a converged
host starts no Python for this: the loader runs only for a new or changed archive, one
without a list, or a name the mirror lacks.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from kprov.images.archive import ArchiveError, ArchiveImage, archive_images, source_reference

__all__ = ["LOADER", "copy_command", "main", "manifest_url", "names_file"]

LOADER = "127.0.0.1:5001"
_ACCEPT = ", ".join((
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
))


def _split(name: str) -> tuple[str, str]:
    repository, _, tag = name.rpartition(":")
    return repository, tag


def manifest_url(name: str, loader: str = LOADER) -> str:
    repository, tag = _split(name)
    return f"http://{loader}/v2/{repository}/manifests/{tag}"


def copy_command(archive: Path, image: ArchiveImage, loader: str = LOADER) -> list[str]:
    """skopeo copying one image of ``archive`` to the loader under its public name."""
    return ["skopeo", "--insecure-policy", "copy", "--quiet", "--dest-tls-verify=false",
            source_reference(archive, image), f"docker://{loader}/{image.name}"]


def _present(name: str, loader: str) -> bool:
    request = urllib.request.Request(manifest_url(name, loader), method="HEAD", headers={"Accept": _ACCEPT})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback URL we build
            return bool(response.status == 200)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return False
        raise


def names_file(archive: Path) -> Path:
    """Where ``--record-names`` lists the names of ``archive``'s images."""
    return archive.with_name(archive.name + ".names")


def _record(archive: Path, images: list[ArchiveImage]) -> None:
    target = names_file(archive)
    partial = target.with_name(target.name + ".tmp")
    partial.write_text("".join(f"{image.name}\n" for image in images), encoding="utf-8")
    partial.replace(target)


def _load(archive: Path, force: bool, loader: str, record: bool = False) -> int:
    try:
        images = archive_images(archive)
    except ArchiveError as exc:
        print(f"failed {archive}: {exc}")
        return 1
    if record:
        names_file(archive).unlink(missing_ok=True)  # written again only when all are in
    failed = 0
    for image in images:
        if not force and _present(image.name, loader):
            print(f"present {image.name}")
            continue
        command = copy_command(archive, image, loader)
        proc = subprocess.run(command, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            failed += 1
            print(f"failed {image.name}: {(proc.stderr or proc.stdout).strip()}")
        else:
            print(f"loaded {image.name}")
    if record and not failed:
        _record(archive, images)
    return failed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kprov.images.mirror_load",
                                     description=(__doc__ or "").split("\n")[0])
    parser.add_argument("archives", nargs="*", type=Path, help="image archives (docker save / OCI)")
    parser.add_argument("--changed", action="append", type=Path, default=[],
                        help="an archive that is new or changed")
    parser.add_argument("--force", action="store_true",
                        help="copy every image even if the mirror has its name")
    parser.add_argument("--loader", default=LOADER, help="the loader's host:port")
    parser.add_argument("--record-names", action="store_true",
                        help="write ARCHIVE.names once all of an archive's images are in the mirror")
    args = parser.parse_intermixed_args(argv)
    failed = 0
    for archive in args.changed:
        failed += _load(archive, True, args.loader, args.record_names)
    for archive in args.archives:
        if archive not in args.changed:
            failed += _load(archive, args.force, args.loader, args.record_names)
    sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
