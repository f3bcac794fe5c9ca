"""docs/ARCHITECTURE.md is a map, and a map must be true: every repository path it names
(in backticks or as a link target) exists, it stays short enough to read, and every decision
record it points to is listed in the records' index. Docstrings are held to the same: the
repository paths and the modules (Sphinx ``:mod:``, ``:class:``... references, relative ones
resolved from the module's package) they name exist."""

from __future__ import annotations

import ast
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


# A docstring's repository path (a top-level folder, then a path) and its Sphinx references.
_DOC_PATH = re.compile(
    r"(?<![\w./-])((?:kprov|roles|tests|templates|inventories|vagrant|docs|\.ci)/[\w./-]*\w)"
)
_DOC_REF = re.compile(r":(mod|class|func|meth|data|attr|exc|obj):`~?([\w.]+)`")
# Files whose docstrings still name moved modules: none since issue 72; a docstring that names
# a path or module that does not exist fails the test.
STALE_REFERENCES: frozenset[str] = frozenset()


def _is_module(dotted: str) -> bool:
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _reference_resolves(role: str, ref: str, package: list[str]) -> bool:
    if ref.startswith("."):
        dots = len(ref) - len(ref.lstrip("."))
        rest = ref.lstrip(".")
        parts = package[: len(package) - dots + 1] + (rest.split(".") if rest else [])
    elif ref.startswith("kprov."):
        parts = ref.split(".")
    else:
        return True  # a name from elsewhere (the standard library, a dependency)
    attributes = 0 if role == "mod" else 2 if role in ("meth", "attr") else 1
    prefixes = [parts[: len(parts) - k] for k in range(attributes + 1) if len(parts) > k]
    return any(_is_module(".".join(prefix)) for prefix in prefixes)


def _path_exists(token: str) -> bool:
    token = token.rstrip(".")
    if (ROOT / token).exists() or any(c in token for c in "*<{"):
        return True
    record = re.fullmatch(r"docs/decisions/(\d{4})", token)  # a record named by its number
    return record is not None and any(DECISIONS.glob(f"{record.group(1)}-*.md"))


def stale_docstring_references(root: Path = ROOT / "kprov") -> list[str]:
    """``path:line reference`` for each path or module a docstring of ``root`` names that
    does not exist."""
    stale = []
    for path in sorted(root.rglob("*.py")):
        if "generated" in path.parts:
            continue
        where = path.relative_to(ROOT)
        package = list(where.parent.parts)
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if not isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            text = ast.get_docstring(node, clean=False)
            if not text:
                continue
            line = node.body[0].lineno
            stale += [f"{where}:{line} {token}" for token in _DOC_PATH.findall(text)
                      if not _path_exists(token)]
            stale += [f"{where}:{line} :{role}:`{ref}`" for role, ref in _DOC_REF.findall(text)
                      if not _reference_resolves(role, ref, package)]
    return stale


def test_stale_references_are_found() -> None:
    package = ["kprov", "cluster", "kubelet"]
    assert _reference_resolves("mod", ".pods.podworker", package)
    assert not _reference_resolves("mod", ".podworker", package)  # from before the wings
    assert _reference_resolves("class", ".pods.podworker.PodWorker", package)
    assert _reference_resolves("mod", "..api.objects", package)
    assert not _reference_resolves("func", "kprov.cluster.kubelet.status.pod_status", package)
    assert _path_exists("docs/decisions/0049") and not _path_exists("kprov/cluster/kubelet/podworker.py")


def test_docstrings_name_paths_and_modules_that_exist() -> None:
    stale = stale_docstring_references()
    new = [entry for entry in stale if entry.split(":", 1)[0] not in STALE_REFERENCES]
    assert not new, "docstrings name paths or modules that do not exist:\n" + "\n".join(new)
    fixed = sorted(STALE_REFERENCES - {entry.split(":", 1)[0] for entry in stale})
    assert not fixed, f"no stale references left: take them off STALE_REFERENCES: {fixed}"
