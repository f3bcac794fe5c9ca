"""A two-node kprov cluster for the network e2e tests.

Control plane on this machine, as the kubelet e2e tests make it
(:meth:`tests.e2e.kubelet.cluster.NodeCluster.start_control_plane`: etcd on loopback,
kprov-apiserver on the lab bridge IP), plus kprov-controller-manager (deployments,
EndpointSlices, pod CIDRs) and kprov-scheduler. Two lab hosts (the last two of four, so the
kubelet tests' h1 is left alone) each get containerd (config from roles/container_runtime),
the CNI plugins, nftables and conntrack, the locally built images, kprov from the
wheelhouse, kprov-kubelet (unit from roles/kubelet) and kprov-proxy (unit rendered from the
shared component template with roles/kube_proxy's arguments). kprov-proxy writes each
node's CNI conflist from its podCIDR and routes the other node's pod CIDR.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kprov.bundle import build_wheelhouse
from kprov.images import build_archive, busybox_image, pause_image
from kprov.lab import Lab
from kprov.lab.remote import upload
from kprov.local.processes import start_detached, stop_process
from kprov.pki import KUBE_PROXY_CN, NODES_GROUP, issue_cert, kubelet_cn, write_kubeconfig, write_pair
from kprov.provision.templates import TemplateEngine
from tests.e2e.kubelet.cluster import BUSYBOX, PAUSE, REPO, NodeCluster, render_role_template

PACKAGES = "containerd runc containernetworking-plugins nftables conntrack python3-venv"


def render_proxy_unit(hostname: str, node_ip: str, extra: dict[str, Any] | None = None) -> str:
    """roles/kube_proxy's unit: the shared template with the role's default arguments, the
    variables resolved lazily as kprov (and Ansible) resolve them (``extra``: further host
    variables, e.g. a dual-stack inventory's)."""
    host = {"inventory_hostname": hostname, "ansible_host": node_ip, "kprov_node_ip": node_ip}
    host |= extra or {}
    role = yaml.safe_load((REPO / "roles/kube_proxy/defaults/main.yml").read_text())
    shared = yaml.safe_load((REPO / "roles/kprov_defaults/defaults/main.yml").read_text())
    scope = TemplateEngine().scope([(host, True), (role, True), (shared, True)])
    args = [str(scope.template(a, "kube_proxy_args")) for a in role["kube_proxy_args"]]
    unit = {
        "component_description": "kprov-proxy",
        "component_command": [str(scope["kprov_venv"]) + "/bin/kprov-proxy", *args],
        "component_hardened": False,
        "component_after": ["containerd.service"],
    }
    text = (REPO / "templates/kprov-component.service.j2").read_text()
    scope = TemplateEngine().scope([(unit, True), (host, True)])
    return str(scope.render(text, "kprov-component.service.j2"))


@dataclass
class NetworkCluster:
    lab: Lab
    workdir: Path
    hosts: tuple[str, ...] = ()
    dual_stack: bool = False  # kubelets get --node-ip v4,v6 (the lab brought up dual-stack)
    control: NodeCluster = field(init=False)

    def __post_init__(self) -> None:
        ranges = ("--service-cluster-ip-range", "10.96.0.0/12,fd00:10:96::/112") if self.dual_stack else ()
        self.control = NodeCluster(self.lab, self.workdir, apiserver_args=ranges)

    # ---- helpers --------------------------------------------------------------------
    def ssh(
        self, host: str, command: str, timeout: float = 300.0, check: bool = True
    ) -> tuple[int, str, str]:
        rc, out, err = self.lab.ssh(host, command, timeout=timeout)
        if check and rc != 0:
            raise RuntimeError(f"{host}: {command!r} failed rc={rc}: {err[-2000:]} {out[-1000:]}")
        return rc, out, err

    def put(self, host: str, local: Path, remote: str) -> None:
        upload(self.lab.ip(host), self.lab.key_path, local, remote)

    def put_text(self, host: str, text: str, remote: str) -> None:
        with tempfile.NamedTemporaryFile("w", delete=False) as fh:
            fh.write(text)
        try:
            self.put(host, Path(fh.name), remote)
        finally:
            Path(fh.name).unlink()

    def kubectl(self, *args: str, check: bool = True, stdin: str | None = None, timeout: float = 60):  # type: ignore[no-untyped-def]
        return self.control.kubectl(*args, check=check, stdin=stdin, timeout=timeout)

    # ---- bring-up -------------------------------------------------------------------
    def start_control_plane(self) -> None:
        self.control.start_control_plane()
        conf = str(self.control.admin_kubeconfig)
        python = sys.executable
        start_detached(
            self.workdir,
            "controller-manager",
            [
                python,
                "-m",
                "kprov.cluster.controllers",
                "--kubeconfig",
                conf,
                "--leader-elect=false",
                "--use-service-account-credentials=true",
                "--cluster-cidr",
                "10.244.0.0/16,fd00:10:244::/56" if self.dual_stack else "10.244.0.0/16",
                *self._pools(),
            ],
        )
        start_detached(
            self.workdir,
            "scheduler",
            [python, "-m", "kprov.cluster.scheduler", "--kubeconfig", conf, "--leader-elect=false"],
        )

    def _pools(self) -> list[str]:
        """A dual-stack cluster's LoadBalancer pools: the lab inventory's, IPv4 and IPv6."""
        if not self.dual_stack:
            return []
        layout = self.lab.layout
        return ["--loadbalancer-address-pools", f"{layout.loadbalancer_pool},{layout.loadbalancer_pool6}"]

    def prepare_nodes(self) -> None:
        images = self.workdir / "images"
        archives = []
        for spec in (pause_image(PAUSE), busybox_image(BUSYBOX)):
            archive = images / (spec.reference.split("/")[-1].replace(":", "-") + ".tar")
            build_archive(spec, archive)
            archives.append(archive)
        # A private copy: the shared wheelhouse cache is replaced whenever the tree changes.
        wheelhouse = self.workdir / "wheelhouse.tar.gz"
        shutil.copyfile(build_wheelhouse(REPO).archive, wheelhouse)
        containerd = render_role_template(
            "container_runtime", "config.toml.j2", {"containerd_restrict_oom_score_adj": True}
        )
        with ThreadPoolExecutor(len(self.hosts)) as pool:
            for _ in pool.map(lambda h: self._prepare_node(h, archives, wheelhouse, containerd), self.hosts):
                pass

    def _prepare_node(self, host: str, archives: list[Path], wheelhouse: Path, containerd: str) -> None:
        self.ssh(
            host,
            f"apt-get install -y -q {PACKAGES} >/dev/null || (apt-get update -q >/dev/null && "
            f"apt-get install -y -q {PACKAGES} >/dev/null)",
            timeout=600,
        )
        # Configs other tests may have left would shadow kprov-proxy's conflist.
        self.ssh(
            host,
            "mkdir -p /etc/containerd /etc/cni/net.d /etc/kprov/pki /opt/kprov && rm -f /etc/cni/net.d/*",
        )
        self.put_text(host, containerd, "/etc/containerd/config.toml")
        self.ssh(
            host,
            "systemctl restart containerd && for i in $(seq 50); do "
            "ctr version >/dev/null 2>&1 && break; sleep 0.2; done",
        )
        for archive in archives:
            self.put(host, archive, f"/tmp/{archive.name}")
            self.ssh(
                host,
                f"ctr -n k8s.io images import /tmp/{archive.name} >/dev/null && rm -f /tmp/{archive.name}",
            )
        self.put(host, wheelhouse, "/opt/kprov/wheelhouse.tar.gz")
        self.ssh(
            host,
            "rm -rf /opt/kprov/wheelhouse && mkdir -p /opt/kprov/wheelhouse && "
            "tar -xzf /opt/kprov/wheelhouse.tar.gz -C /opt/kprov/wheelhouse && "
            "( [ -x /opt/kprov/venv/bin/python ] || python3 -m venv /opt/kprov/venv ) && "
            "/opt/kprov/venv/bin/pip install -q --no-index --find-links /opt/kprov/wheelhouse "
            "--force-reinstall --no-deps kprov && "
            "/opt/kprov/venv/bin/pip install -q --no-index --find-links /opt/kprov/wheelhouse kprov",
            timeout=600,
        )

    def start_node_agents(self) -> None:
        ca = self.control._ca
        server = self.control.server
        proxy = issue_cert(ca, KUBE_PROXY_CN, client=True)
        for host in self.hosts:
            ip = self.lab.ip(host)
            local = self.workdir / f"pki-{host}"
            local.mkdir(exist_ok=True)
            client = issue_cert(ca, kubelet_cn(host), [NODES_GROUP], client=True)
            write_kubeconfig(
                local / "kubelet.conf", server, ca.cert_pem, client.cert_pem, client.key_pem, kubelet_cn(host)
            )
            write_kubeconfig(
                local / "kube-proxy.conf", server, ca.cert_pem, proxy.cert_pem, proxy.key_pem, KUBE_PROXY_CN
            )
            write_pair(
                local, "kubelet", issue_cert(ca, host, server=True, dns_names=[host], ip_addresses=[ip])
            )
            (local / "ca.crt").write_bytes(ca.cert_pem)
            self.put(host, local / "kubelet.conf", "/etc/kprov/kubelet.conf")
            for name in ("kubelet.crt", "kubelet.key", "ca.crt", "kube-proxy.conf"):
                self.put(host, local / name, f"/etc/kprov/pki/{name}")
            node = {"inventory_hostname": host, "ansible_host": ip}
            if self.dual_stack:  # as a dual-stack inventory renders it (kprov_dual_stack)
                node |= {"kprov_dual_stack": True, "kprov_node_ipv6": self.lab.layout.ip6(host)}
                self.ssh(host, "sysctl -qw net.ipv6.conf.all.forwarding=1")
            kubelet_unit = render_role_template("kubelet", "kprov-kubelet.service.j2", node)
            self.put_text(host, kubelet_unit, "/etc/systemd/system/kprov-kubelet.service")
            self.put_text(host, render_proxy_unit(host, ip, node), "/etc/systemd/system/kprov-proxy.service")
            self.ssh(host, "systemctl daemon-reload && systemctl restart kprov-kubelet kprov-proxy")
        for host in self.hosts:
            self.wait_node_ready(host)

    def wait_node_ready(self, host: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = self.kubectl("get", "node", host, "-o", "json", check=False)
            if out.returncode == 0:
                node = json.loads(out.stdout)
                ready = any(
                    c["type"] == "Ready" and c["status"] == "True"
                    for c in node.get("status", {}).get("conditions", [])
                )
                if ready and node.get("spec", {}).get("podCIDR"):
                    return
            time.sleep(0.5)
        _, logs, _ = self.ssh(
            host, "journalctl -u kprov-kubelet -u kprov-proxy --no-pager -n 60", check=False
        )
        raise RuntimeError(f"node {host} not Ready with a podCIDR after {timeout}s:\n{logs}")

    def close(self) -> None:
        for host in self.hosts:
            with contextlib.suppress(Exception):
                self.ssh(
                    host,
                    "systemctl disable --now kprov-kubelet kprov-proxy; "
                    "for t in $(ctr -n k8s.io tasks ls -q); do ctr -n k8s.io tasks kill -s KILL $t; done; "
                    "systemctl stop containerd; nft delete table ip kprov; "
                    "ip route flush proto 77; ip link del cni0; rm -f /etc/cni/net.d/*; "
                    "rm -rf /var/lib/cni/networks",
                    check=False,
                    timeout=60,
                )
        # Not NodeCluster.close(): that would also stop the kubelet tests' node h1.
        for name in ("scheduler", "controller-manager", "apiserver", "etcd"):
            stop_process(self.workdir, name)
