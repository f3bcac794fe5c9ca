"""The image mirror on the package's cluster: public image names run, air-gapped.

The cold apply (conftest) seeded every control-plane host's mirror with kprov's stand-ins.
Deployments naming docker.io/library/busybox:latest (pull policy Always) and
registry.k8s.io/pause:3.9 run on every worker; an image no mirror holds backs off with the
registry's own "not found"; an archive loaded with `kprov images load` runs by its public
name (kprov's stand-ins with agnhost: nginx by its Docker Hub name, serving HTTP); with
two of the three mirrors down, a node still pulls from the third; a mirror that answers
nothing (its packets dropped, as a powered-off host's) is moved last on every node by
kprov-mirror-order and pulls go on; and `kprov bundle --image-archive`, applied to the hosts
with no package mirror left, makes that image run by its public name.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from kprov.images.oci import ImageSpec, build_archive
from kprov.images.recipes import busybox_files
from tests.e2e.cluster.conftest import Cluster, wait_for

pytestmark = pytest.mark.lab

WORKERS = ["h4", "h5"]
NAMESPACE = "mirror-e2e"
REPO = Path(__file__).resolve().parents[3]
SHARED = Path(os.environ.get("KPROV_CONFORMANCE_DIR", REPO.parent / "shared" / "conformance"))


def _deployment(name: str, image: str, pull_policy: str) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"replicas": len(WORKERS), "selector": {"matchLabels": labels}, "template": {
            "metadata": {"labels": labels},
            "spec": {
                "terminationGracePeriodSeconds": 1,
                "affinity": {
                    "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In",
                                               "values": WORKERS}]}]}},
                    "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                        {"labelSelector": {"matchLabels": labels},
                         "topologyKey": "kubernetes.io/hostname"}]},
                },
                "containers": [{"name": "main", "image": image, "imagePullPolicy": pull_policy,
                                **({"command": ["sleep", "100000"]} if "busybox" in image else {})}],
            }}},
    }


def _pod(name: str, image: str, node: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {"nodeName": node, "terminationGracePeriodSeconds": 1, "containers": [
                {"name": "main", "image": image, "imagePullPolicy": "Always",
                 "command": ["sleep", "100000"]}]}}


def _apply(cluster: Cluster, tmp_path: Path, *objects: dict[str, Any]) -> None:
    manifest = tmp_path / "objects.yaml"
    manifest.write_text(yaml.safe_dump_all(objects))
    cluster.kubectl("apply", "-f", str(manifest))


def _running(cluster: Cluster, selector: str) -> dict[str, dict[str, Any]]:
    pods = cluster.kubectl_json("get", "pods", "-n", NAMESPACE, "-l", selector)["items"]
    return {p["spec"].get("nodeName", ""): p for p in pods
            if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")}


def _pod_running(cluster: Cluster, name: str) -> bool:
    pod = cluster.kubectl_json("get", "pod", name, "-n", NAMESPACE)
    return bool(pod["status"].get("phase") == "Running")


@pytest.fixture(scope="module")
def namespace(cluster: Cluster) -> Any:
    cluster.create_namespace(NAMESPACE)
    yield NAMESPACE
    cluster.kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)


def test_public_names_run_on_every_worker_from_the_mirror(cluster: Cluster, namespace: str,
                                                          tmp_path: Path) -> None:
    _apply(cluster, tmp_path, _deployment("busybox", "docker.io/library/busybox:latest", "Always"),
           # Always: a worker may hold this name already, imported without a repository
           # digest by the conformance suite's image step, and IfNotPresent would not pull it
           _deployment("pause", "registry.k8s.io/pause:3.9", "Always"))
    for app, repository in (("busybox", "docker.io/library/busybox"), ("pause", "registry.k8s.io/pause")):
        def on_every_worker(app: str = app) -> dict[str, dict[str, Any]] | None:
            running = _running(cluster, f"app={app}")
            return running if sorted(running) == WORKERS else None

        pods = wait_for(f"{app} running on every worker", on_every_worker, 180)
        for node, pod in pods.items():
            (status,) = pod["status"]["containerStatuses"]
            assert status["imageID"].startswith(f"{repository}@sha256:"), (node, status)


def test_an_image_no_mirror_holds_backs_off_with_the_registrys_message(cluster: Cluster, namespace: str,
                                                                      tmp_path: Path) -> None:
    image = "docker.io/library/kprov-e2e-missing:1"
    _apply(cluster, tmp_path, _pod("missing", image, WORKERS[0]))

    def backing_off() -> dict[str, Any] | None:
        pod = cluster.kubectl_json("get", "pod", "missing", "-n", NAMESPACE)
        status = (pod["status"].get("containerStatuses") or [{}])[0]
        waiting = (status.get("state") or {}).get("waiting") or {}
        return waiting if waiting.get("reason") == "ImagePullBackOff" else None

    waiting = wait_for("ImagePullBackOff", backing_off, 120)
    assert waiting["message"] == f'Back-off pulling image "{image}"'
    events = cluster.kubectl_json("get", "events", "-n", NAMESPACE, "--field-selector",
                                  "involvedObject.name=missing")["items"]
    messages = " ".join(e.get("message", "") for e in events)
    assert f"{image}: not found" in messages, messages  # the registry's words, nothing tried upstream
    seen = {(e["type"], e["reason"], e["message"]) for e in events}
    assert ("Normal", "Pulling", f'Pulling image "{image}"') in seen, seen
    assert ("Normal", "BackOff", f'Back-off pulling image "{image}"') in seen, seen
    assert ("Warning", "Failed", "Error: ErrImagePull") in seen, seen
    assert ("Warning", "Failed", "Error: ImagePullBackOff") in seen, seen
    failed = [m for _, reason, m in seen if reason == "Failed" and m.startswith("Failed to pull")]
    prefix = f'Failed to pull image "{image}": rpc error: code = NotFound desc = '
    assert failed and failed[0].startswith(prefix), seen


def test_an_archive_loaded_with_kprov_images_load_runs_by_its_public_name(
        cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    image = "quay.io/kprov-e2e/hello:v1"
    archive = tmp_path / "hello.tar"
    build_archive(ImageSpec(image, files=busybox_files(), cmd=["/bin/sh"]), archive)
    proc = cluster.kprov("images", "load", "-i", str(cluster.inventory), str(archive), timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    listed = cluster.kprov("images", "ls", "-i", str(cluster.inventory))
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert listed.stdout.count(image) == 3, listed.stdout  # in every control-plane host's mirror
    _apply(cluster, tmp_path, _pod("hello", image, WORKERS[1]))
    wait_for("the loaded image running", lambda: _pod_running(cluster, "hello"), 120)


@pytest.mark.skipif(not (SHARED / "agnhost.gz").is_file(), reason=f"no agnhost.gz in {SHARED}")
def test_nginx_by_its_docker_hub_name_serves_http_from_the_agnhost_standins(
        cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    agnhost = tmp_path / "agnhost"
    with gzip.open(SHARED / "agnhost.gz", "rb") as source, agnhost.open("wb") as out:
        shutil.copyfileobj(source, out, 1 << 20)
    archive = tmp_path / "standins.tar"
    built = cluster.kprov("images", "standins", "-o", str(archive), "--agnhost", str(agnhost))
    assert built.returncode == 0, built.stdout + built.stderr
    loaded = cluster.kprov("images", "load", "-i", str(cluster.inventory), str(archive), timeout=600)
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    _apply(cluster, tmp_path, _deployment("nginx", "nginx", "Always"))

    def serving() -> str | None:
        running = _running(cluster, "app=nginx")
        if sorted(running) != WORKERS:
            return None
        ip = next(iter(running.values()))["status"]["podIP"]
        page = cluster.ssh("h1", f"curl -s --max-time 3 http://{ip}:80/")
        return page if "<h1>Welcome to nginx!</h1>" in page else None

    assert wait_for("nginx pods on every worker answering on port 80", serving, 180)


def test_pulls_go_on_with_two_of_three_mirrors_down(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    image = "registry.k8s.io/e2e-test-images/busybox:1.36.1-1"  # not pulled by any node yet
    down = ["h1", "h2"]
    for host in down:
        cluster.ssh(host, "systemctl stop docker-registry")
    try:
        _apply(cluster, tmp_path, _pod("failover", image, WORKERS[0]))
        wait_for("a pull from the one mirror left", lambda: _pod_running(cluster, "failover"), 120)
    finally:
        for host in down:
            cluster.ssh(host, "systemctl start docker-registry")


def _mirror_order(cluster: Cluster, host: str, registry: str) -> list[str]:
    doc = tomllib.loads(cluster.ssh(host, f"cat /etc/containerd/certs.d/{registry}/hosts.toml"))
    return [*doc.get("host", {}), doc["server"]]


def test_a_silent_mirror_is_asked_last_and_pulls_go_on(cluster: Cluster, namespace: str) -> None:
    silent = cluster.lab.ip("h1")
    nodes = ["h2", "h3", *WORKERS]
    rule = "INPUT -p tcp --dport 5000 -j DROP"  # no answer at all, as from a powered-off host
    cluster.ssh("h1", f"iptables -I {rule}")
    try:
        def h1_last_everywhere() -> bool:
            return all(_mirror_order(cluster, node, "registry.k8s.io")[-1].startswith(f"https://{silent}:")
                       for node in nodes)

        wait_for("every node asking h1's mirror last", h1_last_everywhere, 30)
        for node in nodes:  # each resolves through the mirrors again (present images too)
            cluster.ssh(node, "ctr -n k8s.io images pull --hosts-dir /etc/containerd/certs.d "
                              "registry.k8s.io/pause:3.9 >/dev/null")
    finally:
        cluster.ssh("h1", f"iptables -D {rule}")
    wait_for("h1's mirror asked first again where it was",
             lambda: _mirror_order(cluster, "h4", "registry.k8s.io")[0].startswith(f"https://{silent}:"), 30)
