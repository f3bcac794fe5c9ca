"""Cluster DNS end to end on the shared 5-host cluster (kprov-dns on h1..h3 behind
kube-system/kube-dns, pods on the workers h4, h5).

The DNS servers' upstream is a stub resolver this module starts on the lab bridge address
(the control-plane hosts' resolv.conf points at it for the module's duration), so no test
query reaches the machine's own resolvers. From a busybox pod on each worker: a Service
by short name, ``svc.ns`` and FQDN; a headless Service's ready pods (and an unready one
dropping out); StatefulSet pods by their stable names; SRV; ExternalName; NXDOMAIN; a
forwarded outside name; the Service variables; ``wget`` to a Service by name; and names
still resolving with one DNS host stopped.
"""

from __future__ import annotations

import json
import re
import shlex
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.cluster.conftest import Cluster, wait_for
from tests.e2e.cluster.dns_stub import KNOWN_NAME, StubResolver, known_address

pytestmark = pytest.mark.lab

NS = "dnstest"
DNS_HOSTS = ["h1", "h2", "h3"]
WORKERS = ["h4", "h5"]
IMAGE = "kprov.local/busybox:1"
SERVE = "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"
# restart this host's server and wait until it serves again (index synced)
RESTART_READY = ("systemctl restart kprov-dns && for i in $(seq 100); do "
                 "curl -sf --max-time 1 http://127.0.0.1:9153/readyz >/dev/null && break; sleep 0.2; done")


def _pod_spec(command: str, node: str | None = None, ready_file: bool = False) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "terminationGracePeriodSeconds": 1,
        "containers": [{"name": "c", "image": IMAGE, "imagePullPolicy": "IfNotPresent",
                        "command": ["sh", "-c", command],
                        "ports": [{"name": "http", "containerPort": 8080}]}],
    }
    if ready_file:
        spec["containers"][0]["readinessProbe"] = {"exec": {"command": ["test", "!", "-e", "/tmp/unready"]},
                                                   "periodSeconds": 1}
    if node:
        spec["nodeName"] = node
    return spec


def _manifests() -> list[dict[str, Any]]:
    web_labels, db_labels = {"app": "web"}, {"app": "db"}
    objs: list[dict[str, Any]] = [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": NS},
         "spec": {"replicas": 2, "selector": {"matchLabels": web_labels},
                  "template": {"metadata": {"labels": web_labels}, "spec": _pod_spec(SERVE)}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": NS},
         "spec": {"selector": web_labels, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db", "namespace": NS},
         "spec": {"clusterIP": "None", "selector": db_labels, "ports": [{"name": "http", "port": 8080}]}},
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": NS},
         "spec": {"replicas": 2, "serviceName": "db", "selector": {"matchLabels": db_labels},
                  "template": {"metadata": {"labels": db_labels},
                               "spec": _pod_spec(SERVE, ready_file=True)}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ext", "namespace": NS},
         "spec": {"type": "ExternalName", "externalName": KNOWN_NAME}},
    ]
    for worker in WORKERS:
        objs.append({"apiVersion": "v1", "kind": "Pod",
                     "metadata": {"name": f"client-{worker}", "namespace": NS},
                     "spec": _pod_spec("sleep 100000", node=worker)})
    return objs


@pytest.fixture(scope="module")
def dns_setup(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    gateway = cluster.lab.layout.gateway
    saved = {h: cluster.ssh(h, "cat /etc/resolv.conf") for h in DNS_HOSTS}
    with StubResolver(gateway):
        for host in DNS_HOSTS:  # one at a time, as the role rolls them: all at once is an outage
            cluster.ssh(host, f"echo 'nameserver {gateway}' > /etc/resolv.conf && {RESTART_READY}")
        wait_for("every kube-dns endpoint ready",
                 lambda: all(_dns_slice_ready(cluster, h) for h in DNS_HOSTS), 60)
        cluster.create_namespace(NS)
        manifest = tmp_path_factory.mktemp("dns") / "objects.yaml"  # documents, not a List: kubectl
        manifest.write_text(yaml.safe_dump_all(_manifests()))        # validates a List by openapi/v2
        cluster.kubectl("apply", "-f", str(manifest))
        wait_for("web, db and client pods ready", lambda: _ready_pods(cluster) >= 6, 180, 2)
        try:
            yield cluster
        finally:
            cluster.kubectl("delete", "namespace", NS, "--wait=false", check=False)
            for host, text in saved.items():  # the hosts' own resolver config back
                restore = f"printf '%s\\n' {shlex.quote(text)} > /etc/resolv.conf"
                cluster.lab.ssh(host, f"{restore} && {RESTART_READY}")


def _ready_pods(cluster: Cluster) -> int:
    pods = cluster.kubectl_json("get", "pods", "-n", NS)["items"]
    return sum(1 for p in pods if any(c["type"] == "Ready" and c["status"] == "True"
                                      for c in p["status"].get("conditions", [])))


def _exec(cluster: Cluster, worker: str, command: str, check: bool = False) -> tuple[int, str]:
    proc = cluster.kubectl("exec", "-n", NS, f"client-{worker}", "--", "sh", "-c", command,
                           check=check, timeout=60)
    return proc.returncode, proc.stdout + proc.stderr


def _addresses(output: str) -> set[str]:
    """Addresses after the 'Name:' line of busybox nslookup output (the server's come before)."""
    _, _, answers = output.partition("Name:")
    return set(re.findall(r"Address(?: \d+)?:\s*([0-9.]+)", answers))


def _lookup(cluster: Cluster, worker: str, name: str, *opts: str) -> tuple[int, str]:
    """busybox nslookup tries every search suffix and exits 1 if any is NXDOMAIN (with
    CoreDNS too): callers judge by the addresses answered, not the status."""
    return _exec(cluster, worker, f"nslookup {' '.join(opts)} {name}")


def _ip(cluster: Cluster, kind: str, name: str) -> str:
    obj = cluster.kubectl_json("get", kind, name, "-n", NS)
    return str(obj["spec"]["clusterIP"] if kind == "service" else obj["status"]["podIP"])


@pytest.mark.parametrize("worker", WORKERS)
def test_pod_resolv_conf_points_at_the_cluster_dns(dns_setup: Cluster, worker: str) -> None:
    _, conf = _exec(dns_setup, worker, "cat /etc/resolv.conf")
    assert "nameserver 10.96.0.10" in conf
    assert f"search {NS}.svc.cluster.local svc.cluster.local cluster.local" in conf
    assert "ndots:5" in conf


@pytest.mark.parametrize("worker", WORKERS)
def test_service_by_short_name_namespace_and_fqdn(dns_setup: Cluster, worker: str) -> None:
    ip = _ip(dns_setup, "service", "web")
    for name in ("web", f"web.{NS}.svc.cluster.local"):
        _, out = _lookup(dns_setup, worker, name)
        assert _addresses(out) == {ip}, (name, out)
    # busybox nslookup applies the search path only to names without a dot; the C library's
    # resolver (ndots:5) does, as applications use it: svc.ns through wget
    rc, out = _exec(dns_setup, worker, f"timeout 5 wget -q -O - http://web.{NS}/")
    assert rc == 0 and out.strip().startswith("web-"), out


@pytest.mark.parametrize("worker", WORKERS)
def test_headless_service_and_statefulset_pod_names(dns_setup: Cluster, worker: str) -> None:
    pods = {n: _ip(dns_setup, "pod", n) for n in ("db-0", "db-1")}
    _, out = _lookup(dns_setup, worker, "db")
    assert _addresses(out) == set(pods.values()), out
    for name, ip in pods.items():
        _, out = _lookup(dns_setup, worker, f"{name}.db.{NS}.svc.cluster.local")
        assert _addresses(out) == {ip}, out


def test_an_unready_pod_drops_out_of_the_headless_answer(dns_setup: Cluster) -> None:
    ip0, ip1 = _ip(dns_setup, "pod", "db-0"), _ip(dns_setup, "pod", "db-1")
    # through sh -c: the kubectl helper appends its --cache-dir flag after the command
    dns_setup.kubectl("exec", "-n", NS, "db-1", "--", "sh", "-c", "touch /tmp/unready")
    try:
        wait_for("db-1 gone from db's answer",
                 lambda: _addresses(_lookup(dns_setup, "h4", "db")[1]) == {ip0}, 30)
    finally:
        dns_setup.kubectl("exec", "-n", NS, "db-1", "--", "sh", "-c", "rm -f /tmp/unready")
    wait_for("db-1 back", lambda: _addresses(_lookup(dns_setup, "h4", "db")[1]) == {ip0, ip1}, 30)


def test_srv_externalname_nxdomain_and_forwarding(dns_setup: Cluster) -> None:
    _, out = _lookup(dns_setup, "h4", f"_http._tcp.web.{NS}.svc.cluster.local", "-type=srv")
    assert f"80 web.{NS}.svc.cluster.local" in out, out
    _, out = _lookup(dns_setup, "h4", "ext")
    assert KNOWN_NAME in out and known_address(KNOWN_NAME) in out, out
    rc, out = _lookup(dns_setup, "h4", f"nope.{NS}.svc.cluster.local")
    assert rc != 0 and "NXDOMAIN" in out and not _addresses(out), out
    _, out = _lookup(dns_setup, "h5", KNOWN_NAME)
    assert _addresses(out) == {known_address(KNOWN_NAME)}, out


@pytest.mark.parametrize("worker", WORKERS)
def test_service_variables_and_reaching_a_service_by_name(dns_setup: Cluster, worker: str) -> None:
    _, env = _exec(dns_setup, worker, "env")
    # the client pods were created after web: they carry its variables
    assert f"WEB_SERVICE_HOST={_ip(dns_setup, 'service', 'web')}" in env
    assert "WEB_SERVICE_PORT=80" in env and "KUBERNETES_SERVICE_HOST=" in env
    rc, out = _exec(dns_setup, worker, "timeout 5 wget -q -O - http://web/")
    assert rc == 0 and out.strip().startswith("web-"), out


def _dns_slice_ready(cluster: Cluster, host: str) -> bool | None:
    """kube-dns-<host>'s readiness; None when the slice is gone (an orderly stop withdraws it)."""
    proc = cluster.kubectl("get", "endpointslice", f"kube-dns-{host}", "-n", "kube-system", "-o", "json",
                           check=False)
    if proc.returncode != 0:
        return None
    return bool(json.loads(proc.stdout)["endpoints"][0]["conditions"]["ready"])


def _names_resolve_from_every_pod(cluster: Cluster) -> None:
    ip = _ip(cluster, "service", "web")
    for worker in WORKERS:
        for _ in range(6):
            _, out = _lookup(cluster, worker, "web")
            assert _addresses(out) == {ip}, out


def test_a_hung_dns_server_is_marked_not_ready_by_its_peers(dns_setup: Cluster) -> None:
    dns_setup.ssh("h2", "systemctl kill -s SIGSTOP kprov-dns")  # it neither answers nor renews
    try:
        wait_for("kube-dns-h2 marked not ready by its peers",
                 lambda: _dns_slice_ready(dns_setup, "h2") is False, 60)
        _names_resolve_from_every_pod(dns_setup)
    finally:
        dns_setup.ssh("h2", "systemctl kill -s SIGCONT kprov-dns")
    wait_for("kube-dns-h2 ready again", lambda: _dns_slice_ready(dns_setup, "h2"), 60)


def test_names_keep_resolving_with_one_dns_host_stopped(dns_setup: Cluster) -> None:
    dns_setup.lab.stop("h3")
    try:
        wait_for("kube-dns-h3 withdrawn or marked not ready",
                 lambda: not _dns_slice_ready(dns_setup, "h3"), 60)
        _names_resolve_from_every_pod(dns_setup)
    finally:
        dns_setup.lab.start("h3")
    wait_for("kube-dns-h3 ready again", lambda: _dns_slice_ready(dns_setup, "h3"), 120, 2)


def _start_query_loop(cluster: Cluster, worker: str, name: str, ip: str) -> None:
    """A pod on ``worker`` resolving ``name`` every 0.2 s until /tmp/stop-loop exists, then
    logging "summary: <answered> <failed>" (each failure's output before it)."""
    loop = (f"ok=0; bad=0; while [ ! -e /tmp/stop-loop ]; do "
            f"if nslookup {name} > /tmp/out 2>&1 && grep -q 'Address.*{ip}' /tmp/out; then ok=$((ok+1)); "
            f"else bad=$((bad+1)); date; cat /tmp/out; fi; sleep 0.2; done; echo summary: $ok $bad; "
            f"exec sleep 100000")
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"resolver-{worker}", "namespace": NS},
           "spec": _pod_spec(loop, node=worker)}
    manifest = Path(tempfile.mkdtemp()) / "resolver.json"
    manifest.write_text(json.dumps(pod))
    cluster.kubectl("apply", "-f", str(manifest))
    cluster.kubectl("wait", "-n", NS, "--for=condition=Ready", f"pod/resolver-{worker}", "--timeout=60s",
                    timeout=90)


def _stop_query_loop(cluster: Cluster, worker: str) -> tuple[int, int, str]:
    """(answered, failed, the loop's log) once it has stopped; the pod is deleted."""
    pod = f"resolver-{worker}"
    cluster.kubectl("exec", "-n", NS, pod, "--", "sh", "-c", "touch /tmp/stop-loop")

    def finished_log() -> str:
        out = cluster.kubectl("logs", "-n", NS, pod).stdout
        return out if "summary:" in out else ""

    log = wait_for(f"the query loop on {worker} to stop", finished_log, 30)
    cluster.kubectl("delete", "pod", "-n", NS, pod, "--wait=false")
    answered, failed = (int(n) for n in log.rpartition("summary:")[2].split()[:2])
    return answered, failed, log


def _unit_command(cluster: Cluster, host: str) -> str:
    return cluster.ssh(host, "systemctl show -p ExecStart --value kprov-dns")


def test_a_dns_setting_applied_by_kprov_restarts_the_servers_one_by_one_with_no_failed_query(
        dns_setup: Cluster) -> None:
    """Changing kprov-dns's arguments restarts every server; the role rolls them (one at a
    time, each ready before the next stops; a stopping server answers on while kube-proxies
    drop its endpoint), so clients resolving all along see no failure. Restarted together,
    the lab showed queries refused for over a second."""
    ip = _ip(dns_setup, "service", "web")
    name = f"web.{NS}.svc.cluster.local"
    for worker in WORKERS:
        _start_query_loop(dns_setup, worker, name, ip)
    try:
        changed = dns_setup.kprov("apply", "-i", str(dns_setup.inventory),
                                  "-e", json.dumps({"cluster_dns_extra_args": ["--ttl=29"]}))
        assert changed.returncode == 0, changed.stdout[-3000:] + changed.stderr[-2000:]
        assert all("--ttl=29" in _unit_command(dns_setup, h) for h in DNS_HOSTS)
        restored = dns_setup.kprov("apply", "-i", str(dns_setup.inventory))  # the package's settings back
        assert restored.returncode == 0, restored.stdout[-3000:] + restored.stderr[-2000:]
        assert not any("--ttl=29" in _unit_command(dns_setup, h) for h in DNS_HOSTS)
    finally:
        results = {w: _stop_query_loop(dns_setup, w) for w in WORKERS}
    for worker, (answered, failed, failures) in results.items():
        assert failed == 0 and answered > 20, (worker, answered, failed, failures[-3000:])
