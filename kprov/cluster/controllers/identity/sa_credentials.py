"""Per-controller credentials (``--use-service-account-credentials``), as
kube-controller-manager's dynamic client builder does it.

For a controller whose ``identity`` names a ServiceAccount, the manager (with its own
identity) makes sure ``kube-system/<identity>`` exists, asks the TokenRequest API for a token
of that account valid for an hour, and hands the controller a client that sends only that
token (no client certificate). The token is renewed when 80% of its lifetime has passed.
What the controller may do is then what ClusterRole ``system:controller:<identity>`` grants
(:mod:`kprov.cluster.apiserver.authz.controller_policy`). Controllers with no identity (the legacy
token Secrets controller, as upstream's tokens controller) keep the manager's own client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import replace
from datetime import datetime

from kprov.cluster.client.errors import AlreadyExists, ApiError, NotFound
from kprov.cluster.client.resources import SERVICEACCOUNTS
from kprov.cluster.client.rest import ApiClient

__all__ = ["TOKEN_SECONDS", "ControllerCredentials"]

log = logging.getLogger(__name__)

NAMESPACE = "kube-system"
TOKEN_SECONDS = 3600  # upstream's expiration for controller tokens
RENEW_AT = 0.8  # fraction of the lifetime after which the next token is asked for
FIRST_RETRY_S, MAX_RETRY_S = 0.5, 10.0  # backoff while the first token cannot be had


class ControllerCredentials:
    """Clients acting as one ServiceAccount each, their tokens kept fresh."""

    def __init__(self, root: ApiClient, token_seconds: int = TOKEN_SECONDS) -> None:
        self.root = root
        self.token_seconds = token_seconds
        self._clients: dict[str, ApiClient] = {}
        self._renewers: list[asyncio.Task[None]] = []

    async def client_for(self, account: str) -> ApiClient:
        """A client of ServiceAccount kube-system/<account> (one per account, shared)."""
        if account in self._clients:
            return self._clients[account]
        token, lifetime = await self._first_token(account)
        config = replace(
            self.root.config,
            token=token,
            cert_pem=None,
            key_pem=None,
            user_agent=f"{self.root.config.user_agent}/{account}",
        )
        client = ApiClient(config)
        self._clients[account] = client
        self._renewers.append(asyncio.create_task(self._renew(account, client, lifetime)))
        log.info("acting as ServiceAccount %s/%s", NAMESPACE, account)
        return client

    async def _first_token(self, account: str) -> tuple[str, float]:
        """The account made sure of and its first token, retried while the API server is not
        ready for it (a 403 is a policy mistake, not a wait: it is raised)."""
        delay = FIRST_RETRY_S
        while True:
            try:
                await self._ensure_account(account)
                return await self._request_token(account)
            except ApiError as exc:
                if exc.code == 403:
                    raise
                log.warning("a token for %s/%s: %s; retrying in %.1f s", NAMESPACE, account, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_RETRY_S)

    async def _ensure_account(self, account: str) -> None:
        try:
            await self.root.get(SERVICEACCOUNTS, account, NAMESPACE)
        except NotFound:
            with contextlib.suppress(AlreadyExists):
                body = {"metadata": {"name": account, "namespace": NAMESPACE}}
                await self.root.create(SERVICEACCOUNTS, body)

    async def _request_token(self, account: str) -> tuple[str, float]:
        """A new token and the seconds it stays valid."""
        body = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": self.token_seconds},
        }
        path = SERVICEACCOUNTS.path(NAMESPACE, account, "token")
        reply = await self.root.request("POST", path, body=body)
        status = reply.get("status") or {}
        expires = str(status.get("expirationTimestamp") or "")
        lifetime = float(self.token_seconds)
        if expires:
            lifetime = datetime.fromisoformat(expires.replace("Z", "+00:00")).timestamp() - time.time()
        return str(status["token"]), max(lifetime, 1.0)

    async def _renew(self, account: str, client: ApiClient, lifetime: float) -> None:
        delay = lifetime * RENEW_AT
        while True:
            await asyncio.sleep(delay)
            try:
                token, lifetime = await self._request_token(account)
            except Exception as exc:  # the current token is still valid for a while: retry soon
                log.warning("renewing the token of %s/%s: %s", NAMESPACE, account, exc)
                delay = 5.0
                continue
            client.use_token(token)
            delay = lifetime * RENEW_AT

    async def close(self) -> None:
        for task in self._renewers:
            task.cancel()
        await asyncio.gather(*self._renewers, return_exceptions=True)
        for client in self._clients.values():
            await client.close()
