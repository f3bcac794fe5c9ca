"""The wheelhouse digest names exactly the sources that end up on hosts."""

from __future__ import annotations

from pathlib import Path

from kprov.bundle.wheelhouse import source_digest


def _tree(root: Path) -> None:
    (root / "kprov" / "cluster").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname='kprov'\n")
    (root / "kprov" / "__init__.py").write_text("")
    (root / "kprov" / "cluster" / "a.py").write_text("x = 1\n")


def test_digest_is_stable_and_ignores_caches(tmp_path: Path) -> None:
    _tree(tmp_path)
    first = source_digest(tmp_path)
    (tmp_path / "kprov" / "__pycache__").mkdir()
    (tmp_path / "kprov" / "__pycache__" / "a.cpython-311.py").write_text("junk")
    (tmp_path / "README.md").write_text("docs do not matter")
    assert source_digest(tmp_path) == first


def test_digest_changes_with_code_dependencies_and_renames(tmp_path: Path) -> None:
    _tree(tmp_path)
    seen = {source_digest(tmp_path)}
    (tmp_path / "kprov" / "cluster" / "a.py").write_text("x = 2\n")
    seen.add(source_digest(tmp_path))
    (tmp_path / "pyproject.toml").write_text("[project]\nname='kprov'\ndependencies=['x']\n")
    seen.add(source_digest(tmp_path))
    (tmp_path / "kprov" / "cluster" / "a.py").rename(tmp_path / "kprov" / "cluster" / "b.py")
    seen.add(source_digest(tmp_path))
    assert len(seen) == 4
