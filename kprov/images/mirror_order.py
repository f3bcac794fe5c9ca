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
host is moved last within one probe round and its timeout, and moved back when it answers
again. A file is written
(atomically) only when its content changes.

The hosts.toml shapes are the role's two: air-gapped (``server`` is the last mirror, with
its settings at the top level) and fallback (``server`` is the registry itself, never
probed, every mirror a ``[host]``).
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import selectors
import socket
import time
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = ["Entry", "HostsFile", "Syncer", "main", "parse", "probe", "render", "reorder", "sync_once"]

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
    """The ``host:port`` addresses that accept a TCP connection within ``timeout_s``.

    Every connect starts at once, non-blocking, and one selector waits for them all: no
    thread per address, a fraction of a thread pool's CPU (figures:
    docs/decisions/0051-figures-live-in-records.md); every node probes every 2 s, so this is
    most of what the service costs an idle node.
    """
    pending: dict[socket.socket, str] = {}
    answered: set[str] = set()
    with selectors.DefaultSelector() as selector:
        for address in sorted(set(addresses)):
            host, _, port = address.rpartition(":")
            host = host.strip("[]")
            sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            try:
                err = sock.connect_ex((host, int(port)))
            except (OSError, ValueError):
                err = -1
            if err not in (0, errno.EINPROGRESS):
                sock.close()
                continue
            pending[sock] = address
            selector.register(sock, selectors.EVENT_WRITE)
        deadline = time.monotonic() + timeout_s
        while pending and (left := deadline - time.monotonic()) > 0:
            for key, _ in selector.select(left):
                sock = key.fileobj  # type: ignore[assignment]
                address = pending.pop(sock)
                selector.unregister(sock)
                if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                    answered.add(address)
                sock.close()
    for sock in pending:
        sock.close()
    return answered


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


@dataclass
class Syncer:
    """Keeps containerd's hosts.toml files in the mirrors' answering order, pass after pass.

    A pass probes every mirror; a registry's file is rendered and compared only when its
    preferred file, the answering mirrors or the written file itself (its stat) changed
    since the last pass (a pass that changes nothing reads no file but the directory's
    stats: it runs every 2 s on every node).
    """

    preferred_dir: Path
    hosts_dir: Path
    prober: Prober = probe
    _parsed: dict[Path, tuple[tuple[int, int], HostsFile]] = field(default_factory=dict)
    _settled: dict[str, tuple[object, ...]] = field(default_factory=dict)

    def _preferred(self) -> dict[str, tuple[tuple[int, int], HostsFile]]:
        out = {}
        for file in sorted(self.preferred_dir.glob("*.toml")):
            try:
                st = file.stat()
                stamp = (st.st_mtime_ns, st.st_size)
                cached = self._parsed.get(file)
                if cached is None or cached[0] != stamp:
                    cached = self._parsed[file] = (stamp, parse(file.read_text()))
            except (OSError, tomllib.TOMLDecodeError) as err:
                _log.warning("skipping %s: %s", file, err)
                continue
            out[file.stem] = cached
        return out

    def sync(self) -> list[str]:
        """One pass: rewrite every registry's hosts.toml for the mirrors' health now; the
        registries changed."""
        preferred = self._preferred()
        healthy = self.prober(e.address for _, hosts in preferred.values() for e in hosts.mirrors)
        changed = []
        for registry, (stamp, hosts) in preferred.items():
            target = self.hosts_dir / registry / "hosts.toml"
            ordered = reorder(hosts, healthy)
            key = (stamp, tuple(e.address for e in ordered.mirrors), _stat(target))
            if self._settled.get(registry) == key:
                continue
            text = render(ordered, str(self.preferred_dir / f"{registry}.toml"))
            if _write_if_changed(target, text):
                changed.append(registry)
                first = ordered.mirrors[0].url if ordered.mirrors else "-"
                _log.info("%s: mirrors now tried from %s (answering: %s)", registry, first,
                          ", ".join(sorted(healthy)) or "none")
            self._settled[registry] = (*key[:2], _stat(target))
        return changed


def _stat(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def sync_once(preferred_dir: Path, hosts_dir: Path, prober: Prober = probe) -> list[str]:
    """One pass with nothing remembered: the registries whose hosts.toml changed."""
    return Syncer(preferred_dir, hosts_dir, prober).sync()


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

    syncer = Syncer(args.preferred_dir, args.hosts_dir, prober)
    while True:
        started = time.monotonic()
        syncer.sync()
        if args.once:
            return
        time.sleep(max(0.1, args.interval - (time.monotonic() - started)))


if __name__ == "__main__":
    main()
