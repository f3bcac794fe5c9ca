"""The kubelet's ``/logs/``: the node's /var/log, as upstream's kubelet serves it.

Upstream's kubelet hands ``/logs/`` to Go's file server rooted at /var/log: a directory is an
HTML listing (``<pre>`` of links, directories with a trailing slash, names sorted), a file
its bytes. ``kubectl get --raw /api/v1/nodes/<node>/proxy/logs/`` and the e2e proxy specs
read it through the API server's node proxy. :func:`resolve` keeps every request inside the
root (``..`` and symlinks out of it are not found); :func:`listing` renders a directory.
"""

from __future__ import annotations

import html
from pathlib import Path
from urllib.parse import quote

__all__ = ["listing", "resolve"]


def resolve(root: Path, tail: str) -> Path | None:
    """The file or directory ``tail`` names under ``root``, or None (missing or outside)."""
    base = root.resolve()
    target = (base / tail.lstrip("/")).resolve()
    if target != base and base not in target.parents:
        return None
    return target if target.exists() else None


def listing(directory: Path) -> str:
    """Go's directory listing: ``<pre>`` with one link per entry, directories ending in /."""
    lines = ['<!doctype html>', '<meta name="viewport" content="width=device-width">', "<pre>"]
    for entry in sorted(directory.iterdir(), key=lambda p: p.name):
        name = entry.name + ("/" if entry.is_dir() else "")
        lines.append(f'<a href="{html.escape(quote(name))}">{html.escape(name)}</a>')
    lines.append("</pre>")
    return "\n".join(lines) + "\n"
