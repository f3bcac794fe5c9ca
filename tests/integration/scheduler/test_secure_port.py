"""The scheduler's and controller manager's secure ports: /healthz for anyone, /metrics with
kube-scheduler's and client-go's workqueue names for an identity the API server's RBAC lets
read /metrics (SubjectAccessReview, through the component's own bootstrap role), 403 for
others, 401 without credentials."""

from __future__ import annotations

import ssl
import time
import urllib.error
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from kprov.local.ports import free_port
from tests.integration.apiserver._http import ssl_context
from tests.integration.controllers.hollow import start_component, stop_component


def _get(url: str, context: ssl.SSLContext) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, context=context, timeout=10) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _wait_serving(url: str, context: ssl.SSLContext, proc) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 30
    while True:
        try:
            if _get(url, context)[0] == 200:
                return
        except OSError:
            pass
        assert proc.poll() is None, "the component exited"
        assert time.monotonic() < deadline, "the secure port never answered"
        time.sleep(0.2)


def _insecure(context: ssl.SSLContext) -> ssl.SSLContext:
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the serving certificate is self-signed, as upstream's default
    return context


def _scrape_checks(control_plane, base: str, names: set[str]) -> None:  # type: ignore[no-untyped-def]
    ca = control_plane.ca_file
    admin = _insecure(ssl_context(control_plane.admin_kubeconfig, ca))
    status, text = _get(f"{base}/metrics", admin)
    assert status == 200, text
    families = {f.name for f in text_string_to_metric_families(text)}
    assert names <= families, names - families
    stranger = _insecure(ssl_context(control_plane.kubeconfig_for("sp-stranger"), ca))
    status, text = _get(f"{base}/metrics", stranger)
    assert status == 403 and 'User \\"sp-stranger\\" cannot get path \\"/metrics\\"' in text, text
    monitor = _insecure(ssl_context(control_plane.kubeconfig_for("sp-monitor", ["system:monitoring"]), ca))
    assert _get(f"{base}/metrics", monitor)[0] == 200
    anonymous = _insecure(ssl_context(None, ca))
    assert _get(f"{base}/metrics", anonymous)[0] == 401
    assert _get(f"{base}/healthz", anonymous) == (200, "ok")


def test_scheduler_and_controller_manager_serve_metrics(control_plane, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ca = str(control_plane.ca_file)
    sched_port, cm_port = free_port(), free_port()
    scheduler = start_component(
        "kprov.cluster.scheduler", control_plane.scheduler_kubeconfig(), tmp_path, "sched",
        "--leader-elect=false", "--bind-address=127.0.0.1", f"--secure-port={sched_port}",
        f"--client-ca-file={ca}", f"--cert-dir={tmp_path / 'sched-certs'}",
    )
    manager = start_component(
        "kprov.cluster.controllers", control_plane.controller_manager_kubeconfig(), tmp_path, "cm",
        "--leader-elect=false", "--bind-address=127.0.0.1", f"--secure-port={cm_port}",
        f"--client-ca-file={ca}", "--controllers=deployment,replicaset",
        "--use-service-account-credentials=true",
    )
    try:
        anonymous = _insecure(ssl_context(None, control_plane.ca_file))
        _wait_serving(f"https://127.0.0.1:{sched_port}/healthz", anonymous, scheduler)
        _wait_serving(f"https://127.0.0.1:{cm_port}/healthz", anonymous, manager)
        _scrape_checks(
            control_plane, f"https://127.0.0.1:{sched_port}",
            {"scheduler_schedule_attempts", "scheduler_scheduling_attempt_duration_seconds",
             "scheduler_pending_pods", "workqueue_depth"},
        )
        _scrape_checks(
            control_plane, f"https://127.0.0.1:{cm_port}",
            {"workqueue_depth", "workqueue_adds", "workqueue_work_duration_seconds"},
        )
        key = tmp_path / "sched-certs" / "kprov-scheduler.key"
        assert key.stat().st_mode & 0o777 == 0o600
    finally:
        stop_component(scheduler)
        stop_component(manager)
