"""The preflight phase: after the hosts are connected (and their facts gathered), before any
play. One probe round trip per host, all hosts in parallel, then the checks over all probes
(cross-host ones too: addresses, host names, clock skew); an etcd host with stale data costs
one more command (the member list, asked of a running member).

The probe is also one of ``early_probes``: the engine reads it in the plays' look-ahead
batch (kprov.provision.execute.probes.lookahead), before any task, so a run with plays pays no
round trip of its own for it; the phase then takes it from the host's probe cache, with the
batch's send and receive times for the clock (a batch is slower than the probe alone, so
the offset is known less precisely: half the batch's time, well inside the 5 s allowed).

Every problem becomes a failed result named ``preflight: CHECK`` on its host (warnings an
ok result with the warning as message); if any is not a warning, every host is stopped
before its first task and the run reports ``preflight failed``: nothing was changed. The
phase's ``seconds`` is what the cost budget (``preflight_s``, tests/bench/bench_cluster.py)
measures.
"""

from __future__ import annotations

import hashlib
import shlex
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

from kprov.deploy.preflight.checks import ClusterShape, Problem, etcd_problem, evaluate, stale_etcd_candidates
from kprov.deploy.preflight.probe import PROBE_SCRIPT, HostProbe, parse_probe
from kprov.provision.connect.base import ConnectionFailure
from kprov.provision.errors import TemplateError
from kprov.provision.execute.context import RunContext
from kprov.provision.execute.results import TaskResult
from kprov.provision.execute.variables import host_scope
from kprov.provision.phases.base import for_each_host, record_host_lost
from kprov.provision.phases.connect import connection_vars

__all__ = ["ETCDCTL", "PreflightPhase"]

ETCDCTL = "/usr/local/bin/kprov-etcdctl"


def _operator_ca(run: RunContext) -> dict[str, str]:
    """The cluster CA this run distributes (its path and digest), if it is a cluster run."""
    pki_dir = run.options.extra_vars.get("kprov_pki_dir")
    if not pki_dir:
        return {}
    path = Path(str(pki_dir)) / "ca.crt"
    try:
        return {"ca_path": str(path), "ca_sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    except OSError:
        return {}


def _vip_of(run: RunContext, host: str) -> str:
    """The host's apiserver_vip, templated ("" when unset or not resolvable: the run's
    resolve pass reports an undefined variable in it)."""
    scope = host_scope(run, None, run.hosts[host])
    try:
        return str(scope["apiserver_vip"] or "").strip() if "apiserver_vip" in scope else ""
    except TemplateError:
        return ""


def members_of(member_list: str) -> tuple[set[str], set[str]]:
    """The member names and peer hosts of ``etcdctl member list`` (ID, status, name, peer
    URLs, client URLs, learner). A member of a bootstrap that never started (an interrupted
    cold apply) is listed ``unstarted`` with no name: it is known by its peer URL."""
    names: set[str] = set()
    peers: set[str] = set()
    for line in member_list.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 4:
            continue
        if parts[2]:
            names.add(parts[2])
        for url in parts[3].split():
            host = urlsplit(url).hostname
            if host:
                peers.add(host)
    return names, peers


class PreflightPhase:
    title = "Preflight"
    always = False
    early_probes = ((PROBE_SCRIPT, True, None),)  # (command, become, become_user)

    def __init__(self, skip: Iterable[str] = ()) -> None:
        self.skip = tuple(skip)
        evaluate({}, ClusterShape({}, {}, {}), self.skip)  # an unknown name fails before connecting
        self.problems: list[Problem] = []
        self.seconds = 0.0
        self._lock = threading.Lock()

    def should_run(self, run: RunContext) -> bool:
        return any(s.alive and s.connector is not None for s in run.hosts.values())

    def run(self, run: RunContext) -> None:
        start = time.monotonic()
        hosts = [h for h, s in run.hosts.items() if s.alive and s.connector is not None]
        probes: dict[str, HostProbe] = {}
        for_each_host(run, hosts, lambda h: self._probe(run, h, probes))
        shape = ClusterShape(
            groups=run.groups,
            addresses={h: str(connection_vars(run, h).get("ansible_host") or h) for h in probes},
            hostnames={h: str(run.hosts[h].facts.get("hostname") or "") for h in probes},
            vips={h: _vip_of(run, h) for h in probes},
            **_operator_ca(run),
        )
        self.problems = evaluate(probes, shape, self.skip)
        if "etcd-data" not in self.skip:
            self.problems += self._stale_etcd(run, probes, shape)
        self.seconds = time.monotonic() - start
        run.log.event("-", f"preflight: {len(self.problems)} problem(s) in {self.seconds:.3f}s")
        self._report(run, hosts)

    dry_run = run

    def cleanup(self, run: RunContext) -> None:
        return None

    def _probe(self, run: RunContext, host: str, probes: dict[str, HostProbe]) -> None:
        state = run.hosts[host]
        assert state.connector is not None
        started = time.monotonic()
        key = self.early_probes[0]
        cached, window = state.probes.get(key), state.probes.window(key)
        if cached is not None and window is not None:
            probe = parse_probe(host, cached.stdout, *window)
        else:
            sent = time.time()
            try:
                result = state.connector.run(PROBE_SCRIPT, become=True, timeout=30)
            except ConnectionFailure as err:
                state.unreachable, state.error = True, str(err)
                record_host_lost(run, host, "preflight", "preflight", started)
                return
            probe = parse_probe(host, result.stdout, sent, time.time())
        with self._lock:
            probes[host] = probe

    def _stale_etcd(self, run: RunContext, probes: dict[str, HostProbe],
                    shape: ClusterShape) -> list[Problem]:
        """Idle etcd hosts with data that the running quorum's member list does not name."""
        idle, running = stale_etcd_candidates(probes, shape)
        if not idle:
            return []
        # the first running member in inventory order (probes come in as hosts answer)
        connector = run.hosts[next(h for h in run.hosts if h in running)].connector
        assert connector is not None
        try:
            listed = connector.run(f"{shlex.quote(ETCDCTL)} member list", become=True, timeout=15)
        except ConnectionFailure:
            return []
        if listed.rc != 0:
            return []
        names, peers = members_of(listed.stdout)
        inventory = str(run.inventory.sources[0]) if run.inventory.sources else "INVENTORY"
        return [etcd_problem(h, probes[h].etcd_data, inventory) for h in idle
                if h not in names and shape.addresses.get(h, h) not in peers]

    def _report(self, run: RunContext, hosts: list[str]) -> None:
        for problem in self.problems:
            result = TaskResult(
                host=problem.host, task=f"preflight: {problem.check}", action="preflight",
                status="ok" if problem.warning else "failed",
                msg=f"{'warning: ' if problem.warning else ''}{problem.message} — {problem.fix}",
            )
            run.report.record(result)
            run.observer.task_done(result)
        failing = sorted({p.host for p in self.problems if not p.warning})
        if not failing:
            return
        for host in hosts:
            state = run.hosts[host]
            state.failed = True
            state.error = state.error or "preflight failed (on this or another host)"
        run.report.errors.append(
            f"preflight failed on {', '.join(failing)}: nothing was changed (fix the problems above, "
            "or skip a check with --skip-preflight NAME)")
