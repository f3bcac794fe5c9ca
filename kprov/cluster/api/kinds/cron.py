"""Cron schedules as CronJobs use them: validation and the times they name, by croniter.

Design: croniter (a maintained library) does the cron arithmetic; this module only narrows
it to what upstream's CronJob accepts (robfig/cron's standard parser): five fields or one of
the ``@yearly``/``@annually``/``@monthly``/``@weekly``/``@daily``/``@midnight``/``@hourly``
macros, no ``TZ=``/``CRON_TZ=`` prefix (``spec.timeZone`` says the zone), and gives the
times in a zone: the next one after a moment, and the latest one in a window.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

__all__ = ["latest_in", "next_after", "schedule_error", "zone", "zone_error"]

_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_EPSILON = dt.timedelta(microseconds=1)


def _expand(schedule: str) -> str:
    text = schedule.strip()
    return _MACROS.get(text.lower(), text)


def schedule_error(schedule: str) -> str | None:
    """Why ``schedule`` is not a CronJob schedule, or None when it is."""
    text = schedule.strip()
    if text.startswith(("TZ=", "CRON_TZ=")):
        return "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"
    if text.startswith("@") and text.lower() not in _MACROS:
        return f"unrecognized descriptor: {text}"
    fields = _expand(text).split()
    if len(fields) != 5:
        return f"expected exactly 5 fields, found {len(fields)}: {text}"
    if not croniter.is_valid(" ".join(fields)):
        return f"invalid schedule: {text}"
    return None


def zone_error(name: str) -> str | None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {name}"
    return None


def zone(name: str | None) -> dt.tzinfo:
    """``spec.timeZone``'s zone, or this process's local zone when unset (as upstream)."""
    if name:
        return ZoneInfo(name)
    local = dt.datetime.now().astimezone().tzinfo
    return local if local is not None else dt.UTC


def next_after(schedule: str, moment: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """The first scheduled time strictly after ``moment``."""
    found: dt.datetime = croniter(_expand(schedule), moment.astimezone(tz)).get_next(dt.datetime)
    return found


def latest_in(
    schedule: str, earliest: dt.datetime, now: dt.datetime, tz: dt.tzinfo, cap: int = 100
) -> tuple[dt.datetime | None, int]:
    """The latest scheduled time t with earliest < t <= now, and how many there are (up to
    ``cap`` + 1: more than ``cap`` is what upstream warns about)."""
    latest: dt.datetime = croniter(_expand(schedule), (now + _EPSILON).astimezone(tz)).get_prev(dt.datetime)
    if latest <= earliest:
        return None, 0
    count = 0
    walker = croniter(_expand(schedule), earliest.astimezone(tz))
    while count <= cap:
        moment: dt.datetime = walker.get_next(dt.datetime)
        if moment > now:
            break
        count += 1
    return latest, count
