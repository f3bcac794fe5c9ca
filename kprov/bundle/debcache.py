"""A machine-wide cache of downloaded .debs, so building bundles again downloads only news.

A bundle build always asks Debian's mirror what to take: apt updates its lists and resolves
the packages as it would without a cache. Only then does the cache act, on apt's own answer
(``apt-get --print-uris``: every .deb it would download, with the SHA-256 its index gives,
read with ``apt-cache show``; apt itself trusts any file of the right size already in its
archives directory, so the hash is checked here): each .deb the cache holds with exactly
that size and hash is placed into the repository, and apt downloads the rest, which the
cache keeps for next time.

Off by default (``kprov bundle --deb-cache DIR`` turns it on), because measured here it does
not pay on a fast link to a mirror: the second resolution, ``apt-cache show`` and hashing
every file cost more than the download (figures: docs/decisions/0051-figures-live-in-records.md).
It is for sites whose link to a mirror is slow or metered.

Files are placed by hard link when the cache and the repository share a file system (a copy
otherwise) and written into the cache through a temporary name, so concurrent builds never
see half a file. Entries unused for ``MAX_UNUSED_DAYS`` go when a build finishes.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

__all__ = ["MAX_UNUSED_DAYS", "WantedDeb", "package_names", "parse_print_uris",
           "place_cached", "remember", "wanted_debs"]

MAX_UNUSED_DAYS = 30
_URI_LINE = re.compile(r"^'(?P<uri>[^']+)' (?P<file>\S+\.deb) (?P<size>\d+)(?: \S*)?$")


@dataclass(frozen=True)
class WantedDeb:
    """One .deb apt would download: its file name in the archives directory, size, SHA-256."""

    file: str
    size: int
    sha256: str


def parse_print_uris(text: str) -> dict[str, tuple[str, int]]:
    """Pool path (as in a Packages index) -> (file name in the archives directory, size) for
    each line of ``apt-get --print-uris install`` (apt prints MD5 or nothing as the hash)."""
    found = {}
    for line in text.splitlines():
        match = _URI_LINE.match(line.strip())
        if match:
            path = unquote(match["uri"]).split("/pool/", 1)
            if len(path) == 2:
                found["pool/" + path[1]] = (match["file"], int(match["size"]))
    return found


def package_names(uris: dict[str, tuple[str, int]]) -> list[str]:
    """The package names of those files (``name_version_arch.deb``)."""
    return sorted({file.split("_", 1)[0] for file, _ in uris.values()})


def wanted_debs(uris: dict[str, tuple[str, int]], records: str) -> list[WantedDeb]:
    """Join ``parse_print_uris`` with ``apt-cache show`` records (Filename, Size, SHA256):
    apt's own resolution, with the SHA-256 its index gives (a file without one is never
    taken from the cache)."""
    wanted = []
    for record in records.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in record.splitlines()
                      if ": " in line and not line.startswith(" "))
        hit = uris.get(fields.get("Filename", ""))
        if hit and "SHA256" in fields and fields.get("Size") == str(hit[1]):
            wanted.append(WantedDeb(hit[0], hit[1], fields["SHA256"]))
    return wanted


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _place(source: Path, target: Path) -> None:
    """``source`` at ``target`` (hard link, else copy), through a temporary name."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
    except OSError:
        shutil.copy2(source, tmp)
    os.replace(tmp, target)


def place_cached(cache: Path, repo: Path, wanted: list[WantedDeb]) -> list[WantedDeb]:
    """Put each wanted .deb the cache holds intact into ``repo``; returns those placed."""
    placed = []
    for deb in wanted:
        cached = cache / deb.file
        if not cached.is_file() or cached.stat().st_size != deb.size or _sha256(cached) != deb.sha256:
            continue
        _place(cached, repo / deb.file)
        os.utime(cached)  # used now: kept by the pruning below
        placed.append(deb)
    return placed


def remember(cache: Path, repo: Path, wanted: list[WantedDeb], placed: list[WantedDeb],
             now: float | None = None) -> None:
    """Keep the wanted .debs apt downloaded into ``repo`` (it checked their hashes) in the
    cache, over a damaged entry too, then drop entries unused for ``MAX_UNUSED_DAYS``."""
    cache.mkdir(parents=True, exist_ok=True)
    for deb in wanted:
        downloaded = repo / deb.file
        if downloaded.is_file() and deb not in placed:
            _place(downloaded, cache / deb.file)
            os.utime(cache / deb.file)  # apt dates a download by the mirror's Last-Modified
    horizon = (time.time() if now is None else now) - MAX_UNUSED_DAYS * 86400
    for entry in cache.glob("*.deb"):
        if entry.stat().st_mtime < horizon:
            entry.unlink(missing_ok=True)
