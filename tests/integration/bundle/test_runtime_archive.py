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

from kprov.bundle.runtime import (
    HOST_EXCLUDED_DISTRIBUTIONS,
    NODE_MODULES,
    NODE_SCRIPTS,
    REQUIRED_SCRIPTS,
    Runtime,
    build_runtime,
)

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def runtime() -> Runtime:
    return build_runtime(REPO)


def _unpack(archive: Path, root: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(root, filter="data")
    return root


@pytest.fixture(scope="module")
def unpacked(runtime: Runtime, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _unpack(runtime.archive, tmp_path_factory.mktemp("runtime"))


@pytest.fixture(scope="module")
def unpacked_node(runtime: Runtime, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _unpack(runtime.node_archive, tmp_path_factory.mktemp("runtime-node"))


def _distributions(site: Path) -> set[str]:
    return {p.name.split("-")[0].lower().replace("_", "-") for p in site.glob("*.dist-info")}


def _site(root: Path) -> Path:
    return next(root.glob("lib/python3.*/site-packages"))


def test_operator_only_distributions_are_left_out_with_their_scripts(unpacked: Path) -> None:
    site = _site(unpacked)
    infos = _distributions(site)
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
               "kprov.cluster.kubelet.node.readycheck", "kprov.cli.main",
               "cel_expr_python.cel"]  # (CEL: on first use)
    code = "import importlib, sys\nfor m in sys.argv[1:]: importlib.import_module(m)\nprint(sys.path[-1])"
    done = subprocess.run([str(unpacked / "bin" / "python"), "-I", "-c", code, *modules],
                          capture_output=True, text=True, cwd=unpacked)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().startswith(str(unpacked))


def test_the_node_runtime_is_the_same_version_cut_to_what_nodes_run(unpacked: Path,
                                                                    unpacked_node: Path) -> None:
    full, node = _distributions(_site(unpacked)), _distributions(_site(unpacked_node))
    assert (unpacked_node / "DIGEST").read_text() == (unpacked / "DIGEST").read_text()
    # the kubelet's CRI client (grpc, protobuf) and the API client (aiohttp) stay ...
    assert {"kprov", "grpcio", "protobuf", "aiohttp", "pyyaml", "cryptography"} <= node < full
    # ... what only the control plane and the operator import goes
    assert not node & {"typer", "rich", "jinja2", "pyjwt", "aetcd", "cel-expr-python", "pygments",
                       "prompt-toolkit", "croniter", "dnspython", "libpass", "uvloop", "httptools"}
    assert sorted(p.name for p in (unpacked_node / "bin").glob("kprov*")) == sorted(NODE_SCRIPTS)
    files = [sum(1 for p in root.rglob("*") if p.is_file()) for root in (unpacked, unpacked_node)]
    assert files[1] < files[0] * 0.6


def test_what_nodes_run_imports_from_the_node_runtime_alone(unpacked_node: Path) -> None:
    code = "import importlib, sys\nfor m in sys.argv[1:]: importlib.import_module(m)"
    done = subprocess.run([str(unpacked_node / "bin" / "python"), "-I", "-c", code, *NODE_MODULES,
                           "kprov.cluster.kubelet.cri.client", "kprov.cluster.client.rest"],
                          capture_output=True, text=True, cwd=unpacked_node)
    assert done.returncode == 0, done.stderr[-2000:]
    # and what the control plane imports does not: this is the cut, not an accident of the test
    for module in ("cel_expr_python", "jwt", "aetcd", "kprov.cli.main"):
        done = subprocess.run([str(unpacked_node / "bin" / "python"), "-I", "-c", code, module],
                              capture_output=True, text=True, cwd=unpacked_node)
        assert done.returncode != 0 and "ModuleNotFoundError" in done.stderr, module


def test_byte_code_is_compiled_at_build_time_for_both_flavors(unpacked: Path, unpacked_node: Path) -> None:
    """Hosts compile nothing: every kprov source has its .pyc (built in a compileall process of
    its own, never forked from the multi-threaded caller)."""
    tag = f"cpython-{sys.version_info.major}{sys.version_info.minor}"
    for root in (unpacked, unpacked_node):
        package = _site(root) / "kprov"
        sources = [p for p in package.rglob("*.py") if "__pycache__" not in p.parts]
        missing = [p for p in sources if not (p.parent / "__pycache__" / f"{p.stem}.{tag}.pyc").is_file()]
        assert sources and not missing, missing[:5]
