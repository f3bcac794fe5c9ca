"""site.yml installs the control plane on every host that runs none yet at once and rolls it
one host at a time through the hosts that already run one.

The two control-plane plays are taken from site.yml as they are (hosts, serial, pre_tasks),
their roles replaced by one that records the host's batch (``ansible_play_batch``) and the
play it ran in; control_plane_state's fact is set per host in a first play, as site.yml's
first play sets it (with the tag ``always``, as there).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.provision.harness import run_fake

ROLES = Path(__file__).resolve().parents[3] / "roles"
HOSTS = ["h1", "h2", "h3"]


def _control_plane_plays() -> list[dict[str, Any]]:
    plays = [p for p in yaml.safe_load((ROLES / "site.yml").read_text())
             if "control_plane_ready" in p.get("roles", [])]
    assert len(plays) == 2, [p["name"] for p in plays]
    return plays


def _playbook() -> str:
    state = {"hosts": "all", "gather_facts": False, "tasks": [
        {"name": "the first play's record", "set_fact": {"kprov_control_plane_running": "{{ state }}"},
         "when": "state is not none", "tags": ["always"]},
    ]}
    plays: list[dict[str, Any]] = [state]
    for play in _control_plane_plays():
        assert set(play["roles"]) == {"apiserver", "controller_manager", "scheduler", "control_plane_ready"}
        plays.append({**play, "become": False, "roles": ["record"]})
    return yaml.safe_dump(plays)


def _batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
             running: dict[str, bool | None], **options: Any) -> dict[str, list[tuple[str, list[str]]]]:
    """For each host: (play, the hosts of its batch that ran the roles too) for every
    control-plane play its roles ran in."""
    record = yaml.safe_dump([{"name": "record", "set_fact": {
        "seen": "{{ seen | default([]) + [[ansible_play_name, ansible_play_batch]] }}"}, "tags": ["record"]}])
    inventory = "all:\n  children:\n    control_plane:\n      hosts:\n" + "".join(
        f"        {h}:\n          state: {yaml.safe_dump(running[h]).splitlines()[0]}\n" for h in HOSTS)
    files = {"site.yml": _playbook(), "roles/record/tasks/main.yml": record, "hosts.yml": inventory}
    report, registered = run_fake(tmp_path, monkeypatch, files, HOSTS, **options)
    assert report.ok, report.errors
    seen = {h: [(str(p), list(b)) for p, b in registered[h].get("seen", [])] for h in HOSTS}
    # a batch's hosts that ran the roles (one that ended at the play's start is left out)
    ran = {(h, p) for h in HOSTS for p, _ in seen[h]}
    return {h: [(p, [b for b in batch if (b, p) in ran]) for p, batch in seen[h]] for h in HOSTS}


FIRST, ROLL = (p["name"] for p in _control_plane_plays())


def test_a_fresh_cluster_installs_every_control_plane_host_at_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _batches(tmp_path, monkeypatch, {"h1": False, "h2": False, "h3": False})
    assert seen == {h: [(FIRST, HOSTS)] for h in HOSTS}


def test_a_running_control_plane_rolls_one_host_at_a_time_in_order(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _batches(tmp_path, monkeypatch, {"h1": True, "h2": True, "h3": True})
    assert seen == {h: [(ROLL, [h])] for h in HOSTS}


def test_a_host_added_installs_first_then_the_running_ones_roll(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _batches(tmp_path, monkeypatch, {"h1": True, "h2": False, "h3": True})
    assert seen == {"h1": [(ROLL, ["h1"])], "h2": [(FIRST, ["h2"])], "h3": [(ROLL, ["h3"])]}


def test_an_unknown_state_rolls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without control_plane_state's record (the role left out) every host rolls, as before."""
    seen = _batches(tmp_path, monkeypatch, {"h1": None, "h2": None, "h3": None})
    assert seen == {h: [(ROLL, [h])] for h in HOSTS}


def test_the_choice_holds_with_tags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--tags X` still runs the plays' always-tagged pre_tasks: no host runs its roles twice."""
    seen = _batches(tmp_path, monkeypatch, {"h1": True, "h2": False, "h3": False}, tags=["record"])
    assert seen == {"h1": [(ROLL, ["h1"])], "h2": [(FIRST, ["h2", "h3"])], "h3": [(FIRST, ["h2", "h3"])]}


def test_the_first_play_records_the_state_on_control_plane_hosts() -> None:
    first = yaml.safe_load((ROLES / "site.yml").read_text())[0]
    entry = next(r for r in first["roles"] if isinstance(r, dict) and r["role"] == "control_plane_state")
    assert "control_plane" in entry["when"]
    tasks = yaml.safe_load((ROLES / "control_plane_state" / "tasks" / "main.yml").read_text())
    assert all("always" in t["tags"] for t in tasks)
    assert any("kprov_control_plane_running" in t.get("ansible.builtin.set_fact", {}) for t in tasks)
    probe = next(t for t in tasks if "register" in t)
    assert probe["check_mode"] is False and probe["changed_when"] is False and probe["failed_when"] is False
