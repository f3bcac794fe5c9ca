"""``kubectl logs`` of a mirror pod: the journal of the systemd unit it stands for.

kprov's control plane and add-ons run as systemd units, shown in kube-system as mirror pods
(record 0041). Their output goes to journald, not to CRI log files, so the kubelet answers
``/containerLogs`` for those pods by running ``journalctl`` for the unit on its own host, as
kubeadm users read ``kubectl logs -n kube-system kube-apiserver-<node>``:

- :func:`journal_args` is the command for a request's options: the entries the unit's own
  processes wrote (``_SYSTEMD_UNIT=``, not ``--unit``, which adds systemd's "Started ..."
  lines a container's log would not have); ``tailLines`` as ``-n``,
  ``sinceSeconds``/``sinceTime`` as ``--since @<epoch>``, ``follow`` as ``-f``. Entries come
  as JSON (``-o json``), so a message's bytes and its time are read exactly, whatever the
  host's locale and time zone.
- :func:`parse_entry` turns one entry into the CRI log record the CRI-file path renders, with
  the entry's wall time in RFC 3339 with nanoseconds as the ``timestamps`` option shows it.
  Binary messages (journald gives them as a list of byte values) keep their bytes.
"""

from __future__ import annotations

import datetime as dt
import json

from kprov.cluster.kubelet.streaming.logs import LogRecord

__all__ = ["journal_args", "parse_entry"]


def journal_args(unit: str, tail: int | None, start: dt.datetime | None, follow: bool,
                 journalctl: str = "journalctl") -> list[str]:
    args = [journalctl, f"_SYSTEMD_UNIT={unit}", "--output", "json", "--output-fields", "MESSAGE",
            "--no-pager", "--quiet"]
    if tail is not None and tail >= 0:
        args += ["--lines", str(tail)]
    if start is not None:
        args += ["--since", f"@{start.timestamp():.6f}"]
    if follow:
        args.append("--follow")
    return args


def _stamp(realtime_usec: str) -> str:
    seconds, micros = divmod(int(realtime_usec), 1_000_000)
    moment = dt.datetime.fromtimestamp(seconds, dt.UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{micros:06d}000Z"


def parse_entry(line: bytes) -> LogRecord | None:
    """One ``journalctl -o json`` line as a log record; None for what is not an entry."""
    try:
        entry = json.loads(line)
        stamp = _stamp(entry["__REALTIME_TIMESTAMP"])
    except (ValueError, KeyError, TypeError):
        return None
    message = entry.get("MESSAGE")
    if isinstance(message, list):
        text = bytes(b for b in message if isinstance(b, int) and 0 <= b < 256)
    elif isinstance(message, str):
        text = message.encode()
    else:
        text = b""  # journald leaves out a message over its field limit
    return LogRecord(stamp, "stdout", False, text)
