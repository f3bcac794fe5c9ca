"""Build kprov's runtime: the wheelhouse installed once, on the operator machine, as a tree.

Installing the wheelhouse with pip on every host costs each host python3-venv (for
ensurepip), a venv with pip, and a pip run that resolves, unpacks and byte-compiles ~35
wheels: tens of CPU seconds per host, all at once. Instead pip runs once here, with the
operator's Python (the one the wheelhouse's binary wheels were built for), into a staging
venv without pip; its ``site-packages`` and console scripts become one tar.gz. A host then
needs only ``python3 -m venv --without-pip DIR`` (no package; stdlib) and ``tar -x``: the
same files pip would have written, byte-code included. The byte-code is compiled here, once
(the archive is for this X.Y only; timestamp-checked, and tar keeps the sources' mtimes):
left to the hosts, every kprov process compiled what it imported on its first start, the
kubelet and kube-proxy each the same ~300 modules at once, ~0.5 CPU-s per process on a lab
host, all hosts of a cold apply together on the same cores.

Archive layout (extracted into the venv's root): ``lib/pythonX.Y/site-packages/...``,
``bin/<console scripts>`` (shebang ``#!/opt/kprov/venv/bin/python``; the role rewrites it to
``kprov_venv``), ``PYTHON`` (X.Y, checked against the host's python3) and ``DIGEST`` (the
source digest; written last, so its presence means the whole archive was unpacked).
Archives are cached next to the wheelhouse and named by the same digest.

What hosts do not run is left out. Every host of a cold apply unpacks the archive at once, on
the same cores in a lab: the unpack was ~1 CPU-s a host alone and up to 4.5 CPU-s a host
with 20 hosts at once (process accounting; mostly the kernel's file writes), so bytes and
files are paid many times over. Two cuts, both from one measured archive (153 MB, 6,523
files unpacked):

* the distributions only the operator uses (:data:`HOST_EXCLUDED_DISTRIBUTIONS`: ``kprov
  verify``'s testinfra and pytest), by ``pip uninstall``, console scripts included;
* the debug sections of compiled extensions (``strip --strip-debug``, when binutils is
  there): uvloop's loop module is 13.6 MB with them and 1.9 MB without.

A host's entry points are then imported in the staging venv (:data:`HOST_MODULES`, every
console script's module), so a runtime that lacks what a daemon imports fails here, at
build time, not on the hosts (a first cut also left out prompt_toolkit, which ``import cel``
needs: the API server failed at its first CRD validation rule).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from kprov.bundle.wheelhouse import DEFAULT_CACHE, build_wheelhouse, cache_lock

__all__ = [
    "HOST_EXCLUDED_DISTRIBUTIONS",
    "HOST_MODULES",
    "REQUIRED_SCRIPTS",
    "SCRIPT_SHEBANG",
    "Runtime",
    "build_runtime",
    "python_tag",
]

SCRIPT_SHEBANG = "#!/opt/kprov/venv/bin/python"
REQUIRED_SCRIPTS = ("kprov-apiserver", "kprov-controller-manager", "kprov-scheduler", "kprov-kubelet",
                    "kprov-proxy")
_KEEP_ARCHIVES = 4
# Installed on the operator with kprov, never imported on a host: testinfra (kprov verify runs
# it on the operator) and what only it needs. (The `cel` package imports its REPL, and with it
# prompt_toolkit, wcwidth and pygments, whenever it is imported: those stay.)
HOST_EXCLUDED_DISTRIBUTIONS = ("pytest-testinfra", "pytest", "pluggy", "iniconfig")
# What hosts run besides the console scripts: the roles' `python -m` modules, and what the
# daemons import only on first use (the API server: `cel`, for a CRD's x-kubernetes-validations).
HOST_MODULES = ("kprov.images.mirror_order", "kprov.images.mirror_load", "kprov.cluster.kubelet.readycheck",
                "cel")


@dataclass(frozen=True)
class Runtime:
    """A built runtime archive, the source digest it holds and the Python it was built for."""

    archive: Path
    digest: str
    python: str


def python_tag() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def build_runtime(repo_root: Path, cache_dir: Path = DEFAULT_CACHE) -> Runtime:
    """Return the runtime archive for the sources in ``repo_root``, building it if needed."""
    wheelhouse = build_wheelhouse(repo_root, cache_dir)
    archive = cache_dir / f"kprov-runtime-{wheelhouse.digest}-py{python_tag()}.tar.gz"
    if not archive.exists():
        with cache_lock(cache_dir):
            if not archive.exists():
                _build(wheelhouse.archive, wheelhouse.digest, archive)
    return Runtime(archive, wheelhouse.digest, python_tag())


def _run(cmd: list[str], cwd: Path) -> None:
    # A clean directory and environment: pip run for the staging venv must not see a kprov
    # from the caller's PYTHONPATH or working directory (a checkout with kprov.egg-info would
    # make it "already satisfied" and leave kprov out).
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PIP_TARGET")}
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{result.stderr[-2000:]}")


def _build(wheelhouse: Path, digest: str, archive: Path) -> None:
    staging = Path(tempfile.mkdtemp(prefix=f"runtime-{digest}-", dir=archive.parent))
    try:
        wheels, venv = staging / "wheels", staging / "venv"
        with tarfile.open(wheelhouse) as tar:
            tar.extractall(wheels, filter="data")
        _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], staging)
        # pip resolves exactly as it would on a host (offline, from the wheelhouse only).
        _run([sys.executable, "-m", "pip", "-q", "--disable-pip-version-check", "--python",
              str(venv / "bin" / "python"), "install", "--no-index", "--no-compile",
              "--find-links", str(wheels), "kprov"], staging)
        site = venv / "lib" / f"python{python_tag()}" / "site-packages"
        # pip's own uninstall: the files each RECORD lists, console scripts included
        _run([sys.executable, "-m", "pip", "-q", "--disable-pip-version-check", "--python",
              str(venv / "bin" / "python"), "uninstall", "-y", *HOST_EXCLUDED_DISTRIBUTIONS], staging)
        _strip_debug(site)
        scripts = _console_scripts(venv)
        missing = sorted(set(REQUIRED_SCRIPTS) - {s.name for s in scripts})
        if missing:
            raise RuntimeError(f"the runtime build left out {', '.join(missing)}: pip did not install kprov")
        _check_imports(venv, site)
        import compileall  # here, not at the top: every kprov command imports this module

        # as pip: a file that does not compile is left to fail where it is imported, if ever
        compileall.compile_dir(site, quiet=2, workers=0)
        (staging / "PYTHON").write_text(python_tag() + "\n")
        (staging / "DIGEST").write_text(digest + "\n")
        tmp = archive.with_suffix(".partial")
        with tarfile.open(tmp, "w:gz", compresslevel=6) as tar:
            tar.add(site, arcname=str(site.relative_to(venv)))
            for script in scripts:
                tar.add(script, arcname=f"bin/{script.name}")
            tar.add(staging / "PYTHON", arcname="PYTHON")
            tar.add(staging / "DIGEST", arcname="DIGEST")  # last: the archive is complete
        tmp.rename(archive)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        archive.with_suffix(".partial").unlink(missing_ok=True)  # an interrupted build's
    olds = sorted(archive.parent.glob("kprov-runtime-*.tar.gz"), key=lambda p: p.stat().st_mtime)
    for old in olds[:-_KEEP_ARCHIVES]:
        old.unlink(missing_ok=True)


def _console_scripts(venv: Path) -> list[Path]:
    """The scripts pip wrote into the staging venv, their shebang pointed at the host's venv."""
    staged_python = f"#!{venv / 'bin' / 'python'}"
    scripts = []
    for path in sorted((venv / "bin").iterdir()):
        if path.is_symlink() or not path.is_file():
            continue
        head, _, rest = path.read_bytes().partition(b"\n")
        if head.decode(errors="replace").startswith(staged_python):
            path.write_bytes(SCRIPT_SHEBANG.encode() + b"\n" + rest)
            scripts.append(path)
    return scripts


def _strip_debug(site: Path) -> None:
    """``strip --strip-debug`` every compiled extension (debug sections only: symbols stay)."""
    strip = shutil.which("strip")
    if strip is None:  # no binutils on this machine: the runtime keeps its debug sections
        return
    libraries = [str(p) for p in site.rglob("*.so*") if p.is_file() and not p.is_symlink()]
    if libraries:
        subprocess.run([strip, "--strip-debug", *libraries], capture_output=True, check=False)


def _check_imports(venv: Path, site: Path) -> None:
    """Import every module a host runs, in the staging venv: a missing dependency fails the
    build here, naming the module."""
    modules = list(HOST_MODULES)
    for entry in site.glob("kprov-*.dist-info/entry_points.txt"):
        for line in entry.read_text().splitlines():
            if "=" in line and ":" in line:
                modules.append(line.split("=", 1)[1].split(":", 1)[0].strip())
    code = "import importlib, sys\nfor m in sys.argv[1:]: importlib.import_module(m)"
    _run([str(venv / "bin" / "python"), "-c", code, *modules], venv)
