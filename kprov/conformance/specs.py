"""Spec results from the suite's Ginkgo JSON report, and focus regexes that pick exact specs.

Ginkgo matches ``--ginkgo.focus`` against a spec's full text: its container texts and its
leaf text joined by spaces (after a suite-level prefix) — the string :func:`parse_json_report`
calls a spec's ``name``. A shard's focus is an anchored alternation of escaped names, so it
selects exactly those specs (Go's RE2 rejects Python's ``re.escape`` of a space, hence
:func:`go_regex_escape`).

Shards: dealt round-robin by default; given each spec's seconds from an earlier run
(:func:`spec_seconds` of its results, the report's ``spec-seconds.json``),
:func:`shard_by_seconds` gives the longest spec next to the least loaded shard, so one shard
holding a few slow specs does not finish long after the others (the run's wall time is its
slowest shard's).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["SpecResult", "focus_regex", "go_regex_escape", "parse_json_report", "read_spec_seconds", "shard",
           "shard_by_seconds", "spec_seconds"]

_SIG = re.compile(r"\[(sig-[\w-]+)\]")
_TAGS = re.compile(r"\s*\[[^\]]*\]")
_RE2_SPECIAL = set("\\.+*?()|[]{}^$")
DETAIL_LINES = 4


@dataclass(frozen=True)
class SpecResult:
    name: str  # the full text, e.g. "[sig-node] Pods should get a host IP [NodeConformance] [Conformance]"
    sig: str  # "sig-node"; "" when the text names none
    area: str  # the outermost container without its tags, e.g. "Pods"
    file: str  # the test's source file as the binary recorded it
    state: str  # passed, failed, skipped, pending, panicked, timedout, interrupted, aborted
    runtime_s: float = 0.0
    error: str = ""  # the failure's first non-empty line
    where: str = ""  # the failure's source line (file:line)
    detail: tuple[str, ...] = ()  # the rest of the message, then what the spec logged last
    # it ran and skipped itself (Ginkgo's Skip(): state skipped WITH a failure record whose
    # message is the reason, e.g. "Requires at least 2 nodes (not 1)"; error/where hold it);
    # a spec the focus left out is "skipped" too, but without that record
    self_skipped: bool = False

    @property
    def serial(self) -> bool:
        return "[Serial]" in self.name or "[Disruptive]" in self.name

    @property
    def passed(self) -> bool:
        return self.state == "passed"

    @property
    def ran(self) -> bool:
        """Reached by the run: passed, failed in some way, or skipped itself at run time."""
        return self.self_skipped or self.state not in ("skipped", "pending")


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines() if line.strip()]


def _detail(failure: dict[str, Any], captured: str, keep: int = DETAIL_LINES) -> tuple[str, ...]:
    """What a bare first line (``Timed out after 60.001s.``) does not say: the message's next
    lines, then the last lines the spec wrote before it failed."""
    rest = _lines(str(failure.get("Message", "")))[1 : 1 + keep]
    logged = _lines(captured)[-keep:]
    return (*rest, *(["(last logged)", *logged] if logged else []))


def _area(containers: list[str]) -> str:
    if not containers:
        return ""
    return _TAGS.sub("", containers[0]).strip()


def _spec(report: dict[str, Any]) -> SpecResult:
    containers = list(report.get("ContainerHierarchyTexts") or [])
    name = " ".join([*containers, report.get("LeafNodeText", "")]).strip()
    sig = _SIG.search(name)
    failure = report.get("Failure") or {}
    location = report.get("LeafNodeLocation") or {}
    at = failure.get("Location") or {}
    self_skipped = report.get("State") == "skipped" and bool(failure)
    return SpecResult(
        name=name,
        sig=sig.group(1) if sig else "",
        area=_area(containers),
        file=str(location.get("FileName", "")),
        state=str(report.get("State", "")),
        runtime_s=float(report.get("RunTime", 0)) / 1e9,  # Go durations are nanoseconds
        error=_first_line(str(failure.get("Message", ""))),
        where=f"{at['FileName']}:{at.get('LineNumber', 0)}" if at.get("FileName") else "",
        detail=_detail(failure, str(report.get("CapturedGinkgoWriterOutput", "")))
        if failure and not self_skipped else (),
        self_skipped=self_skipped,
    )


def parse_json_report(path: Path) -> list[SpecResult]:
    """The ``It`` specs of a ``--ginkgo.json-report`` file (suite nodes left out)."""
    suites = json.loads(path.read_text())
    return [
        _spec(report)
        for suite in suites
        for report in suite.get("SpecReports") or []
        if report.get("LeafNodeType") == "It"
    ]


def go_regex_escape(text: str) -> str:
    return "".join("\\" + ch if ch in _RE2_SPECIAL else ch for ch in text)


def focus_regex(names: list[str]) -> str:
    """A regex that matches exactly these full spec texts."""
    # Ginkgo's matched text has a prefix before the outermost container (a space-separated
    # suite-level part), so the start is anchored at a word boundary, not at ^; some specs'
    # texts end in a space the reported names do not keep (e.g. three Netpol specs of 1.28).
    return r"(?:^|\s)(?:" + "|".join(go_regex_escape(name) for name in names) + r")\s*$"


def shard(names: list[str], count: int) -> list[list[str]]:
    """Deal names round-robin into at most ``count`` non-empty shards (neighbours in the
    suite's order tend to be alike in cost, so dealing spreads the slow ones)."""
    count = max(1, min(count, len(names)))
    return [names[i::count] for i in range(count)] if names else []


def shard_by_seconds(names: list[str], count: int, seconds: dict[str, float]) -> list[list[str]]:
    """Deal names into at most ``count`` non-empty shards by their expected seconds: longest
    first, each to the shard with the fewest seconds so far (a spec with no figure counts as
    the median of those known). Each shard keeps the names' own order."""
    count = max(1, min(count, len(names)))
    if not names:
        return []
    known = sorted(seconds[n] for n in names if n in seconds)
    default = known[len(known) // 2] if known else 1.0
    order = {name: i for i, name in enumerate(names)}
    loads = [0.0] * count
    dealt: list[list[str]] = [[] for _ in range(count)]
    for name in sorted(names, key=lambda n: (-seconds.get(n, default), order[n])):
        lightest = min(range(count), key=lambda i: (loads[i], i))
        loads[lightest] += seconds.get(name, default)
        dealt[lightest].append(name)
    return [sorted(names_of, key=order.__getitem__) for names_of in dealt if names_of]


def spec_seconds(results: list[SpecResult]) -> dict[str, float]:
    """Each spec that ran to a verdict and its run time in seconds (rounded to 0.1 s): the figures
    :func:`shard_by_seconds` deals a later run by."""
    return {r.name: round(r.runtime_s, 1) for r in sorted(results, key=lambda r: r.name)
            if r.ran and not r.self_skipped}


def read_spec_seconds(path: Path) -> dict[str, float]:
    """A ``spec-seconds.json`` (spec name -> seconds); ValueError naming the file when it is not one."""
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        return {str(name): float(value) for name, value in data.items()}
    except (ValueError, TypeError) as err:
        raise ValueError(f"{path}: not a spec-seconds.json ({err})") from err
