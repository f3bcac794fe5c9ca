"""Specs that skip themselves at run time (upstream's e2eskipper) are counted apart from passed,
failed and not run, each with upstream's reason, in the report, summary.json and the command's
output. The fixtures are a real shard's Ginkgo JSON and JUnit reports (an IPv6DualStack run of
the v1.28 e2e.test on a one-worker cluster), trimmed to a few specs: two that skipped themselves
("Requires at least 2 nodes (not 1)"), one the shard's focus left out (also "skipped", without
a reason), one that passed, and the suite's own nodes."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from kprov.conformance.report import summarize, write_report
from kprov.conformance.specs import SpecResult, parse_json_report

FIXTURES = Path(__file__).parent / "fixtures"
REASON = "Requires at least 2 nodes (not 1)"
GRANULAR = ("[sig-network] [Feature:IPv6DualStack] Granular Checks: Services Secondary IP Family "
            "[LinuxOnly] ")
UPDATE_HTTP = GRANULAR + "should update endpoints: http"
NODE_UDP = GRANULAR + "should function for node-Service: udp"
PASSED = "[sig-network] [Feature:IPv6DualStack] should create service with ipv6 cluster ip"
NEVER = "[sig-network] [Feature:IPv6DualStack] should have ipv4 and ipv6 internal node ip"


def _results() -> list[SpecResult]:
    return parse_json_report(FIXTURES / "ginkgo-report-skips.json")


def test_a_spec_that_skipped_itself_ran_and_keeps_its_reason_a_focused_out_one_did_not() -> None:
    results = _results()
    ran = {r.name: r for r in results if r.ran}
    assert sorted(ran) == sorted([UPDATE_HTTP, NODE_UDP, PASSED])
    for name in (UPDATE_HTTP, NODE_UDP):
        spec = ran[name]
        assert (spec.state, spec.self_skipped, spec.passed, spec.error) == ("skipped", True, False, REASON)
        assert spec.where == "/tmp/k8s/test/e2e/framework/network/utils.go:791"
        assert spec.detail == ()  # a skip is no failure: no captured output to explain it
    left_out = [r for r in results if not r.ran]
    assert left_out and all(r.state == "skipped" and not r.self_skipped and r.error == "" for r in left_out)
    assert not ran[PASSED].self_skipped


def test_the_reasons_are_the_ones_the_junit_report_of_the_same_run_gives() -> None:
    """Ginkgo's JUnit writes "skipped - <reason>" for a self-skip and a bare "skipped" for a
    spec the focus left out: the JSON reading must agree spec by spec."""
    junit: dict[str, str] = {}
    for case in ET.parse(FIXTURES / "ginkgo-junit-skips.xml").getroot().iter("testcase"):
        skipped = case.find("skipped")
        name = case.get("name", "")
        if skipped is not None and name.startswith("[It] "):
            junit[name.removeprefix("[It] ")] = skipped.get("message", "")
    results = {r.name: r for r in _results() if r.state == "skipped"}
    assert set(junit) == set(results)
    for name, message in junit.items():
        spec = results[name]
        assert message == (f"skipped - {spec.error}" if spec.self_skipped else "skipped"), name


def test_the_summary_counts_skipped_apart_and_names_each_with_its_reason(tmp_path: Path) -> None:
    selected = [UPDATE_HTTP, NODE_UDP, PASSED, NEVER]
    summary = summarize(selected, [r for r in _results() if r.ran], expected={PASSED, UPDATE_HTTP})
    counts = (summary.passed, summary.failed, summary.skipped, summary.not_run, summary.total)
    assert counts == (1, 0, 2, 1, 4)
    assert summary.failures == []
    assert summary.skips == [{"name": UPDATE_HTTP, "reason": REASON,
                              "where": "/tmp/k8s/test/e2e/framework/network/utils.go:791"},
                             {"name": NODE_UDP, "reason": REASON,
                              "where": "/tmp/k8s/test/e2e/framework/network/utils.go:791"}]
    assert summary.by_sig == {"sig-network": {"passed": 1, "failed": 0, "skipped": 2}}
    assert summary.regressions == [UPDATE_HTTP]  # expected to pass: a skip does not
    text = write_report(tmp_path, summary).read_text()
    assert "failed 0; skipped 2; not run 1" in text
    assert f"- {UPDATE_HTTP} — {REASON}" in text
    assert "| sig-network | 1 | 0 | 2 |" in text
    data = json.loads((tmp_path / "summary.json").read_text())
    assert data["skipped"] == 2 and [s["reason"] for s in data["skips"]] == [REASON, REASON]


@pytest.mark.parametrize(("selected", "code"), [([UPDATE_HTTP, NODE_UDP, PASSED], 0),
                                                ([UPDATE_HTTP, PASSED, NEVER], 1)])
def test_the_command_prints_each_skip_with_its_reason_and_a_skip_fails_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, selected: list[str], code: int) -> None:
    import kprov.cli.conformance as command
    from kprov.conformance.runner import ConformanceOptions, ConformanceRun

    app = typer.Typer()
    app.callback()(lambda: None)  # a group, so the command keeps its name
    command.register(app)

    summary = summarize(selected, [r for r in _results() if r.ran])

    def run(opts: ConformanceOptions, say: object) -> ConformanceRun:  # the cluster's part, faked
        return ConformanceRun(summary, write_report(opts.report_dir, summary))

    monkeypatch.setattr(command, "run_conformance", run)
    result = CliRunner().invoke(app, ["conformance", "-i", str(tmp_path / "inventory"),
                                      "--e2e-test", str(tmp_path / "e2e.test"),
                                      "--report-dir", str(tmp_path / "out")], env={"COLUMNS": "400"})
    assert result.exit_code == code, result.output
    where = "/tmp/k8s/test/e2e/framework/network/utils.go:791"
    assert f"SKIP {UPDATE_HTTP}\n     {REASON} ({where})" in result.output
    skipped, not_run = (2, 0) if code == 0 else (1, 1)
    assert f"1 passed, 0 failed, {skipped} skipped, {not_run} not run of 3" in result.output
