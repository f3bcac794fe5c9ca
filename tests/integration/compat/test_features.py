"""One-feature plays (tests/compat/features/<name>/play.yml) run by kprov and by ansible-playbook
on this machine (connection local): both succeed, report the same recap (ok, changed and
skipped per host: Ansible counts fact gathering and each loaded include as ok) and write
byte-identical result files under ``out``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .twin import local_inventory, run_ansible, run_kprov, tree

FEATURES_DIR = Path(__file__).resolve().parents[2] / "compat" / "features"
FEATURES = sorted(p.parent.name for p in FEATURES_DIR.glob("*/play.yml"))
# Features whose reference run is itself racy: ansible-core's fire-and-forget job (async) has
# recorded a finished job with rc 3 and empty stdout and stderr in 2 of ~10 CI-like runs (kprov's
# side was the same each time); its reference run is repeated once before the results are compared.
RACY_REFERENCE = frozenset({"async"})


@pytest.mark.parametrize("feature", FEATURES)
def test_feature_same_as_ansible(feature: str, tmp_path: Path) -> None:
    play = FEATURES_DIR / feature / "play.yml"
    inventory = local_inventory(tmp_path / "hosts.yml")
    k_out, a_out = tmp_path / "kprov", tmp_path / "ansible"
    k_out.mkdir()
    a_out.mkdir()
    kprov = run_kprov(inventory, play, {"out": str(k_out)}, tmp_path / "logs")
    assert kprov.ok, kprov.output
    ansible = run_ansible(inventory, play, {"out": str(a_out)}, tmp_path)
    assert ansible.ok, ansible.output
    if feature in RACY_REFERENCE and tree(k_out) != tree(a_out):
        shutil.rmtree(a_out)
        a_out.mkdir()
        ansible = run_ansible(inventory, play, {"out": str(a_out)}, tmp_path)
        assert ansible.ok, ansible.output
    assert tree(k_out) == tree(a_out)
    assert tree(k_out), "the play wrote no result file"
    assert kprov.changed == ansible.changed
    assert (kprov.counted_ok, kprov.skipped) == (ansible.counted_ok, ansible.skipped)
