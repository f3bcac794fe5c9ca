"""Load an inventory argument: a file (YAML or INI, detected by content) or a directory.

A directory contributes ``hosts.yml``, ``hosts.yaml``, ``hosts``, ``*.ini``, ``*.yml`` /
``*.yaml`` inventory files in it, and ``group_vars/`` + ``host_vars/`` next to them (a file
``<name>[.yml|.yaml|.json]`` or a directory ``<name>/`` of such files, merged in name order).
A file inventory also picks up ``group_vars/`` and ``host_vars/`` next to it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from kprov.provision.errors import InventoryError
from kprov.provision.inventory.formats import parse_ini, parse_yaml
from kprov.provision.inventory.model import Inventory
from kprov.provision.yamlfile import load_yaml_file, read_bounded

__all__ = ["load_inventory", "load_vars_dir", "var_dir_of"]

_VAR_SUFFIXES = ("", ".yml", ".yaml", ".json")


def load_inventory(*paths: str | Path, decrypt: Callable[[str, str], str] | None = None) -> Inventory:
    """``decrypt``: for group_vars/host_vars files ansible-vault encrypted (vault.Vault.decrypt)."""
    inv = Inventory()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files = _inventory_files(path)
            if not files:
                raise InventoryError(
                    f"{path}: no inventory file inside (hosts.yml, hosts.yaml, hosts, *.ini)"
                )
            for file in files:
                _load_file(inv, file)
            var_dir = path
        elif path.is_file():
            _load_file(inv, path)
            var_dir = var_dir_of(path)
        elif "," in str(raw):  # ansible's host_list source: "host1,host2" (ungrouped hosts)
            for name in (n.strip() for n in str(raw).split(",")):
                if name:
                    inv.host(name)
            inv.finish()
            inv.sources.append(str(raw))
            continue
        else:
            raise InventoryError(f"inventory {path} does not exist")
        inv.finish()
        _apply_var_dirs(inv, var_dir, decrypt)
        inv.sources.append(str(path))
    inv.finish()
    return inv


def var_dir_of(source: Path) -> Path:
    """Where an inventory source's group_vars/ and host_vars/ are: the directory itself, or
    the file's directory."""
    return source if source.is_dir() else source.parent


def _inventory_files(directory: Path) -> list[Path]:
    names = [directory / n for n in ("hosts.yml", "hosts.yaml", "hosts")]
    found = [p for p in names if p.is_file()]
    found += sorted(p for p in directory.glob("*.ini") if p.is_file())
    return found


def _load_file(inv: Inventory, path: Path) -> None:
    try:
        text = read_bounded(path)
    except OSError as err:
        raise InventoryError(f"cannot read inventory {path}: {err.strerror}") from None
    if path.suffix in (".yml", ".yaml", ".json") or _looks_like_yaml(text):
        parse_yaml(text, str(path), inv)
    else:
        parse_ini(text, str(path), inv)


def _looks_like_yaml(text: str) -> bool:
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", ";")):
            continue
        if stripped.startswith("---"):
            return True
        return stripped.endswith(":") and not stripped.startswith("[")
    return False


def load_vars_dir(directory: Path, name: str,
                  decrypt: Callable[[str, str], str] | None = None) -> dict[str, Any] | None:
    """Vars for ``name`` from ``directory`` (group_vars/ or host_vars/), or None if there are none."""
    merged: dict[str, Any] = {}
    found = False
    sub = directory / name
    files: list[Path] = []
    if sub.is_dir():
        files += sorted(p for p in sub.rglob("*") if p.is_file() and p.suffix in (".yml", ".yaml", ".json"))
    files += [directory / f"{name}{s}" for s in _VAR_SUFFIXES if (directory / f"{name}{s}").is_file()]
    for file in files:
        data = load_yaml_file(file, decrypt)
        if data is None:
            found = True
            continue
        if not isinstance(data, dict):
            raise InventoryError(f"{file}: variables file must be a mapping, got {type(data).__name__}")
        merged.update(data)
        found = True
    return merged if found else None


def _apply_var_dirs(inv: Inventory, directory: Path, decrypt: Callable[[str, str], str] | None) -> None:
    group_dir, host_dir = directory / "group_vars", directory / "host_vars"
    if group_dir.is_dir():
        for name, group in inv.groups.items():
            data = load_vars_dir(group_dir, name, decrypt)
            if data:
                group.file_vars.update(data)
    if host_dir.is_dir():
        for name, host in inv.hosts.items():
            data = load_vars_dir(host_dir, name, decrypt)
            if data:
                host.file_vars.update(data)
