"""What a run produces: one TaskResult per task per host, per-host counters, the run report.

Statuses are Ansible's: ok, changed, failed, skipped, unreachable (plus ``ignored`` failures
and ``rescued`` blocks, counted apart as in Ansible's recap). The report is plain data and
serialises to JSON for ``--json``.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal, Protocol

from kprov.provision.errors import error_location

__all__ = ["HostStats", "NullObserver", "RunObserver", "RunReport", "Status", "TaskResult",
           "failed_run_document"]

Status = Literal["ok", "changed", "failed", "skipped", "unreachable"]


@dataclass
class TaskResult:
    host: str
    task: str
    action: str
    status: Status
    msg: str = ""
    diff: list[dict[str, Any]] = field(default_factory=list)
    ignored: bool = False
    duration_s: float = 0.0
    origin: str = ""
    play: str = ""
    result: dict[str, Any] = field(default_factory=dict)
    why: list[str] = field(default_factory=list)  # a handler: the changes that notified it
    handler: bool = False  # a handler's result (Ansible's console: RUNNING HANDLER)


_RESULT_FIELDS = fields(TaskResult)


@dataclass
class HostStats:
    ok: int = 0
    changed: int = 0
    unreachable: int = 0
    failed: int = 0
    skipped: int = 0
    rescued: int = 0
    ignored: int = 0

    def count(self, result: TaskResult) -> None:
        if result.status == "changed":
            self.changed += 1
            self.ok += 1
        elif result.status == "ok":
            self.ok += 1
        elif result.status == "skipped":
            self.skipped += 1
        elif result.status == "unreachable" and result.ignored:  # ignore_unreachable, as Ansible counts it
            self.ok += 1
            self.ignored += 1
        elif result.status == "unreachable":
            self.unreachable += 1
        elif result.ignored:  # ignore_errors: ok and ignored, and changed if it changed (as Ansible)
            self.ok += 1
            self.ignored += 1
            self.changed += bool(result.result.get("changed"))
        else:
            self.failed += 1


class RunObserver(Protocol):
    """Live progress hooks (called from host threads; implementations must be thread-safe)."""

    def phase(self, title: str) -> None: ...
    def play(self, name: str, hosts: list[str]) -> None: ...
    def task_start(self, host: str, task: str) -> None: ...
    def task_done(self, result: TaskResult) -> None: ...
    def playbook(self, path: str, plays: int) -> None: ...


class NullObserver:
    def phase(self, title: str) -> None:
        return None

    def play(self, name: str, hosts: list[str]) -> None:
        return None

    def task_start(self, host: str, task: str) -> None:
        return None

    def task_done(self, result: TaskResult) -> None:
        return None

    def playbook(self, path: str, plays: int) -> None:
        return None


@dataclass
class RunReport:
    hosts: list[str] = field(default_factory=list)
    stats: dict[str, HostStats] = field(default_factory=dict)
    results: list[TaskResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # run-level problems (not tied to a task)
    log_path: str = ""
    duration_s: float = 0.0
    interrupted: str = ""  # the signal that interrupted the run (execute.interrupt), else ""
    raised: bool = False  # ended on an error ansible-core raises out of the run (no PLAY RECAP)
    # (failed, unreachable) counts ``meta: clear_host_errors`` forgave per host: still in the
    # recap, but the run's outcome is the hosts' (ansible-core's exit code reads its failed and
    # unreachable hosts, which the meta clears, not the stats)
    forgiven: dict[str, tuple[int, int]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add_host(self, host: str) -> None:
        with self._lock:
            if host not in self.stats:
                self.hosts.append(host)
                self.stats[host] = HostStats()

    def record(self, result: TaskResult) -> None:
        with self._lock:
            self.results.append(result)
            self.stats.setdefault(result.host, HostStats()).count(result)

    def rescued(self, host: str) -> None:
        with self._lock:
            stats = self.stats[host]
            stats.rescued += 1
            stats.failed = max(0, stats.failed - 1)

    def forgive(self, host: str) -> None:
        """``clear_host_errors``: the host's failures so far no longer fail the run."""
        with self._lock:
            stats = self.stats.get(host, HostStats())
            self.forgiven[host] = (stats.failed, stats.unreachable)

    @property
    def ok(self) -> bool:
        if self.errors or self.interrupted:
            return False
        for host, stats in self.stats.items():
            failed, unreachable = self.forgiven.get(host, (0, 0))
            if stats.failed > failed or stats.unreachable > unreachable:
                return False
        return True

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "interrupted": self.interrupted,
            "duration_s": round(self.duration_s, 3),
            "log": self.log_path,
            "errors": list(self.errors),
            "stats": {h: asdict(s) for h, s in self.stats.items()},
            # shallow: a result's data is never changed once recorded, and deep-copying every
            # systemctl status just to serialise it cost a no-op apply tenths of a second
            "results": [{f.name: getattr(r, f.name) for f in _RESULT_FIELDS} for r in self.results],
        }


def failed_run_document(err: BaseException, message: str) -> dict[str, Any]:
    """The ``--json`` document of a run that stopped before its report (a playbook or an
    inventory that does not load): the report's keys, ``ok: false``, and ``error`` with the
    message (already redacted by the caller) and the file and line it points at."""
    doc = RunReport().to_dict()
    doc["ok"] = False
    doc["errors"] = [message]
    doc["error"] = {"msg": message, "type": type(err).__name__, **error_location(err)}
    return doc
