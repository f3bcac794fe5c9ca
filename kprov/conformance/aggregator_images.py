"""The two images of the Aggregator conformance test: a sample-apiserver *stand-in* and an
etcd *substitute*, built from this machine's programs.

- sample-apiserver: :mod:`kprov.conformance.wardle` (a Python program serving the
  wardle.example.com group the test drives, not upstream's Go server) on this machine's
  python3 with only the stdlib modules it loads (:mod:`kprov.conformance.python_root`);
  ``ENTRYPOINT`` runs it, so the test's arguments (``--etcd-servers``, ``--tls-*``) reach it;
- etcd: Debian's etcd (package etcd-server; another version than the tag names) at
  ``/usr/local/bin/etcd``, where the test's ``command`` runs it, with its shared objects and
  a writable working directory for its default data directory.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from kprov.conformance.python_root import PythonProgram, host_python, python_program_files
from kprov.images.host_tools import shared_objects
from kprov.images.oci import FileEntry, ImageSpec

__all__ = ["ETCD_BINARY", "WARDLE", "etcd_spec", "etcd_version", "sample_apiserver_spec"]

ETCD_BINARY = Path("/usr/bin/etcd")
WARDLE = PythonProgram(Path(__file__).parent / "wardle", "wardle", "opt/sample-apiserver")


def etcd_version(binary: Path = ETCD_BINARY) -> str | None:
    """``3.4.23`` for Debian 12's etcd; None when it is not installed (or will not run)."""
    if not binary.is_file():
        return None
    try:
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    first = out.splitlines()[0] if out else ""
    return first.rsplit(" ", 1)[-1] if first.startswith("etcd Version") else None


def sample_apiserver_spec(reference: str, python: Path | None = None) -> ImageSpec:
    python = python or host_python()
    if python is None:
        raise RuntimeError("no /usr/bin/python3 to build the sample-apiserver stand-in with")
    files = python_program_files(WARDLE, python)
    return ImageSpec(reference, files=files, entrypoint=WARDLE.command(python), env=WARDLE.env())


def _parents(path: str) -> list[FileEntry]:
    parts = path.split("/")
    return [FileEntry("/".join(parts[: i + 1]), is_dir=True, mode=0o755) for i in range(len(parts) - 1)]


def etcd_spec(reference: str, binary: Path = ETCD_BINARY) -> ImageSpec:
    wanted = {"usr/local/bin/etcd": binary}
    wanted.update({str(library).lstrip("/"): library for library in shared_objects(binary)})
    files: dict[str, FileEntry] = {}
    for path, source in sorted(wanted.items()):
        for parent in _parents(path):
            files.setdefault(parent.path, parent)
        files[path] = FileEntry(path, data=source.read_bytes(), mode=0o755)
    for directory, mode in (("var", 0o755), ("var/lib", 0o755), ("var/lib/etcd", 0o700), ("tmp", 0o1777)):
        files.setdefault(directory, FileEntry(directory, is_dir=True, mode=mode))
    return ImageSpec(reference, files=list(files.values()), entrypoint=["/usr/local/bin/etcd"],
                     working_dir="/var/lib/etcd", env=["PATH=/usr/local/bin:/usr/bin:/bin"])
