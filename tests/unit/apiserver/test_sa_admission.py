"""ServiceAccount admission: default account, the kube-api-access volume and its mounts."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

from kprov.cluster.apiserver.sa_admission import TOKEN_MOUNT_PATH, admit_pod

DEFAULT = {"/registry/serviceaccounts/ns/default": {"metadata": {"name": "default"}}}
ROBOT = {"/registry/serviceaccounts/ns/robot": {"metadata": {"name": "robot"}}}


def _ctx(objects: dict[str, Any] | None = None) -> Any:
    return SimpleNamespace(cache=SimpleNamespace(get=(DEFAULT if objects is None else objects).get))


def _pod(**spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "namespace": "ns"},
        "spec": {"containers": [{"name": "c"}], "initContainers": [{"name": "i"}], **spec},
    }


def test_default_account_and_projected_volume() -> None:
    pod = _pod()
    admit_pod(_ctx(), pod)
    spec = pod["spec"]
    assert spec["serviceAccountName"] == "default" and spec["serviceAccount"] == "default"
    (volume,) = spec["volumes"]
    assert re.fullmatch(r"kube-api-access-[bcdfghjklmnpqrstvwxz2456789]{5}", volume["name"])
    sources = volume["projected"]["sources"]
    assert volume["projected"]["defaultMode"] == 420
    assert sources[0] == {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}
    assert sources[1]["configMap"] == {
        "name": "kube-root-ca.crt",
        "items": [{"key": "ca.crt", "path": "ca.crt"}],
    }
    assert sources[2]["downwardAPI"]["items"][0]["fieldRef"]["fieldPath"] == "metadata.namespace"
    for container in [*spec["containers"], *spec["initContainers"]]:
        assert container["volumeMounts"] == [
            {"name": volume["name"], "readOnly": True, "mountPath": TOKEN_MOUNT_PATH}
        ]


def test_automount_false_on_pod_or_account() -> None:
    pod = _pod(automountServiceAccountToken=False, serviceAccountName="robot")
    admit_pod(_ctx(ROBOT), pod)
    assert "volumes" not in pod["spec"] and pod["spec"]["serviceAccountName"] == "robot"
    account = {"metadata": {"name": "robot"}, "automountServiceAccountToken": False}
    pod = _pod(serviceAccountName="robot")
    admit_pod(_ctx({"/registry/serviceaccounts/ns/robot": account}), pod)
    assert "volumes" not in pod["spec"]
    pod = _pod(serviceAccountName="robot", automountServiceAccountToken=True)  # the pod wins
    admit_pod(_ctx({"/registry/serviceaccounts/ns/robot": account}), pod)
    assert len(pod["spec"]["volumes"]) == 1


def test_own_mount_at_the_token_path_and_mirror_pods_are_left_alone() -> None:
    pod = _pod()
    pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "mine", "mountPath": TOKEN_MOUNT_PATH}]
    admit_pod(_ctx(), pod)
    assert "volumes" not in pod["spec"]
    mirror = _pod()
    mirror["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "x"}
    admit_pod(_ctx(), mirror)
    assert "serviceAccountName" not in mirror["spec"]


def test_missing_account_gets_no_volume() -> None:
    pod = _pod(serviceAccountName="ghost")
    admit_pod(_ctx(), pod)
    assert pod["spec"]["serviceAccountName"] == "ghost" and "volumes" not in pod["spec"]
