"""The ``timeout`` query parameter: read as Go's ``time.ParseDuration``, refused when malformed.

kube-apiserver's request-deadline filter parses ``?timeout=`` on every request that is not
long-running (not a watch, a proxy, nor an exec, attach, log or portforward subresource) and
answers a malformed one with 400 BadRequest ``invalid timeout specified in the request URL -
<Go's parse error>`` before anything else. :func:`check_timeout` is that refusal; the
duration itself bounds nothing here (requests are not cancelled by a deadline).
"""

from __future__ import annotations

import json
import re

from kprov.cluster.apiserver.request.requestinfo import RequestInfo
from kprov.cluster.apiserver.request.status import bad_request

__all__ = ["check_timeout", "parse_go_duration"]

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_TERM = re.compile(r"(\d*\.?\d*)([^\d.]*)")
_LONG_RUNNING_VERBS = frozenset({"watch", "proxy"})
_LONG_RUNNING_SUBRESOURCES = frozenset({"attach", "exec", "proxy", "log", "portforward"})


def parse_go_duration(text: str) -> float:
    """Seconds, or ValueError with Go's message (``time: invalid duration "x"``...)."""
    quoted = json.dumps(text, ensure_ascii=False)
    body = text[1:] if text[:1] in "+-" else text
    if body == "0":
        return 0.0
    if not body:
        raise ValueError(f"time: invalid duration {quoted}")
    total, position = 0.0, 0
    while position < len(body):
        match = _TERM.match(body, position)
        number, unit = (match.group(1), match.group(2)) if match else ("", "")
        if number in ("", "."):
            raise ValueError(f"time: invalid duration {quoted}")
        if not unit:
            raise ValueError(f"time: missing unit in duration {quoted}")
        if unit not in _UNITS:
            named = json.dumps(unit, ensure_ascii=False)
            raise ValueError(f"time: unknown unit {named} in duration {quoted}")
        total += float(number) * _UNITS[unit]
        position = match.end() if match else len(body)
    return -total if text.startswith("-") else total


def check_timeout(timeout: str | None, ri: RequestInfo | None) -> None:
    """Raise kube-apiserver's 400 for a malformed ``timeout`` on a request that is not long-running."""
    if not timeout:
        return
    if ri is not None and (ri.verb in _LONG_RUNNING_VERBS or ri.subresource in _LONG_RUNNING_SUBRESOURCES):
        return
    try:
        parse_go_duration(timeout)
    except ValueError as exc:
        raise bad_request(f"invalid timeout specified in the request URL - {exc}") from None
