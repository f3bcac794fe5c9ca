"""Impersonate-* headers: each part authorized with the verb impersonate, 403/400 as upstream."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict

from kprov.cluster.api.errors import ApiError
from kprov.cluster.apiserver.authn.impersonation import has_impersonation, impersonate, service_account_parts
from kprov.cluster.apiserver.authz.chain import authorize
from kprov.cluster.apiserver.identity import UserInfo
from kprov.cluster.apiserver.request.requestinfo import RequestInfo

ADMIN = UserInfo("kubernetes-admin", ("system:masters", "system:authenticated"))
ALICE = UserInfo("alice", ("devs", "system:authenticated"))


def _allow_all(user: UserInfo, ri: RequestInfo) -> bool:
    return True


def _masters(user: UserInfo, ri: RequestInfo) -> bool:
    return authorize(user, ri, None)  # type: ignore[arg-type]  # no cache read for these


def test_no_headers_keeps_the_user():
    headers = CIMultiDict({"Accept": "application/json"})
    assert not has_impersonation(headers)
    assert impersonate(ADMIN, headers, _allow_all) is ADMIN


def test_user_and_groups_and_extras():
    headers = CIMultiDict(
        [
            ("Impersonate-User", "bob"),
            ("Impersonate-Group", "g1"),
            ("Impersonate-Group", "g2"),
            ("Impersonate-Extra-Scopes", "view"),
            ("Impersonate-Extra-Scopes", "edit"),
            ("Impersonate-Extra-Example.com%2Fteam", "a"),
            ("Impersonate-Uid", "u-1"),
        ]
    )
    seen: list[RequestInfo] = []

    def record(user: UserInfo, ri: RequestInfo) -> bool:
        assert user is ADMIN
        seen.append(ri)
        return True

    assert has_impersonation(headers)
    user = impersonate(ADMIN, headers, record)
    assert user.name == "bob"
    assert user.groups == ("g1", "g2", "system:authenticated")
    assert user.uid == "u-1"
    assert dict(user.extra) == {"scopes": ("view", "edit"), "example.com/team": ("a",)}
    assert [(r.group, r.resource, r.name, r.subresource, r.verb) for r in seen] == [
        ("", "users", "bob", "", "impersonate"),
        ("", "groups", "g1", "", "impersonate"),
        ("", "groups", "g2", "", "impersonate"),
        ("authentication.k8s.io", "userextras", "view", "scopes", "impersonate"),
        ("authentication.k8s.io", "userextras", "edit", "scopes", "impersonate"),
        ("authentication.k8s.io", "userextras", "a", "example.com/team", "impersonate"),
        ("authentication.k8s.io", "uids", "u-1", "", "impersonate"),
    ]


def test_service_account_gets_its_groups_unless_groups_are_named():
    headers = CIMultiDict({"Impersonate-User": "system:serviceaccount:ns1:robot"})
    seen: list[RequestInfo] = []
    user = impersonate(ADMIN, headers, lambda u, ri: seen.append(ri) or True)
    assert user.name == "system:serviceaccount:ns1:robot"
    assert user.groups == ("system:serviceaccounts", "system:serviceaccounts:ns1", "system:authenticated")
    assert (seen[0].resource, seen[0].namespace, seen[0].name) == ("serviceaccounts", "ns1", "robot")
    headers.add("Impersonate-Group", "system:unauthenticated")
    assert impersonate(ADMIN, headers, _allow_all).groups == ("system:unauthenticated",)
    assert service_account_parts("system:serviceaccount:a:b:c") is None


def test_anonymous_gets_unauthenticated():
    user = impersonate(ADMIN, CIMultiDict({"Impersonate-User": "system:anonymous"}), _allow_all)
    assert user.groups == ("system:unauthenticated",)


def test_non_masters_are_refused_with_upstream_wording():
    with pytest.raises(ApiError) as err:
        impersonate(ALICE, CIMultiDict({"Impersonate-User": "nobody"}), _masters)
    assert err.value.code == 403
    assert str(err.value) == (
        'users "nobody" is forbidden: User "alice" cannot impersonate resource "users" '
        'in API group "" at the cluster scope'
    )
    with pytest.raises(ApiError) as err:
        impersonate(ALICE, CIMultiDict({"Impersonate-User": "system:serviceaccount:ns:sa"}), _masters)
    assert str(err.value).endswith('in API group "" in the namespace "ns"')
    controller_manager = UserInfo("system:kube-controller-manager", ("system:authenticated",))
    with pytest.raises(ApiError):
        impersonate(controller_manager, CIMultiDict({"Impersonate-User": "x"}), _masters)
    assert impersonate(ADMIN, CIMultiDict({"Impersonate-User": "nobody"}), _masters).name == "nobody"


def test_refused_extra_names_the_subresource():
    headers = CIMultiDict({"Impersonate-User": "bob", "Impersonate-Extra-Scopes": "view"})

    def only_users(user: UserInfo, ri: RequestInfo) -> bool:
        return ri.resource == "users"

    with pytest.raises(ApiError) as err:
        impersonate(ALICE, headers, only_users)
    assert str(err.value) == (
        'userextras.authentication.k8s.io "view" is forbidden: User "alice" cannot impersonate '
        'resource "userextras/scopes" in API group "authentication.k8s.io" at the cluster scope'
    )


def test_groups_without_a_user_is_a_bad_request():
    with pytest.raises(ApiError) as err:
        impersonate(ADMIN, CIMultiDict({"Impersonate-Group": "g"}), _allow_all)
    assert err.value.code == 400
    assert str(err.value) == "requested [{Group  g    }] without impersonating a user"


def test_only_a_name_that_starts_with_the_prefix_is_impersonation() -> None:
    """Any case, any position among the headers; a name holding the prefix elsewhere, or a
    value holding it, is not."""
    from multidict import CIMultiDict, CIMultiDictProxy

    cases = [
        ([("Host", "h"), ("impersonate-user", "u")], True),
        ([("IMPERSONATE-GROUP", "g"), ("Accept", "*/*")], True),
        ([("Impersonate-", "")], True),
        ([("X-Impersonate-User", "u"), ("Accept", "impersonate-user")], False),
        ([("Impersonate", "u"), ("Impersonateuser", "u")], False),
        ([], False),
    ]
    for pairs, expected in cases:
        assert has_impersonation(dict(pairs)) is expected
        assert has_impersonation(CIMultiDictProxy(CIMultiDict(pairs))) is expected
