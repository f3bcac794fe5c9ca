"""The binder's choice of volume: class, volumeMode, access modes, size (smallest that fits),
selector, the selected node against nodeAffinity, and pre-bound volumes first."""

from kprov.cluster.api.kinds.volumematch import find_volume, volume_fits


def volume(name, size="1Gi", modes=("ReadWriteOnce",), cls="", phase="Available", node=None, **spec):
    obj = {
        "metadata": {"name": name, "labels": {"tier": "fast" if name.endswith("f") else "slow"}},
        "spec": {"capacity": {"storage": size}, "accessModes": list(modes), "storageClassName": cls, **spec},
        "status": {"phase": phase},
    }
    if node:
        term = {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}
        obj["spec"]["nodeAffinity"] = {"required": {"nodeSelectorTerms": [term]}}
    return obj


def claim(size="1Gi", modes=("ReadWriteOnce",), cls="", **spec):
    return {
        "metadata": {"name": "c", "namespace": "d", "uid": "u1"},
        "spec": {
            "accessModes": list(modes),
            "resources": {"requests": {"storage": size}},
            "storageClassName": cls,
            **spec,
        },
    }


def test_smallest_volume_that_fits() -> None:
    vols = [volume("big", "10Gi"), volume("small", "500Mi"), volume("mid", "2Gi"), volume("right", "1Gi")]
    assert find_volume(vols, claim("1Gi"))["metadata"]["name"] == "right"
    assert find_volume(vols, claim("1500Mi"))["metadata"]["name"] == "mid"
    assert find_volume(vols, claim("20Gi")) is None


def test_class_modes_and_phase_must_match() -> None:
    assert not volume_fits(volume("a", cls="gold"), claim())
    assert not volume_fits(volume("a"), claim(modes=("ReadWriteMany",)))
    assert volume_fits(volume("a", modes=("ReadWriteOnce", "ReadWriteMany")), claim(modes=("ReadWriteMany",)))
    assert not volume_fits(volume("a", volumeMode="Block"), claim())
    taken = volume("t", claimRef={"namespace": "d", "name": "other", "uid": "u9"}, phase="Bound")
    assert find_volume([taken, volume("released", phase="Released")], claim()) is None


def test_selector_and_selected_node() -> None:
    vols = [volume("af", node="n1"), volume("bs", node="n2")]
    selector = {"matchLabels": {"tier": "slow"}}
    assert find_volume(vols, claim(selector=selector))["metadata"]["name"] == "bs"
    assert find_volume(vols, claim(), ({"kubernetes.io/hostname": "n2"}, "n2"))["metadata"]["name"] == "bs"
    assert find_volume(vols, claim(selector=selector), ({"kubernetes.io/hostname": "n1"}, "n1")) is None


def test_prebound_volume_wins_over_a_smaller_one() -> None:
    pre = volume("pre", "5Gi", claimRef={"namespace": "d", "name": "c"})
    assert find_volume([volume("small"), pre], claim())["metadata"]["name"] == "pre"
    other_uid = volume("pre", "5Gi", claimRef={"namespace": "d", "name": "c", "uid": "old"})
    assert find_volume([other_uid], claim()) is None
