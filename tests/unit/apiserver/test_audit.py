"""Audit policy evaluation (first matching rule, each field a filter, omitStages) and the
writer's JSON lines and rotation."""

from __future__ import annotations

import asyncio
import datetime
import json
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import orjson
import pytest

from kprov.cluster.apiserver.front.audit import AuditLog, AuditWriter, _EventLines, load_policy
from kprov.cluster.apiserver.identity import UserInfo
from kprov.cluster.apiserver.request.requestinfo import parse_request_info

POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "rules": [
        {"level": "None", "nonResourceURLs": ["/healthz*", "/version"]},
        {"level": "None", "users": ["system:kube-proxy"], "verbs": ["watch"]},
        {"level": "RequestResponse", "resources": [{"group": "", "resources": ["configmaps"]}],
         "namespaces": ["audited"]},
        {"level": "Request", "resources": [{"group": "", "resources": ["pods/log"]}]},
        {"level": "None", "resources": [{"group": "", "resources": ["secrets"], "resourceNames": ["quiet"]}]},
        {"level": "Metadata", "omitStages": ["RequestReceived"]},
    ],
}
ALICE = UserInfo("alice", ("devs", "system:authenticated"))


def _level(method: str, path: str, user: UserInfo | None = ALICE, watch: bool = False) -> str:
    ri = parse_request_info(method, path, watch)
    verb = ri.verb if ri else method.lower()
    return load_policy(POLICY).level(user, verb, ri, path)


def test_first_matching_rule_decides():
    assert _level("GET", "/healthz/etcd") == "None"
    assert _level("GET", "/version") == "None"
    assert _level("GET", "/metrics") == "Metadata"
    proxy = UserInfo("system:kube-proxy", ())
    assert _level("GET", "/api/v1/services", proxy, watch=True) == "None"
    assert _level("GET", "/api/v1/services", proxy) == "Metadata"
    assert _level("POST", "/api/v1/namespaces/audited/configmaps") == "RequestResponse"
    assert _level("POST", "/api/v1/namespaces/other/configmaps") == "Metadata"
    assert _level("GET", "/api/v1/namespaces/a/pods/x/log") == "Request"
    assert _level("GET", "/api/v1/namespaces/a/pods/x") == "Metadata"
    assert _level("GET", "/api/v1/namespaces/a/secrets/quiet") == "None"
    assert _level("GET", "/api/v1/namespaces/a/secrets/loud") == "Metadata"


def test_omitting_response_complete_silences_and_bad_levels_fail():
    doc = {"kind": "Policy", "omitStages": ["ResponseComplete"], "rules": [{"level": "Metadata"}]}
    policy = load_policy(doc)
    assert policy.level(ALICE, "get", None, "/metrics") == "None"
    with pytest.raises(ValueError, match="Unsupported value"):
        load_policy({"kind": "Policy", "rules": [{"level": "Everything"}]})


def _request(path: str, method: str = "POST") -> SimpleNamespace:
    return SimpleNamespace(path=path, query_string="fieldManager=x", method=method, remote="10.0.0.7",
                           headers={"User-Agent": "kubectl/v1.32.0"})


def _rfc3339(ns: int) -> str:
    moment = datetime.datetime.fromtimestamp(ns // 1000 / 1e6, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_event_lines_have_the_audit_shape(tmp_path: Path):
    log = AuditLog(load_policy(POLICY), AuditWriter(str(tmp_path / "audit.log")))
    path = "/api/v1/namespaces/audited/configmaps"
    ri = parse_request_info("POST", path, False)
    received = time.time_ns()
    body = b'{"kind":"ConfigMap"}'
    log.record("RequestResponse", _request(path), ri, ALICE, received, 201, body, b'{"a":1}')
    log.writer.close()
    event = json.loads((tmp_path / "audit.log").read_text().splitlines()[0])
    assert event["kind"] == "Event" and event["apiVersion"] == "audit.k8s.io/v1"
    assert event["stage"] == "ResponseComplete" and event["verb"] == "create"
    assert event["requestURI"] == f"{path}?fieldManager=x"
    assert event["user"] == {"username": "alice", "groups": ["devs", "system:authenticated"]}
    assert event["sourceIPs"] == ["10.0.0.7"] and event["userAgent"] == "kubectl/v1.32.0"
    assert event["objectRef"] == {"resource": "configmaps", "namespace": "audited", "apiVersion": "v1"}
    assert event["responseStatus"]["code"] == 201
    assert event["requestObject"] == {"kind": "ConfigMap"} and event["responseObject"] == {"a": 1}
    assert event["requestReceivedTimestamp"] == _rfc3339(received)
    assert event["stageTimestamp"] >= event["requestReceivedTimestamp"]
    audit_id = uuid.UUID(event["auditID"])
    assert str(audit_id) == event["auditID"] and audit_id.version == 4 and audit_id.variant == uuid.RFC_4122
    assert (tmp_path / "audit.log").stat().st_mode & 0o777 == 0o600


def test_rotation_keeps_max_backups(tmp_path: Path):
    writer = AuditWriter(str(tmp_path / "audit.log"), max_size_mb=1, max_backups=2)
    line = b"x" * (400 * 1024) + b"\n"
    for _ in range(12):
        writer.write(line)
    writer.close()
    rotated = sorted(p.name for p in tmp_path.glob("audit-*.log"))
    assert len(rotated) == 2, rotated
    assert (tmp_path / "audit.log").stat().st_size <= 1024 * 1024


def test_rotation_removes_files_older_than_max_age_by_the_time_in_their_name(tmp_path: Path):
    old = tmp_path / "audit-2020-01-02T03-04-05.678.log"
    two_days_ago = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=2)
    recent_name = two_days_ago.strftime("%Y-%m-%dT%H-%M-%S.000")
    recent = tmp_path / f"audit-{recent_name}.log"
    foreign = tmp_path / "audit-notes.log"
    for path in (old, recent, foreign):
        path.write_text("x\n")
    writer = AuditWriter(str(tmp_path / "audit.log"), max_size_mb=1, max_age_days=30)
    line = b"x" * (600 * 1024) + b"\n"
    writer.write(line)
    writer.write(line)  # past 1 MiB: rotated, and the 2020 file is past 30 days
    writer.close()
    assert not old.exists()
    assert recent.exists() and foreign.exists()
    assert len(list(tmp_path.glob("audit-*.log"))) == 3  # recent, foreign, and the one just rotated


def test_lines_wait_for_the_flush_delay_or_the_byte_limit(tmp_path: Path):
    path = tmp_path / "audit.log"

    async def scenario() -> list[int]:
        writer = AuditWriter(str(path))
        sizes = []
        writer.write(b"a\n")
        writer.write(b"b\n")
        sizes.append(path.stat().st_size)  # still buffered
        await asyncio.sleep(AuditWriter.FLUSH_DELAY_S * 3)
        sizes.append(path.stat().st_size)  # both lines, one write
        writer.write(b"x" * AuditWriter.FLUSH_BYTES + b"\n")
        sizes.append(path.stat().st_size)  # past the byte limit: at once
        writer.write(b"c\n")
        writer.close()  # what is pending goes out
        sizes.append(path.stat().st_size)
        return sizes

    assert asyncio.run(scenario()) == [0, 4, 4 + AuditWriter.FLUSH_BYTES + 1, 4 + AuditWriter.FLUSH_BYTES + 3]


def _reference_event(level, request, ri, user, code, request_body, response_body) -> dict:
    """The event as a dict, field by field as the audit.k8s.io/v1 Event is written."""
    event = {
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": level, "stage": "ResponseComplete",
        "requestURI": request.path + (f"?{request.query_string}" if request.query_string else ""),
        "verb": ri.verb if ri is not None else request.method.lower(),
        "user": {"username": user.name, "groups": list(user.groups)} if user is not None else {},
        "sourceIPs": [request.remote] if request.remote else [],
        "userAgent": request.headers.get("User-Agent", ""),
    }
    if ri is not None:
        ref = {"resource": ri.resource, "namespace": ri.namespace, "name": ri.name, "apiGroup": ri.group,
               "apiVersion": ri.version, "subresource": ri.subresource}
        event["objectRef"] = {k: v for k, v in ref.items() if v}
    event["responseStatus"] = {"metadata": {}, "code": code}
    if level in ("Request", "RequestResponse") and request_body:
        event["requestObject"] = json.loads(request_body) if request_body.startswith(b"{") else None
    if level == "RequestResponse" and response_body:
        event["responseObject"] = json.loads(response_body) if response_body.startswith(b"{") else None
    return event


@pytest.mark.parametrize(
    ("level", "method", "path", "user", "code", "request_body", "response_body"),
    [
        ("Metadata", "POST", "/api/v1/namespaces/a/pods", ALICE, 201, None, None),
        ("Metadata", "GET", "/apis/apps/v1/namespaces/a/deployments/web/scale", ALICE, 200, None, None),
        ("Metadata", "GET", "/metrics", None, 403, None, None),
        ("Metadata", "DELETE", "/api/v1/nodes/n1", UserInfo('we"ird\\name', ()), 404, None, None),
        ("Request", "POST", "/api/v1/namespaces/a/configmaps", ALICE, 201, b'{"kind":"ConfigMap"}', b"{}"),
        ("Request", "POST", "/api/v1/namespaces/a/configmaps", ALICE, 201, b"\x0a\x01k8s", None),
        ("RequestResponse", "PUT", "/api/v1/namespaces/a/configmaps/c", ALICE, 200, b'{"a":[1]}', b'{"b":2}'),
        ("RequestResponse", "PATCH", "/api/v1/namespaces/a/configmaps/c", ALICE, 200, b"", b"not json"),
    ],
)
def test_event_lines_hold_every_field_of_the_event(
    tmp_path: Path, level, method, path, user, code, request_body, response_body
):
    log = AuditLog(load_policy(POLICY), AuditWriter(str(tmp_path / "audit.log")))
    request = _request(path, method)
    ri = parse_request_info(method, path, False)
    received = time.time_ns()
    for _ in range(2):  # a second time from the cached pieces
        log.record(level, request, ri, user, received, code, request_body, response_body)
    log.writer.close()
    expected = _reference_event(level, request, ri, user, code, request_body, response_body)
    for line in (tmp_path / "audit.log").read_text().splitlines():
        event = json.loads(line)
        assert uuid.UUID(event.pop("auditID")).version == 4
        assert event.pop("requestReceivedTimestamp") == _rfc3339(received)
        assert event.pop("stageTimestamp")
        assert event == expected
        assert list(event) == list(expected)  # the same key order as the Event's fields


METADATA_ONLY = {
    "kind": "Policy",
    "rules": [
        {"level": "None", "nonResourceURLs": ["/healthz*"]},
        {"level": "None", "users": ["system:kube-proxy"], "verbs": ["watch"]},
        {"level": "Metadata"},
    ],
}


def test_noted_events_take_their_level_and_line_at_the_flush(tmp_path: Path):
    """A policy without bodies defers each event: the flush gives it the policy's level
    (None writes nothing) and the same line record() makes, in the order they came."""
    log = AuditLog(load_policy(METADATA_ONLY), AuditWriter(str(tmp_path / "audit.log")))
    assert not log.wants_bodies
    assert AuditLog(load_policy(POLICY), AuditWriter(str(tmp_path / "b.log"))).wants_bodies
    pods, watch = "/api/v1/namespaces/a/pods", "/api/v1/endpoints"
    received = time.time_ns()
    proxy = UserInfo("system:kube-proxy", ("system:authenticated",))

    async def scenario() -> int:
        log.note(_request(pods), parse_request_info("POST", pods, False), ALICE, received, 201)
        log.note(_request("/healthz/etcd", "GET"), None, None, received, 200)
        log.note(_request(watch, "GET"), parse_request_info("GET", watch, True), proxy, received, 200)
        log.note(_request(watch, "GET"), parse_request_info("GET", watch, False), proxy, received, 200)
        size = (tmp_path / "audit.log").stat().st_size  # nothing rendered yet
        log.writer.close()
        return size

    assert asyncio.run(scenario()) == 0
    events = [json.loads(line) for line in (tmp_path / "audit.log").read_text().splitlines()]
    who = [(e["verb"], e["user"]["username"]) for e in events]
    assert who == [("create", "alice"), ("list", "system:kube-proxy")]
    for event, (method, path) in zip(events, [("POST", pods), ("GET", watch)], strict=True):
        request, ri = _request(path, method), parse_request_info(method, path, False)
        user = ALICE if method == "POST" else proxy
        assert uuid.UUID(event.pop("auditID")).version == 4
        assert event.pop("requestReceivedTimestamp") == _rfc3339(received)
        assert event.pop("stageTimestamp")
        code = event["responseStatus"]["code"]
        assert event == _reference_event("Metadata", request, ri, user, code, None, None)


def test_a_batch_of_like_events_keeps_each_events_own_fields(tmp_path: Path):
    """Events of one batch that share most of their line (one user authenticated on several
    connections, one path) each keep what is their own: method, code, query, address,
    User-Agent; a user whose name is another's keeps its groups."""
    log = AuditLog(load_policy(METADATA_ONLY), AuditWriter(str(tmp_path / "audit.log")))
    pods, ver = "/api/v1/namespaces/a/pods", "/version"
    cases = []
    for user in (ALICE, UserInfo("alice", ("devs", "system:authenticated")), UserInfo("alice", ("ops",))):
        for method, path, code, query, remote, agent in [
            ("POST", pods, 201, "", "10.0.0.7", "kubectl/v1.32.0"),
            ("POST", pods, 409, "", "10.0.0.7", "kubectl/v1.32.0"),
            ("POST", pods, 201, "dryRun=All", "10.0.0.7", "kubectl/v1.32.0"),
            ("POST", pods, 201, "", "10.0.0.8", "kubectl/v1.32.0"),
            ("POST", pods, 201, "", "10.0.0.7", "client-go"),
            ("GET", ver, 200, "", "10.0.0.7", "kubectl/v1.32.0"),
            ("HEAD", ver, 200, "", "10.0.0.7", "kubectl/v1.32.0"),
        ]:
            request = SimpleNamespace(path=path, query_string=query, method=method, remote=remote,
                                      headers={"User-Agent": agent})
            cases.append((request, parse_request_info(method, path, False), user, code))
    received = time.time_ns()

    async def scenario() -> None:
        for request, ri, user, code in cases:
            log.note(request, ri, user, received, code)
        log.writer.close()

    asyncio.run(scenario())
    events = [json.loads(line) for line in (tmp_path / "audit.log").read_text().splitlines()]
    assert len(events) == len(cases)
    for event, (request, ri, user, code) in zip(events, cases, strict=True):
        for field in ("auditID", "requestReceivedTimestamp", "stageTimestamp"):
            event.pop(field)
        assert event == _reference_event("Metadata", request, ri, user, code, None, None)


def test_noted_events_flush_once_enough_wait(tmp_path: Path):
    log = AuditLog(load_policy(METADATA_ONLY), AuditWriter(str(tmp_path / "audit.log")))
    pods = "/api/v1/namespaces/a/pods"
    ri = parse_request_info("POST", pods, False)

    async def scenario() -> tuple[int, int]:
        for _ in range(AuditWriter.FLUSH_EVENTS - 1):
            log.note(_request(pods), ri, ALICE, time.time_ns(), 201)
        waiting = len((tmp_path / "audit.log").read_bytes().splitlines())
        log.note(_request(pods), ri, ALICE, time.time_ns(), 201)
        return waiting, len((tmp_path / "audit.log").read_bytes().splitlines())

    assert asyncio.run(scenario()) == (0, AuditWriter.FLUSH_EVENTS)
    log.writer.close()


def test_audit_ids_are_distinct_version_4_uuids_across_pool_refills():
    lines = _EventLines()
    ids = [lines.audit_id().decode() for _ in range(3 * _EventLines.PER_POOL + 5)]
    assert len(set(ids)) == len(ids)
    for text in ids[:: 97]:
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_audit_ids_in_lines_are_version_4_uuids_with_every_random_digit_free():
    """The IDs cut from the pools, in whole lines across several refills: each a canonical
    version-4 UUID, all distinct, and every digit but the version's still takes each value it
    may (the variant digit 8, 9, a or b; the rest any of 16)."""
    lines = _EventLines()
    between = b'","stage":"ResponseComplete","requestURI":"/x","responseStatus":{"metadata":{},"code":201}'
    now = time.time_ns()
    lines.stamp(now)  # (the second formatted: the lines take the pools' short way)
    ids = [json.loads(lines.tail_line(b'{"auditID":"', between, now, now))["auditID"]
           for _ in range(3 * _EventLines.PER_POOL + 7)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 4 and parsed.variant == uuid.RFC_4122
    digits = [{text.replace("-", "")[i] for text in ids} for i in range(32)]
    assert digits[12] == {"4"} and digits[16] == set("89ab")
    assert all(len(seen) == 16 for i, seen in enumerate(digits) if i not in (12, 16))


def test_stamps_change_second_and_keep_microseconds():
    lines = _EventLines()
    base = 1_764_000_000 * 1_000_000_000
    assert lines.stamp(base + 999_999_999).decode() == _rfc3339(base + 999_999_999)
    assert lines.stamp(base + 1_000_000_000).decode() == _rfc3339(base + 1_000_000_000)
    assert lines.stamp(base + 1_000_123_456).decode().endswith(".000123Z")


def test_lines_from_pieces_stamp_both_times_within_and_across_a_second():
    lines = _EventLines()
    between = b'","stage":"ResponseComplete","requestURI":"/x","responseStatus":{"metadata":{},"code":201}'
    base = 1_764_000_000 * 1_000_000_000
    for received, completed in [
        (base + 5_000, base + 1_000_000_000 - 1_000),  # a new second: formatted
        (base + 7_000, base + 9_000),  # the same second as before: the short way
        (base + 999_999_000, base + 1_000_000_000 + 2_000),  # across a second
    ]:
        event = json.loads(lines.tail_line(b'{"auditID":"', between, received, completed))
        assert event["requestReceivedTimestamp"] == _rfc3339(received)
        assert event["stageTimestamp"] == _rfc3339(completed)
        assert uuid.UUID(event["auditID"]).version == 4


def test_annotations_keep_each_events_own_values_and_order():
    """The encoded annotations are reused only for equal annotations in the same order: every
    line ends with its own event's, as orjson writes them."""
    lines = _EventLines()
    between = b'","stage":"ResponseComplete","requestURI":"/x","responseStatus":{"metadata":{},"code":201}'
    now = time.time_ns()
    cases = [{"a": "1", "b": "2"}, {"b": "2", "a": "1"}, {"a": "1", "b": "2"}, {"a": "1", "b": "3"},
             {"p": "privileged:latest"}, {"p": "privileged:latest"}, None, {}, {"p": "baseline:latest"}]
    for given in cases:
        line = lines.tail_line(b'{"auditID":"', between, now, now, given)
        if given:
            assert line.endswith(b',"annotations":' + orjson.dumps(given) + b"}\n")
            assert list(json.loads(line)["annotations"].items()) == list(given.items())
        else:
            assert line.endswith(b'Z"}\n') and b"annotations" not in line
