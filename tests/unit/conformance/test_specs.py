"""Spec results from a Ginkgo JSON report, exact-name focus regexes and sharding."""

from __future__ import annotations

import json
import re
from pathlib import Path

from kprov.conformance.specs import (
    focus_regex,
    go_regex_escape,
    parse_json_report,
    read_spec_seconds,
    shard,
    shard_by_seconds,
    spec_seconds,
)

_NODE = "[sig-node] Pods should get a host IP [NodeConformance] [Conformance]"


def _report(tmp_path: Path) -> Path:
    reports = [
        {"LeafNodeType": "BeforeSuite", "State": "passed"},
        {"LeafNodeType": "It", "State": "passed", "RunTime": 2_500_000_000,
         "ContainerHierarchyTexts": ["[sig-node] Pods"],
         "LeafNodeText": "should get a host IP [NodeConformance] [Conformance]",
         "LeafNodeLocation": {"FileName": "test/e2e/common/node/pods.go"}},
        {"LeafNodeType": "It", "State": "failed", "RunTime": 1_000_000_000,
         "ContainerHierarchyTexts": ["[sig-apps] Job [Slow]", "when things fail"],
         "LeafNodeText": "should fail [Serial]",
         "Failure": {"Message": "\n  timed out waiting for the condition\nmore detail"}},
        {"LeafNodeType": "It", "State": "skipped", "ContainerHierarchyTexts": ["Misc"], "LeafNodeText": "x"},
    ]
    path = tmp_path / "report.json"
    path.write_text(json.dumps([{"SpecReports": reports}]))
    return path


def test_parse_json_report_keeps_it_specs_with_names_sigs_areas_and_first_error(tmp_path: Path) -> None:
    results = parse_json_report(_report(tmp_path))
    assert [r.name for r in results] == [
        _NODE, "[sig-apps] Job [Slow] when things fail should fail [Serial]", "Misc x"]
    node, job, misc = results
    assert (node.sig, node.area, node.file, node.runtime_s, node.passed) == (
        "sig-node", "Pods", "test/e2e/common/node/pods.go", 2.5, True)
    assert (job.sig, job.area, job.state, job.error, job.serial) == (
        "sig-apps", "Job", "failed", "timed out waiting for the condition", True)
    assert (misc.sig, misc.state, misc.serial) == ("", "skipped", False)


def test_go_regex_escape_escapes_metacharacters_but_not_spaces() -> None:
    assert go_regex_escape("a [b] (c) x.y*") == r"a \[b\] \(c\) x\.y\*"


def test_focus_regex_matches_exactly_the_named_specs_after_a_suite_prefix() -> None:
    other = "[sig-node] Pods should get a host IP [NodeConformance]"  # a prefix of _NODE's text
    longer = "[sig-node] Pods should get a host IP [NodeConformance] [Conformance] twice"
    pattern = re.compile(focus_regex([_NODE, "[sig-apps] Job should run"]))
    assert pattern.search("Kubernetes e2e suite " + _NODE)
    assert pattern.search("[sig-apps] Job should run")
    assert not pattern.search("Kubernetes e2e suite " + other)
    assert not pattern.search(longer)
    assert not pattern.search("[sig-apps] Jobs should run")
    assert pattern.search("[sig-apps] Job should run ")  # a spec text with a trailing space


def test_shard_deals_round_robin_and_never_makes_empty_shards() -> None:
    names = [f"t{i}" for i in range(7)]
    assert shard(names, 3) == [["t0", "t3", "t6"], ["t1", "t4"], ["t2", "t5"]]
    assert shard(names[:2], 4) == [["t0"], ["t1"]]
    assert shard([], 4) == []
    assert sorted(n for s in shard(names, 0) for n in s) == names


def test_shard_by_seconds_gives_the_longest_specs_to_the_least_loaded_shards() -> None:
    # round-robin would put 60 s and 20 s together (t0, t3): a shard of 80 s beside ones of 12 s
    seconds = {"t0": 60.0, "t1": 10.0, "t2": 10.0, "t3": 20.0, "t4": 2.0, "t5": 2.0}
    names = list(seconds)
    assert max(sum(seconds[n] for n in s) for s in shard(names, 3)) == 80.0
    dealt = shard_by_seconds(names, 3, seconds)
    assert dealt == [["t0"], ["t3", "t4"], ["t1", "t2", "t5"]]  # each shard in the names' order
    assert max(sum(seconds[n] for n in s) for s in dealt) == 60.0
    # a spec without a figure counts as the median of the known ones; never an empty shard
    grown = [*names, "new"]
    assert sorted(n for s in shard_by_seconds(grown, 3, seconds) for n in s) == sorted(grown)
    assert shard_by_seconds(["a", "b"], 4, {}) == [["a"], ["b"]]
    assert shard_by_seconds([], 3, seconds) == []


def test_spec_seconds_are_the_run_times_of_specs_that_ran(tmp_path: Path) -> None:
    results = parse_json_report(_report(tmp_path))
    figures = spec_seconds(results)
    assert figures[_NODE] == 2.5
    assert all(r.name in figures for r in results if r.ran and not r.self_skipped)
    assert all(r.name not in figures for r in results if not r.ran or r.self_skipped)


def test_read_spec_seconds_takes_a_report_s_file_and_names_a_wrong_one(tmp_path: Path) -> None:
    good = tmp_path / "spec-seconds.json"
    good.write_text(json.dumps({_NODE: 2.5, "other": 3}))
    assert read_spec_seconds(good) == {_NODE: 2.5, "other": 3.0}
    for text in ("[1, 2]", '{"a": "slow"}', "not json"):
        bad = tmp_path / "bad.json"
        bad.write_text(text)
        try:
            read_spec_seconds(bad)
        except ValueError as err:
            assert str(bad) in str(err)
        else:
            raise AssertionError(f"{text!r} was read")
