"""Legacy ServiceAccount token Secrets (upstream's ``serviceaccount-token`` controller).

A Secret of type ``kubernetes.io/service-account-token`` naming an account in the annotation
``kubernetes.io/service-account.name`` gets a non-expiring token of that account (upstream's
legacy claims, issuer ``kubernetes/serviceaccount``, signed with
``--service-account-private-key-file``), ``ca.crt`` and ``namespace``, and the annotation
``kubernetes.io/service-account.uid``. A Secret whose account does not exist (or has another
uid) is deleted, and so are an account's token Secrets when the account goes. The API server
accepts such a token only while its Secret still holds it. Without a key the controller idles.
"""

from __future__ import annotations

import base64
import contextlib
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization

from kprov.cluster.client.errors import Conflict, NotFound
from kprov.cluster.client.informer import EventHandler
from kprov.cluster.client.resources import SECRETS, SERVICEACCOUNTS
from kprov.cluster.controllers.base import Controller, Obj

__all__ = ["TOKEN_SECRET_TYPE", "TokenSecretController", "legacy_token"]

TOKEN_SECRET_TYPE = "kubernetes.io/service-account-token"
_NAME = "kubernetes.io/service-account.name"
_UID = "kubernetes.io/service-account.uid"
_CLAIM = "kubernetes.io/serviceaccount/"


def legacy_token(key: object, namespace: str, account: str, uid: str, secret: str) -> str:
    claims = {
        "iss": "kubernetes/serviceaccount",
        _CLAIM + "namespace": namespace,
        _CLAIM + "secret.name": secret,
        _CLAIM + "service-account.name": account,
        _CLAIM + "service-account.uid": uid,
        "sub": f"system:serviceaccount:{namespace}:{account}",
    }
    return jwt.encode(claims, key, algorithm="RS256")  # type: ignore[arg-type]


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class TokenSecretController(Controller):
    name = "serviceaccount-token"

    def setup(self) -> None:
        path = self.ctx.options.service_account_private_key_file
        self.key = serialization.load_pem_private_key(Path(path).read_bytes(), None) if path else None
        ca_path = self.ctx.options.root_ca_file
        self.ca = (Path(ca_path).read_bytes() if ca_path else (self.client.config.ca_pem or b"")).decode()
        self.secrets = self.ctx.informers.get(SECRETS)
        self.accounts = self.ctx.informers.get(SERVICEACCOUNTS)
        self.secrets.add_handler(EventHandler(self._secret, lambda _o, n: self._secret(n), None))
        self.accounts.add_handler(EventHandler(self._account, lambda _o, n: self._account(n), self._account))

    def _secret(self, secret: Obj) -> None:
        if secret.get("type") == TOKEN_SECRET_TYPE:
            self.enqueue(secret)

    def _account(self, account: Obj) -> None:
        ns = account["metadata"]["namespace"]
        for secret in self.secrets.store.items():
            meta = secret["metadata"]
            if (
                meta.get("namespace") == ns
                and secret.get("type") == TOKEN_SECRET_TYPE
                and (meta.get("annotations") or {}).get(_NAME) == account["metadata"]["name"]
            ):
                self.enqueue(secret)

    async def reconcile(self, key: str) -> float | None:
        if self.key is None:
            return None
        secret = self.secrets.store.get(key)
        if secret is None or secret.get("type") != TOKEN_SECRET_TYPE:
            return None
        meta = secret["metadata"]
        ns, name = meta["namespace"], meta["name"]
        annotations = meta.get("annotations") or {}
        account = self.accounts.store.get(f"{ns}/{annotations.get(_NAME, '')}")
        wanted_uid = annotations.get(_UID)
        if account is None or (wanted_uid and wanted_uid != account["metadata"].get("uid")):
            with contextlib.suppress(NotFound):
                await self.client.delete(SECRETS, name, ns, uid=meta.get("uid"))
            return None
        data = secret.get("data") or {}
        if data.get("token") and data.get("ca.crt") and data.get("namespace") and wanted_uid:
            return None
        uid = account["metadata"].get("uid", "")
        token = data.get("token") or _b64(legacy_token(self.key, ns, account["metadata"]["name"], uid, name))
        # an update, as upstream's tokens controller (the manager's role may update Secrets)
        updated = {
            **secret,
            "metadata": {**meta, "annotations": {**annotations, _UID: uid}},
            "data": {**data, "token": token, "ca.crt": _b64(self.ca), "namespace": _b64(ns)},
        }
        try:
            await self.client.update(SECRETS, updated)
        except Conflict:
            return 0.1  # changed meanwhile: look again
        except NotFound:
            return None
        return None
