"""The shapes of host checks, as small pure functions over :class:`HostEvidence`.

Each helper returns the check a :class:`Control` carries: file permissions and owners,
command-line flags of kprov's units (``--name=value`` and ``--name value`` both read), the
etcd environment file, anonymous HTTP probes, and listening sockets. A unit or file a check
needs that is not on the host fails the check with the path named, except where the
benchmark allows absence (``missing_ok``).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable

from kprov.deploy.verify.cis.model import Finding, HostEvidence, Status

__all__ = [
    "HostCheck",
    "env_equals",
    "env_not_true",
    "env_set",
    "file_mode",
    "file_owner",
    "flag_absent",
    "flag_equals",
    "flag_excludes",
    "flag_min",
    "flag_set",
    "flag_values",
    "http_refused",
    "listens_local_only",
    "port_closed",
]

HostCheck = Callable[[HostEvidence], Finding]
PASS, FAIL, WARN = Status.PASS, Status.FAIL, Status.WARN


def _matching(ev: HostEvidence, pattern: str) -> list[str]:
    if any(c in pattern for c in "*?["):
        return sorted(p for p in ev.files if fnmatch.fnmatch(p, pattern))
    return [pattern] if pattern in ev.files else []


def file_mode(pattern: str, most: int, missing_ok: bool = False) -> HostCheck:
    """Every file matching ``pattern`` grants no permission beyond ``most`` (e.g. 0o600)."""

    def check(ev: HostEvidence) -> Finding:
        paths = _matching(ev, pattern)
        if not paths:
            return Finding(PASS if missing_ok else FAIL, f"{pattern}: not present")
        loose = [f"{p} {ev.files[p].mode:o}" for p in paths if ev.files[p].mode & ~most]
        if loose:
            return Finding(FAIL, f"mode wider than {most:o}: " + ", ".join(loose))
        return Finding(
            PASS,
            ", ".join(f"{p} {ev.files[p].mode:o}" for p in paths[:4])
            + (f" (+{len(paths) - 4})" if len(paths) > 4 else ""),
        )

    return check


def file_owner(pattern: str, owner: str = "root:root", missing_ok: bool = False) -> HostCheck:
    def check(ev: HostEvidence) -> Finding:
        paths = _matching(ev, pattern)
        if not paths:
            return Finding(PASS if missing_ok else FAIL, f"{pattern}: not present")
        wrong = [f"{p} {ev.files[p].owner}" for p in paths if ev.files[p].owner != owner]
        if wrong:
            return Finding(FAIL, f"not owned by {owner}: " + ", ".join(wrong))
        return Finding(
            PASS, f"{len(paths)} file(s) owned by {owner}" if len(paths) > 1 else f"{paths[0]} {owner}"
        )

    return check


def flag_values(argv: list[str], name: str) -> list[str]:
    """Every value ``--name`` has on a command line (``--name=v`` or ``--name v``)."""
    values = []
    for i, word in enumerate(argv):
        if word.startswith(name + "="):
            values.append(word[len(name) + 1 :])
        elif word == name:
            values.append(argv[i + 1] if i + 1 < len(argv) and not argv[i + 1].startswith("--") else "true")
    return values


def _with_unit(unit: str, judge: Callable[[list[str]], Finding]) -> HostCheck:
    def check(ev: HostEvidence) -> Finding:
        argv = ev.argv.get(unit)
        if argv is None:
            return Finding(FAIL, f"{unit}: unit not found on the host")
        return judge(argv)

    return check


def flag_set(unit: str, *names: str) -> HostCheck:
    def judge(argv: list[str]) -> Finding:
        missing = [n for n in names if not any(flag_values(argv, n))]
        if missing:
            return Finding(FAIL, f"{unit}: {', '.join(missing)} not set")
        return Finding(PASS, "; ".join(f"{n}={flag_values(argv, n)[-1]}" for n in names))

    return _with_unit(unit, judge)


def flag_equals(unit: str, name: str, value: str) -> HostCheck:
    """``--name`` is set, and its last value is ``value``."""

    def judge(argv: list[str]) -> Finding:
        values = flag_values(argv, name)
        if not values:
            return Finding(FAIL, f"{unit}: {name} not set")
        if values[-1] != value:
            return Finding(FAIL, f"{unit}: {name}={values[-1]}")
        return Finding(PASS, f"{unit}: {name}={value}")

    return _with_unit(unit, judge)


def flag_absent(unit: str, name: str) -> HostCheck:
    def judge(argv: list[str]) -> Finding:
        values = flag_values(argv, name)
        return (
            Finding(FAIL, f"{unit}: {name}={values[-1]}")
            if values
            else Finding(PASS, f"{unit}: {name} not set")
        )

    return _with_unit(unit, judge)


def flag_excludes(unit: str, name: str, item: str, *, must_be_set: bool = False) -> HostCheck:
    """``--name``'s comma-separated list does not hold ``item``."""

    def judge(argv: list[str]) -> Finding:
        values = flag_values(argv, name)
        if not values:
            return Finding(FAIL if must_be_set else PASS, f"{unit}: {name} not set")
        items = {i.strip() for v in values for i in v.split(",")}
        if item in items:
            return Finding(FAIL, f"{unit}: {name} holds {item}")
        return Finding(PASS, f"{unit}: {name}={values[-1]}")

    return _with_unit(unit, judge)


def flag_min(unit: str, name: str, least: int) -> HostCheck:
    def judge(argv: list[str]) -> Finding:
        values = flag_values(argv, name)
        if not values:
            return Finding(FAIL, f"{unit}: {name} not set")
        try:
            number = int(values[-1])
        except ValueError:
            return Finding(FAIL, f"{unit}: {name}={values[-1]} is not a number")
        return Finding(PASS if number >= least else FAIL, f"{unit}: {name}={number} (at least {least})")

    return _with_unit(unit, judge)


def _env(ev: HostEvidence, path: str) -> dict[str, str] | None:
    return ev.env.get(path)


def env_set(path: str, *keys: str) -> HostCheck:
    def check(ev: HostEvidence) -> Finding:
        env = _env(ev, path)
        if env is None:
            return Finding(FAIL, f"{path}: not present")
        missing = [k for k in keys if not env.get(k)]
        if missing:
            return Finding(FAIL, f"{path}: {', '.join(missing)} not set")
        return Finding(PASS, "; ".join(f"{k}={env[k]}" for k in keys))

    return check


def env_equals(path: str, key: str, value: str) -> HostCheck:
    def check(ev: HostEvidence) -> Finding:
        env = _env(ev, path)
        if env is None:
            return Finding(FAIL, f"{path}: not present")
        got = env.get(key, "")
        return Finding(PASS if got.lower() == value else FAIL, f"{path}: {key}={got or '(not set)'}")

    return check


def env_not_true(path: str, key: str) -> HostCheck:
    def check(ev: HostEvidence) -> Finding:
        env = _env(ev, path)
        if env is None:
            return Finding(FAIL, f"{path}: not present")
        got = env.get(key, "")
        return Finding(FAIL if got.lower() == "true" else PASS, f"{path}: {key}={got or '(not set)'}")

    return check


def http_refused(probe: str, what: str) -> HostCheck:
    """An anonymous request (no client certificate, no token) is refused with 401 or 403."""

    def check(ev: HostEvidence) -> Finding:
        code = ev.http.get(probe)
        if code is None or code == 0:
            return Finding(WARN, f"{what}: not reachable from the host (could not check)")
        if code in (401, 403):
            return Finding(PASS, f"anonymous request to {what}: HTTP {code}")
        return Finding(FAIL, f"anonymous request to {what}: HTTP {code} (expected 401 or 403)")

    return check


def port_closed(port: int) -> HostCheck:
    def check(ev: HostEvidence) -> Finding:
        holders = [ip for ip, p in ev.listening if p == port]
        if holders:
            return Finding(FAIL, f"port {port} is listening on {', '.join(sorted(set(holders)))}")
        return Finding(PASS, f"nothing listens on port {port}")

    return check


def listens_local_only(port: int, what: str) -> HostCheck:
    def check(ev: HostEvidence) -> Finding:
        holders = sorted({ip for ip, p in ev.listening if p == port})
        if not holders:
            return Finding(WARN, f"{what}: nothing listens on port {port}")
        wide = [ip for ip in holders if ip not in ("127.0.0.1", "::1")]
        if wide:
            return Finding(FAIL, f"{what} listens on {', '.join(wide)}:{port}")
        return Finding(PASS, f"{what} listens on {', '.join(holders)}:{port} only")

    return check
