"""An image root for a stdlib-only Python program: this machine's python3, the standard
library modules the program imports (nothing else of the stdlib) and the shared objects
the interpreter and its extension modules need.

Design: the module list comes from the interpreter itself: a child ``python3 -I -S``
imports the program's entry module (and ``extra`` modules the program imports lazily, such
as ``traceback`` for a handler's error report) and prints the file of every module loaded,
which are then copied at the same paths (``/usr/lib/python3.11/...``), plus ``os.py`` (the
landmark by which the interpreter finds its library) and ``lib-dynload``. Each extension
module and the interpreter bring the shared objects ``ldd`` names
(:func:`kprov.images.host_tools.shared_objects`). The program's own package is copied
under ``program_root`` and found through ``PYTHONPATH``. The image runs ``python3 -S``: no
site-packages, nothing from this machine besides what is listed.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from kprov.images.host_tools import shared_objects
from kprov.images.oci import FileEntry

__all__ = ["PythonProgram", "host_python", "python_program_files", "stdlib_files"]

_LIST_MODULES = """
import json, sys
sys.path.insert(0, sys.argv[1])
import importlib
for name in sys.argv[2:]:
    importlib.import_module(name)
files = sorted({m.__file__ for m in list(sys.modules.values()) if getattr(m, "__file__", None)})
print(json.dumps({"files": files, "lib": sys.prefix + "/lib/python%d.%d" % sys.version_info[:2]}))
"""
_DEFAULT_EXTRA = ("runpy", "traceback", "encodings.idna", "encodings.ascii", "encodings.latin_1",
                  "encodings.utf_8")


def host_python() -> Path | None:
    """This machine's system interpreter (Debian's /usr/bin/python3, resolved), not a venv's."""
    for candidate in (Path("/usr/bin/python3"),):
        if candidate.exists():
            return candidate.resolve()
    return None


@dataclass(frozen=True)
class PythonProgram:
    package: Path  # the program's package directory (stdlib and relative imports only)
    entry: str  # module run with ``-m`` (runpy is listed in ``extra``), e.g. "wardle"
    program_root: str = "opt/program"  # where the package goes in the image
    extra: tuple[str, ...] = _DEFAULT_EXTRA

    def command(self, python: Path) -> list[str]:
        return [str(python), "-S", "-B", "-u", "-m", self.entry]

    def env(self) -> list[str]:
        return ["PATH=/usr/bin:/bin", f"PYTHONPATH=/{self.program_root}"]


def stdlib_files(python: Path, program: PythonProgram) -> tuple[Path, list[Path]]:
    """(the library directory, every stdlib file the program loads)."""
    modules = [f"{program.package.name}.{p.stem}" for p in sorted(program.package.glob("*.py"))
               if p.stem != "__main__"]
    command = [str(python), "-I", "-S", "-c", _LIST_MODULES, str(program.package.parent), *modules,
               *program.extra]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"listing the modules of {program.package}: {done.stderr.strip()[-800:]}")
    listing = json.loads(done.stdout)
    lib = Path(listing["lib"])
    files = [Path(f) for f in listing["files"] if Path(f).is_relative_to(lib)]
    landmark = lib / "os.py"
    return lib, sorted({*files, landmark})


def _with_parents(path: str, have: set[str], out: list[FileEntry]) -> None:
    for parent in reversed(PurePosixPath(path).parents[:-1]):
        if str(parent) not in have:
            have.add(str(parent))
            out.append(FileEntry(str(parent), is_dir=True, mode=0o755))


def python_program_files(program: PythonProgram, python: Path) -> list[FileEntry]:
    """The whole root: interpreter, shared objects, stdlib subset, the program's package."""
    lib, modules = stdlib_files(python, program)
    wanted: dict[str, Path] = {str(python).lstrip("/"): python}
    for source in [python, *[m for m in modules if m.suffix == ".so"]]:
        for library in shared_objects(source):
            wanted[str(library).lstrip("/")] = library
    for module in modules:
        wanted[str(module).lstrip("/")] = module
    for source in sorted(program.package.glob("*.py")):
        wanted[f"{program.program_root}/{program.package.name}/{source.name}"] = source
    have: set[str] = set()
    out: list[FileEntry] = []
    dynload = str(lib / "lib-dynload").lstrip("/")
    _with_parents(dynload + "/x", have, out)
    for path, source in sorted(wanted.items()):
        _with_parents(path, have, out)
        mode = 0o755 if os.access(source, os.X_OK) and source.suffix != ".py" else 0o644
        out.append(FileEntry(path, data=source.read_bytes(), mode=mode))
    out += [FileEntry("tmp", is_dir=True, mode=0o1777)] if "tmp" not in have else []
    return out
