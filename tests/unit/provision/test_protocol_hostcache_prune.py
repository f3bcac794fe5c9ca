"""The host cache of module heads is pruned by the protocol itself: the full program (the only
thing that adds a head) removes the heads not used for PRUNE_AFTER_S, and the cached program
touches the head it runs, so a head used by this run is never removed.

The programs run here in this process, as the host's Python runs them, with the passwd home
pointed at a temporary folder (they find the cache from the effective uid's home, never $HOME).
"""

from __future__ import annotations

import os
import pwd
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from kprov.provision.modules.protocol.hostcache import (
    PRUNE_AFTER_S,
    cached_program,
    full_program,
    head_digest,
)

DAY = 24 * 3600


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(pwd, "getpwuid", lambda uid: SimpleNamespace(pw_dir=str(tmp_path)))
    folder = tmp_path / ".ansible" / "tmp" / "kprov-payloads"
    folder.mkdir(parents=True, mode=0o700)
    return folder


def _file(folder: Path, name: str, age_s: float, data: bytes = b"x = 1\n") -> Path:
    path = folder / name
    path.write_bytes(data)
    when = time.time() - age_s
    os.utime(path, (when, when))
    return path


def _run(program: bytes) -> dict[str, Any]:
    scope: dict[str, Any] = {"__name__": "kprov_host_program"}
    exec(compile(program, "<host>", "exec"), scope)  # noqa: S102 - the program a host runs
    return scope


def test_the_full_program_removes_heads_unused_past_the_bound_and_nothing_else(cache: Path) -> None:
    assert PRUNE_AFTER_S == 7 * DAY
    old = _file(cache, "a" * 64 + ".py", 8 * DAY)
    old_tmp = _file(cache, "b" * 64 + ".py.4242.tmp", 8 * DAY)
    recent = _file(cache, "c" * 64 + ".py", 6 * DAY)
    foreign = _file(cache, "notes.txt", 30 * DAY)  # not a head: not ours to remove
    short = _file(cache, "d" * 12 + ".py", 30 * DAY)
    head = b"RAN = 'new head'\n"
    scope = _run(full_program(head, head_digest(head)))
    assert scope["RAN"] == "new head"
    kept = cache / f"{head_digest(head)}.py"
    assert kept.read_bytes() == head
    assert not old.exists() and not old_tmp.exists()
    assert recent.exists() and foreign.exists() and short.exists()


def test_a_head_used_by_this_run_is_touched_and_survives_the_next_prune(cache: Path) -> None:
    used_head = b"RAN = 'cached head'\n"
    used = _file(cache, f"{head_digest(used_head)}.py", 30 * DAY, used_head)
    unused = _file(cache, "e" * 64 + ".py", 30 * DAY)
    assert _run(cached_program(head_digest(used_head)))["RAN"] == "cached head"
    assert time.time() - used.stat().st_mtime < 60  # its last use is now
    other = b"RAN = 'another module'\n"
    _run(full_program(other, head_digest(other)))  # a later task's new module prunes
    assert used.exists() and not unused.exists()
