"""The file module's ``modification_time``/``access_time`` options, as ansible.builtin.file has them.

Each option is ``preserve`` (leave the time as it is), ``now``, or a time written in its
``*_time_format`` (``%Y%m%d%H%M.%S`` by default) and read as the host's local time, as the
module's ``time.mktime`` reads it there. Unset, it is ``now`` for ``state: touch`` and
``preserve`` for every other state, so ``touch`` reports changed at every run unless both
times are ``preserve`` (or given).

Deciding needs the host: the probe (:func:`times_probe`, appended to the module's one
probe) prints the path's times with their nanoseconds and what each given time is in epoch
seconds there (``date -d``); :func:`time_commands` compares as ansible-core does (a given
time equals the current one exactly, else it is set; ``now`` always sets) and returns the
``touch`` commands. With ``recurse``, every entry under a directory is judged and set the
same way (symbolic links are left alone).
"""

from __future__ import annotations

import shlex
import time
from dataclasses import dataclass
from typing import Any

from kprov.provision.modules.base import ModuleFailed

__all__ = ["FileTimes", "ProbedTimes", "parse_times", "requested_times", "time_commands", "times_probe"]

NOW = "now"
_LOCAL = "%Y-%m-%d %H:%M:%S"  # a given time as date(1)/touch(1) read it: the host's local time


@dataclass(frozen=True)
class FileTimes:
    """What a task asks of a path's times: None (preserve), ``now``, or a local time text."""

    mtime: str | None
    atime: str | None

    @property
    def untouched(self) -> bool:
        return self.mtime is None and self.atime is None

    @property
    def given(self) -> dict[str, str]:
        """The explicit times, by touch(1)'s flag letter (m, a)."""
        return {flag: value for flag, value in (("m", self.mtime), ("a", self.atime))
                if value is not None and value != NOW}


@dataclass(frozen=True)
class ProbedTimes:
    """The path's times (epoch seconds with their fraction), the given times in epoch seconds
    on the host, and whether an entry under a recursed directory is off."""

    mtime: float | None = None
    atime: float | None = None
    wanted: dict[str, float] | None = None
    tree_off: bool = False


def _option(value: Any, time_format: str, default: str | None) -> str | None:
    if value is None:
        return default
    text = str(value)
    if text == "preserve":
        return None
    if text == NOW:
        return NOW
    try:
        parsed = time.strptime(text, time_format)
    except (ValueError, OverflowError) as err:
        raise ModuleFailed(f"Error while obtaining timestamp for time {text} using format {time_format}: "
                           f"{err}") from None
    return time.strftime(_LOCAL, parsed)


def requested_times(params: dict[str, Any], state: str) -> FileTimes:
    """The times asked for: ``touch`` defaults to now, every other state to preserve."""
    default = NOW if state == "touch" else None
    return FileTimes(
        mtime=_option(params.get("modification_time"), str(params.get("modification_time_format")), default),
        atime=_option(params.get("access_time"), str(params.get("access_time_format")), default),
    )


def _off_tests(times: FileTimes) -> str:
    """find(1) tests true for an entry whose given time differs (given: $T_m / $T_a epochs)."""
    tests = []
    for flag in times.given:
        tests += [f"-newer{flag}t @$T_{flag}", f"! -newer{flag}t @$((T_{flag} - 1)).999999999"]
    return " -o ".join(tests)


def times_probe(path: str, times: FileTimes, *, recurse: bool) -> str:
    """Shell printing ``TIMES:<mtime>|<atime>`` and ``WANT_<m|a>:<epoch>`` lines for ``path``
    (and ``TOFF:`` when recursing and an entry under it is off); nothing when the times are
    all preserved or all ``now`` (those need no look)."""
    if not times.given:
        return ""
    p = shlex.quote(path)
    lines = [f"T_{flag}=$(date -d {shlex.quote(value)} +%s) && printf 'WANT_{flag}:%s\\n' \"$T_{flag}\""
             for flag, value in times.given.items()]
    lines.append(f"if [ -e {p} ]; then printf 'TIMES:%s\\n' \"$(stat -L -c '%.9Y|%.9X' -- {p})\"")
    if recurse:
        lines.append(f"find {p} -mindepth 1 ! -type l \\( {_off_tests(times)} \\) -printf 'TOFF:%p\\n' -quit")
    lines.append("fi")
    return "; ".join(lines[:-1]) + "; " + lines[-1]


def parse_times(stdout: str) -> ProbedTimes:
    mtime = atime = None
    wanted: dict[str, float] = {}
    for line in stdout.splitlines():
        key, sep, value = line.partition(":")
        if sep and key == "TIMES":
            m_text, _, a_text = value.partition("|")
            mtime, atime = float(m_text), float(a_text)
        elif sep and key in ("WANT_m", "WANT_a"):
            wanted[key[-1]] = float(value)
    return ProbedTimes(mtime=mtime, atime=atime, wanted=wanted, tree_off="TOFF:" in stdout)


def _touch(flags: str, value: str | None, target: str) -> str:
    when = f"-d {shlex.quote(value)} " if value is not None else ""
    return f"touch -c {flags}{when}-- {target}"


def time_commands(path: str, times: FileTimes, probed: ProbedTimes, *, existed: bool,
                  recurse: bool) -> list[str]:
    """The touch commands that give ``path`` (and, recursing, the entries under it) the times
    asked for; none when they are there. ``existed``: the path was there when probed (one just
    made has the creation time: a given time is set on it)."""
    if times.untouched:
        return []
    p = shlex.quote(path)
    current = {"m": probed.mtime, "a": probed.atime}
    wanted = probed.wanted or {}
    setting: dict[str, str | None] = {}  # flag -> given local time, None for now
    for flag, value in (("m", times.mtime), ("a", times.atime)):
        if value == NOW:
            setting[flag] = None
        elif value is not None and (not existed or current[flag] != wanted.get(flag)):
            setting[flag] = value
    commands = []
    if setting == {"m": None, "a": None}:
        commands.append(_touch("", None, p))  # both now: one call, as utime(path, None)
    else:
        commands += [_touch(f"-{flag} ", value, p) for flag, value in setting.items()]
    if recurse and (probed.tree_off or NOW in (times.mtime, times.atime)):
        for flag, value in (("m", times.mtime), ("a", times.atime)):
            if value is not None:
                when = f"-d {shlex.quote(value)} " if value != NOW else ""
                commands.append(f"find {p} -mindepth 1 ! -type l -exec touch -c -{flag} {when}-- {{}} +")
    return commands
