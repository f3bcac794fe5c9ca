"""Time a request spends waiting on others rather than being served: in priority and
fairness's queue and in admission webhooks, as upstream's ``request.LatencyTrackers``.

Kubernetes' API call latency SLI (``apiserver_request_sli_duration_seconds``, what
clusterloader2 judges the SLO by) is the request's duration less this time: a queue wait is
the server protecting itself, a webhook is the user's own code. The waits add their seconds
to a context variable of the request's task; the front reads it before and after the request
(two reads; nothing is written unless a request actually waited), so requests that share a
context do not see each other's waits.

    before = waited_outside()
    ... await answer ...        # count_outside(seconds) wherever the request waited
    sli = duration - (waited_outside() - before)
"""

from __future__ import annotations

from contextvars import ContextVar

__all__ = ["count_outside", "waited_outside"]

_OUTSIDE: ContextVar[float] = ContextVar("kprov_request_waited_outside", default=0.0)


def count_outside(seconds: float) -> None:
    """``seconds`` this request waited in a queue or a webhook."""
    if seconds > 0.0:
        _OUTSIDE.set(_OUTSIDE.get() + seconds)


def waited_outside() -> float:
    """Seconds counted so far in this context (compare two reads)."""
    return _OUTSIDE.get()
