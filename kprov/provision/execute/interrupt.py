"""Interrupts (SIGINT, SIGTERM) as a flag the run polls, not an exception thrown at it.

Python raises KeyboardInterrupt in the main thread only, wherever it happens to be: in a
run that is mostly host threads, that unwound the phases under the threads' feet (the
sessions closed while tasks still ran: "UNREACHABLE ... no session"), and the run log ended
``ok=True``. Here the first signal sets :class:`Interrupt`; host runners check it before
each task (a running task finishes or times out), plays stop scheduling, and the run
returns its report marked interrupted. A second signal raises KeyboardInterrupt (the
operator insists). While the main thread does operator-side work that cleans up after
itself (``raising()``: the PKI, wheelhouse and runtime builds), the first signal raises
at once, so a long build does not have to finish before the run stops.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

__all__ = ["Interrupt", "catching_signals"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupt:
    """Whether (and by which signal) the run was interrupted; thread-safe."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.signal_name = ""
        self._raise_now = False

    def set(self, signal_name: str = "SIGINT") -> None:
        if not self._event.is_set():
            self.signal_name = signal_name
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    @contextlib.contextmanager
    def raising(self) -> Iterator[None]:
        """Within: a signal raises KeyboardInterrupt in the main thread (the code there
        cleans up after itself); outside: it only sets the flag."""
        if self.is_set():
            raise KeyboardInterrupt(self.signal_name)
        previous, self._raise_now = self._raise_now, True
        try:
            yield
        finally:
            self._raise_now = previous

    def on_signal(self, signum: int, _frame: FrameType | None) -> None:
        again = self.is_set()
        self.set(signal.Signals(signum).name)
        if again or self._raise_now:
            raise KeyboardInterrupt(self.signal_name)


@contextlib.contextmanager
def catching_signals(interrupt: Interrupt) -> Iterator[Interrupt]:
    """Route SIGINT and SIGTERM to ``interrupt`` while inside (main thread only; elsewhere
    signals cannot be handled and this does nothing)."""
    if threading.current_thread() is not threading.main_thread():
        yield interrupt
        return
    previous = {sig: signal.signal(sig, interrupt.on_signal) for sig in _SIGNALS}
    try:
        yield interrupt
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
