"""Clocks against certificates: say which clock is behind, by how much, and what to do.

Every certificate kprov issues is backdated 5 minutes (``BACKDATE_S``, as kubeadm's), so a
clock that differs from the issuing machine's by less than that never matters. Beyond it, a
TLS peer rejects certificates "not yet valid", and components fail in ways that look like
network errors. Three views, each one row or one detail of a row:

- :func:`host_clock_check`: a host's clock read over SSH (``date +%s.%N``) against this
  machine's, corrected for the round trip (the midpoint of the call), failing above the
  backdating;
- :func:`not_yet_valid_detail`: the words for a certificate whose start is after a clock's
  "now", with both times and the gap;
- :func:`served_window_detail`: an endpoint that refused TLS is asked for its certificate
  without verification, and its validity window is compared with this machine's clock.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from cryptography import x509

from kprov.deploy.verify.report import Check

__all__ = [
    "BACKDATE_S",
    "host_clock_check",
    "not_yet_valid_detail",
    "parse_epoch",
    "served_window_detail",
]

BACKDATE_S = 300.0  # kprov/pki/keypair.py backdates every certificate by 5 minutes
CLOCK_COMMAND = "date -u +%s.%N"
_FIX = ("set the clock right (NTP: `timedatectl set-ntp true`, chrony) and wait for it to step; "
        "re-issuing certificates (kprov pki rotate) only helps if they were issued by a wrong clock")


def _fmt(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _span(seconds: float) -> str:
    seconds = abs(seconds)
    hours, rest = divmod(int(round(seconds)), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def not_yet_valid_detail(start: dt.datetime, now: dt.datetime, clock: str) -> str:
    """``clock`` (e.g. "this machine's clock", "h1's clock") reads ``now``, before ``start``."""
    return (f"{clock} reads {_fmt(now)}, {_span((start - now).total_seconds())} before the certificate's "
            f"start {_fmt(start)}: the clock is behind (or the certificate was issued by a clock that was "
            f"ahead); {_FIX}")


def served_window_detail(address: str, port: int, now: dt.datetime,
                         fetch: Callable[[str, int], x509.Certificate]) -> str | None:
    """Why ``address:port``'s certificate is refused by this machine's clock, if it is: the
    certificate's start after ``now`` or its end before. None when the window holds ``now``
    or the endpoint cannot be asked."""
    try:
        cert = fetch(address, port)
    except Exception:  # noqa: BLE001 - only a hint: the caller already has the error itself
        return None
    if cert.not_valid_before_utc > now:
        return f"{address}:{port} serves a certificate not yet valid: " + not_yet_valid_detail(
            cert.not_valid_before_utc, now, "this machine's clock")
    if cert.not_valid_after_utc < now:
        return (f"{address}:{port} serves a certificate that expired {_fmt(cert.not_valid_after_utc)}; "
                f"this machine's clock reads {_fmt(now)}: renew (kprov pki rotate, then kprov apply)")
    return None


def parse_epoch(text: str) -> float:
    """The seconds since the epoch ``date +%s.%N`` printed."""
    return float(text.strip().splitlines()[-1])


def host_clock_check(name: str, read_remote: Callable[[], str],
                     local_time: Callable[[], float] = time.time,
                     limit_s: float = BACKDATE_S) -> Check:
    """``name``'s clock against this machine's; fails when they differ by more than ``limit_s``."""
    title = "clock agrees with this machine's"
    before = local_time()
    try:
        remote = parse_epoch(read_remote())
    except (ValueError, IndexError) as exc:
        return Check(name, title, False, f"could not read the host's clock: {exc}")
    after = local_time()
    skew = remote - (before + after) / 2
    host_now = dt.datetime.fromtimestamp(remote, dt.UTC)
    here_now = dt.datetime.fromtimestamp(after, dt.UTC)
    side = "ahead of" if skew > 0 else "behind"
    detail = (f"{name}'s clock is {_span(skew)} {side} this machine's "
              f"({_fmt(host_now)} there, {_fmt(here_now)} here)")
    if abs(skew) <= limit_s:
        return Check(name, title, True, detail)
    behind = "this machine" if skew > 0 else name
    return Check(name, title, False,
                 f"{detail}: more than the certificates' {int(limit_s // 60)}-minute backdating, so "
                 f"{behind} rejects freshly issued certificates as not yet valid; {_FIX}")
