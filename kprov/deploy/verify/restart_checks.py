"""Units that systemd restarted after a failure moments ago: a crash that healed itself.

``systemctl is-active`` says yes a tenth of a second after a ``kill -9`` (every kprov unit,
HAProxy and keepalived restart on failure), so a component that just crashed, or crashes
over and over, looks healthy to every other row. systemd counts those restarts
(``NRestarts``) and stamps the main process's start; a unit restarted within the window
(``kprov_verify_restart_window_s``, 30 s) is not yet known to be steady, and the row says which
unit, when, and what its journal said of the exit. One ``systemctl show`` per host;
``parse_restarts`` is pure so tests can feed it text.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kprov.deploy.verify.report import Check

__all__ = ["RESTART_WINDOW_S", "Restart", "parse_restarts", "recent_restarts", "restart_check",
           "restarts_command"]

RESTART_WINDOW_S = 30.0
TITLE = "no unit restarted after a failure in the last {window:g} s"


@dataclass(frozen=True)
class Restart:
    unit: str
    count: int
    ago_s: float


def restarts_command(units: Sequence[str]) -> str:
    names = " ".join(shlex.quote(u) for u in units)
    return (f"echo now=$(date +%s); systemctl show --timestamp=unix -p Id -p NRestarts "
            f"-p ExecMainStartTimestamp {names}")


def parse_restarts(text: str) -> list[Restart]:
    """Every unit with restarts (any age), from ``restarts_command``'s output."""
    now = 0.0
    found: list[Restart] = []
    block: dict[str, str] = {}

    def close() -> None:
        count = block.get("NRestarts", "0")
        started = block.get("ExecMainStartTimestamp", "").lstrip("@")
        if block.get("Id") and count.isdigit() and int(count) > 0 and started.isdigit():
            found.append(Restart(block["Id"].removesuffix(".service"), int(count), now - float(started)))
        block.clear()

    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if not sep:
            close()
        elif key == "now" and value.isdigit():
            now = float(value)
        else:
            block[key] = value
    close()
    return found


def recent_restarts(restarts: Sequence[Restart], window_s: float) -> list[Restart]:
    return [r for r in restarts if 0 <= r.ago_s <= window_s]


def restart_check(host: str, units: Sequence[str], run: Callable[[str], str],
                  window_s: float = RESTART_WINDOW_S) -> Check:
    """The row for one host; ``run(command)`` returns the command's stdout."""
    recent = recent_restarts(parse_restarts(run(restarts_command(units))), window_s)
    details = []
    for restart in recent:
        quoted = shlex.quote(restart.unit)
        why = run(f"journalctl -u {quoted} -n 60 -o cat --no-pager 2>/dev/null | grep -E "
                  "'Main process exited|Failed with result' | tail -n 1 | cut -c1-200; true").strip()
        details.append(f"{restart.unit} restarted by systemd {restart.ago_s:.0f} s ago "
                       f"({restart.count} restart{'s' if restart.count != 1 else ''} since it was started"
                       f"{'; ' + why if why else ''})")
    return Check(host, TITLE.format(window=window_s), not recent,
                 "; ".join(details) + (" (journalctl -u <unit> says why)" if details else ""))
