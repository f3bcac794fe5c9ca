"""This machine's CPython as the interpreter of the ``python`` stand-in image.

Manifests and client suites run Docker Hub's ``python`` image (the official Python client's
port-forward test serves its sockets from ``python -u /opt/port-server.py``); nothing can be
pulled here, but Debian's CPython can be copied: the interpreter at its own path
(``/usr/bin/python3.X``, so ``sys.prefix`` finds the standard library where Debian put it),
the standard library without what a container never imports (test suites, IDLE, tkinter,
the bundled pip, the demo and 2to3 packages, the embedding config) and without byte-code
caches (a layer's files carry no modification times, so every cached ``.pyc`` would be stale
anyway: Python compiles what it imports and, the root read-only or not, goes on), the
extension modules of ``lib-dynload`` with the shared objects ``ldd`` names for each and for
the interpreter (at the same paths as here), and ``python``/``python3`` under ``/usr/bin``
and ``/usr/local/bin`` (the official image's place). Symlinks out of the tree
(``sitecustomize.py`` -> /etc) are copied as the files they point at.

It is a *substitute*: the same tool, Debian's build and this machine's version whatever tag a
manifest names. Without the interpreter the stand-in is not built.
"""

from __future__ import annotations

import os
from pathlib import Path

from kprov.images.host_tools import parent_dirs, shared_objects
from kprov.images.oci import FileEntry

__all__ = ["PYTHON", "python_files", "python_version"]

PYTHON = Path("/usr/bin/python3")  # Debian's python3 -> python3.X
_SKIPPED_DIRS = frozenset({
    "__pycache__", "test", "tests", "idle_test", "idlelib", "tkinter", "turtledemo", "lib2to3", "ensurepip",
    "pydoc_data", "site-packages", "dist-packages",
})
_EXECUTABLE = 0o755


def python_version(interpreter: Path = PYTHON) -> str:
    """``3.11`` for /usr/bin/python3 -> python3.11 ("" when there is no such interpreter)."""
    real = interpreter.resolve()
    name = real.name
    return name[len("python"):] if real.is_file() and name.startswith("python3.") else ""


def _stdlib_entries(stdlib: Path) -> tuple[list[FileEntry], list[Path]]:
    """The standard library's entries (paths relative to /) and its extension modules."""
    entries: list[FileEntry] = []
    extensions: list[Path] = []
    for top, dirs, names in os.walk(stdlib):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS and not d.startswith("config-"))
        here = Path(top)
        entries.append(FileEntry(str(here).lstrip("/"), is_dir=True, mode=0o755))
        for name in sorted(names):
            source = here / name
            if not source.exists():  # a dangling symlink: nothing to copy
                continue
            path = str(source).lstrip("/")
            target = os.readlink(source) if source.is_symlink() else None
            if target is not None and "/" not in target:  # a sibling: kept as a link
                entries.append(FileEntry(path, symlink_to=target))
                continue
            executable = name.endswith(".so")
            if executable:
                extensions.append(source)
            mode = _EXECUTABLE if executable else 0o644
            entries.append(FileEntry(path, data=source.read_bytes(), mode=mode))
    return entries, extensions


def python_files(interpreter: Path = PYTHON) -> list[FileEntry]:
    """The entries that put ``interpreter`` (Debian's layout) into an image root; [] without it."""
    version = python_version(interpreter)
    if not version:
        return []
    real = interpreter.resolve()
    entries, extensions = _stdlib_entries(Path(f"/usr/lib/python{version}"))
    entries.append(FileEntry(str(real).lstrip("/"), data=real.read_bytes(), mode=_EXECUTABLE))
    for name in ("python", "python3"):
        entries.append(FileEntry(f"usr/bin/{name}", symlink_to=real.name))
        entries.append(FileEntry(f"usr/local/bin/{name}", symlink_to=str(real)))
    libraries: dict[str, Path] = {}
    for binary in (real, *extensions):
        for library in shared_objects(binary):
            libraries.setdefault(str(library).lstrip("/"), library)
    for path, library in sorted(libraries.items()):
        entries.append(FileEntry(path, data=library.read_bytes(), mode=_EXECUTABLE))
    return parent_dirs([e.path for e in entries], {e.path for e in entries}) + entries
