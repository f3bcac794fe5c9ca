"""Membership planning: from the live member list to the inventory's ``etcd`` group, one
member at a time, never through a state that would lose quorum. Pure (no I/O).

Rules:
- the target size must be odd (1, 3, 5, 7): an even size tolerates no more failures than
  one member less, so it is refused (intermediate even sizes during a change are fine);
- the cluster must have a quorum now;
- steps run one at a time, in this order: remove unhealthy members that leave, finish adds
  that were interrupted (member added but never started), add new members, then remove
  healthy members that leave (followers first, the leader last);
- each step is checked before it is planned: after ``member add`` the new member counts
  but is not healthy yet, so the healthy members must be a quorum of the grown cluster;
  after a removal the remaining healthy members must be a quorum of the smaller cluster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "LiveMember",
    "MembershipError",
    "MembershipPlan",
    "Step",
    "plan_membership",
    "quorum",
]


class MembershipError(ValueError):
    """The requested membership cannot be reached safely."""


def quorum(members: int) -> int:
    """Members that must agree in a cluster of ``members``."""
    return members // 2 + 1


@dataclass(frozen=True)
class LiveMember:
    """A member as ``etcdctl member list`` and ``endpoint health`` see it."""

    member_id: int
    name: str  # "" for a member that was added but never started
    peer_urls: tuple[str, ...]
    healthy: bool
    is_leader: bool = False

    @property
    def started(self) -> bool:
        return bool(self.name)


@dataclass(frozen=True)
class Step:
    """``add`` (member add, then provision and start), ``start`` (the add was done before) or
    ``remove`` (member remove, then stop and wipe)."""

    action: str
    host: str
    peer_url: str
    member_id: int | None = None
    size_after: int = 0
    healthy_after: int = 0

    def describe(self) -> str:
        verb = {"add": "add", "start": "start (already added)", "remove": "remove"}[self.action]
        return f"{verb} {self.host} -> {self.size_after} members"


@dataclass(frozen=True)
class MembershipPlan:
    current: tuple[str, ...]
    target: tuple[str, ...]
    steps: tuple[Step, ...]

    @property
    def empty(self) -> bool:
        return not self.steps


def _member_host(member: LiveMember, peer_urls: Mapping[str, str]) -> str:
    """The inventory host of a member: by name, else by peer URL, else its name or id."""
    if member.name:
        return member.name
    for host, url in peer_urls.items():
        if url in member.peer_urls:
            return host
    return f"{member.member_id:x}"


def plan_membership(
    live: Sequence[LiveMember], target: Sequence[str], peer_urls: Mapping[str, str]
) -> MembershipPlan:
    """Steps turning ``live`` into the members ``target`` (``peer_urls``: host -> peer URL)."""
    if not target:
        raise MembershipError("the inventory's etcd group is empty: a cluster needs at least one member")
    if len(target) % 2 == 0:
        raise MembershipError(
            f"the inventory's etcd group has {len(target)} hosts ({', '.join(target)}): an etcd cluster "
            f"needs an odd number of members (1, 3, 5, 7); {len(target)} tolerates no more failures "
            f"than {len(target) - 1}. Add or remove one host in the group."
        )
    if not live:
        raise MembershipError("no live etcd member found: bootstrap the cluster with `kprov apply` first")
    missing_urls = [h for h in target if h not in peer_urls]
    if missing_urls:
        raise MembershipError(f"no address known for {', '.join(missing_urls)}")
    size = len(live)
    healthy = sum(m.healthy for m in live)
    if healthy < quorum(size):
        raise MembershipError(
            f"the cluster has no quorum ({healthy} of {size} members healthy, {quorum(size)} needed): "
            "bring members back or restore from a snapshot (`kprov etcd restore`) before changing members"
        )
    by_host = {_member_host(m, peer_urls): m for m in live}
    leaving = [h for h in by_host if h not in target]
    unstarted = [h for h in target if h in by_host and not by_host[h].started]
    joining = [h for h in target if h not in by_host]
    steps: list[Step] = []

    def remove(host: str) -> None:
        nonlocal size, healthy
        member = by_host[host]
        new_size, new_healthy = size - 1, healthy - int(member.healthy)
        if new_size < 1:
            raise MembershipError(f"removing {host} would leave no member")
        if new_healthy < quorum(new_size):
            raise MembershipError(
                f"removing {host} would leave {new_healthy} healthy of {new_size} members, "
                f"below the quorum of {quorum(new_size)}: fix the unhealthy members first"
            )
        size, healthy = new_size, new_healthy
        url = member.peer_urls[0] if member.peer_urls else ""
        steps.append(Step("remove", host, url, member.member_id, size, healthy))

    def add(host: str, action: str) -> None:
        nonlocal size, healthy
        grown = size + (1 if action == "add" else 0)
        if healthy < quorum(grown):
            raise MembershipError(
                f"adding {host} would make {grown} members with {healthy} healthy until it starts, "
                f"below the quorum of {quorum(grown)}: fix or remove the unhealthy members first"
            )
        size, healthy = grown, healthy + 1
        member_id = by_host[host].member_id if action == "start" else None
        steps.append(Step(action, host, peer_urls[host], member_id, size, healthy))

    for host in [h for h in leaving if not by_host[h].healthy]:
        remove(host)
    for host in unstarted:
        add(host, "start")
    for host in joining:
        add(host, "add")
    healthy_leaving = [h for h in leaving if by_host[h].healthy]
    for host in sorted(healthy_leaving, key=lambda h: by_host[h].is_leader):
        remove(host)
    order = {h: i for i, h in enumerate(target)}
    current = sorted(by_host, key=lambda h: (order.get(h, len(order)), h))
    return MembershipPlan(tuple(current), tuple(target), tuple(steps))
