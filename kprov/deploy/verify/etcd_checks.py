"""The etcd quorum as its members answer: each healthy, one leader, a quorum read in time.

``etcdctl endpoint health`` (run on a member over SSH) times a linearizable read per member:
the member asks the leader for its commit index, which the leader confirms with a heartbeat
round to a quorum. So the read takes at least one peer round trip, and a slow peer link (or
a member starved of CPU or disk) shows there while every member still reports healthy.
A read slower than half the heartbeat interval (``etcd_heartbeat_interval``, 100 ms) is asked
again once (one slow answer is not a slow link), and the row fails if it stays slow: etcd's
tuning guide sets the heartbeat near the members' round trip, so a round trip past half of it
leaves elections little margin.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kprov.deploy.verify.diagnose import describe_error
from kprov.deploy.verify.report import Check
from kprov.etcdops.cluster import EtcdCluster, MemberView
from kprov.etcdops.etcdctl import Etcdctl

__all__ = ["DEFAULT_HEARTBEAT_MS", "etcd_checks", "go_duration_ms", "quorum_read_rows"]

DEFAULT_HEARTBEAT_MS = 100.0  # roles/etcd/defaults: etcd_heartbeat_interval
_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|μs|ms|s|m|h)")
_MS = {"ns": 1e-6, "us": 1e-3, "µs": 1e-3, "μs": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4, "h": 3.6e6}


def go_duration_ms(text: str) -> float | None:
    """A Go duration as etcdctl prints it ("1.2345ms", "1m2.5s") in milliseconds; None if not one."""
    parts = _PART.findall(text.strip())
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        return None
    return sum(float(number) * _MS[unit] for number, unit in parts)


def quorum_read_rows(took_ms: Mapping[str, float], bound_ms: float) -> list[Check]:
    """Per member (name -> its fastest read), whether a quorum read came back within the bound."""
    rows = []
    for member, took in took_ms.items():
        title = f"etcd member {member} answers a quorum read within {bound_ms:g} ms"
        if took <= bound_ms:
            rows.append(Check("cluster", title, True, f"{took:.1f} ms"))
        else:
            rows.append(Check("cluster", title, False,
                              f"{took:.1f} ms, twice: a linearizable read waits for a heartbeat round to a "
                              "quorum, "
                              "so the peer links are slow or a member is starved of CPU or disk (etcd's "
                              "heartbeat is 'etcd_heartbeat_interval'; compare the members' round trip, "
                              "journalctl -u kprov-etcd for 'took too long')"))
    return rows


def _fastest_reads(ctl: Etcdctl, views: list[MemberView], bound_ms: float) -> dict[str, float]:
    """Each healthy member's read time from the health check, slow ones asked again (the faster kept)."""
    took: dict[str, float] = {}
    for view in views:
        value = go_duration_ms(view.took) if view.healthy else None
        if value is not None and view.endpoint:
            took[view.endpoint] = value
    slow = [endpoint for endpoint, value in took.items() if value > bound_ms]
    if slow:
        for health in ctl.endpoint_health(slow):
            value = go_duration_ms(health.took) if health.healthy else None
            if value is not None and health.endpoint in took:
                took[health.endpoint] = min(took[health.endpoint], value)
    names = {v.endpoint: v.name or v.endpoint for v in views}
    return {names.get(endpoint, endpoint): value for endpoint, value in took.items()}


def etcd_checks(inventory: str | Path, host_vars: Mapping[str, Any] | None = None) -> list[Check]:
    """Every member's health, the quorum, the leader, and each member's quorum read time."""
    bound_ms = float((host_vars or {}).get("etcd_heartbeat_interval", DEFAULT_HEARTBEAT_MS)) / 2
    try:
        with EtcdCluster(inventory) as cluster:
            ctl = cluster.anchor()
            views = cluster.members(ctl)
            reads = _fastest_reads(ctl, views, bound_ms)
    except Exception as exc:  # noqa: BLE001 - any failure to reach etcd is a failed row
        return [Check("cluster", "etcd quorum", False, describe_error(exc))]
    healthy = [v for v in views if v.healthy]
    leaders = [v.name for v in views if v.is_leader]
    checks = [Check("cluster", f"etcd member {v.name or v.endpoint} healthy", v.healthy, v.error)
              for v in views]
    checks.append(Check("cluster", "etcd quorum", len(healthy) > len(views) // 2,
                        f"{len(healthy)}/{len(views)} healthy"))
    checks.append(Check("cluster", "etcd has one leader", len(set(leaders)) == 1, ", ".join(leaders)))
    return checks + quorum_read_rows(reads, bound_ms)
