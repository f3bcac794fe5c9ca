"""Where ansible-core would find a module's source, by the name a task gives.

Search order, as ansible-core's module loader has it: a short or ``ansible.legacy.`` name is
looked for in the library folders first (the playbook's ``library/``, then each role's
``library/`` in the order the roles were loaded — a role's modules are visible to the whole
run once it is loaded — then ``ANSIBLE_LIBRARY`` and the default module paths), then among
ansible-core's own modules, then through ansible-core's routing table to a collection. An
``ansible.builtin.`` name is ansible-core's own only. A ``namespace.collection.name`` is
looked up in the installed collections (the playbook's ``collections/``,
``ANSIBLE_COLLECTIONS_PATH``, ``~/.ansible/collections``, ``/usr/share/ansible/collections``,
and the Python path's ``ansible_collections``), following the collection's
``meta/runtime.yml`` redirects.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import yaml

__all__ = ["Locator", "ModuleSource", "collection_roots", "core_package_dir", "default_library_dirs"]

_BUILTIN = ("ansible.builtin.", "ansible.legacy.")
_MAX_REDIRECTS = 5
# ansible-core's action plugins that only hand over to their module (uri's reads ``src`` on the
# controller only when given): the module alone is what Ansible runs
_PLAIN_ACTIONS = frozenset(("normal", "uri"))


@dataclass(frozen=True)
class ModuleSource:
    """A module found: its file and the Python name it runs under on the host."""

    name: str  # as the task gave it
    path: Path
    fqn: str  # ansible.modules.<name> or ansible_collections.<ns>.<coll>.plugins.modules.<name>
    # ansible-core runs it through a controller-side action plugin, which kprov does not run
    action_plugin: bool = False


def core_package_dir() -> Path | None:
    """The installed ansible-core's ``ansible`` package folder (None without ansible-core)."""
    try:
        spec = importlib.util.find_spec("ansible")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations)))
    return folder if (folder / "module_utils" / "basic.py").is_file() else None


def default_library_dirs() -> list[Path]:
    """``ANSIBLE_LIBRARY`` (colon separated), else ansible-core's default module paths."""
    configured = os.environ.get("ANSIBLE_LIBRARY")
    if configured:
        return [Path(p).expanduser() for p in configured.split(os.pathsep) if p]
    return [Path("~/.ansible/plugins/modules").expanduser(), Path("/usr/share/ansible/plugins/modules")]


def collection_roots(playbook_dir: Path | None) -> list[Path]:
    """Folders holding ``<namespace>/<collection>/`` trees (each an ``ansible_collections``)."""
    roots: list[Path] = []
    if playbook_dir is not None:
        roots.append(playbook_dir / "collections" / "ansible_collections")
    configured = os.environ.get("ANSIBLE_COLLECTIONS_PATH") or os.environ.get("ANSIBLE_COLLECTIONS_PATHS")
    bases = ([Path(p).expanduser() for p in configured.split(os.pathsep) if p] if configured else
             [Path("~/.ansible/collections").expanduser(), Path("/usr/share/ansible/collections")])
    for base in bases:
        roots.append(base if base.name == "ansible_collections" else base / "ansible_collections")
    try:
        spec = importlib.util.find_spec("ansible_collections")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        roots += [Path(p) for p in spec.submodule_search_locations]
    return [r for r in dict.fromkeys(roots) if r.is_dir()]


class Locator:
    """One run's module search: its library folders (roles add theirs as they load), the
    collection roots, and what it found (each name is looked up once)."""

    def __init__(self, library_dirs: list[Path], roots: list[Path]) -> None:
        self.library_dirs = list(library_dirs)
        self.roots = list(roots)
        self._found: dict[str, ModuleSource | None] = {}
        self._routing: dict[Path, dict[str, str]] = {}

    def add_library(self, folder: Path) -> None:
        if folder.is_dir() and folder not in self.library_dirs:
            self.library_dirs.insert(self._extra_count(), folder)
            self._found = {k: v for k, v in self._found.items() if v is not None}

    def _extra_count(self) -> int:
        """Added folders go before the configured ones (ANSIBLE_LIBRARY, defaults)."""
        defaults = default_library_dirs()
        return len([d for d in self.library_dirs if d not in defaults])

    def find(self, name: str) -> ModuleSource | None:
        if name not in self._found:
            self._found[name] = self._locate(name, _MAX_REDIRECTS)
        return self._found[name]

    def _locate(self, name: str, hops: int) -> ModuleSource | None:
        if hops < 0:
            return None
        if name.startswith(_BUILTIN) or "." not in name:
            return self._short(name, hops)
        parts = name.split(".")
        if len(parts) != 3:
            return None
        namespace, collection, short = parts
        for root in self.roots:
            base = root / namespace / collection
            if not base.is_dir():
                continue
            found = _module_file(base / "plugins" / "modules", short)
            if found is not None:
                fqn = f"ansible_collections.{namespace}.{collection}.plugins.modules.{short}"
                action = (base / "plugins" / "action" / f"{short}.py").is_file()
                return ModuleSource(name, found, fqn, action)
            target = self._routes(base / "meta" / "runtime.yml").get(short)
            if target:
                return self._locate(target, hops - 1)
        return None

    def _short(self, name: str, hops: int) -> ModuleSource | None:
        short = name.rsplit(".", 1)[-1]
        if not name.startswith("ansible.builtin."):
            for folder in self.library_dirs:
                found = _module_file(folder, short)
                if found is not None:
                    return ModuleSource(name, found, f"ansible.modules.{short}")
        core = core_package_dir()
        if core is None:
            return None
        found = _module_file(core / "modules", short)
        if found is not None:
            action = short not in _PLAIN_ACTIONS and (core / "plugins" / "action" / f"{short}.py").is_file()
            # a documentation stub (import_playbook, meta...): the work is the engine's
            action = action or "def main" not in found.read_text(encoding="utf-8", errors="replace")
            return ModuleSource(name, found, f"ansible.modules.{short}", action)
        target = self._routes(core / "config" / "ansible_builtin_runtime.yml").get(short)
        return self._locate(target, hops - 1) if target else None

    def _routes(self, table: Path) -> dict[str, str]:
        if table not in self._routing:
            self._routing[table] = _routes(table)
        return self._routing[table]


def _module_file(folder: Path, short: str) -> Path | None:
    for candidate in (folder / f"{short}.py", folder / short, folder / f"{short}.sh"):
        if candidate.is_file():
            return candidate
    return None


def _routes(table: Path) -> dict[str, str]:
    try:
        data = yaml.safe_load(table.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return {}
    modules = (data.get("plugin_routing") or {}).get("modules") or {}
    return {k: str(v["redirect"]) for k, v in modules.items() if isinstance(v, dict) and v.get("redirect")}
