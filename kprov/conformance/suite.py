"""The upstream e2e binary: its image list, its spec list (a dry run) and its command lines.

Flags are the ones the suite needs against a kprov cluster (``--provider=skeleton``: no
cloud; the admin kubeconfig and ``--host``, its current context's server: kprov's admin
kubeconfig also names each API server, and the framework otherwise takes the first server of
the file's cluster map, in Go's random order, as the one specs expect kubectl to reach; kubectl
from PATH). Two start-up checks of the suite's
framework have their own switches, passed only while the cluster lacks what they check
(:class:`Workarounds`): ``--minStartupPods=-1`` while ReplicationControllers are not served,
``--e2e-verify-service-account=false`` while ``kube-root-ca.crt`` is not published.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from kprov.conformance.specs import SpecResult, parse_json_report

__all__ = ["E2ESuite", "Workarounds", "current_server"]

CONFORMANCE_FOCUS = r"\[Conformance\]"


def current_server(kubeconfig: Path) -> str:
    """The server of the kubeconfig's current context ("" when the file does not say)."""
    try:
        config = yaml.safe_load(kubeconfig.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return ""
    contexts = {c.get("name"): c.get("context") or {} for c in config.get("contexts") or []}
    cluster = contexts.get(config.get("current-context"), {}).get("cluster")
    servers = {c.get("name"): (c.get("cluster") or {}).get("server", "")
               for c in config.get("clusters") or []}
    return str(servers.get(cluster) or "")


@dataclass(frozen=True)
class Workarounds:
    no_startup_pods_check: bool = False  # --minStartupPods=-1
    no_service_account_check: bool = False  # --e2e-verify-service-account=false

    def flags(self) -> list[str]:
        flags = []
        if self.no_startup_pods_check:
            flags.append("--minStartupPods=-1")
        if self.no_service_account_check:
            flags.append("--e2e-verify-service-account=false")
        return flags


@dataclass(frozen=True)
class E2ESuite:
    binary: Path

    def _run(self, args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.binary), *args], capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)

    def list_images(self) -> list[str]:
        proc = self._run(["--list-images"], timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"{self.binary} --list-images failed: {proc.stderr.strip()[-500:]}")
        return [line.strip() for line in proc.stdout.splitlines() if line.strip()]

    def list_specs(self, focus: str = CONFORMANCE_FOCUS, skip: str = "") -> list[SpecResult]:
        """The specs a run with this focus/skip would run (a dry run: nothing is contacted)."""
        with tempfile.TemporaryDirectory(prefix="kprov-conformance-") as tmp:
            report = Path(tmp) / "dry.json"
            args = ["--ginkgo.dry-run", "--provider=skeleton", f"--report-dir={tmp}",
                    f"--ginkgo.json-report={report}", f"--ginkgo.focus={focus}"]
            if skip:
                args.append(f"--ginkgo.skip={skip}")
            proc = self._run(args, timeout=300)
            if not report.is_file():
                detail = proc.stderr.strip()[-500:]
                raise RuntimeError(f"{self.binary}: the dry run wrote no report: {detail}")
            return [spec for spec in parse_json_report(report) if spec.state != "skipped"]

    def command(self, *, kubeconfig: Path, report_dir: Path, focus: str, kubectl: str,
                workarounds: Workarounds, timeout_min: int,
                content_type: str = "application/json", num_nodes: int | None = None) -> list[str]:
        """The e2e command line; ``num_nodes`` is upstream's ``--num-nodes`` (the count specs'
        ``SkipUnlessNodeCountIsAtLeast`` compare with; without it the suite counts the
        schedulable nodes once at start)."""
        host = current_server(kubeconfig)
        return [
            str(self.binary),
            f"--kubeconfig={kubeconfig}",
            *([f"--host={host}"] if host else []),
            "--provider=skeleton",
            f"--kubectl-path={kubectl}",
            f"--kube-api-content-type={content_type}",
            "--allowed-not-ready-nodes=0",
            "--system-pods-startup-timeout=1m",
            *workarounds.flags(),
            *([f"--num-nodes={num_nodes}"] if num_nodes is not None else []),
            f"--report-dir={report_dir}",
            f"--ginkgo.json-report={report_dir / 'report.json'}",
            f"--ginkgo.focus={focus}",
            f"--ginkgo.timeout={timeout_min}m",
            "--ginkgo.no-color",
        ]
