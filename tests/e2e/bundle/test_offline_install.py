"""From scratch with nothing but a bundle: `kprov bundle` then one cold `kprov apply`.

Fresh lab hosts lose everything the lab normally gives them for installing: the lab's
package server (the HTTP apt repository on the instance's bridge, which every host's
sources.list names) is stopped, sources.list names nothing, the package lists primed at
boot and the lab's apt configuration are removed. (Python wheels never come from the
network on hosts: kprov's runtime is copied from the operator machine, here from the
bundle.) A default `kprov bundle` (the cluster's packages, self-contained; the wheelhouse
and runtime; the node images and stand-ins) plus ``--image-archive`` of an image built here
under a public name is the only source. One cold apply with the bundle's variables makes a
cluster; a pod naming that image runs on the worker, which holds no mirror itself and pulls
through the control-plane hosts' mirrors; a second apply changes nothing.

Topology: the fewest hosts the lab's inventory allows with a worker: three control-plane
hosts (the etcd quorum and the mirrors) and one worker. Figures (bundle size and build time,
cold apply time, load average) are printed. Nothing is cached across runs but what
`kprov apply` caches anyway (the wheelhouse and runtime, by source digest): the .debs come
from Debian's mirror each time, ~10 s for 117 MiB (a deb cache measured slower).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kprov.images.oci import ImageSpec, build_archive
from kprov.images.recipes import busybox_files
from kprov.lab import Lab
from kprov.lab.services import ensure_repo_server, stop_repo_server

pytestmark = pytest.mark.lab

KPROV = [sys.executable, "-m", "kprov.cli.main"]
HOSTS = 4  # h1..h3 control plane (etcd, API servers, mirrors), h4 the worker
WORKER = "h4"
IMAGE = "quay.io/kprov-e2e/bundled:v1"
# What the lab gives a host for installing, taken away: its sources, lists, apt settings
CUT_OFF = ("echo '# no package source but the bundle' > /etc/apt/sources.list"
           " && rm -f /etc/apt/sources.list.d/* /etc/apt/apt.conf.d/90kprov-lab"
           " && rm -rf /var/lib/apt/lists/* && apt-get clean")


def _kprov(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KPROV, *args], capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, COLUMNS="200"), stdin=subprocess.DEVNULL)


def _ssh(lab: Lab, host: str, command: str) -> str:
    rc, out, err = lab.ssh(host, command)
    assert rc == 0, f"{host}: {command}: {err}"
    return out.strip()


def _load() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def _apply(inventory: Path, variables: Path) -> tuple[dict[str, Any], float]:
    started = time.monotonic()
    proc = _kprov("apply", "-i", str(inventory), "--json", "-e", f"@{variables}", timeout=1200)
    elapsed = time.monotonic() - started
    assert proc.stdout.strip(), proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    failed = [f"{r['host']}: {r['task']}: {r['msg']}" for r in report["results"]
              if r["status"] in ("failed", "unreachable") and not r.get("ignored")]
    assert report["ok"], "\n".join(failed + report["errors"])
    return report, elapsed


def _kubectl(kubeconfig: Path, *args: str) -> str:
    proc = subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), "--request-timeout=10s", *args],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"kubectl {' '.join(args)}: {proc.stderr}"
    return proc.stdout


@pytest.fixture
def cut_off_hosts(lab: Lab) -> Iterator[Lab]:
    """Fresh hosts with no package source; the lab's package server is back afterwards."""
    lab.wipe()
    lab.up(HOSTS)
    stop_repo_server(lab.layout)
    try:
        for host in lab.hosts():
            _ssh(lab, host, CUT_OFF)
        yield lab
    finally:
        ensure_repo_server(lab.layout)
        if not os.environ.get("KPROV_KEEP_LAB"):  # set it to look at a failed run's hosts
            lab.wipe()


def test_a_default_bundle_installs_a_cluster_from_scratch_that_runs_a_bundled_image(
        cut_off_hosts: Lab, tmp_path: Path) -> None:
    lab = cut_off_hosts
    for host in lab.hosts():  # nothing to install from: no lists, the lab's server gone
        _ssh(lab, host, "apt-get -qq update")
        rc, _, _ = lab.ssh(host, "apt-get install -s -qq containerd")
        assert rc != 0, f"{host} has a source for containerd besides the bundle"
        # the lab's package server only: probing an outside mirror would send traffic (a DNS
        # query at least) beyond the lab, which this workplace forbids
        rc, _, _ = lab.ssh(host, f"curl -s --max-time 3 -o /dev/null {lab.layout.repo_url}/Packages")
        assert rc != 0, f"{host} reaches the lab's package server"

    archive = tmp_path / "bundled.tar"
    build_archive(ImageSpec(IMAGE, files=busybox_files(), cmd=["/bin/sh"]), archive)
    bundle = tmp_path / "bundle"
    load_before, started = _load(), time.monotonic()
    built = _kprov("bundle", "--out", str(bundle), "--image-archive", str(archive))
    build_s = time.monotonic() - started
    assert built.returncode == 0, built.stdout + built.stderr
    size_mib = sum(f.stat().st_size for f in bundle.rglob("*") if f.is_file()) / 2**20
    printed = _kprov("bundle", "--out", str(bundle), "--vars")
    assert printed.returncode == 0, printed.stdout + printed.stderr
    variables = json.loads(printed.stdout)
    variables["offline_repo_exclusive"] = True
    vars_file = tmp_path / "vars.json"
    vars_file.write_text(json.dumps(variables))

    inventory = lab.write_inventory(tmp_path / "hosts.yml", HOSTS)
    assert yaml.safe_load(inventory.read_text())["all"]["children"]["workers"]["hosts"] == {WORKER: None}
    cold, cold_s = _apply(inventory, vars_file)
    log = Path(cold["log"]).read_text()
    assert "probe prefetch failed" not in log  # the 165-item copy loop's probes fit in batches
    slowest = sorted(cold["results"], key=lambda r: -r.get("duration_s", 0))[:5]
    print("\nslowest tasks: " + "; ".join(f"{r['host']} {r['task']} {r['duration_s']:.0f}s" for r in slowest))
    print(f"bundle_mib = {size_mib:.1f}\nbundle_build_s = {build_s:.1f} (load {load_before})"
          f"\ncold_apply_s = {cold_s:.1f} (load {_load()})")
    for host in lab.hosts():  # installed from the bundle's repository on the host itself
        origin = _ssh(lab, host, "apt-cache policy containerd | sed -n '/\\*\\*\\*/,+1p'")
        assert "file:/opt/kprov/bundle/debs" in origin, (host, origin)

    kubeconfig = inventory.parent / "pki" / "kubeconfigs" / "admin.conf"
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bundled", "namespace": "default"},
           "spec": {"nodeName": WORKER, "terminationGracePeriodSeconds": 1, "containers": [
               {"name": "main", "image": IMAGE, "imagePullPolicy": "Always",
                "command": ["sleep", "100000"]}]}}
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(yaml.safe_dump(pod))
    _kubectl(kubeconfig, "apply", "-f", str(manifest))
    deadline, status = time.monotonic() + 120, {}
    while time.monotonic() < deadline:
        found = json.loads(_kubectl(kubeconfig, "get", "pod", "bundled", "-o", "json"))
        status = found["status"]
        if status.get("phase") == "Running":
            break
        time.sleep(1)
    assert status.get("phase") == "Running", status
    (container,) = status["containerStatuses"]
    assert container["imageID"].startswith("quay.io/kprov-e2e/bundled@sha256:"), container

    again, _ = _apply(inventory, vars_file)
    changed = {host: s["changed"] for host, s in again["stats"].items() if s["changed"]}
    assert not changed, [f"{r['host']}: {r['task']}" for r in again["results"] if r["status"] == "changed"]
