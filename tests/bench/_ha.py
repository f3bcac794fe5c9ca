"""Shared by bench_upgrade and tests/e2e/ha: an API client loop through a kubeconfig's default
context (a new TLS connection per request, as each kubectl invocation makes), and a copy of
this checkout with a changed kubelet version string (another runtime digest: an upgrade)."""

from __future__ import annotations

import http.client
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from kprov.cluster.client.kubeconfig import load_kubeconfig, ssl_context

__all__ = ["NEW_VERSION", "OLD_VERSION", "Poller", "changed_build"]

REPO = Path(__file__).resolve().parents[2]
_SOURCES = ("kprov", "roles", "templates", "inventories", "pyproject.toml", "README.md")
OLD_VERSION, NEW_VERSION = "v1.32.0-kprov", "v1.32.0-kprov.upgraded"


def changed_build(into: Path) -> Path:
    """A copy of this checkout whose kubelet reports NEW_VERSION: another runtime digest,
    and the nodes' reported version proves the new build runs."""
    for name in _SOURCES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, into / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, into / name)
    node = into / "kprov" / "cluster" / "kubelet" / "node" / "registration.py"
    old = f'KUBELET_VERSION = "{OLD_VERSION}"'
    assert old in node.read_text(), "the kubelet version string moved: update changed_build"
    node.write_text(node.read_text().replace(old, f'KUBELET_VERSION = "{NEW_VERSION}"'))
    return into


@dataclass
class Poller:
    """GET /api/v1/namespaces/default every ``interval_s`` through the default context of a
    kubeconfig, each request on a new TLS connection (as a kubectl invocation makes one).

    Each request runs in its own thread, started on the clock whatever the earlier ones are
    doing: a request caught in flight when its server's host powers off hangs until
    ``timeout_s`` (no reset comes from a dead host), and a serial loop would start nothing
    meanwhile, so the outage would measure the client's timeout rather than how long the
    endpoint refused new requests (5.0 s against the VIP's ~2 s move, seen in bench_upgrade)."""

    kubeconfig: Path
    interval_s: float = 0.2
    timeout_s: float = 5.0
    results: list[tuple[float, bool, str]] = field(default_factory=list)
    answered: list[tuple[float, float]] = field(default_factory=list)
    _probes: list[threading.Thread] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Poller:
        config = load_kubeconfig(self.kubeconfig)
        url = urlsplit(config.servers[0])
        context = ssl_context(config)

        def once() -> tuple[bool, str]:
            conn = http.client.HTTPSConnection(url.hostname or "", url.port or 443,
                                               timeout=self.timeout_s, context=context)
            try:
                conn.request("GET", "/api/v1/namespaces/default")
                reply = conn.getresponse()
                body = reply.read()
                return reply.status == 200, f"{reply.status} {body[:120]!r}"
            except (OSError, http.client.HTTPException) as err:
                return False, f"{type(err).__name__}: {err}"
            finally:
                conn.close()

        def probe(started: float) -> None:
            ok, what = once()
            self.results.append((started, ok, what))
            if ok:
                self.answered.append((started, time.monotonic()))

        def loop() -> None:
            next_start = time.monotonic()
            while not self._stop.is_set():
                thread = threading.Thread(target=probe, args=(time.monotonic(),), daemon=True)
                thread.start()
                self._probes.append(thread)
                next_start += self.interval_s
                self._stop.wait(max(0.0, next_start - time.monotonic()))

        self._thread = threading.Thread(target=loop, name="api-poller", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        for probe in self._probes:
            probe.join(self.timeout_s + 5)
        self.results.sort()

    @property
    def failed(self) -> list[tuple[float, bool, str]]:
        return [r for r in self.results if not r[1]]

    def first_answer_after(self, since: float) -> float | None:
        """Seconds from ``since`` to the first successful answer to a request started at or
        after it (None if none came): how long the endpoint took to serve new requests again,
        whether or not a slow one (a SYN retransmitted after the VIP moved) counted as failed."""
        finished = [done for started, done in self.answered if started >= since]
        return min(finished) - since if finished else None

    def outage_s(self) -> float:
        """The longest run of failed requests, by when they started: the first failure's start
        to the start of the next request that succeeded."""
        longest, first_failed = 0.0, None
        for started, ok, _ in sorted(self.results):
            if not ok and first_failed is None:
                first_failed = started
            elif ok and first_failed is not None:
                longest = max(longest, started - first_failed)
                first_failed = None
        return longest
