"""Authentication by x509 client certificate: CN is the user, O entries are the groups.

TLS itself verifies the certificate against the client CA (``--client-ca-file``); this module
only reads the verified peer certificate. No certificate -> anonymous (only the public health
and version endpoints accept that).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

from kprov.cluster.apiserver.http1 import AnyRequest

__all__ = ["ANONYMOUS", "UserInfo", "authenticate"]


@dataclass(frozen=True)
class UserInfo:
    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (key, values) pairs: hashable

    @property
    def authenticated(self) -> bool:
        return self.name != ANONYMOUS.name


ANONYMOUS = UserInfo("system:anonymous", ("system:unauthenticated",))


def authenticate(
    request: AnyRequest,
    local_user: UserInfo | None = None,
    known: weakref.WeakKeyDictionary[Any, UserInfo] | None = None,
) -> UserInfo:
    """The user of a request; ``known`` remembers it per TLS connection (one parse each)."""
    transport = request.transport
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    if ssl_object is None:
        return local_user or ANONYMOUS
    if known is not None:
        user = known.get(ssl_object)
        if user is None:
            user = known[ssl_object] = _from_certificate(ssl_object)
        return user
    return _from_certificate(ssl_object)


def _from_certificate(ssl_object: Any) -> UserInfo:
    cert = ssl_object.getpeercert()
    if not cert:
        return ANONYMOUS
    name = ""
    groups: list[str] = []
    for rdn in cert.get("subject", ()):
        for attr, value in rdn:
            if attr == "commonName":
                name = value
            elif attr == "organizationName":
                groups.append(value)
    if not name:
        return ANONYMOUS
    return UserInfo(name, (*groups, "system:authenticated"))
