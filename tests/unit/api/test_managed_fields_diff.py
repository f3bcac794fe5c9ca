"""changed_paths walks old and new together; it must give exactly what comparing both
objects' path sets gives, for every kind of change (maps, keyed lists, sets, atomic lists,
status writes, keyed lists it cannot walk: duplicates, elements missing a key)."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import pytest

from kprov.cluster.api.patch import managed_fields as mf
from kprov.cluster.api.resources import TABLE

PODS = next(i for i in TABLE if i.group == "" and i.resource == "pods")
SERVICES = next(i for i in TABLE if i.group == "" and i.resource == "services")


def _by_path_sets(info, old, new, subresource=""):  # type: ignore[no-untyped-def]
    new_paths = mf.object_paths(info, new, subresource=subresource)
    old_paths = mf.object_paths(info, old, subresource=subresource)
    changed = {p for p in new_paths if p not in old_paths or mf.value_at(old, p) != mf.value_at(new, p)}
    return changed, old_paths - new_paths


def _pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "namespace": "d", "resourceVersion": "3", "labels": {"a": "1", "b": "2"},
                     "finalizers": ["x/y"], "annotations": {}},
        "spec": {
            "containers": [
                {"name": "c", "image": "i", "ports": [{"containerPort": 80, "protocol": "TCP"}],
                 "env": [{"name": "E", "value": "1"}], "args": ["a", "b"]},
                {"name": "d", "image": "j"},
            ],
            "tolerations": [{"key": "k", "operator": "Exists"}],
            "nodeSelector": {"n": "1"},
        },
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                   "containerStatuses": [{"name": "c", "ready": True, "state": {"running": {}}}]},
    }


def _mutations() -> list[Any]:
    def set_(path: list[Any], value: Any):  # type: ignore[no-untyped-def]
        def apply(obj: dict[str, Any]) -> None:
            node = obj
            for step in path[:-1]:
                node = node[step]
            node[path[-1]] = value
        return apply

    def drop(path: list[Any]):  # type: ignore[no-untyped-def]
        def apply(obj: dict[str, Any]) -> None:
            node = obj
            for step in path[:-1]:
                node = node[step]
            del node[path[-1]]
        return apply

    return [
        set_(["metadata", "labels", "a"], "9"),
        drop(["metadata", "labels", "b"]),
        set_(["metadata", "labels"], {}),
        set_(["metadata", "resourceVersion"], "4"),
        set_(["metadata", "finalizers"], ["x/y", "z/w"]),
        set_(["metadata", "annotations", "n"], "v"),
        set_(["spec", "containers", 0, "image"], "i2"),
        set_(["spec", "containers", 0, "args"], ["b"]),
        set_(["spec", "containers", 0, "ports", 0, "containerPort"], 81),
        set_(["spec", "containers", 1, "name"], "c"),  # two elements with one key
        drop(["spec", "containers", 1, "name"]),  # an element without its key
        drop(["spec", "containers", 1]),
        set_(["spec", "containers", 0, "env"], []),
        set_(["spec", "tolerations"], [{"key": "k", "operator": "Exists"}, {"key": "k"}]),
        set_(["spec", "nodeSelector"], {}),
        drop(["spec", "nodeSelector"]),
        set_(["spec", "extra"], {"a": {"b": 1}}),
        set_(["status", "phase"], "Succeeded"),
        set_(["status", "conditions"], [{"type": "Ready", "status": "False"}, {"type": "Initialized"}]),
        set_(["status", "containerStatuses", 0, "state"], {"terminated": {"exitCode": 0}}),
        drop(["status", "conditions"]),
        set_(["spec", "containers", 0], "not an object"),
    ]


@pytest.mark.parametrize("seed", range(60))
@pytest.mark.parametrize("subresource", ["", "status"])
def test_the_walk_finds_what_the_path_sets_find(seed: int, subresource: str) -> None:
    rng = random.Random(seed)
    old = _pod()
    new = copy.deepcopy(old)
    for mutate in rng.sample(_mutations(), rng.randint(1, 4)):
        try:
            mutate(new)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed what this one edits
    if rng.random() < 0.3:
        old, new = new, old
    walked = mf.changed_paths(PODS, old, new, subresource=subresource)
    assert walked == _by_path_sets(PODS, old, new, subresource)


def test_service_ports_keyed_lists_and_a_create() -> None:
    old = {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80, "protocol": "TCP", "name": "a"}]}}
    new = copy.deepcopy(old)
    new["spec"]["ports"].append({"port": 81, "protocol": "TCP", "name": "b"})
    new["spec"]["ports"][0]["name"] = "c"
    assert mf.changed_paths(SERVICES, old, new) == _by_path_sets(SERVICES, old, new)
    assert mf.changed_paths(SERVICES, {}, new) == (mf.object_paths(SERVICES, new), set())


def test_an_unchanged_object_changes_nothing() -> None:
    assert mf.changed_paths(PODS, _pod(), _pod()) == (set(), set())


@pytest.mark.parametrize("seed", range(60))
@pytest.mark.parametrize("subresource", ["", "status"])
def test_a_creates_fields_are_the_trie_of_its_paths(seed: int, subresource: str) -> None:
    rng = random.Random(seed)
    obj = _pod()
    for mutate in rng.sample(_mutations(), rng.randint(0, 5)):
        try:
            mutate(obj)
        except (KeyError, IndexError, TypeError):
            continue
    if rng.random() < 0.2:
        obj["spec"]["containers"] = []
        obj["metadata"] = rng.choice([{}, {"name": "p"}, {"finalizers": []}, {"labels": {}}])
    expected = mf.to_fields_v1(mf.object_paths(PODS, obj, subresource=subresource))
    built = mf.fields_v1_of(PODS, obj, subresource=subresource)
    assert built == expected
    assert json.dumps(built) == json.dumps(expected)  # the same order, as stored


def _reference_update(old, new, manager, subresource):  # type: ignore[no-untyped-def]
    """record_update by whole path sets: every entry re-read and re-written."""
    changed, gone = _by_path_sets(PODS, old, new, subresource)
    entries, mine = [], None
    for entry in old["metadata"].get("managedFields", []):
        paths = mf.from_fields_v1(entry["fieldsV1"]) - gone
        head = mf.entry_head(entry)
        if mf.entry_matches(entry, manager, "Update", subresource):
            mine = paths | changed
            entries.append(({**head, "time": "t2"}, mine))
        else:
            entries.append((head, paths - changed))
    if mine is None and changed:
        head = {"manager": manager, "operation": "Update", "apiVersion": "v1", "time": "t2"}
        entries.append(({**head, "subresource": subresource} if subresource else head, changed))
    expected = copy.deepcopy(new)
    mf.write_entries(expected, entries)
    return expected["metadata"].get("managedFields")


@pytest.mark.parametrize("seed", range(80))
def test_an_update_records_what_whole_path_sets_record(seed: int) -> None:
    rng = random.Random(seed)
    old = _pod()
    mf.record_update(PODS, None, old, "creator", now="t1")
    for _ in range(rng.randint(0, 2)):  # earlier writers
        step = copy.deepcopy(old)
        for mutate in rng.sample(_mutations(), 2):
            try:
                mutate(step)
            except (KeyError, IndexError, TypeError):
                continue
        mf.record_update(PODS, old, step, rng.choice(["kubelet", "editor"]), now="t1",
                         subresource=rng.choice(["", "status"]))
        old = step
    new = copy.deepcopy(old)
    for mutate in rng.sample(_mutations(), rng.randint(1, 3)):
        try:
            mutate(new)
        except (KeyError, IndexError, TypeError):
            continue
    manager, subresource = rng.choice(["kubelet", "editor", "other"]), rng.choice(["", "status"])
    expected = _reference_update(old, new, manager, subresource)
    mf.record_update(PODS, old, new, manager, now="t2", subresource=subresource)
    assert new["metadata"].get("managedFields") == expected


def test_built_in_list_map_keys_key_service_ports_by_port_and_protocol() -> None:
    service = {"metadata": {"name": "dns"}, "spec": {"ports": [
        {"port": 53, "protocol": "UDP", "name": "dns"}, {"port": 53, "protocol": "TCP", "name": "dns-tcp"}]}}
    ports = mf.fields_v1_of(SERVICES, service)["f:spec"]["f:ports"]
    assert set(ports) == {'k:{"port":53,"protocol":"TCP"}', 'k:{"port":53,"protocol":"UDP"}'}
    finalizers = mf.fields_v1_of(PODS, {"metadata": {"finalizers": ["a/b"]}})["f:metadata"]["f:finalizers"]
    assert finalizers == {'v:"a/b"': {}}  # +listType=set


def test_a_create_recorded_from_the_memo_is_the_walk_and_its_own_dict() -> None:
    """Creates whose fields beside the spec match (a controller's pods) share one walk of
    them: each answer equals the path sets' trie, in the stored order, and is a dict of its
    own at the top (adding to one create's entry leaves the next create's alone)."""
    answers = []
    for name in ("p1", "p2", "p3"):
        obj = _pod()
        obj["metadata"]["name"] = name
        if name == "p3":  # a spec owning nothing: no f:spec of an earlier create's
            obj["spec"] = {"containers": []}
        built = mf.fields_v1_of(PODS, obj)
        expected = mf.to_fields_v1(mf.object_paths(PODS, obj))
        assert json.dumps(built) == json.dumps(expected)
        answers.append(built)
    answers[0]["f:extra"] = {}
    assert "f:extra" not in mf.fields_v1_of(PODS, _pod())
    assert answers[1] is not answers[2]


def test_a_create_whose_metadata_is_not_json_is_walked() -> None:
    """A YAML body's timestamp (a datetime) cannot key the memo: the walk answers."""
    import datetime

    obj = _pod()
    obj["metadata"]["annotations"] = {"when": datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)}
    assert json.dumps(mf.fields_v1_of(PODS, obj)) == json.dumps(mf.to_fields_v1(mf.object_paths(PODS, obj)))
