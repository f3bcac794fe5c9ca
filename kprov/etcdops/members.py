"""Changing the member set to the inventory's ``etcd`` group, one member at a time.

Certificates for joining members are issued first (``kprov pki init``, idempotent). The plan
comes from :mod:`kprov.etcdops.quorum` (refuses even sizes and anything that would
lose quorum). Each step:

- add:    stop and wipe a stale member data dir on the host, ``member add`` (on a healthy
          member), run roles/etcd on the host with ``etcd_initial_cluster_state=existing``
          and the current member list, wait until every member is healthy;
- start:  like add, for a member that was added before but never started;
- remove: ``member remove`` (on another healthy member), stop and disable kprov-etcd on the
          host and wipe its data dir (when the host is still reachable), wait healthy.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kprov.etcdops.cluster import SERVICE, EtcdCluster, EtcdOpsError, MemberView
from kprov.etcdops.etcdctl import Etcdctl, EtcdctlError
from kprov.etcdops.provision import provision_member
from kprov.etcdops.quorum import MembershipPlan, Step, plan_membership
from kprov.pki.from_inventory import ensure_inventory_pki
from kprov.provision.connect.base import ConnectionFailure

__all__ = ["StepDone", "apply_membership", "ensure_member_certs", "plan_for_inventory"]

Progress = Callable[[str], None]
Provisioner = Callable[[str | Path, str, dict[str, Any]], float]


@dataclass(frozen=True)
class StepDone:
    step: Step
    seconds: float


def ensure_member_certs(cluster: EtcdCluster) -> list[str]:
    """Complete the inventory's pki directory (``kprov pki init``), so joining members have
    their server and peer certificates; the names of what was created or renewed."""
    _directory, report = ensure_inventory_pki(cluster.inventory_path)
    return [c.name for c in report.changed]


def plan_for_inventory(cluster: EtcdCluster) -> tuple[MembershipPlan, list[MemberView]]:
    anchor = cluster.anchor()
    views = cluster.members(anchor)
    peer_urls = {h: cluster.peer_url(h) for h in cluster.group}
    live = []
    for view in views:
        host = cluster.host_of(view.info)
        member = view.as_live()
        if host and not view.name:  # added but never started: known by its peer URL
            peer_urls.setdefault(host, view.info.peer_urls[0])
        live.append(member)
    return plan_membership(live, cluster.group, peer_urls), views


def _wipe_command(cluster: EtcdCluster, host: str, disable: bool) -> str:
    stop = f"systemctl disable --now {SERVICE}" if disable else f"systemctl stop {SERVICE}"
    member_dir = shlex.quote(cluster.data_dir(host).rstrip("/") + "/member")
    return f"{stop} >/dev/null 2>&1; rm -rf {member_dir}"


def _initial_cluster(cluster: EtcdCluster, views: list[MemberView], new_host: str, new_url: str) -> str:
    parts = []
    for view in views:
        if new_url in view.info.peer_urls:
            continue
        name = view.name or cluster.host_of(view.info) or f"{view.info.member_id:x}"
        parts += [f"{name}={url}" for url in view.info.peer_urls]
    parts.append(f"{new_host}={new_url}")
    return ",".join(parts)


def _member_add(anchor: Etcdctl, step: Step, attempts: int = 20, delay_s: float = 1.5) -> None:
    """``member add``, retried while etcd's own safety check says the cluster is not ready
    (a member that joined moments ago counts as active only after a few seconds)."""
    for attempt in range(attempts):
        try:
            anchor.member_add(step.host, step.peer_url)
            return
        except EtcdctlError as e:
            if "unhealthy cluster" not in str(e) or attempt == attempts - 1:
                raise
            time.sleep(delay_s)


def _join(cluster: EtcdCluster, step: Step, provision: Provisioner, progress: Progress) -> None:
    anchor = cluster.anchor(exclude=(step.host,))
    cluster.session(step.host).run(_wipe_command(cluster, step.host, disable=False), become=True)
    if step.action == "add":
        progress(f"{step.host}: member add on {anchor.host}")
        _member_add(anchor, step)
    views = cluster.members(anchor)
    extra = {
        "etcd_initial_cluster_state": "existing",
        "etcd_initial_cluster": _initial_cluster(cluster, views, step.host, step.peer_url),
    }
    progress(f"{step.host}: provisioning and starting (initial-cluster-state=existing)")
    try:
        provision(cluster.inventory_path, step.host, extra)
    except EtcdOpsError as e:
        raise EtcdOpsError(
            f"{e}. {step.host} is in the member list but not running: fix the cause and run "
            "`kprov etcd members` again (it finishes the start), or take it out of the etcd group "
            "(it is then removed)."
        ) from e
    cluster.wait_healthy(anchor)


def _hand_over_leadership(anchor: Etcdctl, views: list[MemberView], step: Step, progress: Progress) -> None:
    """A leaving leader hands over to a healthy member first (no election after the removal)."""
    leaving = next((v for v in views if v.info.member_id == step.member_id), None)
    heirs = [v for v in views if v.healthy and v.info.member_id != step.member_id]
    if leaving is None or not leaving.is_leader or not heirs:
        return
    endpoints = [v.endpoint for v in views if v.healthy and v.endpoint]
    anchor.check("move-leader", f"{heirs[0].info.member_id:x}", endpoints=endpoints)
    progress(f"{step.host}: leadership moved to {heirs[0].name}")


def _leave(cluster: EtcdCluster, step: Step, progress: Progress) -> None:
    anchor = cluster.anchor(exclude=(step.host,))
    assert step.member_id is not None
    _hand_over_leadership(anchor, cluster.members(anchor), step, progress)
    progress(f"{step.host}: member remove on {anchor.host}")
    anchor.member_remove(step.member_id)
    if step.host in cluster.inventory.hosts:
        try:
            cluster.session(step.host).run(_wipe_command(cluster, step.host, disable=True), become=True)
            progress(f"{step.host}: {SERVICE} stopped and disabled, data wiped")
        except ConnectionFailure as e:
            progress(f"{step.host}: unreachable ({e.message}); stop {SERVICE} there and wipe its data dir")
    else:
        progress(f"{step.host}: not in the inventory; stop {SERVICE} there and wipe its data dir")
    cluster.wait_healthy(anchor)


def apply_membership(
    cluster: EtcdCluster,
    plan: MembershipPlan,
    progress: Progress = lambda _msg: None,
    provision: Provisioner = provision_member,
) -> list[StepDone]:
    """Run the plan's steps in order; stops at the first failure (EtcdOpsError)."""
    done: list[StepDone] = []
    for step in plan.steps:
        start = time.monotonic()
        progress(f"step: {step.describe()}")
        if step.action == "remove":
            _leave(cluster, step, progress)
        else:
            _join(cluster, step, provision, progress)
        done.append(StepDone(step, time.monotonic() - start))
        progress(f"{step.host}: done in {done[-1].seconds:.1f}s, cluster healthy")
    return done
