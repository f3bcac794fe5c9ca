"""The Job controller's pure rules: index interval text, back-off, podFailurePolicy verdicts."""

import pytest

from kprov.cluster.controllers.workloads.jobstate import (
    backoff_delay,
    format_indexes,
    is_finished,
    is_pod_failed,
    judge_failed_pod,
    parse_indexes,
    pod_index,
)


@pytest.mark.parametrize(
    ("indexes", "text"),
    [(set(), ""), ({0}, "0"), ({0, 1}, "0,1"), ({0, 1, 2, 4}, "0-2,4"), ({1, 3, 4, 5, 7, 8}, "1,3-5,7,8")],
)
def test_index_text_round_trips(indexes: set[int], text: str) -> None:
    assert format_indexes(indexes) == text
    assert parse_indexes(text) == indexes


def test_parse_drops_out_of_range_and_junk() -> None:
    assert parse_indexes("0-3,x,9", limit=3) == {0, 1, 2}


def test_backoff_doubles_and_caps() -> None:
    assert [backoff_delay(n) for n in (0, 1, 2, 3)] == [0.0, 10.0, 20.0, 40.0]
    assert backoff_delay(30) == 600.0


def test_pod_index_annotation_then_label() -> None:
    key = "batch.kubernetes.io/job-completion-index"
    assert pod_index({"metadata": {"annotations": {key: "3"}, "labels": {key: "4"}}}) == 3
    assert pod_index({"metadata": {"labels": {key: "4"}}}) == 4
    assert pod_index({"metadata": {}}) is None


def test_terminating_pods_fail_unless_waiting_for_terminal() -> None:
    pod = {"metadata": {"deletionTimestamp": "x"}, "status": {"phase": "Running"}}
    assert is_pod_failed(pod, wait_terminal=False)
    assert not is_pod_failed(pod, wait_terminal=True)
    assert not is_pod_failed(
        {"metadata": {"deletionTimestamp": "x"}, "status": {"phase": "Succeeded"}}, wait_terminal=False
    )


def _failed(code: int, conditions=()) -> dict:
    return {
        "metadata": {"name": "p", "namespace": "ns"},
        "status": {
            "phase": "Failed",
            "conditions": list(conditions),
            "containerStatuses": [{"name": "main", "state": {"terminated": {"exitCode": code}}}],
        },
    }


JOB = {
    "spec": {
        "podFailurePolicy": {
            "rules": [
                {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
                {
                    "action": "FailJob",
                    "onExitCodes": {"containerName": "main", "operator": "In", "values": [42]},
                },
                {"action": "Count", "onExitCodes": {"operator": "NotIn", "values": [42]}},
            ]
        }
    }
}


def test_pod_failure_policy_first_matching_rule_decides() -> None:
    verdict = judge_failed_pod(JOB, _failed(42))
    assert verdict.action == "FailJob"
    assert (
        verdict.message
        == "Container main for pod ns/p failed with exit code 42 matching FailJob rule at index 1"
    )
    ignored = judge_failed_pod(JOB, _failed(42, [{"type": "DisruptionTarget", "status": "True"}]))
    assert ignored.action == "Ignore"
    assert ignored.message == "Pod ns/p has condition DisruptionTarget matching Ignore rule at index 0"
    assert judge_failed_pod(JOB, _failed(1)).action == "Count"
    assert judge_failed_pod({"spec": {}}, _failed(42)).action == "Count"


def test_finished() -> None:
    assert is_finished({"status": {"conditions": [{"type": "Failed", "status": "True"}]}})
    assert not is_finished({"status": {"conditions": [{"type": "FailureTarget", "status": "True"}]}})
