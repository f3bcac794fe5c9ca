"""Where the controller finds a file a task names: Ansible's ``find_file_in_search_path``.

For each directory of ``ansible_search_path`` (the role chain innermost first, the task
file's directory, the playbook directory) ``<dir>/<subdir>/<name>`` then ``<dir>/<name>``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["search_file", "search_paths"]


def search_paths(variables: Mapping[str, Any]) -> list[Path]:
    paths = variables.get("ansible_search_path") if "ansible_search_path" in variables else None
    if not paths:
        paths = [variables.get("playbook_dir", ".")] if "playbook_dir" in variables else ["."]
    return [Path(str(p)) for p in paths]


def search_file(variables: Mapping[str, Any], subdir: str, name: str) -> Path | None:
    """The first existing ``name`` in the search path (``subdir`` first in each directory)."""
    if os.path.isabs(name):
        return Path(name) if os.path.exists(name) else None
    for base in search_paths(variables):
        for candidate in (base / subdir / name, base / name):
            if candidate.exists():
                return candidate
    return None
