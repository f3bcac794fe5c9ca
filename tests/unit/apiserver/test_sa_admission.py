"""ServiceAccount admission: default account, the kube-api-access volume and its mounts."""

from __future__ import annotations

import asyncio
import re
from types import SimpleNamespace
from typing import Any

import pytest

from kprov.cluster.apiserver.admission import serviceaccount as sa_admission
from kprov.cluster.apiserver.request.status import StatusError

DEFAULT = {"/registry/serviceaccounts/ns/default": {"metadata": {"name": "default"}}}
ROBOT = {"/registry/serviceaccounts/ns/robot": {"metadata": {"name": "robot"}}}


TOKEN_MOUNT_PATH = sa_admission.TOKEN_MOUNT_PATH


class _Store:
    """etcd as the admission sees it: objects by key, every lookup counted."""

    def __init__(self, objects: dict[str, Any]) -> None:
        self.objects = objects
        self.gets: list[str] = []

    async def get(self, key: str) -> Any:
        self.gets.append(key)
        found = self.objects.get(key)
        return None if found is None else SimpleNamespace(obj=found)


def _ctx(objects: dict[str, Any] | None = None, stored: dict[str, Any] | None = None) -> Any:
    return SimpleNamespace(
        cache=SimpleNamespace(get=(DEFAULT if objects is None else objects).get), store=_Store(stored or {})
    )


def admit_pod(ctx: Any, pod: dict[str, Any]) -> None:
    asyncio.run(sa_admission.admit_pod(ctx, pod))


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


def test_missing_account_is_refused_as_upstream_refuses_it(monkeypatch: pytest.MonkeyPatch) -> None:
    pod = _pod(serviceAccountName="ghost")
    ctx = _ctx()
    with pytest.raises(StatusError) as caught:
        admit_pod(ctx, pod)
    error = caught.value
    assert (error.code, error.reason) == (403, "Forbidden")
    assert str(error) == (
        'pods "p" is forbidden: error looking up service account ns/ghost: serviceaccount "ghost" not found'
    )
    assert error.details == {"name": "p", "kind": "pods"}
    assert ctx.store.gets == ["/registry/serviceaccounts/ns/ghost"]  # one etcd lookup for a named account
    generated = _pod(serviceAccountName="ghost")
    generated["metadata"] = {"generateName": "web-", "namespace": "ns"}
    with pytest.raises(StatusError, match='^pods "web-" is forbidden'):
        admit_pod(ctx, generated)


def test_default_account_is_asked_of_etcd_again_and_again(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []

    async def no_sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(sa_admission.asyncio, "sleep", no_sleep)
    ctx = _ctx({})
    with pytest.raises(StatusError, match='serviceaccount "default" not found'):
        admit_pod(ctx, _pod())
    assert len(ctx.store.gets) == 25 and len(slept) == 24 and all(0.1 <= s <= 0.2 for s in slept)


def test_account_not_yet_in_the_watch_cache_is_found_in_etcd() -> None:
    ctx = _ctx({}, stored=ROBOT)
    pod = _pod(serviceAccountName="robot")
    admit_pod(ctx, pod)
    assert len(pod["spec"]["volumes"]) == 1
