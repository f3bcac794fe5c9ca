"""Defragmenting every member, one at a time, followers first and the leader last.

Compaction (the etcd role sets ``--auto-compaction-retention``) frees old revisions inside
etcd's database file but never shrinks the file; ``etcdctl defrag`` rewrites it. A member
being defragmented answers nothing until it is done, so members go one at a time, each
only once every member is healthy again (two at once could leave a 3-member cluster
without quorum), the leader last (its pause would otherwise start an election first).
It refuses to start on a cluster with an unhealthy member.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from kprov.etcdops.cluster import EtcdCluster, EtcdOpsError, MemberView

__all__ = ["DefragResult", "defrag_order", "defragment"]


@dataclass(frozen=True)
class DefragResult:
    member: str
    before_bytes: int
    after_bytes: int
    seconds: float


def defrag_order(views: list[MemberView]) -> list[MemberView]:
    """The members in the order to defragment them: followers (by name), then the leader."""
    sick = [v.name or f"{v.info.member_id:x}" for v in views if not v.healthy]
    if sick:
        raise EtcdOpsError(f"not defragmenting: unhealthy member(s) {', '.join(sick)}; fix them first")
    return sorted(views, key=lambda v: (v.is_leader, v.name))


def defragment(cluster: EtcdCluster, progress: Callable[[str], None] = lambda _m: None) -> list[DefragResult]:
    ctl = cluster.anchor()
    results = []
    for view in defrag_order(cluster.members(ctl)):
        began = time.monotonic()
        ctl.defrag(view.endpoint)
        after = {v.info.member_id: v for v in cluster.wait_healthy(ctl)}
        size = after[view.info.member_id].db_size if view.info.member_id in after else 0
        result = DefragResult(view.name, view.db_size, size, round(time.monotonic() - began, 1))
        progress(f"{view.name}{' (leader)' if view.is_leader else ''}: {view.db_size} -> {size} bytes")
        results.append(result)
    return results
