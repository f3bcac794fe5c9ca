"""Structure figures of kprov/ (issue 57's targets), counted with ``ast``; prints
``name = value`` lines, then the offenders of each figure.

- ``files_over_500_lines``: modules longer than 500 lines (target: at most 3);
- ``functions_over_80_lines``: functions and methods (nested ones too) spanning more than
  80 lines, decorators and docstring included (target: at most 5);
- ``largest_folder_modules``: the most ``.py`` modules directly in one folder
  (target: at most 25).

Generated code (``kprov/cluster/kubelet/cri/generated``) is left out, as ruff leaves it.

Run: ``.venv/bin/python tests/structure_figures.py``
"""

from __future__ import annotations

import ast
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "kprov"
GENERATED = ROOT / "cluster" / "kubelet" / "cri" / "generated"
MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 80


@dataclass(frozen=True)
class Figures:
    long_files: list[tuple[str, int]]  # (path, lines), longest first
    long_functions: list[tuple[str, int]]  # (path:line name, lines), longest first
    folders: list[tuple[str, int]]  # (folder, modules), fullest first


def _modules(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if GENERATED not in p.parents)


def _function_lines(tree: ast.Module) -> list[tuple[int, str, int]]:
    """(first line, qualified name, lines) of every function in ``tree``."""
    found: list[tuple[int, str, int]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                first = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                end = child.end_lineno or child.lineno
                found.append((first, f"{prefix}{child.name}", end - first + 1))
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def measure(root: Path = ROOT) -> Figures:
    long_files: list[tuple[str, int]] = []
    long_functions: list[tuple[str, int]] = []
    per_folder: Counter[str] = Counter()
    for path in _modules(root):
        where = str(path.relative_to(root.parent))
        text = path.read_text()
        lines = len(text.splitlines())
        if lines > MAX_FILE_LINES:
            long_files.append((where, lines))
        per_folder[str(path.parent.relative_to(root.parent))] += 1
        for first, name, span in _function_lines(ast.parse(text, filename=where)):
            if span > MAX_FUNCTION_LINES:
                long_functions.append((f"{where}:{first} {name}", span))
    return Figures(
        sorted(long_files, key=lambda item: (-item[1], item[0])),
        sorted(long_functions, key=lambda item: (-item[1], item[0])),
        sorted(per_folder.items(), key=lambda item: (-item[1], item[0])),
    )


def main() -> None:
    figures = measure()
    print(f"files_over_{MAX_FILE_LINES}_lines = {len(figures.long_files)}")
    print(f"functions_over_{MAX_FUNCTION_LINES}_lines = {len(figures.long_functions)}")
    print(f"largest_folder_modules = {figures.folders[0][1] if figures.folders else 0}")
    print(f"\n# files over {MAX_FILE_LINES} lines")
    for where, lines in figures.long_files:
        print(f"{lines:6d}  {where}")
    print(f"\n# functions over {MAX_FUNCTION_LINES} lines")
    for where, lines in figures.long_functions:
        print(f"{lines:6d}  {where}")
    print("\n# folders with more than 25 modules")
    for folder, count in figures.folders:
        if count > 25:
            print(f"{count:6d}  {folder}")


if __name__ == "__main__":
    main()
