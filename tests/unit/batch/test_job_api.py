"""batch/v1 Job at the API layer: defaults (generated selector and labels), validation wording
and field paths, and the kubectl get jobs columns."""

import copy
import datetime as dt

from kprov.cluster.api.defaults import apply_defaults
from kprov.cluster.api.printers.tables import column_definitions, to_table
from kprov.cluster.api.resources import REGISTRY
from kprov.cluster.api.validation.core import validate

JOBS = REGISTRY.get("batch", "v1", "jobs")
NOW = dt.datetime(2024, 1, 10, 12, 0, 0, tzinfo=dt.UTC)


def job(**spec):
    return {
        "metadata": {"name": "pi", "namespace": "default", "uid": "u-1"},
        "spec": {
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}
            },
            **spec,
        },
    }


def messages(obj, old=None):
    apply_defaults(JOBS, obj)
    return [str(c) for c in validate(JOBS, obj, old)]


def test_served_in_discovery_tables() -> None:
    assert JOBS is not None and JOBS.has_status and "all" in JOBS.categories


def test_defaults_and_generated_selector() -> None:
    obj = job()
    assert messages(obj) == []
    spec = obj["spec"]
    assert (spec["completions"], spec["parallelism"], spec["backoffLimit"]) == (1, 1, 6)
    assert spec["completionMode"] == "NonIndexed" and spec["suspend"] is False
    assert spec["podReplacementPolicy"] == "TerminatingOrFailed"
    assert spec["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}}
    labels = spec["template"]["metadata"]["labels"]
    assert labels["batch.kubernetes.io/job-name"] == "pi" and labels["job-name"] == "pi"
    assert labels["controller-uid"] == "u-1"


def test_parallelism_alone_leaves_completions_unset() -> None:
    obj = job(parallelism=3)
    messages(obj)
    assert "completions" not in obj["spec"] and obj["spec"]["parallelism"] == 3


def test_restart_policy_always_is_refused() -> None:
    obj = job()
    obj["spec"]["template"]["spec"].pop("restartPolicy")
    assert messages(obj) == [
        'spec.template.spec.restartPolicy: Unsupported value: "Always": '
        'supported values: "OnFailure", "Never"'
    ]


def test_indexed_needs_completions_and_counts_are_non_negative() -> None:
    assert messages(job(completionMode="Indexed", parallelism=2, backoffLimit=-1)) == [
        "spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0",
        "spec.completions: Required value: when completion mode is Indexed",
    ]


def test_pod_failure_policy_rules() -> None:
    obj = job(
        podFailurePolicy={
            "rules": [
                {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [0, 42]}},
                {"action": "Bogus", "onPodConditions": [{"type": "DisruptionTarget"}]},
            ]
        }
    )
    obj["spec"]["template"]["spec"]["restartPolicy"] = "OnFailure"
    got = messages(obj)
    assert (
        'spec.template.spec.restartPolicy: Invalid value: "OnFailure": '
        'only "Never" is supported when podFailurePolicy is specified'
        in got
    )
    assert (
        "spec.podFailurePolicy.rules[0].onExitCodes.values[0]: Invalid value: 0: "
        "must not be 0 for the In operator"
        in got
    )
    assert any(m.startswith('spec.podFailurePolicy.rules[1].action: Unsupported value: "Bogus"') for m in got)
    assert obj["spec"]["podReplacementPolicy"] == "Failed"
    assert obj["spec"]["podFailurePolicy"]["rules"][1]["onPodConditions"][0]["status"] == "True"


def test_update_rules() -> None:
    old = job()
    apply_defaults(JOBS, old)
    new = copy.deepcopy(old)
    new["spec"]["completions"] = 3
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "other"
    got = [str(c) for c in validate(JOBS, new, old)]
    assert "spec.completions: Invalid value: 3: field is immutable" in got
    assert any(
        m.startswith("spec.template: Invalid value:") and m.endswith("field is immutable") for m in got
    )
    new = copy.deepcopy(old)
    new["spec"]["parallelism"] = 5
    new["spec"]["suspend"] = True
    assert [str(c) for c in validate(JOBS, new, old)] == []


def _cells(obj):
    return to_table(JOBS, [obj], now=NOW)["rows"][0]["cells"]


def test_columns() -> None:
    wide = [c["name"] for c in column_definitions(JOBS)]
    assert wide == ["Name", "Status", "Completions", "Duration", "Age", "Containers", "Images", "Selector"]


def test_rows() -> None:
    obj = job(completions=5, parallelism=2)
    apply_defaults(JOBS, obj)
    obj["metadata"]["creationTimestamp"] = "2024-01-10T11:59:00Z"
    obj["status"] = {"startTime": "2024-01-10T11:59:00Z", "succeeded": 2}
    assert _cells(obj)[:5] == ["pi", "Running", "2/5", "60s", "60s"]
    obj["status"].update(
        succeeded=5,
        completionTime="2024-01-10T11:59:42Z",
        conditions=[{"type": "Complete", "status": "True"}],
    )
    assert _cells(obj)[1:4] == ["Complete", "5/5", "42s"]
    work_queue = job(parallelism=3)
    apply_defaults(JOBS, work_queue)
    work_queue["status"] = {"conditions": [{"type": "FailureTarget", "status": "True"}]}
    assert _cells(work_queue)[1:4] == ["FailureTarget", "0/1 of 3", ""]
