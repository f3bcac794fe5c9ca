"""PersistentVolumes, PersistentVolumeClaims and StorageClasses at the API layer: upstream's
validation paths and wording, defaults, kubectl columns, the default-class choice."""

import datetime as dt

from kprov.cluster.api.defaults import apply_defaults
from kprov.cluster.api.printers.tables import to_table
from kprov.cluster.api.resources import REGISTRY
from kprov.cluster.api.validation.core import validate
from kprov.cluster.apiserver.admission.storage import default_class_name

PVS = REGISTRY.get("", "v1", "persistentvolumes")
PVCS = REGISTRY.get("", "v1", "persistentvolumeclaims")
SCS = REGISTRY.get("storage.k8s.io", "v1", "storageclasses")
STS = REGISTRY.get("apps", "v1", "statefulsets")
NOW = dt.datetime(2024, 1, 10, 12, 0, 0, tzinfo=dt.UTC)


def pv(**spec):
    base = {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/d"}}
    return {"metadata": {"name": "v1", "creationTimestamp": "2024-01-10T11:59:00Z"}, "spec": {**base, **spec}}


def pvc(**spec):
    base = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    return {
        "metadata": {"name": "c", "namespace": "d", "creationTimestamp": "2024-01-10T11:59:00Z"},
        "spec": {**base, **spec},
    }


def causes(info, obj, old=None):
    return [str(c) for c in validate(info, obj, old)]


def test_registry_serves_the_three_kinds() -> None:
    assert PVS is not None and not PVS.namespaced and PVS.short_names == ("pv",) and PVS.has_status
    assert PVCS is not None and PVCS.namespaced and PVCS.short_names == ("pvc",) and PVCS.has_status
    assert SCS is not None and not SCS.namespaced and SCS.short_names == ("sc",)


def test_pvc_validation() -> None:
    assert causes(PVCS, pvc()) == []
    assert causes(PVCS, pvc(accessModes=[], resources={})) == [
        "spec.accessModes: Required value: at least 1 access mode is required",
        "spec.resources[storage]: Required value",
    ]
    assert causes(PVCS, pvc(accessModes=["ReadWriteAll"])) == [
        'spec.accessModes: Unsupported value: "ReadWriteAll": supported values: "ReadOnlyMany", '
        '"ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"'
    ]
    assert causes(PVCS, pvc(resources={"requests": {"storage": "0"}})) == [
        'spec.resources[storage]: Invalid value: "0": must be greater than zero'
    ]
    assert causes(PVCS, pvc(volumeMode="Raw"))[0].startswith('spec.volumeMode: Unsupported value: "Raw"')


def test_pvc_update_is_frozen_but_may_grow_when_bound() -> None:
    old = pvc()
    assert causes(PVCS, pvc(accessModes=["ReadWriteMany"]), old) == [
        "spec: Forbidden: spec is immutable after creation except resources.requests and "
        "volumeAttributesClassName for bound claims"
    ]
    assert causes(PVCS, pvc(volumeName="v1"), old) == []  # the binder fills an empty volumeName
    bigger = pvc(resources={"requests": {"storage": "2Gi"}})
    bigger["status"] = {"phase": "Bound"}
    assert causes(PVCS, bigger, old) == []
    smaller = pvc(resources={"requests": {"storage": "1Mi"}})
    smaller["status"] = {"phase": "Bound"}
    assert causes(PVCS, smaller, old) == [
        "spec.resources.requests.storage: Forbidden: field can not be less than previous value"
    ]


def test_pv_validation() -> None:
    assert causes(PVS, pv()) == []
    no_source = pv()
    del no_source["spec"]["hostPath"]
    assert causes(PVS, no_source) == ["spec: Required value: must specify a volume type"]
    assert causes(PVS, pv(nfs={"server": "s", "path": "/x"})) == [
        "spec.nfs: Forbidden: may not specify more than 1 volume type"
    ]
    assert causes(PVS, pv(capacity={})) == ["spec.capacity: Required value"]
    assert causes(PVS, pv(persistentVolumeReclaimPolicy="Keep")) == [
        'spec.persistentVolumeReclaimPolicy: Unsupported value: "Keep": supported values: '
        '"Delete", "Recycle", "Retain"'
    ]
    local = pv(local={"path": "/mnt"})
    del local["spec"]["hostPath"]
    assert causes(PVS, local) == ["metadata.annotations: Required value: Local volume requires node affinity"]
    assert causes(PVS, pv(hostPath={"path": "/other"}), pv()) == [
        "spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is immutable after creation"
    ]


def test_storage_class_validation() -> None:
    sc = {"metadata": {"name": "fast"}, "provisioner": "kprov.io/local-path"}
    apply_defaults(SCS, sc)
    assert sc["reclaimPolicy"] == "Delete" and sc["volumeBindingMode"] == "Immediate"
    assert causes(SCS, sc) == []
    assert causes(SCS, {"metadata": {"name": "x"}, "volumeBindingMode": "Later"}) == [
        "provisioner: Required value",
        'volumeBindingMode: Unsupported value: "Later": supported values: '
        '"Immediate", "WaitForFirstConsumer"',
    ]
    changed = {**sc, "parameters": {"a": "b"}, "reclaimPolicy": "Retain"}
    assert causes(SCS, changed, sc) == [
        "parameters: Forbidden: updates to parameters are forbidden.",
        "reclaimPolicy: Forbidden: updates to reclaimPolicy are forbidden.",
    ]


def test_defaults() -> None:
    volume, claim = pv(), pvc()
    apply_defaults(PVS, volume)
    apply_defaults(PVCS, claim)
    assert volume["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    assert volume["spec"]["volumeMode"] == claim["spec"]["volumeMode"] == "Filesystem"
    assert volume["status"] == claim["status"] == {"phase": "Pending"}


def test_columns() -> None:
    volume = pv(claimRef={"namespace": "d", "name": "c"}, storageClassName="local-path")
    apply_defaults(PVS, volume)
    volume["status"] = {"phase": "Bound"}
    table = to_table(PVS, [volume], now=NOW)
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name", "Capacity", "Access Modes", "Reclaim Policy", "Status", "Claim", "StorageClass",
        "VolumeAttributesClass", "Reason", "Age", "VolumeMode",
    ]  # fmt: skip
    assert table["rows"][0]["cells"] == [
        "v1", "1Gi", "RWO", "Retain", "Bound", "d/c", "local-path", "<unset>", "", "60s", "Filesystem",
    ]  # fmt: skip
    claim = pvc(storageClassName="local-path")
    claim["metadata"]["deletionTimestamp"] = "2024-01-10T11:59:30Z"
    assert to_table(PVCS, [claim], now=NOW)["rows"][0]["cells"] == [
        "c", "Terminating", "", "", "", "local-path", "<unset>", "60s", "<unset>",
    ]  # fmt: skip
    claim = pvc(volumeName="v1")
    claim["status"] = {
        "phase": "Bound",
        "capacity": {"storage": "2Gi"},
        "accessModes": ["ReadWriteOnce", "ReadWriteMany"],
    }
    assert to_table(PVCS, [claim], now=NOW)["rows"][0]["cells"][:5] == ["c", "Bound", "v1", "2Gi", "RWO,RWX"]
    sc = {
        "metadata": {
            "name": "local-path",
            "creationTimestamp": "2024-01-10T11:59:00Z",
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
        "provisioner": "kprov.io/local-path",
        "volumeBindingMode": "WaitForFirstConsumer",
    }
    table = to_table(SCS, [sc], now=NOW)
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name", "Provisioner", "ReclaimPolicy", "VolumeBindingMode", "AllowVolumeExpansion", "Age",
    ]  # fmt: skip
    assert table["rows"][0]["cells"] == [
        "local-path (default)", "kprov.io/local-path", "Delete", "WaitForFirstConsumer", False, "60s",
    ]  # fmt: skip


def test_default_class_is_the_newest_annotated() -> None:
    def sc(name, stamp, default=True):
        annotations = {"storageclass.kubernetes.io/is-default-class": "true"} if default else {}
        return {"metadata": {"name": name, "creationTimestamp": stamp, "annotations": annotations}}

    assert default_class_name([sc("a", "2024-01-01T00:00:00Z", False)]) is None
    assert default_class_name([sc("old", "2024-01-01T00:00:00Z"), sc("new", "2024-02-01T00:00:00Z")]) == "new"
    # equal timestamps: the lower name, as upstream
    assert default_class_name([sc("b", "2024-01-01T00:00:00Z"), sc("a", "2024-01-01T00:00:00Z")]) == "a"
    assert default_class_name([sc("a", "2024-01-01T00:00:00Z"), sc("b", "2024-01-01T00:00:00Z")]) == "a"


def test_statefulset_claim_templates() -> None:
    sts = {
        "metadata": {"name": "web", "namespace": "d"},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "serviceName": "web",
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {
                    "containers": [
                        {"name": "c", "image": "i", "volumeMounts": [{"name": "data", "mountPath": "/d"}]}
                    ]
                },
            },
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": []}}],
        },
    }
    apply_defaults(STS, sts)
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["volumeMode"] == "Filesystem"
    assert causes(STS, sts) == [
        "spec.volumeClaimTemplates[0].spec.accessModes: Required value: at least 1 access mode is required",
        "spec.volumeClaimTemplates[0].spec.resources[storage]: Required value",
    ]


def test_a_claim_counts_its_storage_against_quotas() -> None:
    from decimal import Decimal

    from kprov.cluster.api.kinds.quota import usage

    used = usage("persistentvolumeclaims", "", pvc(storageClassName="local-path"))
    assert used == {
        "count/persistentvolumeclaims": Decimal(1),
        "persistentvolumeclaims": Decimal(1),
        "requests.storage": Decimal(2**30),
        "local-path.storageclass.storage.k8s.io/persistentvolumeclaims": Decimal(1),
        "local-path.storageclass.storage.k8s.io/requests.storage": Decimal(2**30),
    }
