"""Who asks: the user a request was authenticated as, in the shapes every layer shares.

Design: the authenticators (:mod:`.authn`) produce a :class:`UserInfo`; the request
(:mod:`.request.apirequest`), authorization, admission and the audit log read it. It lives
below all of them, so none of them imports authentication to name a user.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ANONYMOUS", "Extra", "UserInfo", "user_info"]

Extra = tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True)
class UserInfo:
    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: Extra = ()

    @property
    def authenticated(self) -> bool:
        return self.name != ANONYMOUS.name

    def extra_dict(self) -> dict[str, list[str]]:
        return {k: list(v) for k, v in self.extra}


ANONYMOUS = UserInfo("system:anonymous", ("system:unauthenticated",))


def user_info(user: UserInfo) -> dict[str, Any]:
    """The authentication.k8s.io UserInfo shape (username, uid, groups, extra) of ``user``."""
    info: dict[str, Any] = {"username": user.name}
    if user.uid:
        info["uid"] = user.uid
    if user.groups:
        info["groups"] = list(user.groups)
    if user.extra:
        info["extra"] = user.extra_dict()
    return info
