"""The kubelet-managed /etc/hosts: pods in, file content out."""

from __future__ import annotations

from kprov.cluster.kubelet.pods.etchosts import hosts_content, manages_hosts


def _pod(**spec: object) -> dict:
    meta = {"name": "web-0", "namespace": "shop"}
    return {"metadata": meta, "spec": {"containers": [{"name": "c"}], **spec}}


def test_the_pods_own_ip_and_name_follow_the_loopback_entries() -> None:
    content = hosts_content(_pod(), ["10.244.1.7"], "cluster.local")
    lines = content.splitlines()
    assert lines[0] == "# Kubernetes-managed hosts file."
    assert lines[1] == "127.0.0.1\tlocalhost"
    assert lines[-1] == "10.244.1.7\tweb-0"


def test_a_pod_with_a_subdomain_gets_its_fqdn_and_host_aliases_come_last() -> None:
    pod = _pod(hostname="db", subdomain="dbs",
               hostAliases=[{"ip": "123.45.67.89", "hostnames": ["foo.local", "bar.local"]}])
    lines = hosts_content(pod, ["10.244.1.8"], "example.org").splitlines()
    assert "10.244.1.8\tdb.dbs.shop.svc.example.org\tdb" in lines
    assert lines[-2:] == ["# Entries added by HostAliases.", "123.45.67.89\tfoo.local\tbar.local"]


def test_host_network_pods_and_containers_mounting_their_own_hosts_file_are_left_alone() -> None:
    assert manages_hosts(_pod(), {"name": "c"})
    assert not manages_hosts(_pod(hostNetwork=True), {"name": "c"})
    own = {"name": "c", "volumeMounts": [{"name": "h", "mountPath": "/etc/hosts"}]}
    assert not manages_hosts(_pod(), own)
