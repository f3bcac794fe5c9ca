"""A one-node kprov cluster for the kubelet e2e tests and the pod-startup benchmark.

Control plane on this machine (etcd on loopback, kprov-apiserver bound to the lab bridge
IP so the node can reach it, certificates from kprov.pki with that IP in the SANs); one lab
host running containerd (config rendered from roles/container_runtime), kprov's own CNI
config (bridge, host-local, portmap, loopback), the pause and busybox images built by
kprov.images, kprov installed from the wheelhouse into /opt/kprov/venv, and kprov-kubelet
as a systemd unit rendered from roles/kubelet. Everything is torn down by :meth:`NodeCluster.close`.
"""

from __future__ import annotations

import contextlib
import json
import shlex
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kprov.bundle import build_wheelhouse
from kprov.cluster.network.cni import conflist
from kprov.images import build_archive, busybox_image, pause_image
from kprov.lab import Lab
from kprov.lab.remote import upload
from kprov.local.etcd import start_etcd
from kprov.local.ports import free_port
from kprov.local.processes import start_detached, stop_process
from kprov.pki import (
    ADMIN_CN,
    APISERVER_KUBELET_CLIENT_CN,
    MASTERS_GROUP,
    NODES_GROUP,
    encryption_config,
    issue_cert,
    kubelet_cn,
    new_ca,
    new_service_account_key,
    write_file,
    write_kubeconfig,
    write_pair,
)
from kprov.pki.secrets import private_key_pem
from kprov.provision.templates import TemplateEngine

REPO = Path(__file__).resolve().parents[3]
BUSYBOX = "kprov.local/busybox:1"
PAUSE = "kprov.local/pause:1"
HOST = "h1"


def render_role_template(role: str, template: str, overrides: dict[str, Any]) -> str:
    """A role's template as kprov renders it: variables resolved lazily (as Ansible does) from
    the overrides, the role's defaults, then kprov_defaults' (every role depends on it)."""
    role_dir = REPO / "roles" / role
    common = REPO / "roles" / "kprov_defaults" / "defaults" / "main.yml"
    layers = [
        (overrides, True),
        (yaml.safe_load((role_dir / "defaults" / "main.yml").read_text()) or {}, True),
        (yaml.safe_load(common.read_text()) or {}, True),
    ]
    text = (role_dir / "templates" / template).read_text()
    return str(TemplateEngine().scope(layers).render(text, template))


def cni_conflist(subnet: str) -> str:
    """The node's CNI config as kprov writes it (bridge, host-local, portmap for hostPorts,
    loopback), for this test's subnet."""
    return conflist(subnet, name="kprov-test")


@dataclass
class NodeCluster:
    lab: Lab
    workdir: Path
    server: str = ""
    admin_kubeconfig: Path = field(default_factory=Path)
    node_ip: str = ""
    apiserver_args: tuple[str, ...] = ()  # e.g. a dual-stack --service-cluster-ip-range
    _etcd_started: bool = False

    # ---- helpers ------------------------------------------------------------------------
    def ssh(self, command: str, timeout: float = 300.0, check: bool = True) -> str:
        rc, out, err = self.lab.ssh(HOST, command, timeout=timeout)
        if check and rc != 0:
            raise RuntimeError(f"{HOST}: {command!r} failed rc={rc}: {err[-2000:]} {out[-1000:]}")
        return out

    def put(self, local: Path, remote: str) -> None:
        upload(self.node_ip, self.lab.key_path, local, remote)

    def put_text(self, text: str, remote: str, mode: int = 0o644) -> None:
        with tempfile.NamedTemporaryFile("w", delete=False) as fh:
            fh.write(text)
        try:
            self.put(Path(fh.name), remote)
            self.ssh(f"chmod {mode:o} {shlex.quote(remote)}")
        finally:
            Path(fh.name).unlink()

    def kubectl(
        self, *args: str, check: bool = True, timeout: float = 60, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["kubectl", "--kubeconfig", str(self.admin_kubeconfig), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            input=stdin,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)}: rc={result.returncode} {result.stderr}")
        return result

    # ---- control plane ------------------------------------------------------------------
    def start_control_plane(self) -> None:
        bridge_ip = self.lab.layout.gateway
        pki = self.workdir / "pki"
        pki.mkdir(parents=True, exist_ok=True)
        ca = new_ca("kprov-kubelet-e2e-ca")
        write_pair(pki, "ca", ca)
        write_pair(
            pki,
            "apiserver",
            issue_cert(
                ca,
                "kube-apiserver",
                server=True,
                dns_names=["localhost", "kubernetes"],
                ip_addresses=[bridge_ip, "127.0.0.1", "10.96.0.1"],
            ),
        )
        write_pair(
            pki, "kubelet-client", issue_cert(ca, APISERVER_KUBELET_CLIENT_CN, [MASTERS_GROUP], client=True)
        )
        write_file(str(pki / "encryption.yaml"), encryption_config().encode(), 0o600)
        sa_key = new_service_account_key()
        write_file(str(pki / "sa.key"), private_key_pem(sa_key), 0o600)
        etcd = start_etcd(self.workdir)
        self._etcd_started = True
        port = free_port(bridge_ip)
        self.server = f"https://{bridge_ip}:{port}"
        start_detached(
            self.workdir,
            "apiserver",
            [
                sys.executable,
                "-m",
                "kprov.cluster.apiserver",
                "--etcd-servers",
                etcd.url,
                "--tls-cert-file",
                str(pki / "apiserver.crt"),
                "--tls-private-key-file",
                str(pki / "apiserver.key"),
                "--client-ca-file",
                str(pki / "ca.crt"),
                "--kubelet-client-certificate",
                str(pki / "kubelet-client.crt"),
                "--kubelet-client-key",
                str(pki / "kubelet-client.key"),
                "--bind-address",
                bridge_ip,
                "--secure-port",
                str(port),
                "--advertise-address",
                bridge_ip,
                "--encryption-provider-config",
                str(pki / "encryption.yaml"),
                "--service-account-signing-key-file",
                str(pki / "sa.key"),
                *self.apiserver_args,
            ],
        )
        admin = issue_cert(ca, ADMIN_CN, [MASTERS_GROUP], client=True)
        self.admin_kubeconfig = self.workdir / "admin.conf"
        write_kubeconfig(
            self.admin_kubeconfig, self.server, ca.cert_pem, admin.cert_pem, admin.key_pem, ADMIN_CN
        )
        context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.server}/readyz", context=context, timeout=2) as reply:
                    if reply.read() == b"ok":
                        break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError(f"API server not ready; see {self.workdir}/logs/apiserver.log")
        self._ca = ca

    # ---- node ---------------------------------------------------------------------------
    def prepare_node(self) -> None:
        self.node_ip = self.lab.ip(HOST)
        with ThreadPoolExecutor(max_workers=1) as pool:
            wheelhouse = pool.submit(build_wheelhouse, REPO)  # builds here while the node installs packages
            self._install_runtime()
            self._install_kprov(wheelhouse.result().archive)

    def _install_runtime(self) -> None:
        self.ssh(
            "apt-get install -y -q containerd runc containernetworking-plugins python3-venv >/dev/null "
            "|| (apt-get update -q >/dev/null && apt-get install -y -q containerd runc "
            "containernetworking-plugins python3-venv >/dev/null)",
            timeout=600,
        )
        self.ssh("mkdir -p /etc/containerd /etc/cni/net.d /etc/kprov/pki /opt/kprov")
        self.put_text(
            render_role_template(
                "container_runtime", "config.toml.j2", {"containerd_restrict_oom_score_adj": True}
            ),
            "/etc/containerd/config.toml",
        )
        subnet = f"10.244.{self.lab.index * 10 + 1}.0/24"
        self.put_text(cni_conflist(subnet), "/etc/cni/net.d/10-kprov-test.conflist")
        self.ssh(
            "systemctl restart containerd && for i in $(seq 50); do "
            "ctr version >/dev/null 2>&1 && break; sleep 0.2; done"
        )
        images = self.workdir / "images"
        for spec in (pause_image(PAUSE), busybox_image(BUSYBOX)):
            archive = images / (spec.reference.split("/")[-1].replace(":", "-") + ".tar")
            build_archive(spec, archive)
            self.put(archive, f"/tmp/{archive.name}")
            self.ssh(
                f"ctr -n k8s.io images import /tmp/{archive.name} >/dev/null && rm -f /tmp/{archive.name}"
            )

    def _install_kprov(self, wheelhouse: Path) -> None:
        self.put(wheelhouse, "/opt/kprov/wheelhouse.tar.gz")
        pip = (
            "/opt/kprov/venv/bin/pip install -q --no-compile --disable-pip-version-check "
            "--no-index --find-links /opt/kprov/wheelhouse"
        )
        self.ssh(
            "rm -rf /opt/kprov/wheelhouse && mkdir -p /opt/kprov/wheelhouse && "
            "tar -xzf /opt/kprov/wheelhouse.tar.gz -C /opt/kprov/wheelhouse && "
            "( [ -x /opt/kprov/venv/bin/python ] || python3 -m venv /opt/kprov/venv ) && "
            f"{pip} --force-reinstall --no-deps kprov && {pip} kprov",
            timeout=600,
        )

    def start_kubelet(self) -> None:
        ca = self._ca
        local = self.workdir / "node-pki"
        local.mkdir(exist_ok=True)
        client = issue_cert(ca, kubelet_cn(HOST), [NODES_GROUP], client=True)
        write_kubeconfig(
            local / "kubelet.conf",
            self.server,
            ca.cert_pem,
            client.cert_pem,
            client.key_pem,
            kubelet_cn(HOST),
        )
        serving = issue_cert(ca, HOST, server=True, dns_names=[HOST], ip_addresses=[self.node_ip])
        write_pair(local, "kubelet", serving)
        (local / "ca.crt").write_bytes(ca.cert_pem)
        self.put(local / "kubelet.conf", "/etc/kprov/kubelet.conf")
        for name in ("kubelet.crt", "kubelet.key", "ca.crt"):
            self.put(local / name, f"/etc/kprov/pki/{name}")
        unit = render_role_template(
            "kubelet",
            "kprov-kubelet.service.j2",
            {
                "inventory_hostname": HOST,
                "ansible_host": self.node_ip,
                "kubelet_node_labels": {"kprov.io/e2e": "yes"},
            },
        )
        self.put_text(unit, "/etc/systemd/system/kprov-kubelet.service")
        self.ssh("systemctl daemon-reload && systemctl restart kprov-kubelet")
        self.wait_node_ready()

    def wait_node_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = self.kubectl("get", "node", HOST, "-o", "json", check=False)
            if out.returncode == 0:
                conds = json.loads(out.stdout).get("status", {}).get("conditions", [])
                if any(c["type"] == "Ready" and c["status"] == "True" for c in conds):
                    return
            time.sleep(0.5)
        logs = self.ssh("journalctl -u kprov-kubelet --no-pager -n 50", check=False)
        raise RuntimeError(f"node {HOST} not Ready after {timeout}s; kubelet log:\n{logs}")

    def close(self) -> None:
        with contextlib.suppress(Exception):  # the lab may already be gone
            self.ssh(
                "systemctl disable --now kprov-kubelet; "
                "for t in $(ctr -n k8s.io tasks ls -q); do ctr -n k8s.io tasks kill -s KILL $t; done; "
                "systemctl stop containerd",
                check=False,
                timeout=60,
            )
        stop_process(self.workdir, "apiserver")
        if self._etcd_started:
            stop_process(self.workdir, "etcd")
