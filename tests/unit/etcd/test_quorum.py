"""Membership planning: odd sizes only, never below quorum, one member at a time, in order."""

from __future__ import annotations

import pytest

from kprov.etcdops.quorum import LiveMember, MembershipError, plan_membership, quorum

URLS = {f"h{i}": f"https://10.0.0.{i}:2380" for i in range(1, 8)}


def live(*names: str, down: tuple[str, ...] = (), leader: str = "", unstarted: tuple[str, ...] = ()):
    members = [
        LiveMember(i + 1, "" if n in unstarted else n, (URLS[n],), n not in down and n not in unstarted,
                   n == leader)
        for i, n in enumerate(names)
    ]
    return members


def steps(plan) -> list[tuple[str, str, int]]:
    return [(s.action, s.host, s.size_after) for s in plan.steps]


def test_quorum_sizes() -> None:
    assert [quorum(n) for n in range(1, 8)] == [1, 2, 2, 3, 3, 4, 4]


def test_no_change_is_an_empty_plan() -> None:
    plan = plan_membership(live("h1", "h2", "h3"), ["h1", "h2", "h3"], URLS)
    assert plan.empty and plan.current == ("h1", "h2", "h3")


def test_grow_three_to_five_one_at_a_time_in_inventory_order() -> None:
    plan = plan_membership(live("h1", "h2", "h3"), ["h1", "h2", "h3", "h5", "h4"], URLS)
    assert steps(plan) == [("add", "h5", 4), ("add", "h4", 5)]
    assert plan.steps[0].peer_url == URLS["h5"]


def test_shrink_five_to_three_removes_followers_before_the_leader() -> None:
    plan = plan_membership(live("h1", "h2", "h3", "h4", "h5", leader="h4"), ["h1", "h2", "h3"], URLS)
    assert steps(plan) == [("remove", "h5", 4), ("remove", "h4", 3)]
    assert plan.steps[0].member_id == 5


@pytest.mark.parametrize("size", [2, 4, 6])
def test_even_target_is_refused(size: int) -> None:
    target = [f"h{i}" for i in range(1, size + 1)]
    with pytest.raises(MembershipError, match=f"has {size} hosts.*odd number of members"):
        plan_membership(live("h1", "h2", "h3"), target, URLS)


def test_empty_target_is_refused() -> None:
    with pytest.raises(MembershipError, match="empty"):
        plan_membership(live("h1"), [], URLS)


def test_no_quorum_now_is_refused() -> None:
    with pytest.raises(MembershipError, match="no quorum .1 of 3 members healthy, 2 needed"):
        plan_membership(live("h1", "h2", "h3", down=("h2", "h3")), ["h1", "h2", "h3", "h4", "h5"], URLS)


def test_adding_to_a_degraded_cluster_would_lose_quorum() -> None:
    # 3 members, 1 down: after `member add` 4 members need 3 healthy, only 2 are.
    with pytest.raises(MembershipError, match="adding h4 would make 4 members with 2 healthy"):
        plan_membership(live("h1", "h2", "h3", down=("h3",)), ["h1", "h2", "h3", "h4", "h5"], URLS)


def test_removing_a_healthy_member_from_a_degraded_cluster_would_lose_quorum() -> None:
    # 5 members, 2 down (still quorum 3); removing healthy h4 leaves 2 healthy of 4 (< 3).
    current = live("h1", "h2", "h3", "h4", "h5", down=("h1", "h2"))
    with pytest.raises(MembershipError, match="removing h4 would leave 2 healthy of 4 members"):
        plan_membership(current, ["h1", "h2", "h3"], URLS)


def test_unhealthy_leavers_go_first_then_adds_then_healthy_leavers() -> None:
    # Replace dead h3 and healthy h2 by h4 and h5: dead member out first, adds, then h2.
    current = live("h1", "h2", "h3", down=("h3",))
    plan = plan_membership(current, ["h1", "h4", "h5"], URLS)
    assert steps(plan) == [("remove", "h3", 2), ("add", "h4", 3), ("add", "h5", 4), ("remove", "h2", 3)]
    assert [s.healthy_after for s in plan.steps] == [2, 3, 4, 3]


def test_interrupted_add_is_finished_before_new_adds() -> None:
    current = live("h1", "h2", "h3", "h4", unstarted=("h4",))
    plan = plan_membership(current, ["h1", "h2", "h3", "h4", "h5"], URLS)
    assert steps(plan) == [("start", "h4", 4), ("add", "h5", 5)]
    assert plan.steps[0].member_id == 4
    assert "h4" in plan.current  # found by its peer URL, although it has no name yet


def test_interrupted_add_of_a_host_that_left_the_group_is_removed() -> None:
    current = live("h1", "h2", "h3", "h4", unstarted=("h4",))
    plan = plan_membership(current, ["h1", "h2", "h3"], URLS)
    assert steps(plan) == [("remove", "h4", 3)]


def test_host_without_address_is_refused() -> None:
    with pytest.raises(MembershipError, match="no address known for h9"):
        plan_membership(live("h1", "h2", "h3"), ["h1", "h2", "h9"], URLS)
