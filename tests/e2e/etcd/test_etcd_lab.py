"""The etcd quorum on lab hosts, end to end through kprov (pki init, apply, etcd status /
backup / restore / members) against real etcd 3.4 under systemd.

The tests run in order on one cluster (module fixture): bootstrap over TLS, an idle re-run,
a rolling config change, a member stopped under write load, backup/restore, 3 -> 5 -> 3.
ansible-playbook convergence and idempotence of the same role are covered by the molecule
scenario (tests/e2e/molecule).
Figures are printed as ``name = value`` (visible with -s); they are never asserted as speed
targets, only as correctness bounds (a write gap longer than a few elections is a failure).
"""

from __future__ import annotations

import hashlib
import json
import ssl
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from aetcd import rpc

from kprov.etcdops.cluster import EtcdCluster
from kprov.lab import Lab

from .helpers import (
    HOSTS5,
    EtcdClient,
    Writer,
    kprov,
    kprov_apply,
    unit_state,
    wait_until,
    wipe_etcd,
    write_inventory,
)

pytestmark = pytest.mark.lab
PLAYBOOK = Path(__file__).parent / "etcd.yml"
HOSTS3 = HOSTS5[:3]


@dataclass
class Env:
    lab: Lab
    inv3: Path
    inv5: Path
    pki: Path
    workdir: Path

    def client(self, host: str) -> EtcdClient:
        return EtcdClient(self.lab.ip(host), self.pki)

    def views(self, inventory: Path):
        with EtcdCluster(inventory) as cluster:
            return cluster.members(cluster.anchor())


def figure(name: str, value: float) -> None:
    print(f"{name} = {value:.2f}")


@pytest.fixture(scope="module")
def env(lab_hosts, tmp_path_factory) -> Env:
    lab = lab_hosts(5)
    workdir = tmp_path_factory.mktemp("etcd")
    wipe_etcd(lab, HOSTS5)
    inv3 = write_inventory(lab, workdir / "hosts.yml", HOSTS3)
    inv5 = write_inventory(lab, workdir / "hosts5.yml", HOSTS5)
    kprov("pki", "init", "-i", inv5)
    yield Env(lab, inv3, inv5, workdir / "pki", workdir)
    wipe_etcd(lab, HOSTS5)


def _all_healthy(env: Env, inventory: Path, names: list[str]) -> None:
    views = env.views(inventory)
    assert sorted(v.name for v in views) == sorted(names)
    assert all(v.healthy for v in views), [(v.name, v.error) for v in views]
    assert sum(v.is_leader for v in views) == 1


def test_apply_bootstraps_a_tls_only_cluster(env: Env) -> None:
    start = time.monotonic()
    report = kprov_apply(env.inv3, PLAYBOOK)
    figure("etcd_time_to_healthy_s", time.monotonic() - start)
    assert report["ok"], report["errors"]
    status = kprov("etcd", "status", "-i", env.inv3).stdout
    assert status.count("healthy") == 3 and "unhealthy" not in status
    _all_healthy(env, env.inv3, HOSTS3)

    client = env.client("h1")
    client.put("/e2e/hello", "world")
    assert env.client("h2").get("/e2e/hello") == "world"

    address = env.lab.ip("h1")
    with pytest.raises(Exception) as plain:  # plain HTTP on the TLS port gets no answer
        urllib.request.urlopen(f"http://{address}:2379/version", timeout=5)
    assert not isinstance(plain.value, AssertionError)
    certless = ssl.create_default_context(cafile=str(env.pki / "etcd/ca.crt"))
    with pytest.raises((ssl.SSLError, urllib.error.URLError, ConnectionError)):
        urllib.request.urlopen(f"https://{address}:2379/version", timeout=5, context=certless).read()
    with_cert = ssl.create_default_context(cafile=str(env.pki / "etcd/ca.crt"))
    with_cert.load_cert_chain(env.pki / "etcd/admin.crt", env.pki / "etcd/admin.key")
    body = urllib.request.urlopen(f"https://{address}:2379/version", timeout=5, context=with_cert).read()
    assert b"3.4" in body
    channel = grpc.secure_channel(
        f"{address}:2379", grpc.ssl_channel_credentials((env.pki / "etcd/ca.crt").read_bytes())
    )
    with pytest.raises(grpc.RpcError):
        rpc.KVStub(channel).Put(rpc.PutRequest(key=b"/e2e/x", value=b"no cert"), timeout=5)
    channel.close()


def test_second_apply_changes_and_restarts_nothing(env: Env) -> None:
    before = {h: unit_state(env.lab, h) for h in HOSTS3}
    start = time.monotonic()
    report = kprov_apply(env.inv3, PLAYBOOK)
    figure("etcd_noop_apply_s", time.monotonic() - start)
    assert report["ok"]
    assert {h: s["changed"] for h, s in report["stats"].items()} == {h: 0 for h in HOSTS3}
    after = {h: unit_state(env.lab, h) for h in HOSTS3}
    for host in HOSTS3:
        assert after[host]["MainPID"] == before[host]["MainPID"] != "0"
        assert after[host]["ActiveEnterTimestampMonotonic"] == before[host]["ActiveEnterTimestampMonotonic"]


def _restarts_one_at_a_time(env: Env, extra: list[str]) -> None:
    before = {h: unit_state(env.lab, h) for h in HOSTS3}
    report = kprov_apply(env.inv3, PLAYBOOK, *extra)
    assert report["ok"], report["errors"]
    after = {h: unit_state(env.lab, h) for h in HOSTS3}
    for host in HOSTS3:
        assert after[host]["MainPID"] != before[host]["MainPID"], f"{host} was not restarted"
    spans = sorted(
        (int(s["ExecMainStartTimestampMonotonic"]), int(s["ActiveEnterTimestampMonotonic"]), h)
        for h, s in after.items()
    )
    for (_, ready, host), (started, _, nxt) in zip(spans, spans[1:], strict=False):
        assert started >= ready, f"{nxt} restarted before {host} was back"
    _all_healthy(env, env.inv3, HOSTS3)


def test_config_change_restarts_members_one_at_a_time(env: Env) -> None:
    _restarts_one_at_a_time(env, ["-e", "etcd_heartbeat_interval=150", "-e", "etcd_election_timeout=1500"])
    _restarts_one_at_a_time(env, [])  # back to the defaults


def test_writes_go_on_while_h3_is_stopped_and_h3_catches_up(env: Env) -> None:
    with EtcdCluster(env.inv3) as cluster:
        views = {v.name: v for v in cluster.members(cluster.anchor())}
        endpoints = [v.endpoint for v in views.values()]
        if not views["h3"].is_leader:  # make the stop cost an election
            cluster.etcdctl("h1").check("move-leader", f"{views['h3'].info.member_id:x}", endpoints=endpoints)
    writer = Writer(env.client("h1"))
    writer.start()
    try:
        wait_until(lambda: writer.acked > 200, 30, "first writes")
        stopped_at = writer.acked
        kprov("lab", "--lab", str(env.lab.index), "stop", "h3")
        wait_until(lambda: writer.acked > stopped_at + 300, 60, "writes while h3 is down")
        during = writer.acked - stopped_at
        start = time.monotonic()
        kprov("lab", "--lab", str(env.lab.index), "start", "h3")
        h3 = env.client("h3")
        wait_until(lambda: h3.count(Writer.prefix, serializable=True) > stopped_at, 120, "h3 rejoining")
        figure("etcd_h3_rejoin_s", time.monotonic() - start)
        time.sleep(1)
    finally:
        writer.stop()
    figure("etcd_write_max_gap_s", writer.max_gap)
    figure("etcd_writes_acked", writer.acked)
    assert during > 300
    assert writer.max_gap < 5.0, f"writes stalled for {writer.max_gap:.1f}s"
    # Keys are written in order and each is retried until acknowledged, so "none lost" means
    # every key up to the last acknowledged one is there (one more may exist: a write whose
    # answer timed out after it was committed).
    h1 = env.client("h1")
    stored = h1.count(Writer.prefix)
    assert writer.acked <= stored <= writer.acked + 1
    assert h1.get(f"{Writer.prefix}{writer.acked - 1:07d}") == str(writer.acked - 1)
    h3 = env.client("h3")
    wait_until(lambda: h3.count(Writer.prefix, serializable=True) == stored, 30, "h3 holding every key")
    assert h3.get(f"{Writer.prefix}{writer.acked - 1:07d}", serializable=True) == str(writer.acked - 1)
    _all_healthy(env, env.inv3, HOSTS3)


def test_backup_delete_restore(env: Env) -> None:
    client = env.client("h1")
    for i in range(50):
        client.put(f"/e2e/b/{i:03d}", f"v{i}")
    total = client.count("/e2e/")
    out = env.workdir / "backups"
    kprov("etcd", "backup", "-i", env.inv3, "--out", out)
    (snapshot,) = out.glob("etcd-snapshot-*.db")
    digest, name = (out / f"{snapshot.name}.sha256").read_text().split()
    assert name == snapshot.name and digest == hashlib.sha256(snapshot.read_bytes()).hexdigest()
    assert snapshot.stat().st_mode & 0o777 == 0o600

    assert client.delete_prefix("/e2e/") == total
    assert client.count("/e2e/") == 0
    start = time.monotonic()
    kprov("etcd", "restore", "-i", env.inv3, snapshot, "--yes")
    figure("etcd_restore_s", time.monotonic() - start)
    _all_healthy(env, env.inv3, HOSTS3)
    for host in HOSTS3:
        restored = env.client(host)
        assert restored.count("/e2e/") == total
        assert restored.get("/e2e/b/049") == "v49"


def test_membership_three_five_three(env: Env) -> None:
    inv4 = write_inventory(env.lab, env.workdir / "hosts4.yml", HOSTS5[:4])
    import subprocess

    from .helpers import KPROV

    refused = subprocess.run([*KPROV, "etcd", "members", "-i", str(inv4)], capture_output=True, text=True,
                             stdin=subprocess.DEVNULL)
    assert refused.returncode == 1 and "odd number of members" in refused.stderr
    # A plain apply of the grown group refuses to bootstrap the new hosts as a second cluster.
    clash = subprocess.run([*KPROV, "apply", "-i", str(env.inv5), str(PLAYBOOK), "--json"],
                           capture_output=True, text=True, stdin=subprocess.DEVNULL)
    results = json.loads(clash.stdout)["results"]
    refusals = {r["host"] for r in results if r["status"] == "failed" and "one member at a time" in r["msg"]}
    assert clash.returncode != 0 and refusals == {"h4", "h5"}

    start = time.monotonic()
    kprov("etcd", "members", "-i", env.inv5)
    figure("etcd_grow_3_to_5_s", time.monotonic() - start)
    _all_healthy(env, env.inv5, HOSTS5)
    h5 = env.client("h5")
    wait_until(lambda: h5.count("/e2e/b/", serializable=True) == 50, 30, "h5 holding the data")

    start = time.monotonic()
    kprov("etcd", "members", "-i", env.inv3)
    figure("etcd_shrink_5_to_3_s", time.monotonic() - start)
    _all_healthy(env, env.inv3, HOSTS3)
    for host in ("h4", "h5"):
        assert unit_state(env.lab, host)["ActiveState"] == "inactive"
        rc, _, _ = env.lab.ssh(host, "test -e /var/lib/kprov/etcd/member")
        assert rc != 0, f"{host} still has member data"

    before = {h: unit_state(env.lab, h)["MainPID"] for h in HOSTS3}
    assert kprov_apply(env.inv3, PLAYBOOK)["ok"]  # the group changed: files only, no restart
    assert {h: unit_state(env.lab, h)["MainPID"] for h in HOSTS3} == before
