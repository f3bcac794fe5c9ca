"""cron, debconf and ufw against ansible-core and community.general on fresh lab hosts.

The feature play (tests/compat/lab_features/cron_debconf_ufw) runs under kprov on h1 and under
ansible-playbook on h2, both fresh with cron and ufw from the wide corpus's repository, twice
each: both succeed, every task reports the same changed/failed on both sides (the play writes
what each reported), the second runs change nothing, and the hosts end with the same
crontabs, debconf answers and firewall (``ufw status verbose`` and the user.rules tuples).
The firewall is reset and disabled afterwards."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.compat.twin import Recap, run_ansible, run_kprov

from .corpus_repo import WIDE_PACKAGES, WIDE_PORT, corpus_repo

pytestmark = [pytest.mark.lab, pytest.mark.long]
PLAY = Path(__file__).resolve().parents[2] / "compat" / "lab_features" / "cron_debconf_ufw" / "play.yml"
SIDES = {"kprov": "h1", "ansible": "h2"}
_INSTALL = "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends cron ufw locales"
_STATE = ("crontab -l; echo ---; crontab -u www-data -l; echo ---; cat /etc/cron.d/kprov-tick; echo ---; "
          "debconf-show tzdata openssh-server locales | sort; echo ---; ufw status verbose; echo ---; "
          "grep -h '^### tuple' /etc/ufw/user.rules /etc/ufw/user6.rules; echo ---; "
          "cat /root/features-out-1.txt /root/features-out-2.txt")
_CLEAN = ("ufw --force reset >/dev/null; ufw disable >/dev/null; crontab -r; crontab -u www-data -r; "
          "rm -f /etc/cron.d/kprov-tick /root/features-out-*.txt; true")


def _one_host(inventory: Path, host: str, path: Path) -> Path:
    """``inventory`` narrowed to ``host``."""
    data: dict[str, Any] = yaml.safe_load(inventory.read_text())
    data["all"]["hosts"] = {host: data["all"]["hosts"][host]}
    data["all"].pop("children", None)
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="module")
def runs(lab_hosts, lab_inventory, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[tuple[dict[str, list[Recap]], dict[str, str]]]:
    lab = lab_hosts(2)
    inventory = lab_inventory(2)
    tmp = tmp_path_factory.mktemp("cron-debconf-ufw")
    hosts = list(SIDES.values())
    try:
        with corpus_repo(lab, hosts, WIDE_PACKAGES, name="compat-wide-repo", port=WIDE_PORT):
            for host in hosts:
                rc, _, err = lab.ssh(host, _INSTALL)
                assert rc == 0, err
        os.environ.pop("ANSIBLE_ROLES_PATH", None)
        kprov_inventory = _one_host(inventory, SIDES["kprov"], tmp / "kprov.yml")
        ansible_inventory = _one_host(inventory, SIDES["ansible"], tmp / "ansible.yml")
        recaps: dict[str, list[Recap]] = {
            "kprov": [run_kprov(kprov_inventory, PLAY, {"run": n}, tmp / f"logs{n}") for n in (1, 2)],
            "ansible": [run_ansible(ansible_inventory, PLAY, {"run": n}, tmp) for n in (1, 2)],
        }
        states = {side: lab.ssh(host, _STATE)[1] for side, host in SIDES.items()}
        yield recaps, states
    finally:
        for host in hosts:
            lab.ssh(host, _CLEAN)


def test_both_succeed_and_second_runs_change_nothing(runs) -> None:
    recaps, _ = runs
    for side, (cold, again) in recaps.items():
        assert cold.ok, (side, cold.output)
        assert again.ok, (side, again.output)
        host = SIDES[side]
        # the second run changes only its own results file, and the check-mode task reports
        # the rule it would add, as on every run
        assert again.changed[host] == 2, (side, again.output)
    kprov, ansible = recaps["kprov"], recaps["ansible"]
    for run in (0, 1):
        assert kprov[run].changed["h1"] == ansible[run].changed["h2"]
        assert kprov[run].counted_ok["h1"] == ansible[run].counted_ok["h2"]


def test_each_task_reported_the_same_and_the_hosts_end_alike(runs) -> None:
    _, states = runs
    assert "changed=" in states["kprov"], states["kprov"]
    assert states["kprov"] == states["ansible"]
