"""Build the wheelhouse that installs kprov's cluster components on hosts without internet.

The wheelhouse is named by a digest of kprov's own sources, so a host can tell in one
comparison whether it runs the code the operator has: same digest, nothing to do. Wheels of
third-party dependencies are cached across builds (they only change with pyproject.toml);
only kprov's own wheel is rebuilt when its sources change. The result is one tar.gz that a
role unpacks on each host and installs with ``pip --no-index``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kprov.bundle.build_error import BuildError

__all__ = ["DEFAULT_CACHE", "Wheelhouse", "build_wheelhouse", "cache_lock", "source_digest"]

DEFAULT_CACHE = Path("/var/lib/kprov/wheelhouse")
_KEEP_ARCHIVES = 4
_SOURCE_GLOBS = ("pyproject.toml", "kprov/**/*.py", "kprov/**/*.proto", "kprov/**/*.j2")


@dataclass(frozen=True)
class Wheelhouse:
    """A built wheelhouse archive and the digest of the sources it was built from."""

    archive: Path
    digest: str


def source_digest(repo_root: Path) -> str:
    """A short sha256 over kprov's sources and pyproject.toml (paths and contents)."""
    h = hashlib.sha256()
    files: set[Path] = set()
    for pattern in _SOURCE_GLOBS:
        files.update(p for p in repo_root.glob(pattern) if "__pycache__" not in p.parts)
    for path in sorted(files):
        h.update(str(path.relative_to(repo_root)).encode())
        h.update(b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _pip(*args: str) -> None:
    cmd = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check", *args]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise BuildError("kprov's wheelhouse", cmd, result.stderr[-2000:])


@contextlib.contextmanager
def cache_lock(cache_dir: Path) -> Iterator[None]:
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one builder at a time; the others reuse its result
        yield


def build_wheelhouse(repo_root: Path, cache_dir: Path = DEFAULT_CACHE) -> Wheelhouse:
    """Return the wheelhouse archive for the sources in ``repo_root``, building it if needed."""
    repo_root = repo_root.resolve()
    digest = source_digest(repo_root)
    archive = cache_dir / f"kprov-wheelhouse-{digest}.tar.gz"
    if archive.exists():
        return Wheelhouse(archive, digest)
    with cache_lock(cache_dir):
        if not archive.exists():
            _build(repo_root, cache_dir, digest, archive)
    return Wheelhouse(archive, digest)


def _build(repo_root: Path, cache_dir: Path, digest: str, archive: Path) -> None:
    deps = cache_dir / "deps"
    deps.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"staging-{digest}-", dir=cache_dir))
    # The staging directory (and a partial archive) go whatever happens, an interrupt too:
    # the cache is shared by every checkout and run on this machine.
    tmp = archive.with_suffix(".partial")
    try:
        # Dependencies come from the cache offline first (seconds); the index is asked only
        # when that fails, and what it brings is cached.
        args = ("wheel", "--no-build-isolation", "--find-links", str(deps), "-w", str(staging),
                str(repo_root))
        try:
            _pip(*args[:1], "--no-index", *args[1:])
        except BuildError:
            _pip(*args)
        for wheel in staging.glob("*.whl"):
            if not wheel.name.startswith("kprov-") and not (deps / wheel.name).exists():
                shutil.copy2(wheel, deps / wheel.name)
        # pip does not copy wheels it resolved from --find-links into -w: add the cached ones,
        # so hosts can install with --no-index from the archive alone.
        for wheel in deps.glob("*.whl"):
            if not (staging / wheel.name).exists():
                shutil.copy2(wheel, staging / wheel.name)
        (staging / "DIGEST").write_text(digest + "\n")
        with tarfile.open(tmp, "w:gz") as tar:
            for item in sorted(staging.iterdir()):
                tar.add(item, arcname=item.name)
        tmp.rename(archive)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        tmp.unlink(missing_ok=True)
    # Keep a few recent archives: another checkout (or a run in progress) may still use one.
    archives = sorted(cache_dir.glob("kprov-wheelhouse-*.tar.gz"), key=lambda p: p.stat().st_mtime)
    for old in archives[:-_KEEP_ARCHIVES]:
        old.unlink(missing_ok=True)
