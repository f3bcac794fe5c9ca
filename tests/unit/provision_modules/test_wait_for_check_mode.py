"""wait_for in check mode (kprov plan): skipped, as ansible-core reports a module without
check-mode support, instead of waiting on a port only the real run would open."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_check_mode_skips_the_wait_and_a_real_run_waits(local_play: Callable[..., Any]) -> None:
    task = f"wait_for: {{port: {_closed_port()}, host: 127.0.0.1, timeout: 1}}"
    planned = local_play(task, check=True)
    [result] = planned.results
    assert planned.ok and result.status == "skipped"
    assert result.msg == "remote module (wait_for) does not support check mode"
    real = local_play(task)
    assert not real.ok and "Timeout when waiting for 127.0.0.1" in real.results[0].msg
