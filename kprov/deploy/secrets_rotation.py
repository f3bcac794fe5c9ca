"""`kprov secrets rotate-key`: a new encryption-at-rest key for Secrets, every Secret rewritten
under it, the old key removed, with the cluster serving throughout, in the order of upstream's
documented procedure ("Rotating a decryption key"):

1. ``add``: the new AES-GCM key second in the provider's keys, rolled onto every API server
   (each can now read what the new key writes, none writes with it yet);
2. ``promote``: the new key first, rolled (writes use it, the old key still reads);
3. ``rewrite``: every Secret read and written back unchanged (an unchanged update is stored
   anyway when its value was encrypted with another key, as upstream's stale reads);
4. ``drop``: the old key removed, rolled.

A roll is ``roles/encryption_rotate.yml``: the control-plane hosts one at a time, each API
server restarted onto the operator's ``<inventory dir>/pki/encryption-config.yaml`` and
ready before the next. The rotation in progress is recorded in ``encryption-rotation.json``
beside it (old and new key names, never a key): a run interrupted at any step, run again,
continues that rotation where the config shows it stopped (a roll whose file is already on
a host changes nothing there); after ``drop`` the record is removed and the next run starts
a new rotation. Keys are never printed.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kprov.cluster.client.errors import Conflict, NotFound
from kprov.cluster.client.resources import SECRETS
from kprov.cluster.client.rest import ApiClient
from kprov.deploy.prepare import REPO_ROOT
from kprov.pki.from_inventory import InventorySources, pki_dir_for
from kprov.pki.pem import KEY_MODE, write_file
from kprov.provision.pipelines import run_playbook

__all__ = ["ROLL_PLAYBOOK", "RotationError", "RotationReport", "rotate_key"]

ROLL_PLAYBOOK = REPO_ROOT / "roles" / "encryption_rotate.yml"
CONFIG = "encryption-config.yaml"
RECORD = "encryption-rotation.json"


class RotationError(RuntimeError):
    """A step failed; the message says which, and a rerun continues from there."""


@dataclass
class RotationReport:
    old_key: str = ""
    new_key: str = ""
    steps: list[tuple[str, str]] = field(default_factory=list)  # (step, what happened)
    secrets_total: int = 0
    secrets_rewritten: int = 0

    def note(self, step: str, what: str) -> None:
        self.steps.append((step, what))

    def to_dict(self) -> dict[str, Any]:
        return {
            "old_key": self.old_key,
            "new_key": self.new_key,
            "steps": [{"step": s, "result": w} for s, w in self.steps],
            "secrets_total": self.secrets_total,
            "secrets_rewritten": self.secrets_rewritten,
        }


def _secrets_keys(doc: dict[str, Any], path: Path) -> list[dict[str, Any]]:
    """The key list of the aesgcm provider that encrypts Secrets (edited in place)."""
    for entry in doc.get("resources") or []:
        if "secrets" in (entry.get("resources") or []):
            first = (entry.get("providers") or [{}])[0]
            if "aesgcm" not in first:
                raise RotationError(
                    f"{path}: Secrets' first provider is not aesgcm; rotate-key rotates AES-GCM keys"
                )
            keys: list[dict[str, Any]] = first["aesgcm"].setdefault("keys", [])
            return keys
    raise RotationError(f"{path}: no provider for secrets")


def _next_name(names: list[str]) -> str:
    numbers = [int(m.group(1)) for n in names if (m := re.fullmatch(r"key(\d+)", n))]
    return f"key{max(numbers, default=0) + 1}"


class _Config:
    """The operator's encryption config and the record of the rotation in progress."""

    def __init__(self, pki: Path) -> None:
        self.path = pki / CONFIG
        self.record_path = pki / RECORD
        self.doc: dict[str, Any] = yaml.safe_load(self.path.read_text())
        self.keys = _secrets_keys(self.doc, self.path)

    def names(self) -> list[str]:
        return [str(k["name"]) for k in self.keys]

    def save(self, keys: list[dict[str, Any]]) -> None:
        self.keys[:] = keys
        write_file(self.path, yaml.safe_dump(self.doc, sort_keys=False).encode(), KEY_MODE)

    def record(self) -> dict[str, str] | None:
        if not self.record_path.exists():
            return None
        data: dict[str, str] = json.loads(self.record_path.read_text())
        return data

    def start(self) -> dict[str, str]:
        names = self.names()
        if len(names) != 1:
            raise RotationError(
                f"{self.path}: Secrets' aesgcm provider has {len(names)} keys and no rotation is recorded"
                f" in {self.record_path.name}; leave one key to start a rotation"
            )
        record = {"old": names[0], "new": _next_name(names)}
        write_file(self.record_path, json.dumps(record).encode(), KEY_MODE)
        return record


def _roll(inventory: InventorySources, step: str) -> None:
    sources = [str(p) for p in inventory] if isinstance(inventory, (list, tuple)) else [str(inventory)]
    report = run_playbook(list(sources), ROLL_PLAYBOOK)
    if not report.ok:
        failed = [f"{r.host}: {r.task}: {r.msg}"
                  for r in report.results if r.status in ("failed", "unreachable")]
        raise RotationError(f"{step}: rolling the API servers failed: {'; '.join(failed + report.errors)}")


async def _rewrite_secrets(kubeconfig: Path, report: RotationReport) -> None:
    """Read every Secret and write it back unchanged; count the ones that were stored anew."""
    async with ApiClient.from_kubeconfig(kubeconfig, user_agent="kprov-secrets-rotate-key") as client:
        secrets, _ = await client.list_all(SECRETS, page_size=500)
        report.secrets_total = len(secrets)
        for secret in secrets:
            meta = secret["metadata"]
            for _ in range(5):
                try:
                    written = await client.update(SECRETS, secret)
                except NotFound:
                    break
                except Conflict:  # changed meanwhile: that write already used the new key
                    try:
                        secret = await client.get(SECRETS, meta["name"], meta["namespace"])
                    except NotFound:
                        break
                    continue
                if written["metadata"]["resourceVersion"] != meta["resourceVersion"]:
                    report.secrets_rewritten += 1
                break
            else:
                raise RotationError(f"rewrite: Secret {meta['namespace']}/{meta['name']} kept changing")


def rotate_key(
    inventory: InventorySources,
    *,
    roll: Callable[[InventorySources, str], None] = _roll,
    new_secret: Callable[[], bytes] = lambda: os.urandom(32),
) -> RotationReport:
    """Run (or continue) a rotation of the Secrets encryption key; see the module's steps."""
    pki = pki_dir_for(inventory)
    config = _Config(pki)
    report = RotationReport()
    record = config.record()
    if record is None:
        record = config.start()
        report.note("start", f"rotating {record['old']} to {record['new']}")
    old, new = record["old"], record["new"]
    report.old_key, report.new_key = old, new
    by_name = {str(k["name"]): k for k in config.keys}
    rolled = False  # whether the config as it is now was rolled out by this run
    if config.names() == [old]:
        fresh = {"name": new, "secret": base64.b64encode(new_secret()).decode()}
        config.save([by_name[old], fresh])
        by_name[new] = fresh
        roll(inventory, "add")
        rolled = True
        report.note("add", f"{new} added after {old} on every API server")
    if config.names() == [old, new]:
        if not rolled:  # a rerun: every server must read the new key before any writes with it
            roll(inventory, "add")
        config.save([by_name[new], by_name[old]])
        roll(inventory, "promote")
        rolled = True
        report.note("promote", f"{new} encrypts new writes, {old} still decrypts")
    if config.names() == [new, old]:
        if not rolled:  # a rerun: every server must write with the new key before the rewrite
            roll(inventory, "promote")
        asyncio.run(_rewrite_secrets(pki / "kubeconfigs" / "admin.conf", report))
        already = report.secrets_total - report.secrets_rewritten
        report.note("rewrite", f"{report.secrets_rewritten} of {report.secrets_total} Secrets stored under"
                    f" {new} ({already} already were)")
        config.save([by_name[new]])
        roll(inventory, "drop")
        rolled = True
        report.note("drop", f"{old} removed from every API server")
    if config.names() == [new]:
        if not rolled:  # a rerun after an interrupted drop: every host must have it
            roll(inventory, "drop")
        config.record_path.unlink(missing_ok=True)
        report.note("done", f"Secrets are encrypted with {new} only")
        return report
    raise RotationError(
        f"{config.path}: keys {config.names()} do not match the recorded rotation {old} -> {new};"
        f" fix the file or remove {config.record_path.name}"
    )
