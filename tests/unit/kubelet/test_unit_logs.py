"""A mirror pod's logs come from its unit's journal: the journalctl command per request
option, journal entries read as log records, and which unit a (pod, container) stands for."""

from __future__ import annotations

import datetime as dt
import json

from kprov.cluster.kubelet.node.host_services import unit_of
from kprov.cluster.kubelet.streaming.logs import render
from kprov.cluster.kubelet.streaming.unit_logs import journal_args, parse_entry


def test_the_command_reads_only_the_units_own_output_as_json() -> None:
    args = journal_args("kprov-apiserver.service", None, None, False)
    assert args[:2] == ["journalctl", "_SYSTEMD_UNIT=kprov-apiserver.service"]
    assert "--unit" not in args and "--follow" not in args and "--lines" not in args
    assert args[args.index("--output") + 1] == "json"


def test_tail_since_and_follow_become_journalctl_options() -> None:
    start = dt.datetime(2026, 11, 27, 17, 0, 0, 250000, tzinfo=dt.UTC)
    args = journal_args("u.service", 5, start, True)
    assert args[args.index("--lines") + 1] == "5"
    assert args[args.index("--since") + 1] == f"@{start.timestamp():.6f}"
    assert args[-1] == "--follow"
    assert "--lines" not in journal_args("u.service", -1, None, False)  # negative: everything
    assert journal_args("u.service", 0, None, False)[-2:] == ["--lines", "0"]


def test_an_entry_is_a_record_with_its_wall_time_in_nanoseconds() -> None:
    line = json.dumps({"__REALTIME_TIMESTAMP": "1795800891365973", "MESSAGE": "reconciled"}).encode()
    record = parse_entry(line)
    assert record is not None
    assert record.timestamp == "2026-11-27T17:34:51.365973000Z"
    assert render([record]) == b"reconciled\n"
    assert render([record], timestamps=True) == b"2026-11-27T17:34:51.365973000Z reconciled\n"


def test_a_binary_message_keeps_its_bytes_and_junk_is_skipped() -> None:
    line = json.dumps({"__REALTIME_TIMESTAMP": "1000000", "MESSAGE": [104, 105, 255]}).encode()
    record = parse_entry(line)
    assert record is not None and record.text == b"hi\xff"
    assert parse_entry(json.dumps({"__REALTIME_TIMESTAMP": "1", "MESSAGE": None}).encode()).text == b""  # type: ignore[union-attr]
    assert parse_entry(b"not json") is None
    assert parse_entry(json.dumps({"MESSAGE": "no time"}).encode()) is None


def test_only_this_nodes_mirror_pods_and_their_container_map_to_a_unit() -> None:
    assert unit_of("kube-system", "kube-apiserver-h1", "kube-apiserver", "h1") == "kprov-apiserver.service"
    assert unit_of("kube-system", "kube-proxy-h4", "kube-proxy", "h4") == "kprov-proxy.service"
    assert unit_of("kube-system", "kube-apiserver-h1", "kube-apiserver", "h2") is None  # another node's
    assert unit_of("kube-system", "kube-apiserver-h1", "etcd", "h1") is None  # not its container
    assert unit_of("default", "kube-apiserver-h1", "kube-apiserver", "h1") is None
