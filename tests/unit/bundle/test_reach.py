"""kprov.bundle.reach on a small site-packages: which distributions entry modules can import."""

from __future__ import annotations

from pathlib import Path

import pytest

from kprov.bundle.reach import reachable_distributions, reachable_imports


def _dist(site: Path, name: str, files: dict[str, str], requires: tuple[str, ...] = ()) -> None:
    for rel, text in files.items():
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_text(text)
    info = site / f"{name}-1.0.dist-info"
    info.mkdir()
    metadata = ["Metadata-Version: 2.1", f"Name: {name}", "Version: 1.0",
                *(f"Requires-Dist: {r}" for r in requires)]
    (info / "METADATA").write_text("\n".join(metadata) + "\n")
    (info / "RECORD").write_text("".join(f"{rel},,\n" for rel in files) + f"{info.name}/RECORD,,\n")


@pytest.fixture
def site(tmp_path: Path) -> Path:
    _dist(tmp_path, "kprov", {
        "kprov/__init__.py": "",
        "kprov/daemon.py": "import os\nfrom . import helper\n\ndef main():\n    import lazylib\n",
        "kprov/helper.py": (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import typesonly\n"
            "else:\n    import runtimelib\n"
            "_HOMES = {'Thing': 'kprov.table'}\n"
        ),
        "kprov/table.py": "import tablelib.sub\n",
        "kprov/plugins/__init__.py": "",
        "kprov/plugins/one.py": "import pluginlib\n",
        "kprov/loader.py": (
            "import importlib\n\ndef load(n):\n    return importlib.import_module(f'kprov.plugins.{n}')\n"),
        "kprov/cli.py": "import clilib\n",
    }, requires=("clilib",))
    _dist(tmp_path, "lazy-lib", {"lazylib/__init__.py": ""},
          requires=("dep-of-lazy", "winonly; sys_platform == 'win32'", "extraonly; extra == 'fancy'"))
    _dist(tmp_path, "dep_of_lazy", {"depoflazy.py": ""})
    for name in ("runtimelib", "typesonly", "tablelib", "pluginlib", "clilib", "winonly", "extraonly"):
        _dist(tmp_path, name, {f"{name}/__init__.py": ""})
    return tmp_path


def test_imports_inside_functions_lazy_tables_and_parents_count_type_checking_does_not(site: Path) -> None:
    assert reachable_imports(site, ["kprov.daemon"]) == {"lazylib", "runtimelib", "tablelib"}


def test_import_module_of_an_f_string_reaches_every_module_of_its_package(site: Path) -> None:
    assert reachable_imports(site, ["kprov.loader"]) == {"pluginlib"}


def test_distributions_follow_requirements_with_markers_but_not_kprovs_own(site: Path) -> None:
    # kprov requires clilib, but nothing reachable imports it; win32 and extra-only need nothing
    assert reachable_distributions(site, ["kprov.daemon"]) == {
        "kprov", "lazy-lib", "dep-of-lazy", "runtimelib", "tablelib"}


def test_an_import_no_distribution_provides_names_it(site: Path) -> None:
    (site / "kprov" / "broken.py").write_text("def f():\n    import nowhere\n")
    with pytest.raises(LookupError, match="no distribution in .*: nowhere"):
        reachable_distributions(site, ["kprov.broken"])
