"""``include_vars``: load YAML/JSON variable files on the controller into a host's variables.

As in Ansible: ``file`` (or the free-form argument) names one file; ``dir`` (or a free-form
argument that is a directory) loads every file with one of ``extensions`` (default yaml, yml,
json) found walking it — directories in name order, ``depth`` levels deep (0: all), file names
matching ``files_matching`` and not in ``ignore_files``; ``name`` puts everything under one
key. Relative names are searched like the task's files (role ``vars/``, the role, the task's
directory, the playbook's). Values stay templates, rendered when used, with include_vars
precedence (below set_fact and registered results). ``hash_behaviour: merge`` merges each
loaded key recursively into the value the host has for it now (ansible-core's ``merge_hash``:
both must be mappings, else the task fails with its "failed to combine variables" text).
Nothing touches a host; the result never reports a change.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from kprov.provision.errors import PlaybookError
from kprov.provision.modules.base import ModuleResult
from kprov.provision.yamlfile import load_yaml_file

__all__ = ["include_vars"]

_OPTIONS = frozenset(
    {"file", "dir", "name", "depth", "files_matching", "ignore_files", "extensions",
     "ignore_unknown_extensions", "hash_behaviour", "_raw_params", "free-form"}
)


def _walk(top: Path, depth: int) -> list[tuple[Path, list[str]]]:
    found: list[tuple[Path, list[str]]] = []
    for root, _dirs, files in os.walk(top, followlinks=True):
        level = len(Path(root).relative_to(top).parts)
        if depth and level >= depth:
            continue
        found.append((Path(root), files))
    found.sort(key=lambda entry: str(entry[0]))
    return found


def _load(path: Path, decrypt: Callable[[str, str], str] | None = None) -> dict[str, Any]:
    data = load_yaml_file(path, decrypt)
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise PlaybookError(f"{path} must be stored as a dictionary/hash")
    return dict(data)


def _dir_files(top: Path, args: Mapping[str, Any]) -> list[Path]:
    extensions = [str(e).lstrip(".") for e in args.get("extensions") or ["yaml", "yml", "json"]]
    ignore = {str(f) for f in args.get("ignore_files") or []}
    matching = re.compile(str(args["files_matching"])) if args.get("files_matching") else None
    ignore_unknown = bool(args.get("ignore_unknown_extensions", False))
    files: list[Path] = []
    for root, names in _walk(top, int(args.get("depth") or 0)):
        for name in sorted(names):
            if name in ignore or (matching is not None and not matching.search(name)):
                continue
            ext = name.rsplit(".", 1)[-1] if "." in name else ""
            if ext not in extensions:
                if ignore_unknown:
                    continue
                raise PlaybookError(
                    f"{root / name} does not have a valid extension: {', '.join(extensions)}"
                )
            files.append(root / name)
    return files


def merge_hash(old: Any, new: Any) -> dict[str, Any]:
    """``new`` merged into ``old``, mappings recursively (lists and scalars replaced)."""
    if not (isinstance(old, Mapping) and isinstance(new, Mapping)):
        shown = [json.dumps(v) if _jsonable(v) else str(v) for v in (old, new)]
        raise PlaybookError("failed to combine variables, expected dicts but got a "
                            f"'{_type_name(old)}' and a '{_type_name(new)}': \n{shown[0]}\n{shown[1]}")
    merged = dict(old)
    for key, value in new.items():
        both = isinstance(merged.get(key), Mapping) and isinstance(value, Mapping)
        merged[key] = merge_hash(merged[key], value) if both else value
    return merged


def _type_name(value: Any) -> str:
    return {type(None): "NoneType", str: "str", int: "int", float: "float", bool: "bool",
            list: "list"}.get(type(value), "dict" if isinstance(value, Mapping) else type(value).__name__)


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def include_vars(args: Mapping[str, Any], find: Callable[[str, str], Path],
                 into: dict[str, Any], where: str,
                 decrypt: Callable[[str, str], str] | None = None,
                 current: Mapping[str, Any] | None = None) -> ModuleResult:
    """Load the files ``args`` name (``find(name, "vars")`` resolves them) into ``into``;
    ``decrypt``: for files ansible-vault encrypted (vault.Vault.decrypt); ``current``: the
    host's variables as the task sees them (what ``hash_behaviour: merge`` merges into)."""
    unknown = sorted(set(args) - _OPTIONS)
    if unknown:
        raise PlaybookError(f"{where}: include_vars: unsupported option(s) {unknown}")
    source = args.get("file") or args.get("_raw_params") or args.get("free-form")
    directory = args.get("dir")
    if not source and directory is None:  # (a file that templated to None, as ansible-core words it)
        text = ("Could not find file on the Ansible Controller.\nIf you are using a module and expect "
                "the file to exist on the remote, see the remote_src option")
        return ModuleResult(failed=True, msg=text, data={"message": text})
    try:
        path = find(str(directory if directory is not None else source), "vars")
    except FileNotFoundError as err:
        text = f"Could not find or access '{directory or source}': {err}"
        return ModuleResult(failed=True, msg=text, data={"message": text})
    loaded: dict[str, Any] = {}
    try:
        files = _dir_files(path, args) if path.is_dir() else [path]
        for file in files:
            loaded.update(_load(file, decrypt))
    except PlaybookError as err:  # ansible-core's action reports these under 'message'
        return ModuleResult(failed=True, msg=str(err), data={"message": str(err)})
    if args.get("name"):
        loaded = {str(args["name"]): loaded}
    if args.get("hash_behaviour") == "merge":
        try:
            loaded = {key: merge_hash((current or {}).get(key), value) for key, value in loaded.items()}
        except PlaybookError as err:
            return ModuleResult(failed=True, msg=str(err))
    into.update(loaded)
    return ModuleResult(
        data={"ansible_facts": loaded, "ansible_included_var_files": [str(f) for f in files]}
    )
