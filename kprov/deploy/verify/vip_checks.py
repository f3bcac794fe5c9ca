"""The API VIP as the control-plane hosts hold it: one holder, and a holder that can serve.

With ``apiserver_vip`` keepalived keeps the address on exactly one control-plane host (VRRP
between them) while kprov-vipcheck says the host can serve it (its HAProxy accepts on the
VIP's port and it reaches a majority of the control-plane hosts). Nothing else in verify sees
what goes wrong there: a request through the VIP still answers when the address moved to
another host, and a host whose keepalived died keeps the address it held while a peer takes it
too (two holders: the clients' ARP caches decide who answers). One command per control-plane
host (whether it holds the address, the checker's two verdicts), run by that host's own checks
on the SSH connection they already hold (:mod:`host_checks`); ``vip_rows`` judges the states
once every host's checks are in. Both ``parse_vip_state`` and ``vip_rows`` are pure so tests
can feed them text and states.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kprov.deploy.verify.report import Check

__all__ = ["READY_FILE", "SERVE_FILE", "VipState", "host_vip_state", "parse_vip_state", "vip_rows",
           "vip_state_command"]

SERVE_FILE = "/run/kprov-vip-serve"  # roles/keepalived/defaults: keepalived_serve_file
READY_FILE = "/run/kprov-vip-ready"  # keepalived_ready_file


@dataclass(frozen=True)
class VipState:
    """One control-plane host: does it hold the address, and the checker's verdicts ("0" is yes)."""

    holds: bool
    can_serve: str
    api_ready: str


def vip_state_command(vip: str, serve_file: str = SERVE_FILE, ready_file: str = READY_FILE) -> str:
    pattern = shlex.quote(f" {vip}/")
    return (f"if ip -o addr show | grep -qF -- {pattern}; then echo holds; else echo free; fi; "
            f"cat {shlex.quote(serve_file)} 2>/dev/null || echo missing; "
            f"cat {shlex.quote(ready_file)} 2>/dev/null || echo missing")


def parse_vip_state(text: str) -> VipState | None:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) < 3 or lines[0] not in ("holds", "free"):
        return None
    return VipState(lines[0] == "holds", lines[1], lines[2])


def _verdict(value: str, yes: str, no: str) -> str:
    if value == "0":
        return yes
    return "kprov-vipcheck has written no verdict (is it running?)" if value == "missing" else no


def vip_rows(vip: str, states: Mapping[str, VipState | None]) -> list[Check]:
    """The rows from every control-plane host's state (None: the host did not answer, or its
    answer was not a state)."""
    holders = [h for h, s in states.items() if s is not None and s.holds]
    silent = [h for h, s in states.items() if s is None]
    unknown = f"; no answer from {', '.join(silent)}" if silent else ""
    title = f"API VIP {vip} held by one control-plane host"
    if len(holders) == 1:
        rows = [Check("cluster", title, True, f"held by {holders[0]}{unknown}")]
    elif not holders:
        rows = [Check("cluster", title, False,
                      f"no control-plane host holds it{unknown}: keepalived holds it only on a host whose "
                      "kprov-vipcheck says it can serve (systemctl status keepalived kprov-vipcheck; "
                      "journalctl -u keepalived)")]
    else:
        rows = [Check("cluster", title, False,
                      f"held by {' and '.join(holders)} at once{unknown}: their VRRP adverts do not reach "
                      "each other or a keepalived stopped without releasing it; a client reaches whichever "
                      "its ARP cache names (check keepalived on each and the network between them)")]
    for holder in holders:
        state = states[holder]
        assert state is not None
        serve = _verdict(state.can_serve, "", "kprov-vipcheck says it cannot serve the VIP (its HAProxy "
                         "does not accept on the VIP's port, or it reaches no majority of the control-plane "
                         "hosts)")
        ready = _verdict(state.api_ready, "", "no API server is ready through its HAProxy")
        problems = "; ".join(p for p in (serve, ready) if p)
        rows.append(Check(holder, "API VIP holder can serve it", not problems,
                          problems or "HAProxy accepts on the VIP's port, an API server behind it is ready"))
    return rows


def host_vip_state(vip: str, host_vars: Mapping[str, Any], run: Callable[[str], str]) -> VipState | None:
    """One control-plane host's state through ``run(command) -> stdout`` on the connection its
    host checks hold; None when the command fails or its output is not the state."""
    command = vip_state_command(vip, str(host_vars.get("keepalived_serve_file", SERVE_FILE)),
                                str(host_vars.get("keepalived_ready_file", READY_FILE)))
    try:
        out = run(command)
    except Exception:  # noqa: BLE001 - a host that stopped answering is named in the row, not a crash
        return None
    return parse_vip_state(out)
