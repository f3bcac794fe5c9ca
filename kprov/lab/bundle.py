"""The offline package bundle, first form: a flat apt repository served to hosts.

A bundle is a directory of .debs plus an apt-ftparchive index (Packages, Packages.gz,
Release) that hosts use as ``deb [trusted=yes] <url> ./``. The lab fills it from Debian's
repositories: the wanted packages and the dependencies they miss, resolved against the dpkg
status of the base image every host starts from. It is downloaded once (a stamp records the
package list it was filled for) under a file lock, because all lab instances share it.

To make more packages available to lab hosts, add them to LAB_PACKAGES.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from kprov.lab.base import DEBIAN_MIRROR, DEBIAN_SUITE
from kprov.lab.system import file_lock, run

__all__ = [
    "LAB_PACKAGES",
    "BUNDLE_SIZE_BYTES",
    "apt_source_line",
    "bundle_current",
    "bundle_stamp",
    "fill_bundle",
    "index_bundle",
    "remove_bundle",
]

# The Debian packages the cluster needs on its hosts. Extend this list: the next
# `kprov lab up` downloads what is new.
LAB_PACKAGES: tuple[str, ...] = (
    "etcd-server",
    "etcd-client",
    "containerd",
    "runc",
    "containernetworking-plugins",
    "nftables",
    "iptables",
    "conntrack",
    "python3-apt",  # Ansible's apt module
    "python3-venv",  # kprov's components are installed into a venv on hosts
    "python3-pip",
)
BUNDLE_SIZE_BYTES = 250 * 2**20
STAMP_NAME = ".kprov-bundle-stamp"
DEBIAN_SECURITY_MIRROR = os.environ.get("KPROV_LAB_SECURITY_MIRROR", "http://deb.debian.org/debian-security")
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"


def apt_source_line(url: str) -> str:
    """The sources.list line with which a host uses a bundle served at ``url``."""
    return f"deb [trusted=yes] {url} ./\n"


def bundle_stamp(packages: Sequence[str]) -> str:
    text = "\n".join([DEBIAN_SUITE, DEBIAN_MIRROR, *sorted(set(packages))])
    return hashlib.sha256(text.encode()).hexdigest()


def bundle_current(repo: Path, packages: Sequence[str]) -> bool:
    stamp = repo / STAMP_NAME
    if not (repo / "Packages").exists() or not stamp.exists():
        return False
    return stamp.read_text().strip() == bundle_stamp(packages)


def _debian_sources() -> str:
    signed = f"[signed-by={KEYRING}] " if Path(KEYRING).exists() else ""
    return (
        f"deb {signed}{DEBIAN_MIRROR} {DEBIAN_SUITE} main\n"
        f"deb {signed}{DEBIAN_MIRROR} {DEBIAN_SUITE}-updates main\n"
        f"deb {signed}{DEBIAN_SECURITY_MIRROR} {DEBIAN_SUITE}-security main\n"
    )


def _apt_options(work: Path, repo: Path, base: Path) -> list[str]:
    options = {
        "Dir::Etc::sourcelist": work / "sources.list",
        "Dir::Etc::sourceparts": work / "empty",
        "Dir::Etc::preferencesparts": work / "empty",
        "Dir::Etc::preferences": work / "empty/none",
        "Dir::State": work / "state",
        "Dir::State::Lists": work / "lists",
        "Dir::State::status": base / "var/lib/dpkg/status",
        "Dir::Cache": work / "cache",
        "Dir::Cache::archives": repo,
        "Debug::NoLocking": "1",
        "APT::Sandbox::User": "root",
        "APT::Install-Recommends": "false",
    }
    return [arg for key, value in options.items() for arg in ("-o", f"{key}={value}")]


def fill_bundle(repo: Path, base: Path, packages: Sequence[str]) -> bool:
    """Download ``packages`` (+ missing deps) into ``repo`` and index it; False if current."""
    with file_lock(repo.with_name(repo.name + ".lock")):
        if bundle_current(repo, packages):
            return False
        work = repo.with_name(repo.name + "-work")
        for sub in ("empty", "state", "lists/partial", "cache"):
            (work / sub).mkdir(parents=True, exist_ok=True)
        (repo / "partial").mkdir(parents=True, exist_ok=True)
        (work / "sources.list").write_text(_debian_sources())
        options = _apt_options(work, repo, base)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        run(["apt-get", *options, "-q", "update"], env=env, timeout=900)
        run(["apt-get", *options, "-q", "-y", "--download-only", "install", *packages], env=env, timeout=1800)
        index_bundle(repo)
        (repo / STAMP_NAME).write_text(bundle_stamp(packages) + "\n")
        return True


def index_bundle(repo: Path) -> None:
    """(Re)write Packages, Packages.gz and Release for the .debs in ``repo`` (atomically)."""
    listing = run(["apt-ftparchive", "packages", "."], cwd=repo, timeout=300).stdout
    _replace(repo / "Packages", listing.encode())
    _replace(repo / "Packages.gz", gzip.compress(listing.encode(), mtime=0))
    release = run(["apt-ftparchive", "release", "."], cwd=repo, timeout=300).stdout
    _replace(repo / "Release", release.encode())


def _replace(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def remove_bundle(repo: Path) -> None:
    """Delete a bundle and its download work dir (used to measure a cold start)."""
    for path in (repo, repo.with_name(repo.name + "-work")):
        if path.exists():
            shutil.rmtree(path)
