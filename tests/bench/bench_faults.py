"""Benchmark: faults under load on a 5-host lab cluster with an API VIP (issue 76).

    python tests/bench/bench_faults.py [--lab N] [--reuse INVENTORY] [--only NAME ...] [--hold S]
                                       [--verify] [--no-replica-set] [--no-node-loss]
                                       [--restore-drill]

Set-up (not timed): a fresh lab cluster with ``apiserver_vip`` (h1..h3 control plane and
etcd, h4 and h5 workers), or ``--reuse`` the inventory of a running one. Then, for every
scenario of tests/faults/injectors.py's ``FAULTS`` (or those named by ``--only``): a writer
creates a ConfigMap every 0.1 s through the VIP (each request on the clock, 5 s timeout)
and a watch follows them; the faults are injected, held ``--hold`` seconds (default 5),
healed; the writer goes on 3 s, then the checks of tests/faults/checks.py run. Figures:

  faults_acknowledged_writes_lost  acknowledged writes not readable with their value, over
                                   every scenario (target 0)
  faults_watch_gaps                acknowledged writes the watch never delivered nor a 410's
                                   relist showed, over every scenario (target 0)
  faults_watch_out_of_order        events delivered below the last resourceVersion, or twice
  faults_hashkv_disagreements      scenarios after which the etcd members' hashkv differed
  <scenario>.api_unavailable_s     the longest run of failed writes: the first failure's start
                                   to the start of the next acknowledged write
  <scenario>.failed_requests, .acknowledged, .relists, .shared_revisions
  <scenario>.watch_resumes         times the watch resumed after a broken or ended stream, by
                                   what set its resourceVersion (event, bookmark, relist)
  <scenario>.nodes_ready_s         after the heal, until every node is Ready
  kill-etcd-leader.etcd_leader_loss_recovery_s
                                   from the kill to a leader among the survivors (polled every
                                   0.1 s through etcdctl on a survivor)
  faults_replicaset_over_replicas  observations (a watch's view at one resourceVersion) where
                                   the churned ReplicaSet beside the writer had more active
                                   pods than its replicas, over every scenario (target 0)
  <scenario>.replicaset_converged_s after the heal, until its replicas run again
  disk-full-etcd-follower.disk_full_recovery_s
                                   tests/faults/disk_full.py: from the filler deleted (and the
                                   alarm disarmed) to the member healthy at the leader's index
  node_loss_pods_rescheduled_s     tests/faults/node_loss.py (scenario name "node-loss"): a
                                   worker powered off under a ReplicaSet tolerating the
                                   unreachable taint 30 s; from the NoExecute taint's
                                   timeAdded to every replacement Running (target <= 60);
                                   node-loss.not_ready_s, .tainted_s, .total_s (from the
                                   power-off), .rejoined_s, .evicted_gone_s (from power-on)
  dr_restore_s                     with ``--restore-drill`` (opt-in: it destroys every etcd
                                   member's data; run last): tests/faults/restore_drill.py, from
                                   ``kprov etcd restore``'s start to the API serving every
                                   object of the snapshot through the VIP (target <= 120);
                                   restore-drill.etcd_restored_s, .nodes_ready_s, .restored,
                                   .after_snapshot_present (target 0), .writes_after_restore
                                   (target 1)
  load_avg_1m                      the machine's load at the end (the machine is shared)

With ``--verify``, ``kprov verify`` runs while each scenario's faults last (it lengthens the
hold): ``<scenario>.verify_failed_rows`` and ``.verify_s``, and over every scenario
``faults_verify_tracebacks`` (target 0) and ``faults_verify_green_while_faulted`` (runs that
failed no check while a fault lasted: faults verify cannot see, listed by name).

Figures on a shared 2-core machine are indicative; the checks (lost, gaps) are not timings.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from kprov.lab import Lab  # noqa: E402
from tests.bench._lab_cluster import fresh_cluster  # noqa: E402
from tests.faults.disk_full import DiskFull  # noqa: E402
from tests.faults.injectors import FAULTS, Fault  # noqa: E402
from tests.faults.node_loss import run_node_loss  # noqa: E402
from tests.faults.peer_delay import PeerLinkDelay  # noqa: E402
from tests.faults.peer_loss import PeerLinkLoss  # noqa: E402
from tests.faults.restore_drill import run_restore_drill  # noqa: E402
from tests.faults.scenario import ScenarioResult, etcd_leader_recovery_s, run_scenario  # noqa: E402
from tests.faults.verify_probe import VerifyOutcome, run_verify  # noqa: E402

CONTROL_PLANE = ("h1", "h2", "h3")
WORKERS = ("h4", "h5")


def _leader_recovery(lab: Lab, name: str, faults: list[Fault]) -> Callable[[], dict[str, float]] | None:
    """For the leader's kill: how long until the survivors have a leader (run right after it)."""
    if name != "kill-etcd-leader":
        return None
    victim = getattr(faults[0], "host", "")
    survivors = tuple(h for h in CONTROL_PLANE if h != victim)
    return lambda: {"etcd_leader_loss_recovery_s": etcd_leader_recovery_s(lab, survivors)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lab", type=int, default=int(os.environ.get("KPROV_TEST_LAB", "8")))
    parser.add_argument("--reuse", type=Path, help="the inventory of a running lab cluster with a VIP")
    parser.add_argument("--only", nargs="*", default=None,
                        help="scenario names (default: all; none: only --restore-drill)")
    parser.add_argument("--hold", type=float, default=5.0)
    parser.add_argument("--verify", action="store_true", help="run kprov verify while each fault lasts")
    parser.add_argument("--no-replica-set", action="store_true", help="only the ConfigMap writer, no pods")
    parser.add_argument("--no-node-loss", action="store_true", help="skip the node-loss scenario")
    parser.add_argument("--restore-drill", action="store_true",
                        help="last: destroy every etcd member's data and restore the latest snapshot")
    args = parser.parse_args()
    lab = Lab(args.lab)
    with tempfile.TemporaryDirectory(prefix="kprov-bench-faults-") as tmp:
        inventory = args.reuse or fresh_cluster(args.lab, Path(tmp), 5, vip=True)
        kubeconfig = inventory.parent / "pki" / "kubeconfigs" / "admin.conf"
        names = [n for n in (list(FAULTS) if args.only is None else args.only) if n != "node-loss"]
        results: list[ScenarioResult] = []
        verified: dict[str, VerifyOutcome] = {}
        for name in names:
            faults = FAULTS[name](lab, CONTROL_PLANE, WORKERS)
            after = _leader_recovery(lab, name, faults)

            def during(name: str = name) -> None:
                verified[name] = run_verify(inventory)

            result = run_scenario(lab, kubeconfig, name, faults, etcd_members=CONTROL_PLANE,
                                  nodes=CONTROL_PLANE + WORKERS, hold_s=args.hold,
                                  after_inject=after, while_faulted=during if args.verify else None,
                                  replica_set=not args.no_replica_set)
            results.append(result)
            print(f"# {result.summary()}  faults: {'; '.join(result.faults)}", flush=True)
            print(f"{name}.api_unavailable_s = {result.api_unavailable_s:.2f}")
            print(f"{name}.failed_requests = {result.failed_requests}")
            print(f"{name}.acknowledged = {result.acknowledged}")
            print(f"{name}.relists = {result.relists}")
            print(f"{name}.watch_resumes = {sum(result.resumes.values())}"
                  f"  # from {' '.join(f'{k}={v}' for k, v in sorted(result.resumes.items())) or 'none'}")
            print(f"{name}.shared_revisions = {result.shared_revisions}")
            print(f"{name}.nodes_ready_s = {result.nodes_ready_s:.1f}")
            for key, value in result.figures.items():
                print(f"{name}.{key} = {value:.2f}")
            for fault in faults:
                if isinstance(fault, PeerLinkDelay):
                    print(f"{name}.peer_segments_delayed = {sum(fault.accepted.values())}"
                          f"  # {' '.join(f'{h}={n}' for h, n in fault.accepted.items())}")
                if isinstance(fault, PeerLinkLoss):
                    print(f"{name}.peer_segments_dropped = {sum(fault.dropped.values())}"
                          f"  # {' '.join(f'{h}={n}' for h, n in fault.dropped.items())}")
                if isinstance(fault, DiskFull):
                    print(f"{name}.disk_full_recovery_s = {fault.recovery_s:.1f}")
                    print(f"#   {fault.host} while full: {fault.state[:300]}")
                    fault.restore(lab)
            if name in verified:
                print(f"{name}.verify_failed_rows = {len(verified[name].failed)}")
                print(f"{name}.verify_s = {verified[name].duration_s:.1f}")
                for row in verified[name].failed[:4]:
                    print(f"#   verify: {row['scope']} | {row['name']} | {row['detail'][:160]}")
            for what in (result.lost[:3], result.gap_resumes[:3], result.out_of_order[:3],
                         result.replica_set_over[:3]):
                if what:
                    print(f"#   e.g. {what}")
        if not args.no_node_loss and (args.only is None or "node-loss" in args.only):
            loss = run_node_loss(lab, kubeconfig, WORKERS)
            print(f"# {loss.summary()}", flush=True)
            print(f"node_loss_pods_rescheduled_s = {loss.node_loss_pods_rescheduled_s:.1f}")
            for key in ("not_ready_s", "tainted_s", "total_s", "rejoined_s", "evicted_gone_s"):
                print(f"node-loss.{key} = {getattr(loss, key):.1f}")
            print(f"node-loss.max_active = {loss.max_active}  # of {loss.replicas} replicas")
        if args.restore_drill:
            drill = run_restore_drill(lab, inventory, kubeconfig, CONTROL_PLANE, CONTROL_PLANE, Path(tmp))
            print(f"# {drill.summary()}", flush=True)
            print(f"dr_restore_s = {drill.dr_restore_s:.1f}")
            print(f"restore-drill.etcd_restored_s = {drill.etcd_restored_s:.1f}")
            print(f"restore-drill.nodes_ready_s = {drill.nodes_ready_s:.1f}")
            print(f"restore-drill.restored = {drill.restored}  # of {drill.objects}")
            print(f"restore-drill.after_snapshot_present = {int(drill.after_snapshot_present)}")
            print(f"restore-drill.writes_after_restore = {int(drill.writes_after_restore)}")
            print(f"restore-drill.first_write_s = {drill.first_write_s:.1f}")
        print(f"faults_scenarios = {len(results)}")
        print(f"faults_acknowledged_writes_lost = {sum(len(r.lost) for r in results)}")
        print(f"faults_watch_gaps = {sum(len(r.gaps) for r in results)}")
        print(f"faults_watch_out_of_order = {sum(len(r.out_of_order) for r in results)}")
        print(f"faults_hashkv_disagreements = {sum(not r.hashes_agree for r in results)}")
        print(f"faults_replicaset_over_replicas = {sum(len(r.replica_set_over) for r in results)}")
        if verified:
            print(f"faults_verify_tracebacks = {sum(v.traceback for v in verified.values())}")
            green = [n for n, v in verified.items() if not v.failed]
            print(f"faults_verify_green_while_faulted = {len(green)}  # {' '.join(green)}")
        print(f"load_avg_1m = {os.getloadavg()[0]:.2f}")
        if not args.reuse and not os.environ.get("KPROV_KEEP_LAB"):
            lab.wipe()


if __name__ == "__main__":
    main()
