"""Keep each node's containerd asking live image mirrors first (``kprov-mirror-order``).

Why: containerd 1.6 (Debian bookworm's) tries a registry's mirrors in its hosts.toml order
and has no per-mirror dial timeout (``dial_timeout`` came with 1.7). A powered-off mirror
host answers nothing, so a node listing it first waited out Go's 30 s connect timeout twice
(manifest, then blobs): 60 s per pull instead of under one.

How: the container_runtime role writes each mirrored registry's preferred hosts.toml under
a directory of its own (``/etc/kprov/mirrors/<registry>.toml``, the rotation per node it
always had). This service, on every node, probes each mirror's address (a TCP connect,
1 s timeout) every 2 s, and writes containerd's ``<hosts dir>/<registry>/hosts.toml`` with
the mirrors that answered first, in the preferred order, then the silent ones, also in that
order (a mirror is never dropped: if every probe fails, the order is the preferred one).
containerd reads hosts.toml on every pull, so a new order counts from the next pull: a dead
host is moved last within ~3 s, and moved back when it answers again. A file is written
(atomically) only when its content changes.

The hosts.toml shapes are the role's two: air-gapped (``server`` is the last mirror, with
its settings at the top level) and fallback (``server`` is the registry itself, never
probed, every mirror a ``[host]``).
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import time
import tomllib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = ["Entry", "HostsFile", "main", "parse", "probe", "render", "reorder", "sync_once"]

_log = logging.getLogger("kprov.mirror_order")
_HEADER = (
    "# Written by kprov-mirror-order from {source}: the image mirrors that answer first.\n"
    "# Edit the inventory (role container_runtime), not this file.\n"
)
Prober = Callable[[Iterable[str]], set[str]]


@dataclass(frozen=True)
class Entry:
    url: str
    settings: dict[str, Any]

    @property
    def address(self) -> str:
        parts = urlsplit(self.url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return f"{parts.hostname}:{port}"


@dataclass(frozen=True)
class HostsFile:
    mirrors: list[Entry]
    upstream: str | None  # the registry itself as ``server`` (fallback), else None (air-gapped)


def parse(text: str) -> HostsFile:
    doc = tomllib.loads(text)
    hosts = [Entry(url, dict(settings)) for url, settings in (doc.get("host") or {}).items()]
    top = {k: v for k, v in doc.items() if k not in ("server", "host")}
    server = str(doc.get("server", ""))
    if top:  # air-gapped: the server is the last mirror, its settings at the top level
        return HostsFile([*hosts, Entry(server, top)], None)
    return HostsFile(hosts, server or None)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise TypeError(f"unsupported hosts.toml value {value!r}")


def _settings(settings: dict[str, Any], indent: str) -> list[str]:
    return [f"{indent}{key} = {_value(value)}" for key, value in settings.items()]


def render(hosts: HostsFile, source: str) -> str:
    lines = [_HEADER.format(source=source).rstrip("\n")]
    mirrors = list(hosts.mirrors)
    if hosts.upstream is not None:
        lines.append(f"server = {_value(hosts.upstream)}")
    elif mirrors:
        last = mirrors.pop()
        lines.append(f"server = {_value(last.url)}")
        lines.extend(_settings(last.settings, ""))
    for entry in mirrors:
        lines.extend(["", f"[host.{_value(entry.url)}]", *_settings(entry.settings, "  ")])
    return "\n".join(lines) + "\n"


def reorder(hosts: HostsFile, healthy: set[str]) -> HostsFile:
    """The answering mirrors first, then the others, each group in the preferred order."""
    up = [e for e in hosts.mirrors if e.address in healthy]
    down = [e for e in hosts.mirrors if e.address not in healthy]
    if not up:
        return hosts
    return HostsFile([*up, *down], hosts.upstream)


def probe(addresses: Iterable[str], timeout_s: float = 1.0) -> set[str]:
    """The ``host:port`` addresses that accept a TCP connection within ``timeout_s``."""
    unique = sorted(set(addresses))

    def answers(address: str) -> bool:
        host, _, port = address.rpartition(":")
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
                return True
        except OSError:
            return False

    if not unique:
        return set()
    with ThreadPoolExecutor(max_workers=len(unique)) as pool:
        return {a for a, ok in zip(unique, pool.map(answers, unique), strict=True) if ok}


def _write_if_changed(path: Path, text: str) -> bool:
    try:
        if path.read_text() == text:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return True


def sync_once(preferred_dir: Path, hosts_dir: Path, prober: Prober = probe) -> list[str]:
    """Rewrite every registry's hosts.toml for the mirrors' health now; the registries changed."""
    preferred: dict[str, HostsFile] = {}
    for file in sorted(preferred_dir.glob("*.toml")):
        try:
            preferred[file.stem] = parse(file.read_text())
        except (OSError, tomllib.TOMLDecodeError) as err:
            _log.warning("skipping %s: %s", file, err)
    healthy = prober(e.address for hosts in preferred.values() for e in hosts.mirrors)
    changed = []
    for registry, hosts in preferred.items():
        ordered = reorder(hosts, healthy)
        text = render(ordered, str(preferred_dir / f"{registry}.toml"))
        if _write_if_changed(hosts_dir / registry / "hosts.toml", text):
            changed.append(registry)
            first = ordered.mirrors[0].url if ordered.mirrors else "-"
            _log.info("%s: mirrors now tried from %s (answering: %s)", registry, first,
                      ", ".join(sorted(healthy)) or "none")
    return changed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="kprov-mirror-order", description=__doc__.splitlines()[0])
    parser.add_argument("--preferred-dir", default="/etc/kprov/mirrors", type=Path)
    parser.add_argument("--hosts-dir", default="/etc/containerd/certs.d", type=Path)
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between probes")
    parser.add_argument("--timeout", type=float, default=1.0, help="seconds a mirror has to accept")
    parser.add_argument("--once", action="store_true", help="one pass, then exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")

    def prober(addresses: Iterable[str]) -> set[str]:
        return probe(addresses, args.timeout)

    while True:
        started = time.monotonic()
        sync_once(args.preferred_dir, args.hosts_dir, prober)
        if args.once:
            return
        time.sleep(max(0.1, args.interval - (time.monotonic() - started)))


if __name__ == "__main__":
    main()
