"""The controller manager's first token per ServiceAccount waits out an API server that cannot
give it yet (a 404 or 5xx: retried with backoff) but not a policy refusal (a 403: raised)."""

from __future__ import annotations

from typing import Any

import pytest

from kprov.cluster.client.errors import ApiError, NotFound
from kprov.cluster.controllers.identity import sa_credentials
from kprov.cluster.controllers.identity.sa_credentials import ControllerCredentials


class _Root:
    """Answers the TokenRequest with the queued failures first, then a token."""

    def __init__(self, failures: list[ApiError]) -> None:
        self.failures = failures
        self.token_requests = 0

    async def get(self, resource: Any, name: str, namespace: str) -> dict[str, Any]:
        return {"metadata": {"name": name}}

    async def request(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        self.token_requests += 1
        if self.failures:
            raise self.failures.pop(0)
        return {"status": {"token": "t0k3n"}}


@pytest.fixture(autouse=True)
def _no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sa_credentials, "FIRST_RETRY_S", 0.0)


async def test_a_service_account_not_yet_visible_is_waited_for() -> None:
    root = _Root([NotFound(404, "NotFound", 'serviceaccounts "deployment-controller" not found'),
                  ApiError(503, "ServiceUnavailable", "etcd leader changed")])
    credentials = ControllerCredentials(root)  # type: ignore[arg-type]
    token, lifetime = await credentials._first_token("deployment-controller")
    assert token == "t0k3n" and lifetime > 0
    assert root.token_requests == 3


async def test_a_forbidden_token_request_is_raised_at_once() -> None:
    root = _Root([ApiError(403, "Forbidden", "cannot create resource serviceaccounts/token")])
    credentials = ControllerCredentials(root)  # type: ignore[arg-type]
    with pytest.raises(ApiError) as caught:
        await credentials._first_token("deployment-controller")
    assert caught.value.code == 403 and root.token_requests == 1
