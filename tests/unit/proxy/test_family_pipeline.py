"""The pipelined dual-stack sync (one family's nft running while the next family's ports and
rules are computed) programs exactly the rule sets a one-table-at-a-time ``nft -f`` of each
family's full rendering gives: ``nft list table`` of each family's table in the two network
namespaces is compared byte for byte, after the first (full) sync and after a delta sync."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator

import pytest

from kprov.cluster.nftables.apply import render_full
from kprov.cluster.proxy.families import FamilyProxier, sync_families
from kprov.cluster.proxy.rules import compute_ruleset, table_name
from kprov.cluster.proxy.tracker import ServiceTracker
from tests.unit.proxy.objects import endpoint_slice
from tests.unit.proxy.test_dual_stack_rules import V4, V6, _objects, _slice6

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("nft") or not shutil.which("ip"),
    reason="needs root, nft and ip for throwaway network namespaces",
)


@pytest.fixture
def netns() -> Iterator[list[str]]:
    """The namespaces a test makes (:func:`_new`), deleted after it."""
    made: list[str] = []
    yield made
    for name in made:
        subprocess.run(["ip", "netns", "del", name], check=False)


def _new(made: list[str]) -> str:
    name = f"kprov-pipe-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    made.append(name)
    return name


def _in(ns: str, *command: str, stdin: str | None = None) -> str:
    proc = subprocess.run(["ip", "netns", "exec", ns, *command], input=stdin, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def _tables(ns: str) -> str:
    """Both tables as nft lists them, IPv4's first (the order the kernel committed the two
    transactions in is not part of the rules: the pipeline's two nft processes race for it)."""
    return "".join(_in(ns, "nft", "list", "table", *table_name(family).split()) for family in (4, 6))


def _reference(ns: str, tracker: ServiceTracker) -> str:
    """Each family's whole table from scratch, one ``nft -f`` after the other."""
    for family, settings in ((4, V4), (6, V6)):
        script = render_full(compute_ruleset(tracker.service_ports(family), settings), table_name(family))
        _in(ns, "nft", "-f", "-", stdin=script)
    return _tables(ns)


def test_the_pipelined_sync_programs_the_same_rule_sets_byte_for_byte(netns: list[str]) -> None:
    services, slices = _objects()
    piped_ns, first_ns, second_ns = _new(netns), _new(netns), _new(netns)
    proxiers = [FamilyProxier(4), FamilyProxier(6)]
    for proxier in proxiers:
        proxier.applier.command[:0] = ["ip", "netns", "exec", piped_ns]
    tracker = ServiceTracker((4, 6))
    for svc in services:
        tracker.set_service(svc)
    for eps in slices:
        tracker.set_slice(eps)
    reference = ServiceTracker((4, 6))
    for svc in services:
        reference.set_service(svc)
    for eps in slices:
        reference.set_slice(eps)

    changes = tracker.take_changes()
    outcomes = sync_families(proxiers, [V4, V6], lambda family: tracker.ports(family, changes))
    assert outcomes == ["full", "full"]
    piped = _tables(piped_ns)
    assert "table ip6 kprov" in piped and "fd00:10:96::a . tcp . 80" in piped
    assert piped == _reference(first_ns, reference)

    # an endpoint moves in each family: a delta transaction per table, same result as from scratch
    moved = [endpoint_slice("web", ["10.244.1.7"]), _slice6("web", ["fd00:10:244:1::7"])]
    for eps in moved:
        tracker.set_slice(eps)
        reference.set_slice(eps)
    changes = tracker.take_changes()
    outcomes = sync_families(proxiers, [V4, V6], lambda family: tracker.ports(family, changes))
    assert outcomes == ["delta", "delta"]
    piped = _tables(piped_ns)
    assert "fd00:10:244:1::7" in piped and "fd00:10:244:1::2" not in piped
    assert piped == _reference(second_ns, reference)


def test_a_refused_delta_falls_back_to_a_full_sync(netns: list[str]) -> None:
    """Someone deleted the table behind the applier's back: the delta transaction fails in
    nft and the pending apply redoes the whole table, which then holds the new rules."""
    services, slices = _objects()
    ns = _new(netns)
    proxier = FamilyProxier(6)
    proxier.applier.command[:0] = ["ip", "netns", "exec", ns]
    tracker = ServiceTracker((4, 6))
    for svc in services:
        tracker.set_service(svc)
    for eps in slices:
        tracker.set_slice(eps)
    assert proxier.sync(V6, tracker.service_ports(6)) == "full"
    _in(ns, "nft", "delete", "table", "ip6", "kprov")
    tracker.set_slice(_slice6("web", ["fd00:10:244:1::7"]))
    assert proxier.sync(V6, tracker.service_ports(6)) == "full"
    listed = _in(ns, "nft", "list", "table", "ip6", "kprov")
    assert "fd00:10:244:1::7" in listed and "fd00:10:244:1::2" not in listed
