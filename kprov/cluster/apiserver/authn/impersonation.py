"""Impersonation (``kubectl --as``): the Impersonate-* headers, each one authorized.

A request may name another identity with ``Impersonate-User``, ``Impersonate-Group`` (repeated),
``Impersonate-Uid`` and ``Impersonate-Extra-<key>`` (repeated; the key %-decoded, lower case).
As kube-apiserver's impersonation filter does, every part is a separate authorization of the
*acting* user with the verb ``impersonate``:

- a user ``system:serviceaccount:<ns>:<name>`` -> ``serviceaccounts`` ``<name>`` in ``<ns>``
  (group ""), and unless groups are given the service account's fixed groups;
- any other user -> ``users`` ``<name>``; each group -> ``groups`` ``<name>`` (group "");
- each extra value -> ``userextras/<key>`` ``<value>``, the uid -> ``uids`` ``<uid>``
  (group ``authentication.k8s.io``).

The first refusal is a 403 worded as the real server's (``users "nobody" is forbidden: User
"alice" cannot impersonate resource "users" in API group "" at the cluster scope``). Groups,
extras or a uid without a user is a 400. The impersonated identity gets ``system:authenticated``
unless the named groups already hold it or ``system:unauthenticated`` (``system:anonymous`` gets
``system:unauthenticated``). The request is then authorized and served as that identity.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple
from urllib.parse import unquote

from kprov.cluster.api.errors import ApiError
from kprov.cluster.apiserver.identity import UserInfo
from kprov.cluster.apiserver.request.requestinfo import RequestInfo
from kprov.cluster.apiserver.request.status import bad_request, forbidden

__all__ = ["has_impersonation", "impersonate", "service_account_parts"]

_PREFIX = "impersonate-"
_EXTRA_PREFIX = "impersonate-extra-"
_SA_PREFIX = "system:serviceaccount:"
_AUTHN_GROUP = "authentication.k8s.io"


class _Ask(NamedTuple):
    """One thing to impersonate: the attributes the acting user must hold ``impersonate`` on."""

    kind: str  # ServiceAccount, User, Group, UserExtra, UID
    group: str
    resource: str
    namespace: str
    name: str
    subresource: str = ""

    def describe(self) -> str:
        """Go's ``%v`` of the ObjectReference upstream builds (values only, space-separated)."""
        api_version = "authentication.k8s.io/v1" if self.group else ""
        fields = (self.kind, self.namespace, self.name, "", api_version, "", self.subresource)
        return "{" + " ".join(fields) + "}"


def _extra_key(encoded: str) -> str:
    """%-decoded like Go's url.PathUnescape; a malformed key is kept as sent."""
    if "%" not in encoded:
        return encoded
    try:
        return unquote(encoded, errors="strict")
    except UnicodeDecodeError:
        return encoded


def has_impersonation(headers: Mapping[str, str]) -> bool:
    """Cheap test done on every request: any header named ``Impersonate-*``."""
    # one search over the names joined (a header name holds no newline) instead of a
    # slice, a lower() and a comparison per header
    return ("\n" + _PREFIX) in ("\n" + "\n".join(headers)).lower()


def service_account_parts(username: str) -> tuple[str, str] | None:
    """(namespace, name) of a ``system:serviceaccount:<ns>:<name>`` user name, else None."""
    if not username.startswith(_SA_PREFIX):
        return None
    parts = username[len(_SA_PREFIX) :].split(":")
    if len(parts) != 2 or not parts[0] or not parts[1]:
        return None
    return parts[0], parts[1]


def _asks(headers: Mapping[str, str]) -> list[_Ask]:
    getall = getattr(headers, "getall", None)

    def values(name: str) -> list[str]:
        if getall is not None:
            return list(getall(name, []))
        value = headers.get(name)
        return [value] if value is not None else []

    asks: list[_Ask] = []
    user = (values("Impersonate-User") or [""])[0]
    if user:
        sa = service_account_parts(user)
        if sa is not None:
            asks.append(_Ask("ServiceAccount", "", "serviceaccounts", sa[0], sa[1]))
        else:
            asks.append(_Ask("User", "", "users", "", user))
    groups = values("Impersonate-Group")
    asks.extend(_Ask("Group", "", "groups", "", g) for g in groups)
    has_extra = False
    seen: set[str] = set()
    for header in headers:
        lowered = header.lower()
        if not lowered.startswith(_EXTRA_PREFIX) or lowered in seen:
            continue
        seen.add(lowered)
        has_extra = True
        key = _extra_key(lowered[len(_EXTRA_PREFIX) :])
        asks.extend(_Ask("UserExtra", _AUTHN_GROUP, "userextras", "", v, key) for v in values(header))
    uid = (values("Impersonate-Uid") or [""])[0]
    if uid:
        asks.append(_Ask("UID", _AUTHN_GROUP, "uids", "", uid))
    if (groups or has_extra or uid) and not user:
        described = " ".join(a.describe() for a in asks)
        raise bad_request(f"requested [{described}] without impersonating a user")
    return asks


def impersonate(
    acting: UserInfo,
    headers: Mapping[str, str],
    allowed: Callable[[UserInfo, RequestInfo], bool],
) -> UserInfo:
    """The identity a request acts as; raises 403 (or 400) as kube-apiserver does.

    ``allowed`` is the authorizer (user, attributes) -> bool; called once per impersonated part.
    """
    asks = _asks(headers)
    if not asks:
        return acting
    groups_given = any(a.kind == "Group" for a in asks)
    name, uid = "", ""
    groups: list[str] = []
    extra: dict[str, list[str]] = {}
    for ask in asks:
        if ask.kind == "ServiceAccount":
            name = f"{_SA_PREFIX}{ask.namespace}:{ask.name}"
            if not groups_given:
                groups = ["system:serviceaccounts", f"system:serviceaccounts:{ask.namespace}"]
        elif ask.kind == "User":
            name = ask.name
        elif ask.kind == "Group":
            groups.append(ask.name)
        elif ask.kind == "UserExtra":
            extra.setdefault(ask.subresource, []).append(ask.name)
        else:
            uid = ask.name
        ri = RequestInfo(
            ask.group, "v1", ask.resource, ask.namespace, ask.name, ask.subresource, "impersonate"
        )
        if not allowed(acting, ri):
            raise _refused(acting, ask)
    if name != "system:anonymous":
        if "system:authenticated" not in groups and "system:unauthenticated" not in groups:
            groups.append("system:authenticated")
    elif "system:unauthenticated" not in groups:
        groups.append("system:unauthenticated")
    return UserInfo(
        name,
        tuple(groups),
        uid=uid,
        extra=tuple((k, tuple(v)) for k, v in extra.items()),
    )


def _refused(acting: UserInfo, ask: _Ask) -> ApiError:
    return forbidden(
        acting.name, "impersonate", ask.resource, ask.group, ask.namespace, ask.name, ask.subresource
    )
