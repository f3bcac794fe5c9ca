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
kubelet and kube-proxy each the same modules at once, all hosts of a cold apply together on
the same cores (figures: docs/decisions/0051-figures-live-in-records.md).

Archive layout (extracted into the venv's root): ``lib/pythonX.Y/site-packages/...``,
``bin/<console scripts>`` (shebang ``#!/opt/kprov/venv/bin/python``; the role rewrites it to
``kprov_venv``), ``PYTHON`` (X.Y, checked against the host's python3) and ``DIGEST`` (the
source digest; written last, so its presence means the whole archive was unpacked).
Archives are cached next to the wheelhouse and named by the same digest.

What hosts do not run is left out. Every host of a cold apply unpacks the archive at once, on
the same cores in a lab, and the unpack's cost is mostly the kernel's file writes, so bytes
and files are paid many times over. Two cuts:

* the distributions only the operator uses (:data:`HOST_EXCLUDED_DISTRIBUTIONS`: ``kprov
  verify``'s testinfra and pytest), by ``pip uninstall``, console scripts included;
* the debug sections of compiled extensions (``strip --strip-debug``, when binutils is
  there): most of a compiled extension's size (uvloop's loop module) is its debug sections.

A host's entry points are then imported in the staging venv (:data:`HOST_MODULES`, every
console script's module), so a runtime that lacks what a daemon imports fails here, at
build time, not on the hosts (a first cut left out a package the CEL runtime imported on
first use: the API server failed at its first CRD validation rule).

Two flavors come from one build. The full runtime goes to control-plane hosts. Every other
host (workers, etcd-only members) runs only :data:`NODE_MODULES` (kubelet, kube-proxy, the
image helpers) and gets the node runtime: the same tree less every distribution those
modules cannot import (kprov.bundle.reach reads their import statements, wherever they are:
the CLI, CEL and its REPL, JWT, etcd's client, the cron and DNS libraries, jinja2...), and
less the console scripts of components it does not run: about half the full runtime's bytes
and files, and most hosts of a cluster are nodes. Its files are imported from the node venv at build
time as well. A host unpacks its flavor into ``<digest>-node``, so a host that joins the
control plane later gets the full runtime as a version switch.
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

from kprov.bundle.build_error import BuildError
from kprov.bundle.wheelhouse import DEFAULT_CACHE, build_wheelhouse, cache_lock

__all__ = [
    "HOST_EXCLUDED_DISTRIBUTIONS",
    "HOST_MODULES",
    "NODE_MODULES",
    "NODE_SCRIPTS",
    "NODE_SUFFIX",
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
# it on the operator) and what only it needs.
HOST_EXCLUDED_DISTRIBUTIONS = ("pytest-testinfra", "pytest", "pluggy", "iniconfig")
# What hosts run besides the console scripts: the roles' `python -m` modules, and what the
# daemons import only on first use (the API server: the CEL runtime, for a CRD's validation rules).
HOST_MODULES = (
    "kprov.images.mirror_order",
    "kprov.images.mirror_load",
    "kprov.cluster.kubelet.node.readycheck",
    "cel_expr_python.cel",
)
# What a host outside the control plane runs: the kubelet's, kube-proxy's and the Ingress
# controller's scripts, and the modules roles run there with `python -m` (container_runtime,
# registry, the kubelet's handler).
NODE_SCRIPTS = ("kprov-kubelet", "kprov-proxy", "kprov-ingress")
NODE_MODULES = ("kprov.cluster.kubelet.__main__", "kprov.cluster.proxy.__main__",
                "kprov.cluster.ingress.__main__", "kprov.images.mirror_order", "kprov.images.mirror_load",
                "kprov.cluster.kubelet.node.readycheck")
NODE_SUFFIX = "-node"  # the node runtime's archive name and directory on a host: <digest>-node


@dataclass(frozen=True)
class Runtime:
    """The built runtime archives (full, and node: see the module's docstring), the source
    digest they hold and the Python they were built for."""

    archive: Path
    digest: str
    python: str
    node_archive: Path


def python_tag() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def build_runtime(repo_root: Path, cache_dir: Path = DEFAULT_CACHE) -> Runtime:
    """Return the runtime archive for the sources in ``repo_root``, building it if needed."""
    wheelhouse = build_wheelhouse(repo_root, cache_dir)
    archive = cache_dir / f"kprov-runtime-{wheelhouse.digest}-py{python_tag()}.tar.gz"
    node_archive = _node_archive(archive)
    if not (archive.exists() and node_archive.exists()):
        with cache_lock(cache_dir):
            if not (archive.exists() and node_archive.exists()):
                _build(wheelhouse.archive, wheelhouse.digest, archive)
    return Runtime(archive, wheelhouse.digest, python_tag(), node_archive)


def _node_archive(archive: Path) -> Path:
    return archive.with_name(archive.name.removesuffix(".tar.gz") + f"{NODE_SUFFIX}.tar.gz")


def _run(cmd: list[str], cwd: Path) -> None:
    # A clean directory and environment: pip run for the staging venv must not see a kprov
    # from the caller's PYTHONPATH or working directory (a checkout with kprov.egg-info would
    # make it "already satisfied" and leave kprov out).
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PIP_TARGET")}
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=env)
    if result.returncode != 0:
        raise BuildError("kprov's runtime", cmd, result.stderr[-2000:])


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
            raise BuildError("kprov's runtime", [], f"the runtime build left out {', '.join(missing)}: "
                             "pip did not install kprov")
        _check_imports(venv, site)
        _compile(site)
        (staging / "PYTHON").write_text(python_tag() + "\n")
        (staging / "DIGEST").write_text(digest + "\n")
        _pack(archive, staging, site, scripts)
        _cut_to_node(venv, site, staging)
        _pack(_node_archive(archive), staging, site, [s for s in scripts if s.name in NODE_SCRIPTS])
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        for partial in (archive, _node_archive(archive)):  # an interrupted build's
            partial.with_suffix(".partial").unlink(missing_ok=True)
    fulls = [p for p in archive.parent.glob("kprov-runtime-*.tar.gz")
             if not p.name.endswith(f"{NODE_SUFFIX}.tar.gz")]
    for old in sorted(fulls, key=lambda p: p.stat().st_mtime)[:-_KEEP_ARCHIVES]:
        old.unlink(missing_ok=True)
        _node_archive(old).unlink(missing_ok=True)


def _pack(archive: Path, staging: Path, site: Path, scripts: list[Path]) -> None:
    venv = staging / "venv"
    tmp = archive.with_suffix(".partial")
    with tarfile.open(tmp, "w:gz", compresslevel=6) as tar:
        tar.add(site, arcname=str(site.relative_to(venv)))
        for script in scripts:
            tar.add(script, arcname=f"bin/{script.name}")
        tar.add(staging / "PYTHON", arcname="PYTHON")
        tar.add(staging / "DIGEST", arcname="DIGEST")  # last: the archive is complete
    tmp.rename(archive)


def _cut_to_node(venv: Path, site: Path, staging: Path) -> None:
    """Uninstall from the staging venv what :data:`NODE_MODULES` cannot import, then import
    them from what is left (a missing module fails the build, naming it)."""
    # build time only, as the compile step: every kprov command imports this module
    from kprov.bundle.reach import installed_distributions, reachable_distributions

    surplus = sorted(set(installed_distributions(site)) - reachable_distributions(site, NODE_MODULES))
    if surplus:
        _run([sys.executable, "-m", "pip", "-q", "--disable-pip-version-check", "--python",
              str(venv / "bin" / "python"), "uninstall", "-y", *surplus], staging)
    _check_imports(venv, site, NODE_MODULES, entry_points=False)


def _compile(site: Path) -> None:
    """Byte-compile ``site`` on every core, in a process of its own. compileall's workers are
    forked from the process that asks; the callers are multi-threaded (kprov apply builds
    while its host threads connect; pytest's control-plane fixtures keep threads), and a
    worker forked from such a process spun at 100 % CPU for 14 minutes in a CI run instead of
    compiling. As pip: a file that does not compile is left to fail where it is imported, if
    ever, so compileall's exit status is not an error here."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", "-q", "-j", "0", str(site)],
                   capture_output=True, check=False, cwd=site)


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


def _check_imports(venv: Path, site: Path, host_modules: tuple[str, ...] = HOST_MODULES,
                   entry_points: bool = True) -> None:
    """Import every module a host runs, in the staging venv: a missing dependency fails the
    build here, naming the module."""
    modules = list(host_modules)
    for entry in site.glob("kprov-*.dist-info/entry_points.txt") if entry_points else ():
        for line in entry.read_text().splitlines():
            if "=" in line and ":" in line:
                modules.append(line.split("=", 1)[1].split(":", 1)[0].strip())
    code = "import importlib, sys\nfor m in sys.argv[1:]: importlib.import_module(m)"
    _run([str(venv / "bin" / "python"), "-c", code, *modules], venv)


def main(argv: list[str]) -> int:
    """``python -m kprov.bundle.runtime [REPO]``: build (or find) the runtime for the checkout at
    REPO (default: the one this module is in), as `bash .ci/setup` does once the virtualenv
    exists, so a first `kprov up` finds it made."""
    repo_root = Path(argv[0]) if argv else Path(__file__).resolve().parents[2]
    try:
        runtime = build_runtime(repo_root)
    except (BuildError, OSError) as exc:
        print(f"kprov setup: kprov's runtime: {exc}", file=sys.stderr, flush=True)
        return 1
    print(f"kprov setup: kprov's runtime ready ({runtime.archive.name})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
