"""The layering rule of DESIGN.md: kprov.provision and kprov.cluster never import each
other, and neither imports kprov.cli."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "kprov"
FORBIDDEN = {
    "provision": ("kprov.cluster", "kprov.cli"),
    "cluster": ("kprov.provision", "kprov.cli", "kprov.lab"),
    "pki": ("kprov.cluster", "kprov.cli"),
}


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_does_not_import_forbidden(layer: str) -> None:
    bad = []
    for path in (ROOT / layer).rglob("*.py"):
        for name in _imports(path):
            if name.startswith(FORBIDDEN[layer]):
                bad.append(f"{path.relative_to(ROOT.parent)} imports {name}")
    assert not bad, "\n".join(bad)
