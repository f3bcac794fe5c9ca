"""One API endpoint that survives a control-plane host (issue 21), on a real 4-host lab
cluster with ``apiserver_vip``: a client polls the API every 0.2 s through the default admin
kubeconfig (the VIP) while (a) an API server setting is changed with ``kprov apply`` (a
rolling restart: no request fails) and (c) the host holding the VIP is powered off (another
host takes the VIP; kubectl works again with the default context). The stopped host is
started again and the cluster converged; last, ``kprov reset`` removes keepalived and HAProxy
with the rest: no kprov unit or directory on any host (this package's reset stands for the
cluster package's too: decisions 0062)."""

from __future__ import annotations

import time

import pytest

from tests.e2e.ha.conftest import CONTROL_PLANE, HOSTS, WORKERS, HaCluster, Poller, failures


def test_the_admin_kubeconfig_points_at_the_vip_and_the_nodes_at_their_local_balancer(
        ha_cluster: HaCluster) -> None:
    proc = ha_cluster.kubectl("config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}")
    assert proc.stdout == f"https://{ha_cluster.vip}:8443", proc.stderr
    assert ha_cluster.vip_holder() in CONTROL_PLANE
    rc, out, err = ha_cluster.lab.ssh(
        "h4", "grep -h 'server:' /etc/kprov/kubelet.conf /etc/kprov/pki/kube-proxy.conf")
    assert rc == 0 and out.split() == ["server:", "https://127.0.0.1:6444"] * 2, err
    nodes = ha_cluster.kubectl("get", "nodes", "-o", "name")
    want = [f"node/h{i}" for i in range(1, HOSTS + 1)]
    assert nodes.returncode == 0 and nodes.stdout.split() == want, nodes.stderr


def test_an_api_server_setting_change_rolls_without_a_failed_request(ha_cluster: HaCluster) -> None:
    with Poller(ha_cluster.admin_kubeconfig) as poller:
        time.sleep(1)
        rc, report = ha_cluster.apply("-e", '{"apiserver_extra_args": ["--v=1"]}')
        time.sleep(1)
    assert rc == 0 and report["ok"], "\n".join(failures(report))
    restarts = [r for r in report["results"] if r["task"] == "apiserver : restart kprov-apiserver"
                and r["status"] == "changed"]
    assert [r["host"] for r in restarts] == list(CONTROL_PLANE)  # one after another, in order
    assert all("Write the API server unit" in " ".join(r["why"]) for r in restarts)
    print(f"requests={len(poller.results)} failed={len(poller.failed)}")
    assert len(poller.results) > 20
    assert poller.failed == []


def test_the_vip_moves_when_its_host_is_powered_off(ha_cluster: HaCluster) -> None:
    holder = ha_cluster.vip_holder()
    assert holder in CONTROL_PLANE
    try:
        with Poller(ha_cluster.admin_kubeconfig, interval_s=0.1) as poller:
            time.sleep(1)
            ha_cluster.lab.stop(holder)
            deadline = time.monotonic() + 30  # a bound on "it moved at all", not a timing
            while time.monotonic() < deadline and not all(ok for _, ok, _ in poller.results[-10:]):
                time.sleep(0.5)
        new_holder = ha_cluster.vip_holder(skip=(holder,))
        assert new_holder in CONTROL_PLANE and new_holder != holder
        print(f"vip moved {holder} -> {new_holder}; outage {poller.outage_s():.2f}s, "
              f"{len(poller.failed)} of {len(poller.results)} requests failed")
        assert poller.results[-1][1], poller.results[-1]
        nodes = ha_cluster.kubectl("get", "nodes")  # the default context, as a user types it
        assert nodes.returncode == 0, nodes.stderr
    finally:
        ha_cluster.lab.start(holder)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        rc, _, _ = ha_cluster.lab.ssh(holder, "curl -sfk --max-time 2 https://127.0.0.1:6443/readyz")
        if rc == 0:
            break
        time.sleep(2)
    assert rc == 0, f"{holder}'s API server did not come back"


@pytest.mark.package_teardown
def test_reset_removes_keepalived_haproxy_and_the_vip(ha_cluster: HaCluster) -> None:
    proc = ha_cluster.kprov("reset", "-i", str(ha_cluster.inventory), "--yes")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    for host in (*CONTROL_PLANE, *WORKERS):
        rc, out, err = ha_cluster.lab.ssh(
            host, "systemctl list-unit-files --no-legend keepalived.service haproxy.service "
                  "kprov-vipcheck.service; "
                  "ls /etc/keepalived/keepalived.conf /etc/haproxy/haproxy.cfg "
                  "/etc/keepalived/kprov-apiserver-ready.sh /etc/keepalived/kprov-vip-serve.sh "
                  "/etc/keepalived/kprov-vipcheck "
                  "2>/dev/null; true")
        assert rc == 0, err
        assert out.strip() == "", f"{host} keeps: {out}"
        # and no kprov unit or directory, on control-plane hosts and workers alike
        rc, out, err = ha_cluster.lab.ssh(
            host, "systemctl list-units --all --plain --no-legend 'kprov-*' | wc -l; "
                  "ls /etc/systemd/system | grep -c '^kprov-' || true")
        assert rc == 0 and out.split() == ["0", "0"], f"{host}: {out} {err}"
        rc, out, err = ha_cluster.lab.ssh(
            host, "ls -d /etc/kprov /var/lib/kprov /opt/kprov /etc/cni/net.d 2>/dev/null || true")
        assert rc == 0 and out.strip() == "", f"{host} keeps: {out} {err}"
    assert ha_cluster.vip_holder() is None
