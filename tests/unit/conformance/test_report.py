"""Summaries of a run: counts, failures, regressions against an expected list, the files."""

from __future__ import annotations

import json
import re
from pathlib import Path

from kprov.conformance.images import plan_images
from kprov.conformance.report import summarize, write_report
from kprov.conformance.specs import SpecResult


def _result(name: str, state: str, sig: str = "sig-node", area: str = "Pods") -> SpecResult:
    return SpecResult(name=name, sig=sig, area=area, file="", state=state, error=f"{name} broke")


def test_summarize_counts_only_selected_specs_and_names_regressions(tmp_path: Path) -> None:
    selected = ["a", "b", "c", "d"]
    results = [_result("a", "passed"), _result("b", "failed", sig="sig-apps", area="Job"),
               _result("c", "timedout"), _result("zz", "passed")]
    summary = summarize(selected, results, expected={"a", "b", "d", "not-selected"})
    assert (summary.passed, summary.failed, summary.not_run, summary.total) == (1, 2, 1, 4)
    assert summary.pass_ratio == 0.25
    assert summary.by_sig == {"sig-apps": {"passed": 0, "failed": 1, "skipped": 0},
                              "sig-node": {"passed": 1, "failed": 1, "skipped": 0}}
    assert summary.regressions == ["b", "d"]
    assert [f["name"] for f in summary.failures] == ["b", "c"]


def test_write_report_writes_json_and_markdown_with_image_kinds(tmp_path: Path) -> None:
    plan = plan_images(["registry.k8s.io/pause:3.9", "docker.io/library/nginx:1.14-4",
                        "registry.k8s.io/e2e-test-images/sample-apiserver:1.17.7"], have_agnhost=True)
    summary = summarize(["a"], [_result("a", "failed")], images=plan, flags=["--minStartupPods=-1"])
    path = write_report(tmp_path / "out", summary)
    data = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert data["failed"] == 1 and data["pass_ratio"] == 0.0
    assert data["images"]["missing"] == ["registry.k8s.io/e2e-test-images/sample-apiserver:1.17.7"]
    text = path.read_text()
    assert "passed 0 of 1" in text and "- a — failed: a broke" in text
    assert "## Images: stand-ins" in text and "nginx:1.14-4" in text
    assert "--minStartupPods=-1" in text


def test_the_report_says_what_the_suite_left_out_and_why(tmp_path: Path) -> None:
    from kprov.conformance.suites import SUITES

    default = SUITES["default"]
    names = ["[sig-node] a [Slow]", "[sig-node] b [Serial] [Slow]", "[sig-storage] c [Driver: aws] x",
             "[sig-windows] d", "[sig-apps] e [Feature:X]",
             "[sig-storage] CSI Mock volume expansion CSI Volume expansion should expand volume",
             "[sig-storage] PersistentVolumes NFS with Single PV - PVC pairs create a PVC",
             "[sig-storage] Volumes NFSv4 should be mountable for NFSv4",
             "[sig-storage] HostPath should support r/w"]
    left_out = default.skipped_by(names[:-1])
    assert not any(re.search(default.skip, name) for name in names[-1:])  # a volume it can run stays in
    assert left_out["slow: upstream runs these in its own slow job"] == 2  # the first matching rule counts
    assert left_out["a cloud provider's volume driver: no cloud here"] == 1
    assert left_out["the NFS server image is not available offline"] == 2
    assert left_out["the CSI mock driver's and its sidecars' images are not offline"] == 1
    assert sum(left_out.values()) == len(names) - 1
    summary = summarize(["[sig-node] kept"], [], left_out=left_out)
    text = write_report(tmp_path, summary).read_text()
    assert "| a cloud provider's volume driver: no cloud here | 1 |" in text
    assert json.loads((tmp_path / "summary.json").read_text())["left_out"]["needs Windows nodes"] == 1


def test_a_failure_says_where_and_what_the_spec_was_waiting_for(tmp_path: Path) -> None:
    from kprov.conformance.specs import parse_json_report

    report = [{"SpecReports": [{
        "LeafNodeType": "It", "ContainerHierarchyTexts": ["[sig-apps] Job"], "LeafNodeText": "runs",
        "State": "failed", "RunTime": 61e9,
        "LeafNodeLocation": {"FileName": "test/e2e/apps/job.go", "LineNumber": 80},
        "Failure": {"Message": "Timed out after 60.001s.\nExpected\n    <int>: 0\nto equal\n    <int>: 2",
                    "Location": {"FileName": "test/e2e/apps/job.go", "LineNumber": 97}},
        "CapturedGinkgoWriterOutput": "STEP: creating a job\nSTEP: waiting\nwaiting: 0 of 2 Running\n",
    }]}]
    path = tmp_path / "r.json"
    path.write_text(json.dumps(report))
    (spec,) = parse_json_report(path)
    assert spec.error == "Timed out after 60.001s." and spec.where == "test/e2e/apps/job.go:97"
    assert spec.detail[:2] == ("Expected", "    <int>: 0")
    assert spec.detail[-1] == "waiting: 0 of 2 Running"
    text = write_report(tmp_path, summarize([spec.name], [spec])).read_text()
    assert "  at test/e2e/apps/job.go:97" in text and "  > waiting: 0 of 2 Running" in text


def test_progress_counts_the_shards_bullets(tmp_path: Path) -> None:
    from kprov.conformance.runner import progress_line

    (tmp_path / "a.log").write_text("SSS\u2022SS\u2022\n------\n\u2022 [FAILED] [3.2 seconds]\nboom\n")
    (tmp_path / "b.log").write_text("SS\u2022 [TIMEDOUT] [60 seconds]\n")
    line = progress_line([tmp_path / "a.log", tmp_path / "b.log", tmp_path / "missing.log"], 10, 240.0)
    assert line == "progress: 4/10 specs done, 2 passed, 2 failed, 4 min, about 6 min left"


def test_progress_estimates_serial_specs_at_one_shards_pace_then_their_own(tmp_path: Path) -> None:
    from kprov.conformance.runner import progress_line

    shards = [tmp_path / "a.log", tmp_path / "b.log", tmp_path / "c.log"]
    for log, bullets in zip(shards, (2, 1, 1), strict=True):
        log.write_text("\u2022" * bullets)
    # 4 of 8 parallel specs in 240 s (60 s each, three at once) and 2 serial ones to come,
    # each as long as one shard takes per spec (180 s): 4 x 60 + 2 x 180 = 600 s
    line = progress_line(shards, 10, 240.0, serial=2, shards=3)
    assert line == "progress: 4/10 specs done, 4 passed, 0 failed, 4 min, about 10 min left"
    for log, bullets in zip(shards, (3, 3, 2), strict=True):
        log.write_text("\u2022" * bullets)
    serial = tmp_path / "serial.log"
    serial.write_text("\u2022")  # one serial spec in the phase's 300 s so far: 300 s for the last
    line = progress_line(shards, 10, 900.0, serial=2, shards=3, serial_log=serial, serial_elapsed_s=300.0)
    assert line == "progress: 9/10 specs done, 9 passed, 0 failed, 15 min, about 5 min left"
