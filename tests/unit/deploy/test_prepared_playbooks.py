"""Which playbooks get kprov's operator-side artifacts (runtime, node images, PKI) as variables."""

from __future__ import annotations

from pathlib import Path

from kprov.deploy.prepare import (
    NODE_PREREQS_PLAYBOOK,
    SITE_PLAYBOOK,
    is_cluster_playbook,
    needs_prepared_artifacts,
)


def test_the_cluster_and_the_node_prerequisites_playbooks_get_the_artifacts() -> None:
    assert needs_prepared_artifacts(SITE_PLAYBOOK)
    assert needs_prepared_artifacts(NODE_PREREQS_PLAYBOOK)


def test_only_the_cluster_playbook_is_the_cluster_playbook() -> None:
    # Preflight (ports, topology) and scale-in belong to the whole cluster, not to node prerequisites.
    assert is_cluster_playbook(SITE_PLAYBOOK)
    assert not is_cluster_playbook(NODE_PREREQS_PLAYBOOK)


def test_a_users_own_playbook_gets_nothing(tmp_path: Path) -> None:
    own = tmp_path / "site.yml"
    own.write_text("- hosts: all\n  tasks: []\n")
    assert not needs_prepared_artifacts(own)


def test_the_node_prerequisites_playbook_exists_beside_the_cluster_playbook() -> None:
    assert NODE_PREREQS_PLAYBOOK.is_file()
    assert NODE_PREREQS_PLAYBOOK.parent == SITE_PLAYBOOK.parent
