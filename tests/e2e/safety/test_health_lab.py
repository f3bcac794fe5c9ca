""""ok" means ok, on a real 3-host cluster: a foreign listener on 6443 stops the run in the
preflight before any change, and so does an inventory without the cluster's pki directory;
when the API server must restart onto a taken port anyway, the run fails naming it (not "1
changed") and the restart stays pending until a run completes it; an interrupted run exits
130 with its recap and the rerun performs the restarts it left pending; after `kprov pki
rotate` + apply every TLS listener serves the new certificate, and `plan --diff` shows no key
material; `kprov reset` leaves nothing the leftover check finds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kprov.deploy.prepare import prepare_cluster
from kprov.deploy.reset import LEFTOVER_SCRIPT, leftovers
from kprov.deploy.verify.host_checks import kubelet_serving_by_csr, served_certificate, served_matches
from kprov.provision.execute.pending import PENDING_DIR, file_name
from tests.e2e.safety.conftest import SafetyCluster, failures
from tests.e2e.safety.fresh_host import HOST_VIEW_SCRIPT, differences

FOREIGN = "kprov-e2e-foreign-6443"
SERVED = {6443: "/etc/kprov/pki/apiserver.crt", 10250: "/etc/kprov/pki/kubelet.crt",
          2379: "/etc/kprov/pki/etcd/server.crt"}
CSR_SERVING = kubelet_serving_by_csr({})  # where a kubelet keeps a CSR-issued serving certificate


def _mark(cluster: SafetyCluster, host: str, handler: str) -> None:
    marker = f"{PENDING_DIR}/{file_name(handler)}"
    cluster.ssh(host, f"mkdir -p {PENDING_DIR} && printf '%s\\n' '{handler}' > {marker}")


def _pending(cluster: SafetyCluster, host: str) -> str:
    return cluster.ssh(host, f"cat {PENDING_DIR}/* 2>/dev/null; true")


def _take_6443(cluster: SafetyCluster) -> None:
    cluster.ssh("h2", f"systemctl stop kprov-apiserver && systemd-run --unit={FOREIGN} "
                "python3 -m http.server 6443 && sleep 1")


def _free_6443(cluster: SafetyCluster) -> None:
    cluster.ssh("h2", f"systemctl stop {FOREIGN}; systemctl reset-failed {FOREIGN}; true", check=False)


def test_a_taken_port_stops_the_run_in_preflight_before_any_change(safety_cluster: SafetyCluster) -> None:
    _take_6443(safety_cluster)
    try:
        rc, report = safety_cluster.apply()
    finally:
        _free_6443(safety_cluster)
    assert rc == 2 and not report["ok"]
    preflight = [r for r in report["results"] if r["action"] == "preflight" and r["status"] == "failed"]
    assert [(r["host"], r["task"]) for r in preflight] == [("h2", "preflight: ports")]
    assert "port 6443 (API server) is taken by python3" in preflight[0]["msg"]
    assert f"{FOREIGN}.service" in preflight[0]["msg"]
    assert [r for r in report["results"] if r["action"] != "preflight"] == []  # nothing ran
    assert any("nothing was changed" in e for e in report["errors"])


def test_an_inventory_without_the_clusters_pki_stops_in_preflight(safety_cluster: SafetyCluster,
                                                                   tmp_path: Path) -> None:
    """The same hosts from an inventory elsewhere (the old pki directory not beside it): the
    run would make a new CA, service-account and encryption key and push them onto a running
    cluster. Preflight stops it on every host that holds the cluster, before any change."""
    moved = tmp_path / "hosts.yml"
    moved.write_text(safety_cluster.inventory.read_text())
    proc = safety_cluster.kprov("apply", "-i", str(moved), "--json")
    report = json.loads(proc.stdout)
    assert proc.returncode == 2 and not report["ok"]
    failed = sorted((r["host"], r["task"]) for r in report["results"] if r["status"] == "failed")
    assert failed == [(h, "preflight: cluster-ca") for h in ("h1", "h2", "h3")]
    messages = [r["msg"] for r in report["results"] if r["status"] == "failed"]
    assert all(str(tmp_path / "pki" / "ca.crt") in msg for msg in messages)
    assert [r for r in report["results"] if r["action"] != "preflight"] == []  # nothing ran
    ca = (safety_cluster.inventory.parent / "pki" / "ca.crt").read_text().strip()
    assert safety_cluster.ssh("h1", "cat /etc/kprov/pki/ca.crt") == ca  # the cluster's CA stayed


def test_a_restart_onto_a_taken_port_fails_naming_the_component_and_stays_pending(
        safety_cluster: SafetyCluster) -> None:
    _take_6443(safety_cluster)
    _mark(safety_cluster, "h2", "restart kprov-apiserver")  # as a rotation or code switch records it
    try:
        rc, report = safety_cluster.apply("--skip-preflight", "ports")
        assert rc == 2, "a restart onto a taken port must not end in success"
        [failed] = [r for r in report["results"] if r["status"] == "failed"]
        assert failed["host"] == "h2" and failed["task"].endswith("wait until kprov-apiserver is healthy")
        assert "kprov-apiserver is" in failed["result"]["stderr"]
        assert "restart kprov-apiserver" in _pending(safety_cluster, "h2")  # not done: still pending
    finally:
        _free_6443(safety_cluster)
    rc, report = safety_cluster.apply()
    assert rc == 0, "\n".join(failures(report))
    assert _pending(safety_cluster, "h2") == ""
    assert safety_cluster.ssh("h2", "systemctl is-active kprov-apiserver") == "active"


def test_an_interrupted_run_exits_130_and_the_rerun_does_the_pending_restarts(
        safety_cluster: SafetyCluster) -> None:
    # what the runtime switch records before it switches, when a run is interrupted after it
    _mark(safety_cluster, "h1", "restart kprov-scheduler")
    since = "systemctl show -p ActiveEnterTimestampMonotonic --value kprov-scheduler"
    started = safety_cluster.ssh("h1", since)
    # interrupted before the plays: h1's pending restart is the first thing its play does (42 ms
    # after "phase: Plays" in one run), so a signal sent on seeing that line lost the race
    rc, out, log = safety_cluster.interrupted_apply(lambda text: "phase: Preflight" in text)
    assert rc == 130, out[-3000:]
    assert "interrupted" in out and "PLAY RECAP" in out and "no session" not in out
    lines = Path(log).read_text().splitlines()
    assert any("run interrupted by SIGINT" in line for line in lines) and lines[-1].endswith("ok=False")
    assert "restart kprov-scheduler" in _pending(safety_cluster, "h1")
    rc, report = safety_cluster.apply()
    assert rc == 0, "\n".join(failures(report))
    assert _pending(safety_cluster, "h1") == ""
    again = safety_cluster.ssh("h1", since)
    assert int(again) > int(started), "the rerun must restart the component the interrupted run left stale"


def _switched(text: str) -> bool:
    """A host's runtime switch finished (its command is in the run log with exit code 0)."""
    return any("\trun\t0\t" in line and 'mv -T "$venv.kprov-new"' in line for line in text.splitlines())


def _started(cluster: SafetyCluster, host: str, units: list[str]) -> dict[str, int]:
    out = cluster.ssh(host, " ".join(
        ["systemctl show -p ActiveEnterTimestampMonotonic --value", *units]))
    return dict(zip(units, map(int, out.split()), strict=True))


def _verify(cluster: SafetyCluster) -> tuple[int, list[str]]:
    proc = cluster.kprov("verify", "-i", str(cluster.inventory), "--json", "--no-drift", "--no-smoke")
    report = json.loads(proc.stdout)
    return proc.returncode, [f"{c['scope']}: {c['name']}: {c['detail']}"
                             for c in report["checks"] if not c["ok"]]


def test_sigint_right_after_the_runtime_switch_leaves_verify_failing_until_the_rerun_restarts(
        safety_cluster: SafetyCluster, tmp_path: Path) -> None:
    """The plan of a new kprov version lists every component's restart. A real interrupted
    apply (no marker written by the test): a new kprov version is switched in on every host
    (a runtime under a new digest), SIGINT lands right after the first host's switch, before
    any restart; the components still run the old code, verify and upgrade's versions say
    so, and only the rerun (same version: nothing to switch) restarts them."""
    units = ["kprov-apiserver", "kprov-scheduler", "kprov-controller-manager", "kprov-kubelet", "kprov-proxy"]
    vars_file = tmp_path / "runtime.json"
    runtime = prepare_cluster(safety_cluster.inventory).runtime
    vars_file.write_text(json.dumps({"kprov_runtime_archive": str(runtime.archive),
                                     "kprov_runtime_digest": f"{runtime.digest[:12]}e2e"}))
    # the plan of the switch lists every component's restart (DNS and metrics-server restart
    # with a shell handler, which check mode used to skip unseen)
    plan = safety_cluster.kprov("plan", "-i", str(safety_cluster.inventory), "--json", "-e", f"@{vars_file}")
    planned = json.loads(plan.stdout)
    assert plan.returncode == 0 and planned["ok"], failures(planned)
    restarts = {(r["host"], r["task"].rsplit(" : ", 1)[-1].lower()) for r in planned["results"]
                if r["status"] == "changed" and r["why"]}
    every = {f"restart {u}" for u in [*units, "kprov-dns", "kprov-metrics-server", "kprov-mirror-order"]}
    assert {(h, r) for h in ("h1", "h2", "h3") for r in every} <= restarts, sorted(restarts)
    before = {h: _started(safety_cluster, h, units) for h in ("h1", "h2", "h3")}
    rc, out, log = safety_cluster.interrupted_apply(_switched, extra=("-e", f"@{vars_file}"))
    assert rc == 130, out[-3000:]
    text = Path(log).read_text()
    assert _switched(text) and "run interrupted by SIGINT" in text
    switched = [h for h in ("h1", "h2", "h3")
                if safety_cluster.ssh(h, "readlink /opt/kprov/venv").endswith("e2e")]
    assert switched, "the interrupted run switched no host"
    stale = switched[0]
    # the new code is installed, the components still run the old one, and verify says so
    assert _started(safety_cluster, stale, units) == before[stale], "the interrupt came after a restart"
    assert "restart kprov-apiserver" in _pending(safety_cluster, stale)
    # kprov upgrade reads what runs (the processes' build), not the link: the old build, with
    # the new one named as installed only, so the host is upgraded again rather than skipped
    dry = safety_cluster.kprov("upgrade", "-i", str(safety_cluster.inventory), "--dry-run")
    [row] = [line for line in dry.stdout.splitlines() if f" {stale} " in line]
    assert f"{runtime.digest} (installed: {runtime.digest[:12]}e2e)" in row, dry.stdout[-2000:]
    rc, failing = _verify(safety_cluster)
    assert rc != 0 and any(f.startswith(f"{stale}: no restart pending") for f in failing), failing
    rc, report = safety_cluster.apply("-e", f"@{vars_file}")
    assert rc == 0, "\n".join(failures(report))
    after = _started(safety_cluster, stale, units)
    assert all(after[u] > before[stale][u] for u in units), (before[stale], after)
    assert _pending(safety_cluster, stale) == ""
    rc, failing = _verify(safety_cluster)
    assert rc == 0, failing


def test_a_rotation_takes_effect_on_every_listener_and_plan_shows_no_keys(
        safety_cluster: SafetyCluster) -> None:
    hosts = ["h1", "h2", "h3"]
    address = {h: safety_cluster.lab.layout.ip(h) for h in hosts}
    before = {(h, p): served_certificate(address[h], p).serial_number for h in hosts for p in SERVED}
    rotated = safety_cluster.kprov("pki", "rotate", "-i", str(safety_cluster.inventory))
    assert rotated.returncode == 0, rotated.stderr
    plan = safety_cluster.kprov("plan", "-i", str(safety_cluster.inventory))
    assert "content changed (secret)" in plan.stdout and "apiserver.key" in plan.stdout
    assert "PRIVATE KEY" not in plan.stdout + plan.stderr
    rc, report = safety_cluster.apply()
    assert rc == 0, "\n".join(failures(report))
    for host in hosts:
        for port, path in SERVED.items():
            # a kubelet serving a certificate it got through a kubelet-serving CSR keeps serving
            # that one (it renews it itself): the rotation must not leave it serving another
            has_csr_cert = safety_cluster.ssh(host, f"test -f {CSR_SERVING} && echo yes; true") == "yes"
            by_csr = port == 10250 and has_csr_cert
            source = CSR_SERVING if by_csr else path
            on_disk = safety_cluster.ssh(
                host, f"sed -n '/-BEGIN CERTIFICATE-/,/-END CERTIFICATE-/p' {source}").encode() + b"\n"
            ok, detail = served_matches(address[host], port, on_disk)
            assert ok, f"{host}:{port}: {detail}"
            if not by_csr:
                assert served_certificate(address[host], port).serial_number != before[(host, port)]
    rc, failing = _verify(safety_cluster)  # green at once: no restart left "pending" by the rotation
    assert rc == 0, failing
    assert all(_pending(safety_cluster, h) == "" for h in hosts)


@pytest.mark.package_teardown
def test_reset_leaves_nothing_behind(safety_cluster: SafetyCluster) -> None:
    before = {h: leftovers(safety_cluster.ssh(h, LEFTOVER_SCRIPT)) for h in ("h1", "h2", "h3")}
    assert all(before.values()), "the leftover check must see a running cluster"
    proc = safety_cluster.kprov("reset", "-i", str(safety_cluster.inventory), "--yes")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    for host in ("h1", "h2", "h3"):
        assert leftovers(safety_cluster.ssh(host, LEFTOVER_SCRIPT)) == [], host
        # packages, sysctl files, directories and forwarding as on a fresh lab host (the lab
        # binds /var/lib/containerd on every host, fresh ones too)
        view = safety_cluster.ssh(host, HOST_VIEW_SCRIPT)
        assert differences(safety_cluster.lab, view, ignore=("/var/lib/containerd",)) == ([], []), host
