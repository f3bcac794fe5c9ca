"""The ``/debug/api_priority_and_fairness/`` dumps: the controller's live state as text tables.

kube-apiserver serves three paths (unlisted, for whom may ``get`` them as non-resource URLs)
that print one row per priority level, per queue, and per request waiting or holding a
seat (with ``includeRequestDetails`` set to anything: who sent it and what it asked). Each
row's cells are joined by ``",\\t"`` and the lines aligned as Go's ``text/tabwriter`` does
with minimum width 8, padding 1 and spaces (:func:`tabulate`), so scripts that cut upstream's
dumps cut these. The levels come in name order (upstream: name order for the levels dump, map
order for the other two).

What kprov has no counterpart for is printed as its zero, never invented: a level never
quiesces (a changed or deleted level is replaced at once: ``IsQuiescing`` false); dispatch is
round-robin without virtual time (``NextDispatchR`` and ``TotalWorkSum`` ``0.00000000ss``);
every request is one seat with no extra latency (``InitialSeats`` 1, ``FinalSeats`` 0,
``AdditionalLatency`` ``0s``). A request that found a free seat never entered a queue, so it
is dumped as upstream dumps those of levels without queues (queue and index -1) and counts in
no queue's ``ExecutingRequests``; upstream deals every request of a queuing level a queue.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from kprov.cluster.apiserver.flowcontrol.controller import Controller
from kprov.cluster.apiserver.flowcontrol.queueing import LevelState, Ticket

__all__ = ["DUMP_PATHS", "dump", "tabulate"]

_PREFIX = "/debug/api_priority_and_fairness/"
DUMP_PATHS = frozenset(_PREFIX + name for name in ("dump_priority_levels", "dump_queues", "dump_requests"))

_LEVEL_COLUMNS = (
    "PriorityLevelName",
    "ActiveQueues",
    "IsIdle",
    "IsQuiescing",
    "WaitingRequests",
    "ExecutingRequests",
    "DispatchedRequests",
    "RejectedRequests",
    "TimedoutRequests",
    "CancelledRequests",
)
_QUEUE_COLUMNS = (
    "PriorityLevelName",
    "Index",
    "PendingRequests",
    "ExecutingRequests",
    "SeatsInUse",
    "NextDispatchR",
    "InitialSeatsSum",
    "MaxSeatsSum",
    "TotalWorkSum",
)
_REQUEST_COLUMNS = (
    "PriorityLevelName",
    "FlowSchemaName",
    "QueueIndex",
    "RequestIndexInQueue",
    "FlowDistingsher",  # (sic: upstream's header)
    "ArriveTime",
    "InitialSeats",
    "FinalSeats",
    "AdditionalLatency",
    "StartTime",
)
_DETAIL_COLUMNS = (
    "UserName",
    "Verb",
    "APIPath",
    "Namespace",
    "Name",
    "APIVersion",
    "Resource",
    "SubResource",
)
_NO_SEAT_SECONDS = "0.00000000ss"  # Go's SeatSeconds.String() of zero
_MIN_WIDTH, _PADDING = 8, 1


def dump(controller: Controller, path: str, include_request_details: bool) -> str | None:
    """The table ``path`` names (one of :data:`DUMP_PATHS`); None for any other path."""
    states = [controller.states[name] for name in sorted(controller.states)]
    if path == _PREFIX + "dump_priority_levels":
        return tabulate([_LEVEL_COLUMNS, *map(_level_row, states)])
    if path == _PREFIX + "dump_queues":
        return tabulate([_QUEUE_COLUMNS, *(row for state in states for row in _queue_rows(state))])
    if path == _PREFIX + "dump_requests":
        header = _REQUEST_COLUMNS + (_DETAIL_COLUMNS if include_request_details else ())
        rows = (row for state in states for row in _request_rows(state, include_request_details))
        return tabulate([header, *rows])
    return None


def tabulate(rows: Sequence[Sequence[str]]) -> str:
    """The rows as upstream writes them: cells joined by ``",\\t"`` through a tabwriter
    (every cell but a line's last padded with spaces to its column's widest cell plus one,
    at least 8 characters), each line ended by a newline."""
    widths: list[int] = []
    for row in rows:
        for column, cell in enumerate(row[:-1]):
            width = max(_MIN_WIDTH, len(cell) + 1 + _PADDING)  # (the cell is "value,")
            if column == len(widths):
                widths.append(width)
            elif width > widths[column]:
                widths[column] = width
    lines = []
    for row in rows:
        cells = [(cell + ",").ljust(widths[column]) for column, cell in enumerate(row[:-1])]
        lines.append("".join(cells) + (row[-1] if row else "") + "\n")
    return "".join(lines)


def _level_row(state: LevelState) -> tuple[str, ...]:
    rejected = state.rejected
    return (
        state.level.name,
        str(sum(1 for length in state.queue_lengths() if length)),
        _bool(not state.waiting and not state.executing),
        "false",  # (never quiescing: see the module's docstring)
        str(state.waiting),
        str(state.executing),
        str(state.dispatched),
        str(rejected.get("queue-full", 0) + rejected.get("concurrency-limit", 0)),
        str(rejected.get("time-out", 0)),
        str(state.cancelled),
    )


def _queue_rows(state: LevelState) -> list[tuple[str, ...]]:
    executing = [0] * len(state.queue_lengths())
    for ticket in state.seated:
        if 0 <= ticket.queue < len(executing):
            executing[ticket.queue] += 1
    return [
        (
            state.level.name,
            str(index),
            str(length),
            str(executing[index]),
            str(executing[index]),  # (one seat per request)
            _NO_SEAT_SECONDS,
            str(length),
            str(length),
            _NO_SEAT_SECONDS,
        )
        for index, length in enumerate(state.queue_lengths())
    ]


def _request_rows(state: LevelState, details: bool) -> list[tuple[str, ...]]:
    """Per queue its waiters (with their place) then its seated requests (place -1), then
    the requests seated without a queue (queue -1): upstream's order."""
    seated = list(state.seated)
    rows: list[tuple[str, ...]] = []
    for index, waiting in enumerate(state.waiting_tickets()):
        rows += (_request_row(state, t, index, place, details) for place, t in enumerate(waiting))
        rows += (_request_row(state, t, index, -1, details) for t in seated if t.queue == index)
    rows += (_request_row(state, t, -1, -1, details) for t in seated if t.queue < 0)
    return rows


def _request_row(state: LevelState, ticket: Ticket, queue: int, place: int, details: bool) -> tuple[str, ...]:
    row: tuple[str, ...] = (
        state.level.name,
        ticket.flow_schema,
        str(queue),
        str(place),
        ticket.distinguisher,
        _rfc3339_nano(ticket.arrived_ns),
        "1",
        "0",
        "0s",
        _rfc3339_nano(ticket.started_ns),
    )
    if not details:
        return row
    ri = ticket.ri
    if ri is None:  # a non-resource request: its verb and path only
        return row + (ticket.user, ticket.verb, ticket.path, "", "", "", "", "")
    version = f"{ri.group}/{ri.version}" if ri.group else ri.version
    return (
        row
        + (ticket.user, ri.verb, ticket.path, ri.namespace, ri.name, version, ri.resource)
        + (ri.subresource,)
    )


def _rfc3339_nano(ns: int) -> str:
    """Go's ``time.RFC3339Nano`` of a UTC time (trailing zeros of the fraction dropped); 0 is
    Go's zero time, as upstream prints a waiting request's start."""
    if not ns:
        return "0001-01-01T00:00:00Z"
    seconds, fraction = divmod(ns, 1_000_000_000)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    digits = f"{fraction:09d}".rstrip("0")
    return f"{text}.{digits}Z" if digits else f"{text}Z"


def _bool(value: bool) -> str:
    return "true" if value else "false"
