"""verify's rows for faults every other row missed (issue 76): the VIP's parts and holder, a unit
systemd restarted after a crash, segments lost on the etcd peer links, a slow quorum read."""

from __future__ import annotations

from kprov.deploy.verify.etcd_checks import go_duration_ms, quorum_read_rows
from kprov.deploy.verify.expectations import VipPorts, expectations_for
from kprov.deploy.verify.peer_link_checks import parse_retransmits, peer_link_check
from kprov.deploy.verify.restart_checks import parse_restarts, recent_restarts, restart_check
from kprov.deploy.verify.vip_checks import VipState, parse_vip_state, vip_rows

GROUPS = {"etcd": {"h1"}, "control_plane": {"h1"}, "workers": {"h4"}}

SS_BEFORE = """\
0      0      10.77.4.11:2380 10.77.4.12:41522
\t cubic wscale:7,7 rto:204 rtt:0.61/0.3 ato:40 mss:1448 retrans:0/3 bytes_sent:100 data_segs_out:1000
0      0      10.77.4.11:36000 10.77.4.13:2380
\t cubic wscale:7,7 rto:204 rtt:0.2/0.1 ato:40 mss:1448 bytes_sent:100 data_segs_out:500
"""
SS_AFTER_LOSS = """\
0      0      10.77.4.11:2380 10.77.4.12:41522
\t cubic wscale:7,7 rto:204 rtt:0.61/0.3 ato:40 mss:1448 retrans:1/7 bytes_sent:900 data_segs_out:1040
0      0      10.77.4.11:36000 10.77.4.13:2380
\t cubic wscale:7,7 rto:204 rtt:0.2/0.1 ato:40 mss:1448 retrans:0/2 bytes_sent:900 data_segs_out:520
0      0      10.77.4.11:36100 10.77.4.13:2380
\t cubic wscale:7,7 rto:204 rtt:0.2/0.1 ato:40 mss:1448 retrans:0/9 bytes_sent:9 data_segs_out:9
"""
# a loaded healthy link: retransmissions its peer reports as duplicates (D-SACK) lost nothing
SS_AFTER_SPURIOUS = SS_BEFORE.replace("retrans:0/3", "retrans:0/13 dsack_dups:10")
# a healthy link: one tail-loss probe among hundreds of segments
SS_AFTER_PROBE = SS_BEFORE.replace("retrans:0/3", "retrans:0/4").replace("data_segs_out:1000",
                                                                         "data_segs_out:1300")


def test_with_a_vip_every_node_runs_haproxy_and_control_plane_hosts_keepalived() -> None:
    plain = expectations_for(["h1", "h4"], lambda host, group: host in GROUPS[group])
    assert "haproxy" not in plain["h1"].units and "keepalived" not in plain["h1"].units
    exp = expectations_for(["h1", "h4"], lambda host, group: host in GROUPS[group], VipPorts(6444, 8443))
    assert {"haproxy", "keepalived", "kprov-vipcheck"} <= set(exp["h1"].units)
    assert 6444 in exp["h1"].ports and 8443 in exp["h1"].ports
    assert "haproxy" in exp["h4"].units and 6444 in exp["h4"].ports
    assert "keepalived" not in exp["h4"].units and 8443 not in exp["h4"].ports


def test_retransmits_that_grew_on_a_connection_seen_twice_fail_the_row_naming_the_peers() -> None:
    before, after = parse_retransmits(SS_BEFORE), parse_retransmits(SS_AFTER_LOSS)
    assert before == {("10.77.4.11:2380", "10.77.4.12:41522"): (3, 1000),
                      ("10.77.4.11:36000", "10.77.4.13:2380"): (0, 500)}
    row = peer_link_check("h1", before, after, 2.1)
    assert not row.ok
    # 4 + 2 of 40 + 20 grew; the connection that appeared in between is not counted (history unknown)
    assert row.detail.startswith("6 of 60 data segments (10%) lost and retransmitted"), row.detail
    assert "10.77.4.12: 4, 10.77.4.13: 2" in row.detail
    assert peer_link_check("h1", before, before, 2.0).ok
    probe = peer_link_check("h1", before, parse_retransmits(SS_AFTER_PROBE), 2.0)
    assert probe.ok and "1 of 300 data segments retransmitted" in probe.detail
    assert peer_link_check("h1", before, parse_retransmits(SS_AFTER_SPURIOUS), 2.0).ok


def test_a_unit_restarted_moments_ago_fails_the_host_and_an_old_restart_does_not() -> None:
    text = ("now=1000\nId=haproxy.service\nNRestarts=1\nExecMainStartTimestamp=@996\n\n"
            "Id=kprov-etcd.service\nNRestarts=2\nExecMainStartTimestamp=@500\n\n"
            "Id=keepalived.service\nNRestarts=0\nExecMainStartTimestamp=@999\n")
    restarts = parse_restarts(text)
    assert [(r.unit, r.count, r.ago_s) for r in restarts] == [("haproxy", 1, 4.0), ("kprov-etcd", 2, 500.0)]
    assert [r.unit for r in recent_restarts(restarts, 30)] == ["haproxy"]

    def run(command: str) -> str:
        exited = "haproxy.service: Main process exited, code=killed, status=9/KILL\n"
        return text if command.startswith("echo now=") else exited

    row = restart_check("h1", ["haproxy", "kprov-etcd", "keepalived"], run, 30)
    assert not row.ok
    assert "haproxy restarted by systemd 4 s ago (1 restart since it was started; " in row.detail
    assert "status=9/KILL" in row.detail and "kprov-etcd" not in row.detail
    assert restart_check("h1", ["kprov-etcd"], lambda c: text.replace("@996", "@900"), 30).ok


def test_the_vip_held_by_one_host_that_can_serve_it_and_every_way_it_is_not() -> None:
    assert parse_vip_state("holds\n0\n1\n") == VipState(True, "0", "1")
    assert parse_vip_state("garbage") is None
    free, held = VipState(False, "0", "0"), VipState(True, "0", "0")
    rows = vip_rows("10.0.0.10", {"h1": free, "h2": held, "h3": free})
    assert all(r.ok for r in rows) and rows[0].detail == "held by h2"
    assert rows[1].scope == "h2" and rows[1].name == "API VIP holder can serve it"
    split = vip_rows("10.0.0.10", {"h1": held, "h2": held, "h3": None})
    assert not split[0].ok and "held by h1 and h2 at once; no answer from h3" in split[0].detail
    nobody = vip_rows("10.0.0.10", {"h1": free, "h2": free})
    assert not nobody[0].ok and "no control-plane host holds it" in nobody[0].detail
    cannot = vip_rows("10.0.0.10", {"h1": VipState(True, "1", "missing")})
    assert cannot[0].ok and not cannot[1].ok
    assert "cannot serve" in cannot[1].detail  # "1"
    assert "no API server is ready" not in cannot[1].detail  # "missing": the checker wrote nothing
    assert "kprov-vipcheck has written no verdict" in cannot[1].detail


def test_go_durations_and_a_quorum_read_past_half_the_heartbeat() -> None:
    assert go_duration_ms("1.5ms") == 1.5
    assert go_duration_ms("250µs") == 0.25
    assert go_duration_ms("1m2.5s") == 62500.0
    assert go_duration_ms("fast") is None and go_duration_ms("") is None
    rows = quorum_read_rows({"h1": 3.2, "h2": 212.0}, 50)
    assert rows[0].ok and rows[0].name == "etcd member h1 answers a quorum read within 50 ms"
    assert not rows[1].ok and rows[1].detail.startswith("212.0 ms, twice")
