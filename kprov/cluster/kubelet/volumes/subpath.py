"""A volumeMount's ``subPath`` / ``subPathExpr``: which directory inside the volume is mounted.

Design (upstream's kubelet rules): ``subPathExpr`` is expanded with the container's own
environment, ``$(VAR)`` only; a variable that is unset or empty is an error ("missing value
for VAR"), so the container waits in CreateContainerConfigError until, say, the annotation a
fieldRef reads appears, and the next sync starts it. The resulting path must be relative
("error SubPath `/tmp` must not be an absolute path") and must not step back ("unable to
provision SubPath `..`: must not contain '..'"). A missing subpath directory is created with
the volume directory's mode, so the pod can write where the volume lets it; a subpath that
resolves (through symlinks the pod wrote) outside its volume is refused.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kprov.cluster.kubelet.pods.env import ConfigError

__all__ = ["expand_subpath_expr", "subpath_dir"]

_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand_subpath_expr(expression: str, env: Mapping[str, str]) -> str:
    """``expression`` with ``$(VAR)`` replaced from ``env``; unset or empty variables fail."""
    missing: set[str] = set()

    def repl(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        value = env.get(name, "")
        if not value:
            missing.add(name)
        return value

    expanded = _REF.sub(repl, expression)
    if missing:
        raise ConfigError(f"missing value for {', '.join(sorted(missing))}")
    return expanded


def _checked(sub: str) -> Path:
    path = Path(sub)
    if path.is_absolute():
        raise ConfigError(f"error SubPath `{sub}` must not be an absolute path")
    if ".." in sub.split("/"):
        raise ConfigError(f"unable to provision SubPath `{sub}`: must not contain '..'")
    return path


def subpath_dir(volume_dir: str, mount: Mapping[str, Any], env: Mapping[str, str]) -> str | None:
    """The host directory (or file) to mount for ``mount``, None when it has no subpath."""
    sub = str(mount.get("subPath") or "")
    if mount.get("subPathExpr"):
        sub = expand_subpath_expr(str(mount["subPathExpr"]), env)
    if not sub:
        return None
    base = Path(volume_dir)
    target = base / _checked(sub)
    missing: list[Path] = []
    existing = target
    while existing != base and not existing.exists() and not existing.is_symlink():
        missing.append(existing)
        existing = existing.parent
    _within(base, existing, volume_dir)
    mode = base.stat().st_mode & 0o7777 if base.exists() else 0o755
    for directory in reversed(missing):
        directory.mkdir(exist_ok=True)
        os.chmod(directory, mode)  # the volume's mode, whatever the kubelet's umask
    _within(base, target, volume_dir)
    return str(target)


def _within(base: Path, path: Path, volume_dir: str) -> None:
    resolved, root = path.resolve(), base.resolve()
    if resolved != root and root not in resolved.parents:
        raise ConfigError(f"subpath {str(path)!r} not within volume path {volume_dir!r}")
