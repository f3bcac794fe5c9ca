"""Removing the directories of deleted local-path volumes from this node.

Design: the local-path provisioner (in the controller manager) names each volume
``pvc-<claim uid>`` and points it at ``<volumes dir>/<volume name>`` on one node; the kubelet
creates the directory at the first mount. When a volume with reclaim Delete is released, the
provisioner deletes the PersistentVolume object; this sweep, every ``period`` seconds, removes
each ``pvc-*`` directory whose volume the API server no longer has (a plain GET, which the
Node authorizer already grants). A directory exists only after its volume did, so "not
found" means deleted; any other answer (API unreachable, forbidden) keeps the directory.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from kprov.cluster.client import ApiError

__all__ = ["sweep", "sweep_forever"]

log = logging.getLogger(__name__)

GetVolume = Callable[[str], Awaitable[dict[str, Any] | None]]


async def sweep(directory: Path, get_volume: GetVolume) -> list[str]:
    """Remove the directories of volumes that are gone; return their names."""
    removed: list[str] = []
    try:
        entries = sorted(p for p in directory.iterdir() if p.is_dir() and p.name.startswith("pvc-"))
    except OSError:
        return removed
    for entry in entries:
        try:
            volume = await get_volume(entry.name)
        except ApiError as err:
            log.debug("volume %s not checked: %s", entry.name, err)
            continue
        if volume is None:
            await asyncio.to_thread(shutil.rmtree, entry, True)
            log.info("removed %s: its PersistentVolume was deleted", entry)
            removed.append(entry.name)
    return removed


async def sweep_forever(directory: Path, get_volume: GetVolume, period: float = 10.0) -> None:
    while True:
        try:
            await sweep(directory, get_volume)
        except Exception as err:  # never let the sweep stop the kubelet
            log.warning("local volume sweep failed: %s", err)
        await asyncio.sleep(period)
