"""A run's results as the report a user reads: counts per SIG and per area, each failure with
its first error line, each spec that skipped itself with upstream's reason, regressions against
an expected list, and what stood in for images.

Three outcomes of a selected spec are kept apart: it ran to a verdict (passed or failed), it
ran and skipped itself (upstream's ``e2eskipper``: "Requires at least 2 nodes (not 1)", a
missing provider or feature; its message is the reason), or it never reported (not run: a
shard died or timed out first). A self-skip is not a failure (Ginkgo exits 0 on one), but it is
not a pass either, so the summary counts it on its own and names each with its reason."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kprov.conformance.images import ImagePlan
from kprov.conformance.specs import SpecResult

__all__ = ["Summary", "summarize", "write_report"]


@dataclass
class Summary:
    passed: int
    failed: int
    not_run: int  # selected but never reported (a shard died or timed out before reaching it)
    total: int  # passed + failed + skipped + not_run
    by_sig: dict[str, dict[str, int]]
    by_area: dict[str, dict[str, int]]
    failures: list[dict[str, str]]
    regressions: list[str] = field(default_factory=list)  # expected to pass, did not
    images: dict[str, list[str]] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    left_out: dict[str, int] = field(default_factory=dict)  # specs a suite's skip rules took out, by reason
    skipped: int = 0  # ran and skipped themselves at run time
    skips: list[dict[str, str]] = field(default_factory=list)  # each: name, reason (upstream's), where

    @property
    def pass_ratio(self) -> float:
        return self.passed / self.total if self.total else 0.0


def _outcome(result: SpecResult) -> str:
    return "skipped" if result.self_skipped else "passed" if result.passed else "failed"


def _tally(results: list[SpecResult], key: str) -> dict[str, dict[str, int]]:
    table: dict[str, Counter[str]] = {}
    for result in results:
        group = getattr(result, key) or "(none)"
        table.setdefault(group, Counter())[_outcome(result)] += 1
    return {group: {"passed": c["passed"], "failed": c["failed"], "skipped": c["skipped"]}
            for group, c in sorted(table.items())}


def summarize(selected: list[str], results: list[SpecResult], *, expected: set[str] | None = None,
              images: ImagePlan | None = None, flags: list[str] | None = None,
              duration_s: float = 0.0, left_out: dict[str, int] | None = None) -> Summary:
    by_name = {r.name: r for r in results}
    ran = [by_name[name] for name in selected if name in by_name]
    failed = [r for r in ran if _outcome(r) == "failed"]
    skipped = [r for r in ran if r.self_skipped]
    image_facts: dict[str, list[str]] = {}
    if images is not None:
        image_facts = {
            "substitutes": [f"{i.reference} ({i.note})" for i in images.provided if i.kind == "substitute"],
            "stand-ins": [f"{i.reference} ({i.note})" for i in images.provided if i.kind == "stand-in"],
            "missing": list(images.missing),
        }
    return Summary(
        passed=len(ran) - len(failed) - len(skipped),
        failed=len(failed),
        not_run=len(selected) - len(ran),
        total=len(selected),
        by_sig=_tally(ran, "sig"),
        by_area=_tally(ran, "area"),
        failures=[{"name": r.name, "state": r.state, "error": r.error, "where": r.where,
                   "detail": "\n".join(r.detail)} for r in failed],
        regressions=sorted(n for n in (expected or set())
                           if n in selected and not (n in by_name and by_name[n].passed)),
        images=image_facts,
        flags=list(flags or []),
        duration_s=round(duration_s, 1),
        left_out=dict(left_out or {}),
        skipped=len(skipped),
        skips=[{"name": r.name, "reason": r.error, "where": r.where} for r in skipped],
    )


def _markdown(summary: Summary) -> str:
    lines = [
        "# Conformance report",
        "",
        f"passed {summary.passed} of {summary.total} ({summary.pass_ratio:.1%}); failed {summary.failed}; "
        f"skipped {summary.skipped}; not run {summary.not_run}; {summary.duration_s:.0f} s",
        "",
    ]
    if summary.flags:
        lines += ["Work-around flags (the cluster lacked what they check): " + " ".join(summary.flags), ""]
    for title, table in (("SIG", summary.by_sig), ("Area", summary.by_area)):
        lines += [f"| {title} | passed | failed | skipped |", "|---|---|---|---|"]
        lines += [f"| {group} | {c['passed']} | {c['failed']} | {c['skipped']} |"
                  for group, c in table.items()]
        lines.append("")
    if summary.left_out:
        lines += ["## Left out by the suite's selection", "", "| why | specs |", "|---|---|"]
        lines += [f"| {reason} | {count} |" for reason, count in summary.left_out.items()] + [""]
    if summary.regressions:
        lines += ["## Regressions (expected to pass)", ""]
        lines += [f"- {name}" for name in summary.regressions] + [""]
    if summary.failures:
        lines += ["## Failures", ""]
        for f in summary.failures:
            lines.append(f"- {f['name']} — {f['state']}: {f['error']}")
            if f.get("where"):
                lines.append(f"  at {f['where']}")
            lines += [f"  > {line}" for line in (f.get("detail") or "").splitlines()]
        lines.append("")
    if summary.skips:
        lines += ["## Skipped by the spec itself (upstream's reason)", ""]
        for skip in summary.skips:
            lines.append(f"- {skip['name']} — {skip['reason']}")
            if skip.get("where"):
                lines.append(f"  at {skip['where']}")
        lines.append("")
    for kind, refs in summary.images.items():
        if refs:
            lines += [f"## Images: {kind}", ""] + [f"- {ref}" for ref in refs] + [""]
    return "\n".join(lines)


def write_report(report_dir: Path, summary: Summary) -> Path:
    """Write summary.json and report.md into ``report_dir``; return the report's path."""
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "summary.json").write_text(
        json.dumps({**asdict(summary), "pass_ratio": summary.pass_ratio}, indent=2) + "\n")
    path = report_dir / "report.md"
    path.write_text(_markdown(summary))
    return path
