"""docs/ARCHITECTURE.md is a map, and a map must be true: every repository path it names
(in backticks or as a link target) exists, it stays short enough to read, and every decision
record it points to is listed in the records' index."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARCHITECTURE = ROOT / "docs" / "ARCHITECTURE.md"
DECISIONS = ROOT / "docs" / "decisions"
TOP_LEVEL = ("kprov/", "roles/", "tests/", "templates/", "inventories/", "vagrant/", "docs/", ".ci/")
MAX_LINES = 300


def named_paths(text: str) -> list[str]:
    """Repository paths a Markdown text names: backticked tokens and link targets that start
    with a top-level folder, without a trailing slash, fragment or call parentheses."""
    tokens = re.findall(r"`([^`\s]+)`", text) + re.findall(r"\]\(([^)\s]+)\)", text)
    paths = []
    for token in tokens:
        token = token.split("#", 1)[0].rstrip("/").split("(", 1)[0]
        if token.startswith(TOP_LEVEL):
            paths.append(token)
    return paths


def test_named_paths_finds_backticks_and_links() -> None:
    text = "See `kprov/cli/main.py`, [x](docs/decisions/), `roles/site.yml#L3` and `apply()`."
    assert named_paths(text) == ["kprov/cli/main.py", "roles/site.yml", "docs/decisions"]


def test_every_path_the_map_names_exists() -> None:
    text = ARCHITECTURE.read_text()
    paths = named_paths(text)
    assert len(paths) > 50, "the map names the files of its walks"
    missing = sorted({p for p in paths if not (ROOT / p).exists()})
    assert not missing, "docs/ARCHITECTURE.md names paths that do not exist:\n" + "\n".join(missing)


def test_relative_links_of_the_map_resolve() -> None:
    for target in re.findall(r"\]\(([^)\s#]+)\)", ARCHITECTURE.read_text()):
        if "://" not in target:
            assert (ARCHITECTURE.parent / target).exists(), target


def test_the_map_stays_short() -> None:
    assert len(ARCHITECTURE.read_text().splitlines()) <= MAX_LINES


def test_every_decision_record_is_indexed_and_shaped() -> None:
    index = (DECISIONS / "README.md").read_text()
    records = sorted(p for p in DECISIONS.glob("[0-9][0-9][0-9][0-9]-*.md"))
    assert records
    for record in records:
        assert f"({record.name})" in index, f"{record.name} is missing from docs/decisions/README.md"
        text = record.read_text()
        for heading in ("## Context", "## Decision", "## Consequences"):
            assert heading in text, f"{record.name} lacks {heading}"
