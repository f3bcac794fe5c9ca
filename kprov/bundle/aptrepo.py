"""A flat apt repository of Debian packages, filled on a connected machine.

The repository is a directory of .debs plus an apt-ftparchive index (Packages, Packages.gz,
Release) that hosts use as ``deb [trusted=yes] <url> ./`` — an ``http://`` URL (the lab
serves it from its bridge) or a ``file:`` path (a real host that received the directory).

Filling resolves the wanted packages *and the dependencies the hosts miss* against a dpkg
status file: the one of the image hosts start from (the lab's base rootfs), or an empty one
for a self-contained repository (every dependency is downloaded). apt runs with its own
sources, state and cache directories, so the machine's apt configuration is never touched.
A stamp records the package list and sources a repository was filled for; a current
repository is not downloaded again.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from kprov.bundle.debcache import (
    WantedDeb,
    package_names,
    parse_print_uris,
    place_cached,
    remember,
    wanted_debs,
)

__all__ = [
    "DEBIAN_MIRROR",
    "DEBIAN_SECURITY_MIRROR",
    "DEBIAN_SUITE",
    "AptRepoError",
    "AptSources",
    "apt_source_line",
    "fill_repo",
    "index_repo",
    "repo_current",
    "repo_stamp",
]

DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = os.environ.get("KPROV_LAB_MIRROR", "http://deb.debian.org/debian")
DEBIAN_SECURITY_MIRROR = os.environ.get("KPROV_LAB_SECURITY_MIRROR", "http://deb.debian.org/debian-security")
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
STAMP_NAME = ".kprov-bundle-stamp"


class AptRepoError(RuntimeError):
    """A download or index step failed; the message names the command and its stderr."""


@dataclass(frozen=True)
class AptSources:
    """Where packages come from: a Debian suite on a mirror (+ its updates and security)."""

    suite: str = DEBIAN_SUITE
    mirror: str = DEBIAN_MIRROR
    security_mirror: str = DEBIAN_SECURITY_MIRROR

    def sources_list(self) -> str:
        signed = f"[signed-by={KEYRING}] " if Path(KEYRING).exists() else ""
        return (
            f"deb {signed}{self.mirror} {self.suite} main\n"
            f"deb {signed}{self.mirror} {self.suite}-updates main\n"
            f"deb {signed}{self.security_mirror} {self.suite}-security main\n"
        )


def apt_source_line(url: str) -> str:
    """The sources.list line with which a host uses a repository at ``url`` (http:// or file:)."""
    return f"deb [trusted=yes] {url} ./\n"


def repo_stamp(packages: Sequence[str], sources: AptSources = AptSources()) -> str:
    """A digest of what a repository holds: the suite, the mirror and the package set."""
    text = "\n".join([sources.suite, sources.mirror, *sorted(set(packages))])
    return hashlib.sha256(text.encode()).hexdigest()


def repo_current(repo: Path, packages: Sequence[str], sources: AptSources = AptSources()) -> bool:
    """True when ``repo`` is indexed and was filled for exactly these packages."""
    stamp = repo / STAMP_NAME
    if not (repo / "Packages").exists() or not stamp.exists():
        return False
    return stamp.read_text().strip() == repo_stamp(packages, sources)


def _run(argv: Sequence[str], *, timeout: float, cwd: Path | None = None,
         env: Mapping[str, str] | None = None) -> str:
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, cwd=cwd,
                              env=None if env is None else dict(env), stdin=subprocess.DEVNULL)
    except FileNotFoundError as exc:
        raise AptRepoError(f"command not found: {argv[0]} (apt-get is in `apt`, "
                           "apt-ftparchive in `apt-utils`)") from exc
    except subprocess.TimeoutExpired as exc:
        raise AptRepoError(f"`{' '.join(argv)}` did not finish within {timeout:.0f} s") from exc
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()[-15:]
        raise AptRepoError(f"`{' '.join(argv)}` failed (exit {proc.returncode}):\n  " + "\n  ".join(detail))
    return proc.stdout


def _apt_options(work: Path, repo: Path, status: Path) -> list[str]:
    options = {
        "Dir::Etc::sourcelist": work / "sources.list",
        "Dir::Etc::sourceparts": work / "empty",
        "Dir::Etc::preferencesparts": work / "empty",
        "Dir::Etc::preferences": work / "empty/none",
        "Dir::State": work / "state",
        "Dir::State::Lists": work / "lists",
        "Dir::State::status": status,
        "Dir::Cache": work / "cache",
        "Dir::Cache::archives": repo,
        "Debug::NoLocking": "1",
        "APT::Sandbox::User": "root",
        "APT::Install-Recommends": "false",
    }
    return [arg for key, value in options.items() for arg in ("-o", f"{key}={value}")]


def fill_repo(repo: Path, packages: Sequence[str], *, status: Path | None = None,
              sources: AptSources = AptSources(), work: Path | None = None,
              cache: Path | None = None) -> bool:
    """Download ``packages`` and the dependencies ``status`` lacks into ``repo``, then index it.

    ``status`` is a dpkg status file (default: none installed, so every dependency down to
    libc is downloaded). ``cache``: a kprov.bundle.debcache directory the .debs apt resolved
    are taken from when it holds them intact (and kept in). Returns False when the repository
    was already current. Callers that share ``repo`` between processes hold a lock around
    this call.
    """
    if not packages:
        raise AptRepoError("no packages to download: name at least one Debian package")
    if repo_current(repo, packages, sources):
        return False
    work = work or repo.with_name(repo.name + "-work")
    for sub in ("empty", "state", "lists/partial", "cache"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    (repo / "partial").mkdir(parents=True, exist_ok=True)
    (work / "sources.list").write_text(sources.sources_list())
    if status is None:
        status = work / "empty-status"
        status.write_text("")
    options = _apt_options(work, repo, status)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    _run(["apt-get", *options, "-q", "update"], env=env, timeout=900)
    install = ["apt-get", *options, "-q", "-y", "--download-only", "install", *packages]
    wanted: list[WantedDeb] = []
    placed: list[WantedDeb] = []
    if cache:
        uris = parse_print_uris(_run([*install, "--print-uris"], env=env, timeout=300))
        records = _run(["apt-cache", *options, "show", "--no-all-versions", *package_names(uris)],
                       env=env, timeout=300) if uris else ""
        wanted = wanted_debs(uris, records)
        placed = place_cached(cache, repo, wanted)
    _run(install, env=env, timeout=1800)
    if cache:
        remember(cache, repo, wanted, placed)
    index_repo(repo)
    (repo / STAMP_NAME).write_text(repo_stamp(packages, sources) + "\n")
    return True


def index_repo(repo: Path) -> None:
    """(Re)write Packages, Packages.gz and Release for the .debs in ``repo`` (atomically)."""
    listing = _run(["apt-ftparchive", "packages", "."], cwd=repo, timeout=300)
    _replace(repo / "Packages", listing.encode())
    _replace(repo / "Packages.gz", gzip.compress(listing.encode(), mtime=0))
    release = _run(["apt-ftparchive", "release", "."], cwd=repo, timeout=300)
    _replace(repo / "Release", release.encode())


def _replace(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
