"""Which nodes scale-in removes: ones kprov provisioned (a kubelet directory in the PKI)
that the inventory no longer lists as nodes - never others."""

from __future__ import annotations

from pathlib import Path

from kprov.deploy.scale_in import departed_nodes

INVENTORY = """
all:
  hosts:
    h1: {ansible_host: 10.0.0.1}
    h2: {ansible_host: 10.0.0.2}
    h4: {ansible_host: 10.0.0.4}
  children:
    etcd: {hosts: {h1: {}}}
    control_plane: {hosts: {h1: {}}}
    workers: {hosts: {h2: {}}}
"""


def _inventory(tmp_path: Path, kubelets: list[str]) -> Path:
    (tmp_path / "hosts.yml").write_text(INVENTORY)
    for name in kubelets:
        (tmp_path / "pki" / "kubelet" / name).mkdir(parents=True)
    return tmp_path / "hosts.yml"


def test_nodes_left_out_of_the_node_groups_have_departed(tmp_path: Path) -> None:
    # h4 is still a host (now outside every node group), h5 left the inventory entirely
    inventory = _inventory(tmp_path, ["h1", "h2", "h4", "h5"])
    assert departed_nodes(inventory) == ["h4", "h5"]
    assert departed_nodes(tmp_path) == ["h4", "h5"]  # the inventory's directory works too


def test_current_nodes_and_nodes_kprov_never_made_are_kept(tmp_path: Path) -> None:
    inventory = _inventory(tmp_path, ["h1", "h2"])
    assert departed_nodes(inventory) == []


def test_no_pki_yet_means_nothing_departed(tmp_path: Path) -> None:
    (tmp_path / "hosts.yml").write_text(INVENTORY)
    assert departed_nodes(tmp_path / "hosts.yml") == []


def test_a_host_that_left_the_inventory_is_reset_one_still_listed_loses_its_node_part(
        tmp_path: Path) -> None:
    from kprov.deploy.scale_in import REMOVE_NODE_PLAYBOOK, RESET_PLAYBOOK, clearing_playbook
    from kprov.provision.inventory import load_inventory

    (tmp_path / "hosts.yml").write_text(INVENTORY)
    inventory = load_inventory(tmp_path / "hosts.yml")
    assert clearing_playbook(inventory, "h4") == REMOVE_NODE_PLAYBOOK  # still a host
    assert clearing_playbook(inventory, "h5") == RESET_PLAYBOOK  # left the inventory


class _FakeApi:
    def __init__(self) -> None:
        self.deleted: list[str] = []

    async def delete(self, res: object, name: str, namespace: str | None = None) -> None:
        self.deleted.append(f"{namespace}/{name}")

    async def request(self, method: str, path: str) -> dict | None:
        if method == "GET":
            return {"items": [
                {"metadata": {"name": "csr-h4"}, "spec": {"username": "system:node:h4"}},
                {"metadata": {"name": "csr-h2"}, "spec": {"username": "system:node:h2"}},
            ]}
        self.deleted.append(path.rsplit("/", 1)[-1])
        return None


def test_a_removed_nodes_lease_and_csrs_are_deleted_and_no_others() -> None:
    import asyncio

    from kprov.deploy.scale_in import revoke_node_credentials

    api = _FakeApi()
    done = asyncio.run(revoke_node_credentials(api, "h4"))  # type: ignore[arg-type]
    assert api.deleted == ["kube-node-lease/h4", "csr-h4"]
    assert done == ["lease kube-node-lease/h4", "certificatesigningrequest csr-h4"]


def test_a_drain_leaves_daemonset_and_mirror_pods_as_kubectl_drain_does() -> None:
    from kprov.deploy.scale_in import drained_away

    plain = {"metadata": {"name": "web-1"}}
    daemon = {"metadata": {"name": "ds-1", "ownerReferences": [{"kind": "DaemonSet", "name": "ds"}]}}
    mirror = {"metadata": {"name": "kube-proxy-h5", "annotations": {"kubernetes.io/config.mirror": "x"},
                           "ownerReferences": [{"kind": "Node", "name": "h5"}]}}
    assert [drained_away(p) for p in (plain, daemon, mirror)] == [True, False, False]
