"""A StatefulSet's claims from volumeClaimTemplates: names, labels, owners by retention
policy, and the pod volumes that point at them."""

from kprov.cluster.controllers.workloads.statefulset_claims import claim_for, with_claim_volumes


def sts(**retention):
    return {
        "metadata": {"name": "web", "namespace": "d", "uid": "s1"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data", "labels": {"tier": "db"}},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
                }
            ],
            "persistentVolumeClaimRetentionPolicy": retention,
        },
    }


def test_claim_names_labels_and_owner() -> None:
    kept = claim_for(sts(), sts()["spec"]["volumeClaimTemplates"][0], 3)
    assert kept["metadata"]["name"] == "data-web-3" and kept["metadata"]["namespace"] == "d"
    assert kept["metadata"]["labels"] == {"app": "web", "tier": "db"}
    assert "ownerReferences" not in kept["metadata"]
    owned = claim_for(sts(whenDeleted="Delete"), sts()["spec"]["volumeClaimTemplates"][0], 0)
    assert [(r["kind"], r["uid"]) for r in owned["metadata"]["ownerReferences"]] == [("StatefulSet", "s1")]


def test_pod_volumes_point_at_the_claims() -> None:
    pod = {
        "spec": {"volumes": [{"name": "data", "emptyDir": {}}, {"name": "cfg", "configMap": {"name": "c"}}]}
    }
    with_claim_volumes(sts(), pod, 1)
    assert pod["spec"]["volumes"] == [
        {"name": "cfg", "configMap": {"name": "c"}},
        {"name": "data", "persistentVolumeClaim": {"claimName": "data-web-1"}},
    ]
