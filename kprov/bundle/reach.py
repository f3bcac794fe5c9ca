"""Which installed distributions a set of kprov modules can import, wherever the import is.

A worker runs only the kubelet, kube-proxy and the image helpers; the distributions that
only the API server, the controllers or the operator's CLI import need not be unpacked there
(kprov.bundle.runtime builds a smaller "node" runtime from this answer). Importing the
entry modules does not find what they need: kprov imports much inside functions, on first
use (the kubelet's CRI client, the API server's CEL), so a runtime cut by what one import
loads would fail later, on the host. This reads every import statement instead, at any
depth, of every kprov module reachable from the entry modules (parent packages included,
since importing a module runs them), and answers with the third-party distributions those
name plus everything those distributions require (their metadata, markers evaluated).

Over-approximate by construction: an import that is written but never executed still keeps
its distribution. Hand-written on purpose: the standard library's ``modulefinder`` follows
the same statements but stops with an AttributeError at namespace packages (``google``,
protobuf's), measured on this tree; and it would also scan every third-party package, when
their metadata already says what they need.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable
from importlib.metadata import Distribution, distributions
from pathlib import Path
from typing import cast

from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

__all__ = ["installed_distributions", "reachable_distributions", "reachable_imports"]

_OWN = "kprov"


def _module_file(site: Path, name: str) -> Path | None:
    base = site.joinpath(*name.split("."))
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _walk_runtime(tree: ast.AST) -> Iterable[ast.AST]:
    """``ast.walk`` without the bodies of ``if TYPE_CHECKING:`` (never run)."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            todo.extend(node.orelse)
        else:
            todo.extend(ast.iter_child_nodes(node))


def _imported_names(tree: ast.AST, package: str) -> Iterable[str]:
    """Every module name ``tree`` can load: import statements (``from a import b``: a and a.b),
    ``importlib.import_module`` of a literal or of an f-string's literal package prefix
    (``"pkg." + *``), and any string literal naming a kprov module (kprov's lazy-export
    tables map names to the module that defines them)."""
    for node in _walk_runtime(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
        elif isinstance(node, ast.Call) and _is_import_module(node.func) and node.args:
            target = node.args[0]
            if isinstance(target, ast.JoinedStr) and target.values:
                prefix = _literal(target.values[0])
                if prefix.endswith("."):
                    yield prefix + "*"
            elif _literal(target):
                yield _literal(target)
        elif _literal(node).startswith(f"{_OWN}."):
            yield _literal(node)


def _literal(node: ast.AST) -> str:
    """The value of a string literal ("" for anything else)."""
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else ""


def _is_import_module(func: ast.expr) -> bool:
    return (isinstance(func, ast.Attribute) and func.attr == "import_module") or (
        isinstance(func, ast.Name) and func.id == "import_module")


def _package_members(site: Path, package: str) -> list[str]:
    folder = site.joinpath(*package.split("."))
    return [f"{package}.{p.stem}" for p in sorted(folder.glob("*.py")) if p.stem != "__init__"]


def reachable_imports(site: Path, modules: Iterable[str]) -> set[str]:
    """Top-level names of the non-kprov, non-stdlib modules that ``modules`` can import."""
    todo, seen, outside = list(modules), set(), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if name.endswith(".*"):  # import_module(f"package.{...}"): any module of the package
            todo.extend(_package_members(site, name[:-2]))
            continue
        path = _module_file(site, name)
        if path is None:  # a name imported from a module (a function, a class), not a module
            continue
        parts = name.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))
        package = name if path.name == "__init__.py" else ".".join(parts[:-1])
        for imported in _imported_names(ast.parse(path.read_bytes(), str(path)), package):
            top = imported.split(".")[0]
            if top == _OWN:
                todo.append(imported)
            elif " " in imported or "/" in imported:  # a string literal that is no module name
                continue
            elif top and top != "__future__" and top not in sys.stdlib_module_names:
                outside.add(top)
    return outside


def _top_levels(dist: Distribution) -> set[str]:
    """The importable top-level names a distribution installs (from its RECORD)."""
    tops = set()
    for file in dist.files or ():
        first = file.parts[0]
        if first.endswith((".dist-info", ".data")) or first in ("..", "__pycache__"):
            continue
        if len(file.parts) > 1:
            tops.add(first)
        elif first.endswith(".py"):
            tops.add(first[:-3])
        elif first.endswith(".so"):
            tops.add(first.split(".")[0])
    return tops


def installed_distributions(site: Path) -> dict[str, Distribution]:
    """The distributions installed in ``site``, by canonical name."""
    return {canonicalize_name(d.metadata["Name"]): d for d in distributions(path=[str(site)])}


def reachable_distributions(site: Path, modules: Iterable[str]) -> set[str]:
    """Canonical names of the distributions in ``site`` that ``modules`` need, kprov's own
    included, with everything those require (kprov's own requirements are not followed: they
    are the union of what every component needs). Raises LookupError for an imported name that no
    installed distribution provides (the runtime would fail on the host)."""
    installed = installed_distributions(site)
    providers: dict[str, set[str]] = {}
    for name, dist in installed.items():
        for top in _top_levels(dist):
            providers.setdefault(top, set()).add(name)
    imported = reachable_imports(site, modules)
    unknown = sorted(top for top in imported if top not in providers)
    if unknown:
        raise LookupError(f"imported by kprov but installed by no distribution in {site}: "
                          f"{', '.join(unknown)}")
    # kprov's own requirements are what every host role needs together: not followed
    # every value of default_environment() is a str (its TypedDict reads as object when unpacked)
    environment: dict[str, str] = {**cast(dict[str, str], default_environment()), "extra": ""}
    todo, needed = [name for top in imported for name in providers[top]], {_OWN}
    while todo:
        name = todo.pop()
        if name in needed or name not in installed:
            continue
        needed.add(name)
        for line in installed[name].requires or ():
            try:
                requirement = Requirement(line)
            except InvalidRequirement:
                continue
            if requirement.marker is None or requirement.marker.evaluate(environment):
                todo.append(canonicalize_name(requirement.name))
    return needed
