"""`kprov secrets rotate-key`'s order of steps over a real pki directory (the rolls and the
rewrite faked): the new key is rolled out second before it is put first, Secrets are
rewritten only while it is first and the old key still reads, the old key goes last; a run
interrupted at any roll, run again, finishes the same rotation; keys never reach the report."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import yaml

from kprov.cluster.storage.encryption import ValueTransformer
from kprov.deploy import secrets_rotation
from kprov.deploy.secrets_rotation import RotationError, RotationReport, rotate_key
from kprov.pki import encryption_config


def _inventory(tmp_path: Path) -> Path:
    (tmp_path / "pki").mkdir()
    (tmp_path / "pki" / "encryption-config.yaml").write_text(encryption_config("key1", b"\1" * 32))
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all: {}\n")
    return inventory


def _names(inventory: Path) -> list[str]:
    doc = yaml.safe_load((inventory.parent / "pki" / "encryption-config.yaml").read_text())
    return [k["name"] for k in doc["resources"][0]["providers"][0]["aesgcm"]["keys"]]


@pytest.fixture
def rewrites(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    seen: list[list[str]] = []

    async def fake_rewrite(kubeconfig: Path, report: RotationReport) -> None:
        seen.append(_names(kubeconfig.parent.parent.parent / "hosts.yml"))
        report.secrets_total, report.secrets_rewritten = 7, 5

    monkeypatch.setattr(secrets_rotation, "_rewrite_secrets", fake_rewrite)
    return seen


def test_the_documented_order(tmp_path: Path, rewrites: list[list[str]]) -> None:
    inventory = _inventory(tmp_path)
    rolled: list[tuple[str, list[str]]] = []
    report = rotate_key(inventory, roll=lambda inv, step: rolled.append((step, _names(inventory))),
                        new_secret=lambda: b"\2" * 32)
    assert rolled == [("add", ["key1", "key2"]), ("promote", ["key2", "key1"]), ("drop", ["key2"])]
    assert rewrites == [["key2", "key1"]]
    assert [s for s, _ in report.steps] == ["start", "add", "promote", "rewrite", "drop", "done"]
    assert "5 of 7 Secrets stored under key2 (2 already were)" in dict(report.steps)["rewrite"]
    assert not (tmp_path / "pki" / "encryption-rotation.json").exists()
    assert base64.b64encode(b"\2" * 32).decode() not in json.dumps(report.to_dict())
    # the next run is a new rotation
    again = rotate_key(inventory, roll=lambda inv, step: None, new_secret=lambda: b"\3" * 32)
    assert (again.old_key, again.new_key) == ("key2", "key3") and _names(inventory) == ["key3"]


@pytest.mark.parametrize("fail_at", [0, 1, 2])
def test_an_interrupted_run_continues_the_same_rotation(
    tmp_path: Path, rewrites: list[list[str]], fail_at: int
) -> None:
    inventory = _inventory(tmp_path)
    calls: list[tuple[str, list[str]]] = []

    def failing(inv: object, step: str) -> None:
        calls.append((step, _names(inventory)))
        if len(calls) == fail_at + 1:
            raise RotationError(f"{step}: host h2 unreachable")

    with pytest.raises(RotationError):
        rotate_key(inventory, roll=failing, new_secret=lambda: b"\2" * 32)
    calls.clear()
    report = rotate_key(inventory, roll=lambda inv, step: calls.append((step, _names(inventory))),
                        new_secret=lambda: b"\4" * 32)
    assert (report.old_key, report.new_key) == ("key1", "key2")
    assert _names(inventory) == ["key2"]
    # the interrupted roll is done again before anything relies on it
    assert calls[0][1] == [["key1", "key2"], ["key2", "key1"], ["key2"]][fail_at]
    assert all(names == ["key2", "key1"] for names in rewrites)
    doc = yaml.safe_load((tmp_path / "pki" / "encryption-config.yaml").read_text())
    assert doc["resources"][0]["providers"][0]["aesgcm"]["keys"][0]["secret"] == base64.b64encode(
        b"\2" * 32).decode()  # the key made by the first run, not a second new one


def test_a_config_with_two_keys_and_no_record_is_refused(tmp_path: Path) -> None:
    inventory = _inventory(tmp_path)
    path = tmp_path / "pki" / "encryption-config.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["resources"][0]["providers"][0]["aesgcm"]["keys"].append({"name": "x", "secret": "AA=="})
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(RotationError, match="has 2 keys and no rotation is recorded"):
        rotate_key(inventory, roll=lambda inv, step: None)


def test_values_under_another_key_are_stale() -> None:
    writer = ValueTransformer("key2", {"key1": b"\1" * 32, "key2": b"\2" * 32})
    old = ValueTransformer("key1", {"key1": b"\1" * 32}).to_storage(b"{}", "/registry/secrets/a/b")
    assert writer.is_stale(old) and writer.is_stale(b"{}")
    assert not writer.is_stale(writer.to_storage(b"{}", "/registry/secrets/a/b"))
    identity = ValueTransformer(None, {"key1": b"\1" * 32})
    assert identity.is_stale(old) and not identity.is_stale(b"{}")
