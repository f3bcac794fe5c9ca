"""Two API server processes on one etcd: reads and watches agree (resourceVersion = etcd
revision), and a watch from before the watch cache's window gets 410 Expired."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from kprov.local.certs import write_identity_kubeconfig
from kprov.local.control_plane import apiserver_argv
from kprov.local.ports import free_port, wait_for_port
from kprov.pki import ADMIN_CN, MASTERS_GROUP


@pytest.fixture(scope="module")
def second_server(control_plane, tmp_path_factory) -> Iterator[Path]:  # type: ignore[no-untyped-def]
    """Another kprov-apiserver on the same etcd, with a 20-event watch cache; its admin kubeconfig."""
    pki = control_plane.plane.pki
    port = free_port()
    log = tmp_path_factory.mktemp("second") / "apiserver.log"
    argv = apiserver_argv(pki, control_plane.etcd_url, port, "--watch-cache-size", "20")
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        assert wait_for_port("127.0.0.1", port, 30), log.read_text()
        yield write_identity_kubeconfig(
            pki, f"https://127.0.0.1:{port}", ADMIN_CN, [MASTERS_GROUP], file_name="second-server-admin"
        )
    finally:
        proc.terminate()
        proc.wait(10)


def _core(path: Path) -> client.CoreV1Api:
    return client.CoreV1Api(config.new_client_from_config(config_file=str(path)))


def test_write_on_one_read_on_other(control_plane, second_server, namespace):
    a, b = _core(control_plane.admin_kubeconfig), _core(second_server)
    for i in range(5):
        made = a.create_namespaced_config_map(namespace, {"metadata": {"name": f"c{i}"}})
        seen = b.read_namespaced_config_map(f"c{i}", namespace)
        assert seen.metadata.resource_version == made.metadata.resource_version
        listed = b.list_namespaced_config_map(namespace)
        assert int(listed.metadata.resource_version) >= int(made.metadata.resource_version)
        assert f"c{i}" in [c.metadata.name for c in listed.items]


def test_watch_on_other_server_sees_writes(control_plane, second_server, namespace):
    a, b = _core(control_plane.admin_kubeconfig), _core(second_server)
    rv = a.list_namespaced_config_map(namespace).metadata.resource_version

    def writer() -> None:
        time.sleep(0.3)
        a.create_namespaced_config_map(namespace, {"metadata": {"name": "w1"}})
        a.patch_namespaced_config_map("w1", namespace, {"data": {"k": "v"}})

    threading.Thread(target=writer, daemon=True).start()
    events = []
    watcher = watch.Watch()
    for e in watcher.stream(b.list_namespaced_config_map, namespace, resource_version=rv, timeout_seconds=20):
        events.append((e["type"], e["object"].metadata.name, e["object"].metadata.resource_version))
        if len(events) == 2:
            watcher.stop()
    assert [e[:2] for e in events] == [("ADDED", "w1"), ("MODIFIED", "w1")]
    assert a.read_namespaced_config_map("w1", namespace).metadata.resource_version == events[-1][2]


def test_watch_older_than_cache_window_is_410(second_server, namespace):
    b = _core(second_server)
    old_rv = b.list_namespaced_config_map(namespace).metadata.resource_version
    for i in range(30):  # more events than the second server's 20-event window
        b.create_namespaced_config_map(namespace, {"metadata": {"name": f"x{i}"}})
    with pytest.raises(ApiException) as expired:
        for _ in watch.Watch().stream(
            b.list_namespaced_config_map, namespace, resource_version=old_rv, timeout_seconds=2
        ):
            pass
    assert expired.value.status == 410 and "too old resource version" in str(expired.value)


def test_kubernetes_endpoints_follow_live_api_servers(control_plane, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A server on another advertise address joins the kubernetes Endpoints; killed (no
    clean stop), it leaves them when its lease expires; stopped cleanly, at once."""
    core = _core(control_plane.admin_kubeconfig)

    def addresses() -> list[str]:
        subsets = core.read_namespaced_endpoints("kubernetes", "default").subsets or []
        return sorted(a.ip for s in subsets for a in (s.addresses or []))

    def wait_for(expected: list[str], seconds: float) -> float:
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            if addresses() == expected:
                return time.monotonic() - start
            time.sleep(0.2)
        raise AssertionError(f"kubernetes Endpoints {addresses()} != {expected} after {seconds}s")

    before = addresses()
    assert before == ["127.0.0.1"]
    pki = control_plane.plane.pki

    def start() -> subprocess.Popen[bytes]:
        port = free_port()
        argv = apiserver_argv(
            pki, control_plane.etcd_url, port, "--advertise-address", "127.0.0.2",
            "--endpoint-lease-ttl-seconds", "3",
        )
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        assert wait_for_port("127.0.0.1", port, 30)
        return proc

    proc = start()
    try:
        wait_for(["127.0.0.1", "127.0.0.2"], 10)
        proc.kill()  # no chance to say goodbye: the lease must expire
        proc.wait(10)
        assert wait_for(["127.0.0.1"], 15) > 0.5
        proc = start()
        wait_for(["127.0.0.1", "127.0.0.2"], 10)
        proc.terminate()  # a clean stop leaves at once, well before the 3 s lease would expire
        proc.wait(10)
        assert wait_for(["127.0.0.1"], 2.5) < 2.5
    finally:
        proc.kill()
        proc.wait(10)


def test_updates_alternating_between_servers_lose_nothing(control_plane, second_server, namespace):
    """Each server starts an update from its watch cache's copy, which may lag the other
    server's last write by milliseconds: the revision check must catch that every time."""
    a, b = _core(control_plane.admin_kubeconfig), _core(second_server)
    a.create_namespaced_config_map(namespace, {"metadata": {"name": "alternating"}, "data": {}})
    for i in range(40):
        api = a if i % 2 == 0 else b
        api.patch_namespaced_config_map(
            "alternating", namespace, [{"op": "add", "path": f"/data/k{i}", "value": str(i)}]
        )
    data = a.read_namespaced_config_map("alternating", namespace).data
    assert data == {f"k{i}": str(i) for i in range(40)}
