"""The compat package's side runs: work a later module's fixture needs, started early in a
thread beside an earlier module's own.

Design. The first corpus (test_corpus.py: h1..h3) and the wide corpus's regression subset
(test_corpus_wide_subset.py: h5) converge disjoint hosts from their own package
repositories, and their tests read the runs' reports only (each run stops what it started
before it returns). When both modules are in the session, the corpus's fixture starts the
subset's run here, then runs its own; the subset's fixture takes the result (or the
exception) when its module comes, and runs it itself when nothing was started (the module
run alone). Most of either run is waiting on hosts (SSH round trips, dpkg), so side by side
they take about as long as the longer one. The holder is package-scoped: nothing outlives
the package, and a run still going when the package ends is waited for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest


class SideRuns:
    """Named runs started in a thread; each taken once."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="compat-side-run")
        self._started: dict[str, Future[Any]] = {}

    def start(self, name: str, run: Callable[[], Any]) -> None:
        self._started[name] = self._pool.submit(run)

    def take(self, name: str) -> Future[Any] | None:
        return self._started.pop(name, None)

    def close(self) -> None:
        self._pool.shutdown(wait=True)


@pytest.fixture(scope="package")
def side_runs() -> Iterator[SideRuns]:
    runs = SideRuns()
    try:
        yield runs
    finally:
        runs.close()


def selected(request: pytest.FixtureRequest, module_name: str) -> bool:
    """Whether a test of ``module_name`` (a file name) is in this session's run."""
    return any(item.path.name == module_name for item in request.session.items)
