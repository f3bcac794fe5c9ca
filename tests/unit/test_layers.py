"""The layering rule of DESIGN.md, as a table: which of kprov's top-level packages each may
import. kprov.provision and kprov.cluster (the two halves) import none of the others;
every layer above imports only layers declared below it, so no import goes upward (the
table itself must have no cycle). A new top-level package must be declared here."""

from __future__ import annotations

import ast
from importlib.util import resolve_name
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "kprov"

ALLOWED: dict[str, frozenset[str]] = {
    "provision": frozenset(),  # the engine: inventory, playbooks, modules, connections
    "cluster": frozenset(),  # the cluster's own components (API server ... DNS)
    "pki": frozenset({"provision"}),
    "etcdops": frozenset({"pki", "provision"}),
    "images": frozenset({"pki", "provision"}),
    "bundle": frozenset({"images"}),
    "conformance": frozenset({"images"}),
    "local": frozenset({"pki"}),
    "lab": frozenset({"bundle", "provision"}),  # the engine's connectors reach lab hosts
    "vm": frozenset({"lab"}),
    "deploy": frozenset({"bundle", "cluster", "etcdops", "images", "lab", "pki", "provision"}),
    "cli": frozenset(
        {"bundle", "conformance", "deploy", "etcdops", "images", "lab", "local", "pki", "provision", "vm"}
    ),
}


def _imported(path: Path, root: Path) -> list[str]:
    """Every kprov module ``path`` imports (anywhere in it, relative imports resolved)."""
    package = list(path.relative_to(root.parent).parts[:-1])  # the package the file is in
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package[: len(package) - node.level + 1]
                base = ".".join([*parent, *([base] if base else [])])
            # ``from kprov import cli`` imports kprov.cli
            names += [f"{base}.{a.name}" for a in node.names] if base == root.name else [base]
    return [n for n in names if n.startswith(f"{root.name}.")]


def violations(layer: str, root: Path = ROOT, allowed: dict[str, frozenset[str]] = ALLOWED) -> list[str]:
    """``file imports module`` for each import of ``layer`` outside itself and its allowance."""
    bad = []
    for path in sorted((root / layer).rglob("*.py")):
        for name in _imported(path, root):
            target = name.split(".")[1]
            if target != layer and target not in allowed[layer]:
                bad.append(f"{path.relative_to(root.parent)} imports {name}")
    return bad


def test_every_package_is_declared() -> None:
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    assert packages == set(ALLOWED)


def test_the_table_has_no_cycle() -> None:
    """Some order puts every layer above all it may import: no import can go upward."""
    placed: list[str] = []
    left = dict(ALLOWED)
    while left:
        ready = sorted(layer for layer, below in left.items() if below <= set(placed))
        assert ready, f"a cycle among {sorted(left)}"
        placed += ready
        for layer in ready:
            del left[layer]


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_what_it_may(layer: str) -> None:
    bad = violations(layer)
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize(
    ("source", "imported"),
    [
        ("from kprov.conformance.images import plan_images\n", "kprov.conformance.images"),
        ("def later() -> None:\n    import kprov.conformance.runner\n", "kprov.conformance.runner"),
        ("from ..conformance import images\n", "kprov.conformance"),
        ("from kprov import conformance\n", "kprov.conformance"),
    ],
)
def test_an_upward_import_is_found(tmp_path: Path, source: str, imported: str) -> None:
    root = tmp_path / "kprov"
    for package in ("images", "conformance"):
        (root / package).mkdir(parents=True)
        (root / package / "__init__.py").write_text("")
    (root / "images" / "standins.py").write_text(source)
    assert violations("images", root) == [f"kprov/images/standins.py imports {imported}"]
    (root / "images" / "standins.py").write_text(source.replace("conformance", "images"))
    assert violations("images", root) == []


# -- inside the API server: its rooms (top-level modules and wings), floor by floor ----------
APISERVER = ROOT / "cluster" / "apiserver"

APISERVER_ALLOWED: dict[str, frozenset[str]] = {
    # the ground: plain values every floor names
    "config": frozenset(),  # the flags as a dataclass
    "identity": frozenset(),  # who asks (UserInfo)
    "satoken": frozenset(),  # ServiceAccount token crypto
    "allocators": frozenset(),  # ClusterIPs and NodePorts
    "attributes": frozenset({"identity"}),  # admission's view of a write, its stages
    "request": frozenset({"identity"}),  # the request vocabulary: value, info, status, negotiation
    "_lib": frozenset({"request"}),
    "context": frozenset({"allocators", "attributes", "config", "satoken"}),  # services by Protocol
    "webhook_client": frozenset({"context"}),
    "aggregation": frozenset({"context", "identity", "request", "webhook_client"}),
    "handlers": frozenset({"_lib", "aggregation", "attributes", "context", "identity", "request"}),
    "authz": frozenset({"context", "handlers", "identity", "request"}),
    "flowcontrol": frozenset({"context", "handlers", "identity", "request"}),
    "reconcilers": frozenset({"aggregation", "context", "handlers", "identity", "request"}),
    "admission": frozenset(
        {"_lib", "attributes", "authz", "context", "identity", "request", "webhook_client"}
    ),
    "authn": frozenset({"authz", "config", "context", "handlers", "identity", "request", "satoken"}),
    "bootstrap": frozenset({"admission", "context", "handlers", "request"}),
    "endpoint_leases": frozenset({"bootstrap", "context"}),
    # the roof: HTTP serving and the handler that dispatches
    "front": frozenset(
        {"aggregation", "authn", "authz", "context", "flowcontrol", "handlers", "identity", "request"}
    ),
    "server": frozenset({
        "admission", "aggregation", "allocators", "authn", "authz", "bootstrap", "config", "context",
        "endpoint_leases", "flowcontrol", "front", "handlers", "reconcilers", "satoken",
    }),
    "__main__": frozenset({"config", "front", "server"}),
    "__init__": frozenset({"config", "server"}),
}


def _room(path: Path) -> str:
    first = path.relative_to(APISERVER).parts[0]
    return first.removesuffix(".py")


def apiserver_violations(root: Path = ROOT) -> list[str]:
    """``file imports module`` for each import of another API server room not declared below it."""
    bad = []
    prefix = "kprov.cluster.apiserver."
    for path in sorted(APISERVER.rglob("*.py")):
        source = _room(path)
        for name in _imported(path, root):
            if not name.startswith(prefix):
                continue
            target = name[len(prefix) :].split(".")[0]
            if target != source and target not in APISERVER_ALLOWED.get(source, frozenset()):
                bad.append(f"{path.relative_to(root.parent)} imports {name}")
    return bad


def test_every_apiserver_room_is_declared() -> None:
    rooms = {_room(p) for p in APISERVER.rglob("*.py")}
    assert rooms == set(APISERVER_ALLOWED)


def test_the_apiserver_table_has_no_cycle() -> None:
    """Some order puts every room above all it may import: no import inside the API server
    runs upward, and none closes a circle (authn and the front, once)."""
    placed: set[str] = set()
    left = dict(APISERVER_ALLOWED)
    while left:
        ready = sorted(room for room, below in left.items() if below <= placed)
        assert ready, f"a cycle among {sorted(left)}"
        placed.update(ready)
        for room in ready:
            del left[room]


def test_apiserver_rooms_import_only_what_they_may() -> None:
    bad = apiserver_violations()
    assert not bad, "\n".join(bad)


# -- no import circle between kprov's modules, counting imports made only for type checking --
def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _module_edges(root: Path) -> dict[str, set[str]]:
    """Each module of ``root`` and the modules of ``root`` it imports anywhere in it (under
    ``if TYPE_CHECKING:`` too): ``from p import m`` names the module ``p.m`` when there is one."""
    paths = {_module_name(p, root): p for p in root.rglob("*.py")}
    edges: dict[str, set[str]] = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name in paths}
            elif isinstance(node, ast.ImportFrom):
                base = resolve_name("." * node.level + (node.module or ""), package)
                for alias in node.names:
                    target = f"{base}.{alias.name}"
                    found |= {target} if target in paths else ({base} if base in paths else set())
        edges[name] = found - {name}
    return edges


def import_cycles(root: Path = ROOT) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm, iterative)."""
    edges = _module_edges(root)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    cycles.append(sorted(group))
    return cycles


def test_no_import_cycle_in_kprov() -> None:
    cycles = import_cycles()
    assert not cycles, "\n".join(" <-> ".join(group) for group in cycles)


def test_an_import_cycle_for_type_checking_only_is_found(tmp_path: Path) -> None:
    root = tmp_path / "kprov"
    (root / "crd").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "crd" / "__init__.py").write_text("")
    (root / "crd" / "walk.py").write_text("from kprov.crd import checks\n")
    (root / "crd" / "checks.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .walk import Node\n"
    )
    (root / "crd" / "node.py").write_text("class Node: ...\n")
    assert import_cycles(root) == [["kprov.crd.checks", "kprov.crd.walk"]]
    # the shared type moved below both: the circle is gone
    (root / "crd" / "checks.py").write_text("from kprov.crd.node import Node\n")
    assert import_cycles(root) == []
