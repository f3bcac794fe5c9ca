"""kprov verify --cis: the evidence script run for real on this machine over a tree of files
made here, the rules, the engine, and the cluster controls over API evidence."""

from __future__ import annotations

import subprocess
from pathlib import Path

from kprov.deploy.verify.cis.controls_cluster import CLUSTER_CONTROLS
from kprov.deploy.verify.cis.controls_hosts import HOST_CONTROLS
from kprov.deploy.verify.cis.engine import evaluate
from kprov.deploy.verify.cis.host_evidence import EvidenceSpec, evidence_command, parse_evidence
from kprov.deploy.verify.cis.model import ClusterEvidence, FileStat, HostEvidence, Status
from kprov.deploy.verify.cis.rules import (
    env_equals,
    file_mode,
    flag_absent,
    flag_equals,
    flag_min,
    flag_set,
    flag_values,
    http_refused,
    listens_local_only,
    port_closed,
)


def _read(spec: EvidenceSpec) -> HostEvidence:
    proc = subprocess.run(["bash", "-c", evidence_command(spec)], capture_output=True, text=True, timeout=30)
    return parse_evidence("here", proc.returncode, proc.stdout, proc.stderr)


def test_the_evidence_script_reads_modes_flags_env_and_providers_but_no_key(tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    pki.mkdir()
    (pki / "a.key").write_text("KEY")
    (pki / "a.key").chmod(0o644)
    (pki / "a.crt").write_text("CERT")
    (tmp_path / "kprov-apiserver.service").write_text(
        "[Service]\nExecStart=/opt/kprov/venv/bin/kprov-apiserver \\\n    --audit-log-maxage=30 \\\n"
        "    --client-ca-file /etc/kprov/pki/ca.crt\nRestart=always\n"
    )
    (tmp_path / "etcd.env").write_text("# comment\nETCD_CLIENT_CERT_AUTH=true\n")
    (tmp_path / "enc.yaml").write_text(
        "kind: EncryptionConfiguration\nresources:\n  - resources: [secrets]\n    providers:\n"
        "      - aescbc:\n          keys:\n            - name: k1\n"
        "              secret: c2VjcmV0LXNlY3JldA==\n"
        "      - identity: {}\n"
    )
    ev = _read(
        EvidenceSpec(
            files=[f"{pki}/*", str(tmp_path / "absent")],
            units={"kprov-apiserver": str(tmp_path / "kprov-apiserver.service")},
            env=[str(tmp_path / "etcd.env")],
            digests=[str(pki / "a.crt")],
            encryption=str(tmp_path / "enc.yaml"),
            http={"closed": "https://127.0.0.1:9/"},
        )
    )
    assert not ev.error
    assert ev.files[str(pki / "a.key")].mode == 0o644
    assert str(tmp_path / "absent") not in ev.files
    assert ev.argv["kprov-apiserver"][1:] == [
        "--audit-log-maxage=30",
        "--client-ca-file",
        "/etc/kprov/pki/ca.crt",
    ]
    assert ev.env[str(tmp_path / "etcd.env")] == {"ETCD_CLIENT_CERT_AUTH": "true"}
    assert ev.encryption_providers == ["aescbc", "identity"]
    assert ev.http == {"closed": 0}
    assert len(ev.digests[str(pki / "a.crt")]) == 64
    # a weakened key file fails its control, naming the file; the key itself never leaves the host
    finding = file_mode(f"{pki}/*.key", 0o600)(ev)
    assert finding.status is Status.FAIL and str(pki / "a.key") in finding.evidence
    assert "c2VjcmV0" not in repr(ev)


def test_a_failed_script_is_an_evidence_error() -> None:
    assert parse_evidence("h1", 127, "", "python3: not found").error.startswith("evidence script failed")
    assert "no JSON" in parse_evidence("h1", 0, "oops", "").error


def test_flags_are_read_in_both_forms_and_judged() -> None:
    argv = ["kprov-x", "--a=1", "--b", "two", "--flag", "--c=5,AlwaysAdmit"]
    assert flag_values(argv, "--a") == ["1"] and flag_values(argv, "--b") == ["two"]
    assert flag_values(argv, "--flag") == ["true"]
    ev = HostEvidence("h", argv={"kprov-x": argv})
    assert flag_set("kprov-x", "--a", "--b")(ev).status is Status.PASS
    assert flag_set("kprov-x", "--missing")(ev).status is Status.FAIL
    assert flag_absent("kprov-x", "--b")(ev).status is Status.FAIL
    assert flag_min("kprov-x", "--a", 10)(ev).status is Status.FAIL
    assert flag_min("kprov-x", "--a", 1)(ev).status is Status.PASS
    assert flag_equals("kprov-x", "--flag", "true")(ev).status is Status.PASS
    off = flag_equals("kprov-x", "--a", "true")(ev)
    assert off.status is Status.FAIL and off.evidence == "kprov-x: --a=1"
    assert flag_equals("kprov-x", "--missing", "true")(ev).status is Status.FAIL
    missing_unit = flag_set("kprov-y", "--a")(ev)
    assert missing_unit.status is Status.FAIL and "unit not found" in missing_unit.evidence


def test_env_http_and_socket_rules() -> None:
    ev = HostEvidence(
        "h",
        env={"/e": {"K": "TRUE"}},
        http={"anon": 401, "open": 200, "down": 0},
        listening=[("127.0.0.1", 10257), ("0.0.0.0", 10249)],
    )
    assert env_equals("/e", "K", "true")(ev).status is Status.PASS
    assert env_equals("/missing", "K", "true")(ev).status is Status.FAIL
    assert http_refused("anon", "x")(ev).status is Status.PASS
    assert http_refused("open", "x")(ev).status is Status.FAIL
    assert http_refused("down", "x")(ev).status is Status.WARN
    assert listens_local_only(10257, "cm")(ev).status is Status.PASS
    assert listens_local_only(10249, "proxy")(ev).status is Status.FAIL
    assert port_closed(10255)(ev).status is Status.PASS and port_closed(10249)(ev).status is Status.FAIL


def _good_control_plane() -> HostEvidence:
    """What a default kprov control-plane host shows for the controls tested here."""
    ev = HostEvidence("h1")
    unit = "/etc/systemd/system/{}.service"
    for name in (
        "kprov-apiserver",
        "kprov-controller-manager",
        "kprov-scheduler",
        "kprov-etcd",
        "kprov-kubelet",
    ):
        ev.files[unit.format(name)] = FileStat(0o600, "root:root")
    for path, mode in (
        ("/etc/kprov/pki", 0o700),
        ("/etc/kprov/pki/ca.crt", 0o644),
        ("/etc/kprov/pki/ca.key", 0o600),
        ("/etc/kprov/pki/scheduler.conf", 0o600),
        ("/etc/kprov/pki/controller-manager.conf", 0o600),
        ("/etc/kprov/pki/kube-proxy.conf", 0o600),
        ("/etc/kprov/kubelet.conf", 0o600),
        ("/var/lib/kprov/etcd", 0o700),
        ("/etc/kprov/audit-policy.yaml", 0o600),
    ):
        ev.files[path] = FileStat(mode, "root:root")
    ev.argv["kprov-apiserver"] = [
        "x",
        "--audit-log-path=/a",
        "--audit-log-maxage=30",
        "--audit-log-maxbackup=10",
        "--audit-log-maxsize=100",
        "--encryption-provider-config=/e",
    ]
    ev.encryption_providers = ["aescbc", "identity"]
    return ev


def test_the_engine_places_controls_by_scope_and_only_automated_fails_count() -> None:
    good = _good_control_plane()
    hosts = {"h1": good, "w1": HostEvidence("w1", error="unreachable: no evidence read")}
    scopes = {"h1": {"control_plane", "etcd", "node"}, "w1": {"node"}}
    report = evaluate(HOST_CONTROLS, [], hosts, scopes, None)
    by = {(r.id, r.host): r for r in report.rows}
    assert by[("1.1.1", "h1")].status is Status.PASS
    assert by[("1.2.17", "h1")].status is Status.PASS and by[("1.2.18", "h1")].status is Status.PASS
    assert by[("1.2.28", "h1")].status is Status.PASS
    assert ("1.1.1", "w1") not in by  # a worker has no API server
    assert by[("4.1.1", "w1")].status is Status.FAIL and "unreachable" in by[("4.1.1", "w1")].evidence
    assert not report.ok and all(r.automated for r in report.failed)
    ids = [r.id for r in report.rows]
    assert ids == sorted(ids, key=lambda i: tuple(int(p) for p in i.split(".")))
    good.files["/etc/kprov/pki/ca.key"] = FileStat(0o644, "root:root")
    weakened = evaluate(HOST_CONTROLS, [], {"h1": good}, {"h1": {"control_plane"}}, None)
    row = next(r for r in weakened.rows if r.id == "1.1.21")
    assert row.status is Status.FAIL and "/etc/kprov/pki/ca.key 644" in row.evidence


def test_cluster_controls_judge_authorization_by_asking() -> None:
    asked = {
        "anonymous-list-secrets": False,
        "node-get-own-node": True,
        "user-create-selfsubjectaccessreview": True,
        "user-list-secrets": False,
    }
    ev = ClusterEvidence(
        access=dict(asked),
        http={"/debug/pprof/": 404},
        namespaces=[{"metadata": {"name": "default"}}, {"metadata": {"name": "team-a"}}],
        network_policies=[{"metadata": {"namespace": "team-a", "name": "deny"}}],
    )
    report = evaluate([], CLUSTER_CONTROLS, {}, {}, ev)
    by = {r.id: r for r in report.rows}
    assert by["1.2.6"].status is Status.PASS and by["1.2.7"].status is Status.PASS
    assert by["1.2.8"].status is Status.PASS and by["1.2.15"].status is Status.PASS
    assert by["5.3.2"].status is Status.WARN and "default" in by["5.3.2"].evidence
    assert not by["5.3.2"].automated and report.ok
    always_allow = ClusterEvidence(access={k: True for k in asked}, http={"/debug/pprof/": 200})
    failed = {r.id for r in evaluate([], CLUSTER_CONTROLS, {}, {}, always_allow).failed}
    assert {"1.2.6", "1.2.8", "1.2.15"} <= failed
    unreadable = evaluate([], CLUSTER_CONTROLS, {}, {}, ClusterEvidence(error="ServerUnavailable"))
    assert "1.2.6" in {r.id for r in unreadable.failed}
