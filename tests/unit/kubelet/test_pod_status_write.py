"""The kubelet's pod status write: a pod deleted meanwhile (404) is skipped, as upstream's
status manager does; other refusals still surface."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kprov.cluster.client import ApiError, NotFound
from kprov.cluster.kubelet.node.apiaccess import KubeletApi

POD = {"metadata": {"name": "p", "namespace": "d"}}


class _Client:
    def __init__(self, patch_error: ApiError, get_error: ApiError | None = None) -> None:
        self.patch_error, self.get_error, self.puts = patch_error, get_error, 0

    async def patch(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        raise self.patch_error

    async def get(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        if self.get_error is not None:
            raise self.get_error
        return {"metadata": {"name": "p"}}

    async def update_status(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self.puts += 1
        return {}


def _write(client: _Client) -> None:
    api = KubeletApi.__new__(KubeletApi)
    api.client = client  # type: ignore[assignment]
    asyncio.run(api.write_pod_status(POD, {"phase": "Running"}))


def test_a_deleted_pod_is_skipped_on_the_patch_and_on_the_put_fallback() -> None:
    _write(_Client(NotFound(404, "NotFound", 'pods "p" not found')))
    _write(_Client(ApiError(415, "UnsupportedMediaType", "no"), NotFound(404, "NotFound", "gone")))


def test_the_fallback_puts_and_a_forbidden_write_raises() -> None:
    client = _Client(ApiError(415, "UnsupportedMediaType", "no"))
    _write(client)
    assert client.puts == 1
    with pytest.raises(ApiError):
        _write(_Client(ApiError(403, "Forbidden", "no")))
