"""CronJob schedules (croniter narrowed to upstream's accepted syntax), the Job names and
annotations the controller makes, and CronJob validation, defaults and columns."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from kprov.cluster.api.defaults import apply_defaults
from kprov.cluster.api.kinds.cron import latest_in, next_after, schedule_error, zone_error
from kprov.cluster.api.printers.tables import to_table
from kprov.cluster.api.resources import REGISTRY
from kprov.cluster.api.validation.core import validate
from kprov.cluster.controllers.workloads.cronjob import job_name, scheduled_timestamp

CRONJOBS = REGISTRY.get("batch", "v1", "cronjobs")
UTC = dt.UTC
NOW = dt.datetime(2024, 1, 10, 12, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize("text", ["*/1 * * * *", "@hourly", "@daily", "0 9 * * 1-5", "30 2 1 * *"])
def test_valid_schedules(text: str) -> None:
    assert schedule_error(text) is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("* * * *", "expected exactly 5 fields, found 4: * * * *"),
        ("TZ=UTC * * * * *", "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"),
        ("@every 5m", "unrecognized descriptor: @every 5m"),
        ("61 * * * *", "invalid schedule: 61 * * * *"),
    ],
)
def test_invalid_schedules(text: str, problem: str) -> None:
    assert schedule_error(text) == problem


def test_times_in_a_window_and_next() -> None:
    latest, count = latest_in("*/1 * * * *", NOW - dt.timedelta(minutes=5), NOW, UTC)
    assert latest == dt.datetime(2024, 1, 10, 12, 0, tzinfo=UTC) and count == 5
    assert latest_in("0 * * * *", NOW - dt.timedelta(seconds=10), NOW, UTC) == (None, 0)
    assert next_after("@hourly", NOW, UTC) == dt.datetime(2024, 1, 10, 13, 0, tzinfo=UTC)
    berlin = ZoneInfo("Europe/Berlin")
    assert next_after("0 9 * * *", NOW, berlin) == dt.datetime(2024, 1, 11, 8, 0, tzinfo=UTC)
    assert zone_error("Mars/Olympus") == "unknown time zone Mars/Olympus"


def test_job_names_and_scheduled_annotation() -> None:
    moment = dt.datetime(2024, 1, 10, 12, 0, tzinfo=UTC)
    assert job_name("hello", moment) == f"hello-{int(moment.timestamp()) // 60}"
    assert scheduled_timestamp(moment) == "2024-01-10T12:00:00Z"
    assert scheduled_timestamp(moment.astimezone(ZoneInfo("Europe/Berlin"))) == "2024-01-10T13:00:00+01:00"


def cronjob(**spec):
    return {
        "metadata": {"name": "hello", "namespace": "default"},
        "spec": {
            "schedule": "*/1 * * * *",
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "restartPolicy": "OnFailure",
                            "containers": [{"name": "c", "image": "busybox"}],
                        }
                    }
                }
            },
            **spec,
        },
    }


def messages(obj):
    apply_defaults(CRONJOBS, obj)
    return [str(c) for c in validate(CRONJOBS, obj, None)]


def test_cronjob_defaults_and_validation() -> None:
    obj = cronjob()
    assert messages(obj) == []
    spec = obj["spec"]
    assert (spec["concurrencyPolicy"], spec["suspend"]) == ("Allow", False)
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (3, 1)
    bad = cronjob(schedule="* * *", timeZone="Mars/Olympus", concurrencyPolicy="Sometimes")
    bad["metadata"]["name"] = "x" * 53
    assert messages(bad) == [
        f'metadata.name: Invalid value: "{"x" * 53}": must be no more than 52 characters',
        'spec.schedule: Invalid value: "* * *": expected exactly 5 fields, found 3: * * *',
        'spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus',
        'spec.concurrencyPolicy: Unsupported value: "Sometimes": '
        'supported values: "Allow", "Forbid", "Replace"',
    ]


def test_cronjob_row() -> None:
    obj = cronjob(timeZone="Etc/UTC")
    apply_defaults(CRONJOBS, obj)
    obj["metadata"]["creationTimestamp"] = "2024-01-10T11:00:30Z"
    obj["status"] = {"lastScheduleTime": "2024-01-10T12:00:00Z", "active": [{"name": "a"}]}
    cells = to_table(CRONJOBS, [obj], now=NOW)["rows"][0]["cells"]
    assert cells[:7] == ["hello", "*/1 * * * *", "Etc/UTC", "False", 1, "30s", "60m"]
