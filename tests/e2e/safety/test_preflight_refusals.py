"""Preflight refuses, on the safety cluster, with nothing changed: an ``apiserver_vip`` that
is a host's own address (keepalived would take it away from that host) and a full
``/var/lib/kprov`` file system (etcd would crash on "no space left on device")."""

from __future__ import annotations

from tests.e2e.safety.conftest import SafetyCluster


def _preflight_only(report: dict) -> list[tuple[str, str, str]]:
    assert [r for r in report["results"] if r["action"] != "preflight"] == []  # nothing ran
    assert any("nothing was changed" in e for e in report["errors"])
    return [(r["host"], r["task"], r["msg"]) for r in report["results"] if r["status"] == "failed"]


def test_an_apiserver_vip_equal_to_a_hosts_address_is_refused(safety_cluster: SafetyCluster) -> None:
    address = safety_cluster.lab.ip("h2")
    rc, report = safety_cluster.apply("-e", f"apiserver_vip={address}")
    assert rc == 2 and not report["ok"]
    failed = _preflight_only(report)
    assert {(h, t) for h, t, _ in failed} == {(h, "preflight: vip") for h in ("h1", "h2", "h3")}
    assert all(f"apiserver_vip {address} is the own address of host h2" in m for _, _, m in failed)
    assert address in safety_cluster.ssh("h2", "hostname -I").split()


def test_a_full_var_lib_kprov_is_refused_with_free_and_needed_space(safety_cluster: SafetyCluster) -> None:
    # a copy of h3's /var/lib/kprov on a file system with 4 MiB left: the data stays readable
    fill = ("mkdir -p /run/kprov-e2e && cp -a /var/lib/kprov /run/kprov-e2e/copy && "
            "used=$(du -sk /var/lib/kprov | cut -f1) && "
            "mount -t tmpfs -o size=$((used + 4096))k kprov-e2e-full /var/lib/kprov && "
            "cp -a /run/kprov-e2e/copy/. /var/lib/kprov/")
    safety_cluster.ssh("h3", fill)
    try:
        rc, report = safety_cluster.apply()
    finally:
        safety_cluster.ssh("h3", "umount /var/lib/kprov; rm -rf /run/kprov-e2e", check=False)
    assert rc == 2 and not report["ok"]
    [(host, task, msg)] = _preflight_only(report)
    assert (host, task) == ("h3", "preflight: disk")
    assert "MiB free under /var/lib/kprov" in msg and "1024 MiB needed" in msg


def test_an_undefined_variable_of_a_late_role_stops_the_run_before_any_change(
        safety_cluster: SafetyCluster) -> None:
    """The metrics server's arguments (its role, the playbook's last play) name a variable
    nothing defines: the run stops on every host before its first task."""
    typo = '{"metrics_server_extra_args": ["--v={{ metrics_verbosity_typo }}"]}'
    rc, report = safety_cluster.apply("-e", typo)
    assert rc == 2 and not report["ok"]
    assert [r for r in report["results"] if r["action"] not in ("preflight", "resolve")] == []  # nothing ran
    failed = [r for r in report["results"] if r["status"] == "failed"]
    assert {r["host"] for r in failed} == {"h1", "h2", "h3"}
    assert all("undefined variable 'metrics_verbosity_typo'" in r["msg"] for r in failed)
    assert all("roles/metrics_server/tasks/main.yml:" in r["msg"] for r in failed)
    assert any("nothing was changed" in e for e in report["errors"])
