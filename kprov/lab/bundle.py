"""The lab's package repository: the bundle's flat apt repository, shared by all instances.

The repository itself (download with apt, index with apt-ftparchive, the stamp that says
whether it is current) is kprov.bundle.aptrepo, the same code ``kprov bundle`` uses for
air-gapped hosts. What the lab adds: its package list, resolving dependencies against the
dpkg status of the base image every host starts from (so only what hosts miss is
downloaded), and a file lock, because all lab instances share one repository.

To make more packages available to hosts, add them to kprov.bundle.packages.HOST_PACKAGES.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from kprov.bundle.aptrepo import (
    STAMP_NAME,
    AptRepoError,
    AptSources,
    apt_source_line,
    fill_repo,
    index_repo,
    repo_current,
    repo_stamp,
)
from kprov.bundle.packages import HOST_PACKAGES
from kprov.lab.base import DEBIAN_MIRROR, DEBIAN_SUITE
from kprov.lab.errors import LabError
from kprov.lab.system import file_lock

__all__ = [
    "LAB_PACKAGES",
    "BUNDLE_SIZE_BYTES",
    "STAMP_NAME",
    "apt_source_line",
    "bundle_current",
    "bundle_stamp",
    "fill_bundle",
    "index_bundle",
    "remove_bundle",
]

# The Debian packages lab hosts get: the same list `kprov bundle` collects.
LAB_PACKAGES: tuple[str, ...] = HOST_PACKAGES
BUNDLE_SIZE_BYTES = 250 * 2**20


def _sources() -> AptSources:
    return AptSources(suite=DEBIAN_SUITE, mirror=DEBIAN_MIRROR)


def bundle_stamp(packages: Sequence[str]) -> str:
    return repo_stamp(packages, _sources())


def bundle_current(repo: Path, packages: Sequence[str]) -> bool:
    return repo_current(repo, packages, _sources())


def fill_bundle(repo: Path, base: Path, packages: Sequence[str]) -> bool:
    """Download ``packages`` (+ deps the base image lacks) into ``repo``; False if current."""
    with file_lock(repo.with_name(repo.name + ".lock")):
        try:
            return fill_repo(repo, packages, status=base / "var/lib/dpkg/status", sources=_sources())
        except AptRepoError as exc:
            raise LabError(f"filling the lab's package repository {repo} failed: {exc}") from exc


def index_bundle(repo: Path) -> None:
    """(Re)write Packages, Packages.gz and Release for the .debs in ``repo``."""
    try:
        index_repo(repo)
    except AptRepoError as exc:
        raise LabError(str(exc)) from exc


def remove_bundle(repo: Path) -> None:
    """Delete a bundle and its download work dir (used to measure a cold start)."""
    for path in (repo, repo.with_name(repo.name + "-work")):
        if path.exists():
            shutil.rmtree(path)
