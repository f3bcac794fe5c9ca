"""Kubelet admission: a pod asking for host ports an admitted pod holds is rejected."""

from kprov.cluster.kubelet.pods.admission import host_port_conflict, rejection_message


def pod(port: int, ip: str = "", protocol: str = "TCP", phase: str = "Running") -> dict:
    ports = [{"containerPort": port, "hostPort": port, "hostIP": ip, "protocol": protocol}]
    return {
        "metadata": {},
        "spec": {"containers": [{"name": "c", "ports": ports}]},
        "status": {"phase": phase},
    }


def test_host_port_conflicts() -> None:
    assert host_port_conflict(pod(21017), [pod(21017)])
    assert host_port_conflict(pod(21017, "10.0.0.1"), [pod(21017)])  # wildcard holds every IP
    assert not host_port_conflict(pod(21017, "10.0.0.1"), [pod(21017, "10.0.0.2")])
    assert not host_port_conflict(pod(21017, protocol="UDP"), [pod(21017)])
    assert not host_port_conflict(pod(21017), [pod(21018), pod(21017, phase="Failed")])
    assert not host_port_conflict({"spec": {"containers": [{"name": "c"}]}}, [pod(80)])
    assert rejection_message().startswith("Pod was rejected: Predicate NodePorts failed")


def test_a_pod_for_another_os_is_refused_with_upstreams_reasons() -> None:
    from kprov.cluster.kubelet.pods.admission import refusal

    windows = {"spec": {"os": {"name": "windows"}, "containers": [{"name": "c"}]}}
    assert refusal(windows, []) == ("PodOSNotSupported",
                                    "Failed to admit pod as the OS field doesn't match node OS")
    selected = {"spec": {"nodeSelector": {"kubernetes.io/os": "windows"}, "containers": [{"name": "c"}]}}
    assert refusal(selected, [])[0] == "PodOSSelectorNodeLabelDoesNotMatch"  # type: ignore[index]
    assert refusal({"spec": {"os": {"name": "linux"}, "containers": [{"name": "c"}]}}, []) is None
