"""The hosts' runtime archive, built for real from this checkout (pip, compileall, strip).

It is the one `kprov apply` sends every host (the default cache, so the e2e stage reuses the
build). What hosts never run is left out; what they run is there and imports.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from kprov.bundle.runtime import HOST_EXCLUDED_DISTRIBUTIONS, REQUIRED_SCRIPTS, Runtime, build_runtime

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def runtime() -> Runtime:
    return build_runtime(REPO)


@pytest.fixture(scope="module")
def unpacked(runtime: Runtime, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("runtime")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    with tarfile.open(runtime.archive) as tar:
        tar.extractall(root, filter="data")
    return root


def _site(root: Path) -> Path:
    return next(root.glob("lib/python3.*/site-packages"))


def test_operator_only_distributions_are_left_out_with_their_scripts(unpacked: Path) -> None:
    site = _site(unpacked)
    infos = {p.name.split("-")[0].lower().replace("_", "-") for p in site.glob("*.dist-info")}
    assert not infos & set(HOST_EXCLUDED_DISTRIBUTIONS)
    assert not (site / "_pytest").exists() and not (site / "testinfra").exists()
    assert not (unpacked / "bin" / "pytest").exists()
    # what hosts do need stays, aiohttp's own pytest plugin module included (it is aiohttp's)
    assert {"kprov", "aiohttp", "grpcio", "pyyaml", "uvloop"} <= infos
    assert all((unpacked / "bin" / name).is_file() for name in REQUIRED_SCRIPTS)


def test_extensions_carry_no_debug_sections(unpacked: Path) -> None:
    readelf = subprocess.run(["readelf", "-S", "-W", str(next(_site(unpacked).glob("uvloop/loop.*.so")))],
                             capture_output=True, text=True, check=True)
    assert ".symtab" in readelf.stdout or ".dynsym" in readelf.stdout
    assert ".debug_info" not in readelf.stdout


def test_every_daemon_imports_from_the_archive_alone(unpacked: Path) -> None:
    """The unpacked tree with the host's plain venv python, no operator site-packages."""
    modules = ["kprov.cluster.kubelet.__main__", "kprov.cluster.apiserver.__main__",
               "kprov.cluster.proxy.__main__", "kprov.cluster.dns.__main__", "kprov.images.mirror_order",
               "kprov.cluster.kubelet.readycheck", "kprov.cli.main", "cel"]  # (cel: on first use)
    code = "import importlib, sys\nfor m in sys.argv[1:]: importlib.import_module(m)\nprint(sys.path[-1])"
    done = subprocess.run([str(unpacked / "bin" / "python"), "-I", "-c", code, *modules],
                          capture_output=True, text=True, cwd=unpacked)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().startswith(str(unpacked))
