"""Freed heap memory handed back to the system after large requests.

Design: a hostile or merely large request (a 3 MB body, an object of 100,000 keys, a long
list reply) makes tens of MiB of short-lived Python objects. Once they are freed, glibc's
malloc keeps the pages: large blocks stop being mmapped once a freed mmapped block has
raised its dynamic threshold, and free chunks inside the heap are only returned by
``malloc_trim``. The server's RSS then stays at its high-water mark although nothing lives
there (the fuzz harness's growth, with and without the fix, is in docs/decisions/0048: what
remains is mostly the watch cache's copies of objects the fuzz stored). :func:`tune_glibc_heap` fixes the mmap
threshold at glibc's default (128 KiB) once at start; a :class:`HeapTrimmer` runs
``malloc_trim(0)`` on the event loop shortly after a request or reply of at least
``LARGE_BYTES``, at most once per ``MIN_INTERVAL_S`` (a trim takes a few ms). Off glibc
(musl, macOS) both do nothing.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
from collections.abc import Callable

__all__ = ["LARGE_BYTES", "MIN_INTERVAL_S", "HeapTrimmer", "glibc_trim", "tune_glibc_heap"]

LARGE_BYTES = 64 * 1024
MIN_INTERVAL_S = 1.0
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number
_MMAP_THRESHOLD_BYTES = 128 * 1024


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


def tune_glibc_heap() -> bool:
    """Keep blocks of 128 KiB and more in their own mappings, returned when freed (setting
    the threshold turns glibc's dynamic raising of it off). True when glibc took it."""
    libc = _libc()
    return bool(libc is not None and libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES))


def glibc_trim() -> Callable[[], None] | None:
    """``malloc_trim(0)`` as a function, or None off glibc."""
    libc = _libc()
    if libc is None:
        return None
    trim = libc.malloc_trim

    def run() -> None:
        trim(0)

    return run


class HeapTrimmer:
    """Runs ``trim`` once after large requests, coalesced."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        trim: Callable[[], None] | None,
        large_bytes: int = LARGE_BYTES,
        min_interval_s: float = MIN_INTERVAL_S,
    ) -> None:
        self._loop = loop
        self._trim = trim
        self._large = large_bytes
        self._interval = min_interval_s
        self._pending: asyncio.TimerHandle | None = None
        self._last = float("-inf")
        self.trims = 0

    def note(self, size: int) -> None:
        """A request (body plus reply) of ``size`` bytes was answered."""
        if self._trim is None or size < self._large or self._pending is not None:
            return
        delay = max(0.0, self._last + self._interval - self._loop.time())
        self._pending = self._loop.call_later(delay, self._run)

    def _run(self) -> None:
        self._pending = None
        self._last = self._loop.time()
        if self._trim is not None:
            self._trim()
            self.trims += 1

    def close(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
