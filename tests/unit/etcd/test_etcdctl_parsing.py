"""Parsing etcdctl 3.4 `-w json` output (samples as printed by etcd 3.4.23)."""

from __future__ import annotations

import pytest

from kprov.etcdops.etcdctl import parse_endpoint_health, parse_endpoint_status, parse_member_list

MEMBER_LIST = (
    '{"header":{"cluster_id":17336665456873290354,"member_id":16973238759161620875,"raft_term":14},'
    '"members":[{"ID":4521948633107623391,"name":"h2","peerURLs":["https://10.77.2.12:2380"],'
    '"clientURLs":["https://10.77.2.12:2379"]},{"ID":12937238565112756407,"peerURLs":'
    '["https://10.77.2.14:2380"]}]}\n'
)
STATUS = (
    '[{"Endpoint":"https://10.77.2.11:2379","Status":{"header":{"cluster_id":1,"member_id":'
    '16973238759161620875,"revision":7,"raft_term":14},"version":"3.4.23","dbSize":20480,"leader":'
    '4521948633107623391,"raftIndex":44,"raftTerm":14,"raftAppliedIndex":44,"dbSizeInUse":16384}}]\n'
)
HEALTH = (
    '[{"endpoint":"https://10.77.2.11:2379","health":true,"took":"9.07ms"},'
    '{"endpoint":"https://10.77.2.13:2379","health":false,"took":"5s","error":"context deadline exceeded"}]\n'
)


def test_member_list_keeps_uint64_ids_and_unstarted_members() -> None:
    members = parse_member_list(MEMBER_LIST)
    assert [m.member_id for m in members] == [4521948633107623391, 12937238565112756407]
    assert members[0].name == "h2" and members[0].client_urls == ("https://10.77.2.12:2379",)
    assert members[1].name == "" and members[1].client_urls == ()


def test_endpoint_status() -> None:
    (st,) = parse_endpoint_status(STATUS)
    assert (st.member_id, st.leader_id, st.version, st.db_size, st.raft_index) == (
        16973238759161620875, 4521948633107623391, "3.4.23", 20480, 44,
    )


def test_endpoint_health() -> None:
    ok, bad = parse_endpoint_health(HEALTH)
    assert ok.healthy and not bad.healthy
    assert bad.error == "context deadline exceeded"


def test_empty_output_is_no_entries_and_garbage_is_an_error() -> None:
    assert parse_endpoint_health("") == []
    with pytest.raises(ValueError, match="not JSON"):
        parse_member_list("Error: context deadline exceeded")
