"""Pack a module as ansible-core sends it: its style, and for a new-style Python module the
``module_utils`` it imports.

The style is decided as ansible-core's ``module_common`` decides it (from the module's text):
``new`` when it imports ``ansible.module_utils`` or a collection's ``module_utils`` (or
carries the old ``#<<INCLUDE_ANSIBLE_MODULE_COMMON>>`` marker), ``jsonargs`` when it carries
the ``<<INCLUDE_ANSIBLE_MODULE_JSON_ARGS>>`` marker, ``want_json`` when it says ``WANT_JSON``,
else ``old`` (arguments as ``key=value`` in a file). Binary and PowerShell modules are not
run.

A new-style module is packed with every Python file it needs from ``ansible.module_utils``
(the operator's installed ansible-core) and from collections' ``plugins/module_utils``: the
imports of each file are read (its syntax tree: absolute and relative, at any depth, inside
``try`` too) and each name resolved to the longest dotted prefix that is a file or a package,
with that package's parents; the resolved files are read in turn. Folders above
``module_utils`` (``ansible``, ``ansible.modules``, ``ansible_collections.<ns>.<coll>``...)
are empty packages, as in ansible-core's AnsiballZ payload. A pack is plain data, built once
per module file per run.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

from kprov.provision.modules.protocol.locate import ModuleSource, core_package_dir

__all__ = ["ANSIBLE_EXTRA_HINT", "ModulePack", "PackError", "pack_module"]

ANSIBLE_EXTRA_HINT = "pip install 'kprov[ansible]'"
_NEW_STYLE = re.compile(
    rb"(?:from +\.{2,} *module_utils.* +import |"
    rb"from +ansible_collections\.[^.]+\.[^.]+\.plugins\.module_utils.* +import |"
    rb"import +ansible_collections\.[^.]+\.[^.]+\.plugins\.module_utils.*|"
    rb"from +ansible\.module_utils.* +import |"
    rb"import +ansible\.module_utils\.)"
)
_REPLACER = b"#<<INCLUDE_ANSIBLE_MODULE_COMMON>>"
_JSONARGS = b"<<INCLUDE_ANSIBLE_MODULE_JSON_ARGS>>"
_WINDOWS = (b"# POWERSHELL_COMMON", b"#Requires -Module", b"#AnsibleRequires")


class PackError(Exception):
    """A module kprov cannot send (its message names the module and what to do)."""


@dataclass
class ModulePack:
    source: ModuleSource
    style: str  # new | jsonargs | want_json | old
    text: bytes  # the module's own file (the marker replaced for a new-style one)
    shebang: str = ""  # the module's first line without "#!" (non-new styles)
    # python module name -> (is a package, source text): what a new-style module imports
    files: dict[str, tuple[bool, str]] = field(default_factory=dict)
    # the program's args-independent start, built on first use (remote.payload_head)
    head: bytes | None = field(default=None, repr=False, compare=False)
    head_digest: str = field(default="", repr=False, compare=False)  # its SHA-256 (hostcache)


def module_style(data: bytes) -> str:
    if b"\x00" in data[:1024]:
        return "binary"
    if _REPLACER in data or _NEW_STYLE.search(data):
        return "new"
    if any(marker.lower() in data.lower() for marker in _WINDOWS):
        return "powershell"
    if _JSONARGS in data:
        return "jsonargs"
    if b"WANT_JSON" in data:
        return "want_json"
    return "old"


def pack_module(source: ModuleSource, roots: list[Path]) -> ModulePack:
    data = source.path.read_bytes()
    style = module_style(data)
    if style in ("binary", "powershell"):
        raise PackError(f"module '{source.name}' ({source.path}) is a {style} module, "
                        "which kprov does not run")
    first = data.split(b"\n", 1)[0]
    shebang = first[2:].decode("utf-8", "replace").strip() if first.startswith(b"#!") else ""
    if style != "new":
        return ModulePack(source, style, data, shebang)
    core = core_package_dir()
    text = data.replace(_REPLACER, b"from ansible.module_utils.basic import *").decode("utf-8", "replace")
    if core is None:
        raise PackError(
            f"module '{source.name}' ({source.path}) is a new-style Ansible module: running it needs "
            f"ansible-core's module_utils on this machine: {ANSIBLE_EXTRA_HINT}"
        )
    pack = ModulePack(source, style, text.encode(), shebang)
    _Collector(core, roots, pack.files).run(source.fqn, text)
    return pack


class _Collector:
    def __init__(self, core: Path, roots: list[Path], files: dict[str, tuple[bool, str]]) -> None:
        self.core, self.roots, self.files = core, roots, files

    def run(self, fqn: str, text: str) -> None:
        self._add_parents(fqn)
        queue = [(fqn, text, False)]
        while queue:
            name, source, is_pkg = queue.pop()
            package = name if is_pkg else name.rpartition(".")[0]
            for wanted in _imported(source, package):
                for found, pkg, found_text in self._resolve(wanted):
                    if found in self.files:
                        continue
                    self.files[found] = (pkg, found_text)
                    queue.append((found, found_text, pkg))

    def _resolve(self, dotted: str) -> list[tuple[str, bool, str]]:
        """The longest prefix of ``dotted`` that is a file or package, with its parents."""
        parts = dotted.split(".")
        for end in range(len(parts), 1, -1):
            name = ".".join(parts[:end])
            hit = self._file(name)
            if hit is not None:
                path, is_pkg = hit
                out = [(name, is_pkg, path.read_text(encoding="utf-8", errors="replace"))]
                return out + self._parents(name)
        return []

    def _file(self, name: str) -> tuple[Path, bool] | None:
        parts = name.split(".")
        if parts[:2] == ["ansible", "module_utils"]:
            bases = [self.core.joinpath("module_utils", *parts[2:])]
        elif parts[0] == "ansible_collections" and parts[3:5] == ["plugins", "module_utils"]:
            bases = [root.joinpath(*parts[1:]) for root in self.roots]
        else:
            return None
        for base in bases:
            if (base / "__init__.py").is_file():
                return base / "__init__.py", True
            if base.with_suffix(".py").is_file():
                return base.with_suffix(".py"), False
        return None

    def _parents(self, name: str) -> list[tuple[str, bool, str]]:
        out: list[tuple[str, bool, str]] = []
        parts = name.split(".")
        for end in range(len(parts) - 1, 0, -1):
            parent = ".".join(parts[:end])
            if parent in self.files:
                continue
            hit = self._file(parent)
            if hit is not None:
                out.append((parent, True, hit[0].read_text(encoding="utf-8", errors="replace")))
            else:
                self.files[parent] = (True, "")
        return out

    def _add_parents(self, fqn: str) -> None:
        parts = fqn.split(".")
        for end in range(1, len(parts)):
            self.files.setdefault(".".join(parts[:end]), (True, ""))


def _imported(text: str, package: str) -> list[str]:
    """Every dotted name ``text`` imports (relative ones made absolute against ``package``)."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return []
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)] if node.level > 1 else anchor
                base = ".".join([*anchor, base] if base else anchor)
            names.append(base)
            names += [f"{base}.{alias.name}" for alias in node.names if alias.name != "*"]
    return [n for n in names if n.startswith(("ansible.module_utils", "ansible_collections."))]
