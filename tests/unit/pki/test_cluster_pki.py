"""ClusterPki.ensure: what is issued (CN/O/SANs), idempotence, growth, rotation, file modes."""

from __future__ import annotations

import base64
import stat

import pytest
import yaml

from kprov.pki import identities as ids
from kprov.pki import issue_cert, new_ca, read_pair
from kprov.pki.listing import list_certs
from kprov.pki.secrets import encryption_keys
from kprov.pki.store import ClusterPki, PkiError, cert_sans

from .conftest import FIVE, FIVE_VARS, make_topology


def _sans(pki_dir, name: str) -> tuple[set[str], set[str]]:
    dns, ips = cert_sans(read_pair(pki_dir, name).cert)
    return set(dns), set(ips)


def test_identities_are_the_fixed_ones(issued) -> None:
    tmp_path = issued
    expect = {
        "admin": ("kubernetes-admin", ["system:masters"]),
        "scheduler": ("system:kube-scheduler", []),
        "controller-manager": ("system:kube-controller-manager", []),
        "kube-proxy": ("system:kube-proxy", []),
        "kube-dns": ("system:kprov:kube-dns", []),
        "ingress-controller": ("system:kprov:ingress-controller", []),
        "apiserver-kubelet-client": ("kube-apiserver-kubelet-client", ["system:masters"]),
        "etcd/apiserver-etcd-client": ("kube-apiserver-etcd-client", []),
        "kubelet/h4/client": ("system:node:h4", ["system:nodes"]),
        "kubelet/h1/client": ("system:node:h1", ["system:nodes"]),
    }
    for name, (cn, orgs) in expect.items():
        pair = read_pair(tmp_path, name)
        assert (pair.common_name, pair.organizations) == (cn, orgs), name
    assert ids.kubelet_cn("h4") == "system:node:h4"


def test_sans(issued) -> None:
    tmp_path = issued
    dns, ips = _sans(tmp_path, "apiserver")
    assert dns >= {"h1", "h2", "h3", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                   "kubernetes.default.svc.cluster.local", "localhost"}
    assert ips == {"10.77.2.11", "10.77.2.12", "10.77.2.13", "10.96.0.1", "127.0.0.1"}
    assert "h4" not in dns
    assert _sans(tmp_path, "etcd/h2/server") == ({"h2", "localhost"}, {"10.77.2.12", "127.0.0.1"})
    assert _sans(tmp_path, "etcd/h2/peer") == ({"h2", "localhost"}, {"10.77.2.12", "127.0.0.1"})
    assert _sans(tmp_path, "kubelet/h5/serving") == ({"h5"}, {"10.77.2.15"})
    # the image mirror: one cert naming every control-plane host (nodes reach each by address)
    assert _sans(tmp_path, "registry") == ({"h1", "h2", "h3", "localhost"},
                                           {"10.77.2.11", "10.77.2.12", "10.77.2.13", "127.0.0.1"})
    assert read_pair(tmp_path, "registry").common_name == "kprov-registry"
    assert not (tmp_path / "etcd/h4").exists()  # h4 is no etcd member


def test_extra_addresses_and_endpoint(tmp_path) -> None:
    host_vars = {**FIVE_VARS, "h1": {"ansible_host": "h1.example.org", "ip": "192.168.1.1",
                                     "kprov_ips": ["fd00::1"], "apiserver_endpoint": "10.0.0.100"}}
    topo = make_topology(FIVE, host_vars)
    report = ClusterPki(tmp_path).ensure(topo)
    assert {c.action for c in report.changes} == {"created", "written"}
    # every cert, 12 kubeconfigs (7 components + 5 kubelets), sa.key, sa.pub, encryption config
    assert len(report.changed) == len(list(tmp_path.rglob("*.crt"))) + 15
    dns, ips = _sans(tmp_path, "etcd/h1/server")
    assert dns == {"h1", "h1.example.org", "localhost"}
    assert ips == {"192.168.1.1", "fd00::1", "127.0.0.1"}
    assert "10.0.0.100" in _sans(tmp_path, "apiserver")[1]
    conf = yaml.safe_load((tmp_path / "kubeconfigs/admin.conf").read_text())
    assert conf["clusters"][0]["cluster"]["server"] == "https://10.0.0.100:6443"


def test_kubeconfigs_point_at_first_control_plane_host(issued) -> None:
    tmp_path = issued
    for conf_name, cert_name, user in (("kubeconfigs/admin.conf", "admin", "kubernetes-admin"),
                                       ("kubelet/h5/kubelet.conf", "kubelet/h5/client", "system:node:h5")):
        conf = yaml.safe_load((tmp_path / conf_name).read_text())
        assert conf["clusters"][0]["cluster"]["server"] == "https://10.77.2.11:6443"
        cert = base64.b64decode(conf["users"][0]["user"]["client-certificate-data"])
        assert cert == read_pair(tmp_path, cert_name).cert_pem
        assert conf["users"][0]["name"] == user


def test_key_modes(issued) -> None:
    tmp_path = issued
    private = [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix in (".key", ".conf")]
    private.append(tmp_path / "encryption-config.yaml")
    assert len(private) > 30
    for path in private:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE((tmp_path / "ca.crt").stat().st_mode) == 0o644


def test_second_ensure_changes_nothing(issued, five) -> None:
    tmp_path = issued
    pki = ClusterPki(tmp_path)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    second = pki.ensure(five)
    assert second.changed == []
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_new_host_gets_new_certs_only(issued, five) -> None:
    tmp_path = issued
    pki = ClusterPki(tmp_path)
    ca_before = (tmp_path / "ca.crt").read_bytes()
    groups = {**FIVE, "workers": ["h4", "h5", "h6"], "etcd": ["h1", "h2", "h3", "h4", "h5"]}
    host_vars = {**FIVE_VARS, "h6": {"ansible_host": "10.77.2.16"}}
    report = pki.ensure(make_topology(groups, host_vars))
    changed = {c.name for c in report.changed}
    assert {"kubelet/h6/client", "kubelet/h6/serving", "kubelet/h6/kubelet.conf",
            "etcd/h4/server", "etcd/h4/peer", "etcd/h5/server", "etcd/h5/peer"} == changed
    assert (tmp_path / "ca.crt").read_bytes() == ca_before


def test_changed_addresses_reissue_affected_certs(issued, five) -> None:
    tmp_path = issued
    pki = ClusterPki(tmp_path)
    host_vars = {**FIVE_VARS, "h2": {"ansible_host": "10.77.2.99"}}
    report = pki.ensure(make_topology(FIVE, host_vars))
    renewed = {c.name: c.reason for c in report.changed if not c.name.endswith(".conf")}
    assert renewed == {"apiserver": "SANs differ", "registry": "SANs differ", "metrics-server": "SANs differ",
                       "etcd/h2/server": "SANs differ",
                       "etcd/h2/peer": "SANs differ", "kubelet/h2/serving": "SANs differ"}
    # every kubeconfig lists every control-plane API server (h2 is one), so all are rewritten
    confs = {c.name for c in report.changed if c.name.endswith(".conf")}
    assert "kubeconfigs/admin.conf" in confs and "kubelet/h4/kubelet.conf" in confs
    assert "https://10.77.2.99:6443" in (tmp_path / "kubeconfigs" / "admin.conf").read_text()


def test_kubeconfigs_list_every_api_server_for_failover(issued, five) -> None:
    conf = yaml.safe_load((issued / "kubelet" / "h4" / "kubelet.conf").read_text())
    cluster = conf["clusters"][0]["cluster"]
    servers = cluster["extensions"][0]["extension"]["servers"]
    assert cluster["extensions"][0]["name"] == "kprov.io/servers"
    assert servers[0] == cluster["server"] and len(servers) == len(FIVE["control_plane"])


def test_rotate_renews_leaves_keeps_cas(issued, five) -> None:
    tmp_path = issued
    pki = ClusterPki(tmp_path)
    cas = {n: (tmp_path / f"{n}.crt").read_bytes() for n in ("ca", "etcd/ca")}
    leaf_before = read_pair(tmp_path, "admin")
    sa_before = (tmp_path / "sa.key").read_bytes()
    enc_before = (tmp_path / "encryption-config.yaml").read_bytes()
    report = pki.ensure(five, rotate=True)
    renewed = {c.name for c in report.changed if c.action == "renewed"}
    assert renewed >= {"admin", "apiserver", "etcd/h1/server"}
    for name, data in cas.items():
        assert (tmp_path / f"{name}.crt").read_bytes() == data
    leaf_after = read_pair(tmp_path, "admin")
    assert leaf_after.cert.serial_number != leaf_before.cert.serial_number
    assert leaf_after.key_pem != leaf_before.key_pem
    leaf_after.cert.verify_directly_issued_by(read_pair(tmp_path, "ca").cert)
    assert (tmp_path / "sa.key").read_bytes() == sa_before
    assert (tmp_path / "encryption-config.yaml").read_bytes() == enc_before
    assert pki.ensure(five).changed == []


def test_lost_ca_key_is_an_error_not_a_new_ca(issued, five) -> None:
    tmp_path = issued
    pki = ClusterPki(tmp_path)
    (tmp_path / "ca.key").unlink()
    with pytest.raises(PkiError, match="ca.key: CA key missing"):
        pki.ensure(five)


def test_foreign_cert_is_replaced(issued, five) -> None:
    pki = ClusterPki(issued)
    foreign = issue_cert(new_ca("another-ca"), "kubernetes-admin", ["system:masters"], client=True)
    (issued / "admin.crt").write_bytes(foreign.cert_pem)
    reasons = {c.name: c.reason for c in pki.ensure(five).changed}
    assert reasons["admin"] == "key does not match certificate"


def test_encryption_config_and_service_account_key(issued) -> None:
    tmp_path = issued
    keys = encryption_keys((tmp_path / "encryption-config.yaml").read_text())
    assert list(keys) == ["key1"] and len(keys["key1"]) == 32
    doc = yaml.safe_load((tmp_path / "encryption-config.yaml").read_text())
    assert doc["kind"] == "EncryptionConfiguration"
    assert doc["resources"][0]["resources"] == ["secrets"]
    assert b"BEGIN PRIVATE KEY" in (tmp_path / "sa.key").read_bytes()
    assert b"BEGIN PUBLIC KEY" in (tmp_path / "sa.pub").read_bytes()


def test_broken_encryption_config_is_refused(issued, five) -> None:
    tmp_path = issued
    (tmp_path / "encryption-config.yaml").write_text("resources: [{providers: [{aesgcm: {keys: []}}]}]\n")
    with pytest.raises(PkiError, match="encryption-config.yaml: needs at least one aesgcm key"):
        ClusterPki(tmp_path).ensure(five)


def test_listing(issued) -> None:
    tmp_path = issued
    infos = list_certs(tmp_path)
    assert [i.name for i in infos[:2]] == ["ca", "etcd/ca"]
    by_name = {i.name: i for i in infos}
    assert by_name["admin"].status == "ok" and 360 <= by_name["admin"].days_left <= 365
    assert by_name["etcd/h1/server"].issuer == "kprov-etcd-ca"
    assert len(infos) == len(list(tmp_path.rglob("*.crt")))


def test_the_admin_kubeconfig_has_a_context_per_api_server(issued) -> None:
    admin = yaml.safe_load((issued / "kubeconfigs" / "admin.conf").read_text())
    servers = {c["name"]: c["cluster"]["server"] for c in admin["clusters"]}
    contexts = {c["name"]: c["context"] for c in admin["contexts"]}
    assert admin["current-context"] == "kubernetes-admin@kprov"
    for host in FIVE["control_plane"]:
        address = FIVE_VARS[host]["ansible_host"]
        assert servers[f"kprov-{host}"] == f"https://{address}:6443"
        want = {"cluster": f"kprov-{host}", "user": "kubernetes-admin"}
        assert contexts[f"kubernetes-admin@kprov-{host}"] == want
    kubelet = yaml.safe_load((issued / "kubelet" / "h4" / "kubelet.conf").read_text())
    assert len(kubelet["contexts"]) == 1  # components fail over through the servers extension instead


def test_an_apiserver_vip_is_the_admins_server_and_nodes_use_their_local_balancer(tmp_path) -> None:
    host_vars = {h: {**v, "apiserver_vip": "10.77.2.10"} for h, v in FIVE_VARS.items()}
    ClusterPki(tmp_path).ensure(make_topology(FIVE, host_vars))
    assert "10.77.2.10" in _sans(tmp_path, "apiserver")[1]
    admin = yaml.safe_load((tmp_path / "kubeconfigs/admin.conf").read_text())
    assert admin["clusters"][0]["cluster"]["server"] == "https://10.77.2.10:8443"
    assert "extensions" not in admin["clusters"][0]["cluster"]
    assert admin["current-context"] == "kubernetes-admin@kprov"
    assert len(admin["contexts"]) == 4  # the per-server contexts stay
    for name in ("kubelet/h4/kubelet.conf", "kubeconfigs/kube-proxy.conf"):
        conf = yaml.safe_load((tmp_path / name).read_text())
        assert conf["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:6444"
    scheduler = yaml.safe_load((tmp_path / "kubeconfigs/scheduler.conf").read_text())
    assert scheduler["clusters"][0]["cluster"]["server"] == "https://10.77.2.11:6443"


def test_an_apiserver_vip_must_be_an_address() -> None:
    from kprov.pki.topology import TopologyError

    with pytest.raises(TopologyError, match="apiserver_vip 'lb.example': expected an IP address"):
        make_topology(FIVE, {h: {**v, "apiserver_vip": "lb.example"} for h, v in FIVE_VARS.items()})


def test_an_undefined_variable_in_apiserver_vip_is_named(tmp_path) -> None:
    from kprov.pki.from_inventory import topology_from_inventory
    from kprov.pki.topology import TopologyError
    from kprov.provision.inventory import load_inventory

    inventory = tmp_path / "hosts.yml"
    inventory.write_text(yaml.safe_dump({"all": {
        "vars": {"apiserver_vip": "{{ lb_vip }}"},
        "children": {"etcd": {"hosts": {"h1": {"ansible_host": "10.0.0.1"}}},
                     "control_plane": {"hosts": {"h1": {}}}}}}))
    with pytest.raises(TopologyError, match="undefined variable 'lb_vip'") as err:
        topology_from_inventory(load_inventory(inventory))
    assert "expected an IP address" not in str(err.value)
    inventory.write_text(inventory.read_text().replace("'{{ lb_vip }}'", "'{{ net }}.10'\n    net: 10.0.0"))
    assert topology_from_inventory(load_inventory(inventory)).apiserver_vip == "10.0.0.10"


def test_a_misspelt_group_is_named_with_its_file_and_line(tmp_path) -> None:
    from kprov.pki.from_inventory import ensure_inventory_pki
    from kprov.pki.topology import TopologyError

    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  children:\n    etcd:\n      hosts:\n        h1: {ansible_host: 10.0.0.1}\n"
                         "    control-plane:\n      hosts:\n        h1:\n")
    with pytest.raises(TopologyError) as err:
        ensure_inventory_pki(inventory)
    assert f"group 'control-plane' ({inventory}:6)" in str(err.value)
    assert "did you mean 'control_plane'" in str(err.value)
