"""The RBAC verb test: every identity the bootstrap policy grants anything (each subject of
each bootstrap ClusterRoleBinding and RoleBinding, aggregated roles expanded), every verb it
holds on every resource or URL, listed and compared with the checked-in expectation
``rbac_verbs_expected.txt`` - a grant added or widened anywhere fails here until the list is
updated in the same commit (``KPROV_UPDATE_RBAC_EXPECTED=1`` rewrites it; review the diff
against upstream's bootstrappolicy). Independently of the list: a wildcard (``*`` verb,
group or resource) or an escalation verb (``escalate``, ``bind``, ``impersonate``) is held only
where upstream's bootstrap policy holds it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from kprov.cluster.apiserver.authz.bootstrap_policy import (
    bootstrap_cluster_role_bindings,
    bootstrap_cluster_roles,
    bootstrap_namespaced_role_bindings,
    bootstrap_namespaced_roles,
)
from kprov.cluster.controllers.identity.clusterrole_aggregation import aggregated_rules

EXPECTED = Path(__file__).with_name("rbac_verbs_expected.txt")
ESCALATION = frozenset({"escalate", "bind", "impersonate"})

# (role, the rule's text): upstream's bootstrap policy holds each of these too.
UPSTREAM_WILDCARDS = {
    ("cluster-admin", "*/* [*]"),
    ("cluster-admin", "url:* [*]"),
    ("system:kube-controller-manager", "*/* [list watch]"),
    ("system:controller:generic-garbage-collector", "*/* [delete get list patch update watch]"),
    ("system:controller:namespace-controller", "*/* [delete deletecollection get list watch]"),
    ("system:controller:resourcequota-controller", "*/* [list watch]"),
    ("system:controller:disruption-controller", "*/*/scale [get]"),
    ("system:controller:horizontal-pod-autoscaler", "*/*/scale [get update]"),
    ("system:controller:horizontal-pod-autoscaler", "custom.metrics.k8s.io/* [get list watch]"),
    ("system:controller:horizontal-pod-autoscaler", "external.metrics.k8s.io/* [get list watch]"),
    ("system:discovery", "url:/api/* [get]"),
    ("system:discovery", "url:/apis/* [get]"),
    ("system:discovery", "url:/openapi/* [get]"),
    ("system:monitoring", "url:/healthz/* [get]"),
    ("system:monitoring", "url:/livez/* [get]"),
    ("system:monitoring", "url:/readyz/* [get]"),
}
UPSTREAM_ESCALATIONS = {
    ("cluster-admin", "*/* [*]"),
    ("cluster-admin", "url:* [*]"),
    ("system:controller:clusterrole-aggregation-controller",
     "rbac.authorization.k8s.io/clusterroles [escalate get list patch update watch]"),
    ("system:aggregate-to-edit", "core/serviceaccounts [impersonate]"),
    ("edit", "core/serviceaccounts [impersonate]"),
    ("admin", "core/serviceaccounts [impersonate]"),
}


def _rule_texts(rule: dict[str, Any]) -> list[str]:
    verbs = " ".join(sorted(rule.get("verbs") or []))
    names = rule.get("resourceNames") or []
    suffix = f" names={','.join(sorted(names))}" if names else ""
    if rule.get("nonResourceURLs"):
        return [f"url:{url} [{verbs}]" for url in sorted(rule["nonResourceURLs"])]
    return [
        f"{group or 'core'}/{resource} [{verbs}]{suffix}"
        for group in sorted(rule.get("apiGroups") or [])
        for resource in sorted(rule.get("resources") or [])
    ]


def _roles() -> dict[tuple[str, str], list[str]]:
    """(namespace or '', role name) -> its rules as text, aggregation applied."""
    cluster = bootstrap_cluster_roles()
    out: dict[tuple[str, str], list[str]] = {}
    for role in cluster:
        rules = aggregated_rules(role, cluster)
        out[("", role["metadata"]["name"])] = sorted(
            {t for r in (rules if rules is not None else role.get("rules") or []) for t in _rule_texts(r)})
    for role in bootstrap_namespaced_roles():
        meta = role["metadata"]
        out[(meta["namespace"], meta["name"])] = sorted({t for r in role["rules"] for t in _rule_texts(r)})
    return out


def _subject(subject: dict[str, Any]) -> str:
    if subject["kind"] == "ServiceAccount":
        return f"ServiceAccount:{subject['namespace']}/{subject['name']}"
    return f"{subject['kind']}:{subject['name']}"


def grants() -> list[str]:
    """One line per identity, scope and grant: ``<subject> <scope> <rule>``."""
    roles = _roles()
    lines: set[str] = set()
    for binding in bootstrap_cluster_role_bindings():
        for subject in binding["subjects"]:
            for text in roles[("", binding["roleRef"]["name"])]:
                lines.add(f"{_subject(subject)} cluster {text}")
    for binding in bootstrap_namespaced_role_bindings():
        namespace = binding["metadata"]["namespace"]
        for subject in binding["subjects"]:
            for text in roles[(namespace, binding["roleRef"]["name"])]:
                lines.add(f"{_subject(subject)} ns:{namespace} {text}")
    return sorted(lines)


def test_every_identity_holds_exactly_the_listed_verbs() -> None:
    now = grants()
    if os.environ.get("KPROV_UPDATE_RBAC_EXPECTED"):
        EXPECTED.write_text("".join(f"{line}\n" for line in now))
    expected = EXPECTED.read_text().splitlines()
    added = sorted(set(now) - set(expected))
    removed = sorted(set(expected) - set(now))
    assert not added and not removed, f"grants added: {added[:20]}\ngrants removed: {removed[:20]}"


def test_wildcards_and_escalation_only_where_upstream_has_them() -> None:
    wild, escalating = set(), set()
    for (_, name), texts in _roles().items():
        for text in texts:
            target, verbs = text.split(" [", 1)
            verb_set = set(verbs.split("]", 1)[0].split())
            if "*" in target or "*" in verb_set:
                wild.add((name, text))
            if verb_set & (ESCALATION | {"*"}):
                escalating.add((name, text))
    assert wild - UPSTREAM_WILDCARDS == set()
    assert escalating - UPSTREAM_ESCALATIONS == set()


def test_the_controller_manager_itself_writes_no_workload() -> None:
    """With one ServiceAccount per controller, the manager's own user only creates what it
    needs for that (accounts, their tokens, token Secrets) and its lease and events."""
    own = [line for line in grants() if line.startswith("User:system:kube-controller-manager ")]
    writes = {line.split(" ", 2)[2] for line in own
              if {"create", "update", "patch", "delete"} & set(line.split("[", 1)[1].rstrip("]").split())}
    groups = {text.split("/", 1)[0] for text in writes}
    assert groups <= {"core", "coordination.k8s.io", "events.k8s.io", "authentication.k8s.io",
                      "authorization.k8s.io"}, writes
    assert not any(text.startswith(("core/pods", "core/nodes", "apps/")) for text in writes), writes
