"""Find and read Ansible-layout roles.

A role ``NAME`` is searched, in order, in: ``<playbook dir>/roles/``, the playbook dir
itself, each ``roles_path`` entry, and the repository's top-level ``roles/`` (the directory
above the installed ``kprov`` package, when it has one). A name containing ``/`` may also
be a path. A role has ``tasks/ handlers/ defaults/ vars/ meta/ templates/ files/``; the
``main`` file of each may be ``main.yml``, ``main.yaml`` or ``main``.

``defaults/`` and ``vars/`` (or the ``vars_from``/``defaults_from`` file named) are read
as ansible-core's ``Role._load_role_yaml`` reads them:
the first of ``main.yml``, ``main.yaml``, ``main.json``, ``main`` that exists; when that is a
folder, every file in it and its sub-folders (sorted by name; hidden ones, backups ``~`` and
other extensions than ``.yml``/``.yaml``/``.json``/none left out), merged in that order with a
later file's top-level keys winning.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kprov.provision.errors import PlaybookError
from kprov.provision.playbook.model import Role
from kprov.provision.yamlfile import load_yaml_file, origin_of

__all__ = ["RoleFinder", "argument_specs", "repo_roles_dir", "role_file", "role_vars_files"]

_VARS_EXTENSIONS = (".yml", ".yaml", ".json", "")


def repo_roles_dir() -> Path:
    return Path(__file__).resolve().parents[3] / "roles"


def role_file(role_path: Path, kind: str, name: str = "main") -> Path | None:
    for candidate in (f"{name}.yml", f"{name}.yaml", name):
        path = role_path / kind / candidate
        if path.is_file():
            return path
    return None


def role_vars_files(role_path: Path, kind: str, name: str = "main") -> list[Path]:
    """The files of the role's ``defaults``/``vars`` in the order they are merged (``name``:
    a ``vars_from``/``defaults_from`` file instead of main, with or without its extension)."""
    base = role_path / kind
    for ext in _VARS_EXTENSIONS:
        path = base / f"{name}{ext}"
        if path.is_dir():
            return _folder_vars_files(path)
        if path.is_file():
            return [path]
    return []


def _folder_vars_files(folder: Path) -> list[Path]:
    found: list[Path] = []
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        name = entry.name
        if name.startswith(".") or name.endswith("~"):
            continue
        if entry.is_dir() and not entry.suffix:
            found += _folder_vars_files(entry)
        elif entry.is_file() and entry.suffix in _VARS_EXTENSIONS:
            found.append(entry)
    return found


def argument_specs(role_path: Path) -> tuple[Path | None, dict[str, Any]]:
    """The role's argument specs by entry point and the file they come from: meta/argument_specs
    (its ``argument_specs`` key) when there is one, else meta/main's ``argument_specs``."""
    for path in (role_file(role_path, "meta", "argument_specs"), role_file(role_path, "meta")):
        if path is None:
            continue
        data = load_yaml_file(path)
        specs = data.get("argument_specs") if isinstance(data, dict) else None
        if path.stem == "argument_specs" or specs:
            return path, specs if isinstance(specs, dict) else {}
    return None, {}


class RoleFinder:
    """Resolves role names to loaded :class:`Role` objects (cached per path)."""

    def __init__(self, playbook_dir: Path, roles_path: list[Path] | None = None,
                 decrypt: Callable[[str, str], str] | None = None) -> None:
        self.search = [playbook_dir / "roles", playbook_dir, *(roles_path or []), repo_roles_dir()]
        self.playbook_dir = playbook_dir
        self.decrypt = decrypt  # defaults/vars files ansible-vault encrypted
        self._cache: dict[Path, Role] = {}
        self._variants: dict[tuple[Path, str | None, str | None], Role] = {}

    def find(self, name: str, where: str, vars_from: str | None = None,
             defaults_from: str | None = None) -> Role:
        """The role of that name; with ``vars_from``/``defaults_from`` (an include's or
        import's) a variant whose vars or defaults are that file's instead of main's, as
        ansible-core's Role.load with from_files (one object per combination)."""
        role = self._find(name, where)
        if vars_from is None and defaults_from is None:
            return role
        key = (role.path, vars_from, defaults_from)
        if key not in self._variants:
            self._variants[key] = dataclasses.replace(
                role,
                vars=role.vars if vars_from is None else self._from_file(role, "vars", vars_from, where),
                defaults=(role.defaults if defaults_from is None
                          else self._from_file(role, "defaults", defaults_from, where)))
        return self._variants[key]

    def _from_file(self, role: Role, kind: str, name: str, where: str) -> dict[str, Any]:
        files = role_vars_files(role.path, kind, name)
        if not files:
            raise PlaybookError(f"{where}: Could not find specified file in role: {kind}/{name}")
        return self._merged(files, self.decrypt)

    def _find(self, name: str, where: str) -> Role:
        candidates = [base / name for base in self.search]
        if "/" in name:
            candidates.insert(0, Path(name))
        elif name.count(".") == 2:  # namespace.collection.role: the collections' roles/ folders
            from kprov.provision.modules.protocol.locate import collection_roots

            namespace, collection, short = name.split(".")
            candidates += [root / namespace / collection / "roles" / short
                           for root in collection_roots(self.playbook_dir)]
        for path in candidates:
            if path.is_dir() and any(
                (path / d).is_dir() for d in ("tasks", "handlers", "defaults", "vars", "meta")
            ):
                return self._load(path.resolve())
        searched = ", ".join(str(p) for p in self.search)
        raise PlaybookError(
            f"{where}: role '{name}' not found (searched: {searched}); use --roles-path to add a dir"
        )

    def _load(self, path: Path) -> Role:
        if path in self._cache:
            return self._cache[path]
        role = Role(name=path.name, path=path)
        role.defaults = self._merged(role_vars_files(path, "defaults"), self.decrypt)
        role.vars = self._merged(role_vars_files(path, "vars"), self.decrypt)
        meta_file = role_file(path, "meta")
        meta = self._mapping(meta_file)
        role.allow_duplicates = bool(meta.get("allow_duplicates", False))
        for dep in meta.get("dependencies") or []:
            if isinstance(dep, str):
                role.dependencies.append({"role": dep})
            elif isinstance(dep, dict) and ("role" in dep or "name" in dep):
                entry = dict(dep)
                entry["role"] = entry.pop("role", None) or entry.pop("name")
                role.dependencies.append(entry)
            else:
                raise PlaybookError(
                    f"{origin_of(dep, str(meta_file))}: a dependency is a role name or {{role: NAME}}"
                )
        self._cache[path] = role
        return role

    @classmethod
    def _merged(cls, paths: list[Path], decrypt: Callable[[str, str], str] | None = None) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for path in paths:
            merged.update(cls._mapping(path, decrypt))
        return merged

    @staticmethod
    def _mapping(path: Path | None, decrypt: Callable[[str, str], str] | None = None) -> dict[str, Any]:
        if path is None:
            return {}
        data = load_yaml_file(path, decrypt)
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise PlaybookError(f"{path}: expected a mapping, got {type(data).__name__}")
        return data
