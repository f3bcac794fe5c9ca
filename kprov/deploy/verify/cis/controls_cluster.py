"""The benchmark's controls answered through the API: authorization by asking, profiling by
asking, and section 5's policies (scored manual by the benchmark: shown with their evidence
for a human to judge, WARN where the evidence holds a finding)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kprov.deploy.verify.cis.model import ClusterEvidence, Control, Finding, Status

__all__ = ["CLUSTER_CONTROLS"]

ClusterCheck = Callable[[ClusterEvidence], Finding]
SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")
_DEFAULT_OBJECTS = {"Service/kubernetes", "ConfigMap/kube-root-ca.crt"}


def _access(probe: str, expect: bool, meaning: str) -> ClusterCheck:
    def check(ev: ClusterEvidence) -> Finding:
        if ev.error or probe not in ev.access:
            return Finding(Status.FAIL, f"could not ask: {ev.error or probe + ' not asked'}")
        allowed = ev.access[probe]
        verdict = "allowed" if allowed else "denied"
        return Finding(Status.PASS if allowed == expect else Status.FAIL, f"{probe}: {verdict} ({meaning})")

    return check


def _all(*checks: ClusterCheck) -> ClusterCheck:
    def check(ev: ClusterEvidence) -> Finding:
        findings = [c(ev) for c in checks]
        failed = [f for f in findings if f.status is not Status.PASS]
        return Finding(Status.FAIL if failed else Status.PASS, "; ".join(f.evidence for f in findings))

    return check


def _profiling(ev: ClusterEvidence) -> Finding:
    code = ev.http.get("/debug/pprof/")
    if code is None:
        return Finding(Status.FAIL, f"could not ask: {ev.error}")
    return Finding(
        Status.PASS if code == 404 else Status.FAIL, f"GET /debug/pprof/ as the administrator: HTTP {code}"
    )


def _listing(findings: list[str], none: str, some: str) -> Finding:
    if not findings:
        return Finding(Status.MANUAL, none)
    shown = ", ".join(findings[:8]) + (f" (+{len(findings) - 8})" if len(findings) > 8 else "")
    return Finding(Status.WARN, f"{some}: {shown}")


def _cluster_admin_bindings(ev: ClusterEvidence) -> Finding:
    found = []
    for crb in ev.cluster_role_bindings:
        if (crb.get("roleRef") or {}).get("name") != "cluster-admin":
            continue
        for subject in crb.get("subjects") or []:
            if not (subject.get("kind") == "Group" and subject.get("name") == "system:masters"):
                found.append(f"{crb['metadata']['name']} -> {subject.get('kind')}/{subject.get('name')}")
    return _listing(
        found, "cluster-admin is bound to the group system:masters only", "cluster-admin is also bound to"
    )


def _wildcard_roles(ev: ClusterEvidence) -> Finding:
    upstream = {"cluster-admin", "admin", "edit", "view"}
    found = []
    for role in ev.cluster_roles:
        name = role["metadata"]["name"]
        if name in upstream or name.startswith("system:"):
            continue
        for rule in role.get("rules") or []:
            if "*" in (rule.get("verbs") or []) or "*" in (rule.get("resources") or []):
                found.append(name)
                break
    return _listing(
        found,
        "no ClusterRole beyond upstream's bootstrap roles uses wildcards",
        "ClusterRoles with wildcards",
    )


def _default_service_accounts(ev: ClusterEvidence) -> Finding:
    found = [
        f"{sa['metadata']['namespace']}/default"
        for sa in ev.service_accounts
        if sa["metadata"]["name"] == "default" and sa.get("automountServiceAccountToken") is not False
    ]
    return _listing(
        found,
        "every default ServiceAccount sets automountServiceAccountToken: false",
        "default ServiceAccounts that mount their token",
    )


def _pod_security_labels(ev: ClusterEvidence) -> Finding:
    enforced = [
        ns["metadata"]["name"]
        for ns in ev.namespaces
        if "pod-security.kubernetes.io/enforce" in (ns["metadata"].get("labels") or {})
    ]
    if enforced:
        return Finding(
            Status.MANUAL, f"namespaces with an enforced Pod Security level: {', '.join(enforced[:8])}"
        )
    return Finding(Status.WARN, "no namespace has a pod-security.kubernetes.io/enforce label")


def _privileged_pods(ev: ClusterEvidence) -> Finding:
    found = []
    for pod in ev.pods:
        spec = pod.get("spec") or {}
        for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
            if (container.get("securityContext") or {}).get("privileged"):
                found.append(f"{pod['metadata']['namespace']}/{pod['metadata']['name']}")
                break
    return _listing(found, "no pod runs a privileged container", "pods with privileged containers")


def _host_namespaces(field: str) -> ClusterCheck:
    def check(ev: ClusterEvidence) -> Finding:
        found = [
            f"{p['metadata']['namespace']}/{p['metadata']['name']}"
            for p in ev.pods
            if (p.get("spec") or {}).get(field)
        ]
        return _listing(found, f"no pod sets {field}", f"pods with {field}")

    return check


def _namespaces_without_policies(ev: ClusterEvidence) -> Finding:
    if ev.network_policies is None:
        return Finding(Status.WARN, "the API does not serve networking.k8s.io/v1 networkpolicies")
    covered = {p["metadata"]["namespace"] for p in ev.network_policies}
    bare = [
        ns["metadata"]["name"]
        for ns in ev.namespaces
        if ns["metadata"]["name"] not in covered and ns["metadata"]["name"] not in SYSTEM_NAMESPACES
    ]
    return _listing(bare, "every namespace has a NetworkPolicy", "namespaces without a NetworkPolicy")


def _secrets_in_env(ev: ClusterEvidence) -> Finding:
    found = []
    for pod in ev.pods:
        containers: list[dict[str, Any]] = (pod.get("spec") or {}).get("containers") or []
        if any(
            (e.get("valueFrom") or {}).get("secretKeyRef") for c in containers for e in c.get("env") or []
        ) or any(f.get("secretRef") for c in containers for f in c.get("envFrom") or []):
            found.append(f"{pod['metadata']['namespace']}/{pod['metadata']['name']}")
    return _listing(
        found, "no pod takes a Secret as environment variables", "pods with Secrets in their environment"
    )


def _default_namespace(ev: ClusterEvidence) -> Finding:
    extra = [o for o in ev.default_namespace_objects if o not in _DEFAULT_OBJECTS]
    return _listing(
        extra,
        "the default namespace holds only what the cluster puts there",
        "objects in the default namespace",
    )


def _c(
    id: str, title: str, check: ClusterCheck, remediation: str, automated: bool, mapping: str = ""
) -> Control:
    return Control(id, title, "cluster", automated, remediation, check, mapping)


CLUSTER_CONTROLS: list[Control] = [
    _c(
        "1.2.6",
        "authorization is not AlwaysAllow",
        _access("anonymous-list-secrets", False, "AlwaysAllow would allow it"),
        "kprov-apiserver's authorizers are fixed: system:masters, Node, RBAC",
        True,
        "no --authorization-mode flag: checked by a SubjectAccessReview",
    ),
    _c(
        "1.2.7",
        "the Node authorizer is in force",
        _access("node-get-own-node", True, "only the Node authorizer grants a node its own Node"),
        "kprov-apiserver always runs the Node authorizer",
        True,
        "no --authorization-mode flag: checked by asking",
    ),
    _c(
        "1.2.8",
        "RBAC is in force",
        _all(
            _access("user-create-selfsubjectaccessreview", True, "RBAC's system:basic-user grants it"),
            _access("user-list-secrets", False, "no binding grants it"),
        ),
        "kprov-apiserver always runs RBAC",
        True,
        "no --authorization-mode flag: checked by asking",
    ),
    _c(
        "1.2.15",
        "the API server serves no profiling endpoint",
        _profiling,
        "kprov-apiserver has no profiling endpoint",
        True,
        "no --profiling flag: checked by asking",
    ),
    _c(
        "5.1.1",
        "cluster-admin is bound only where needed",
        _cluster_admin_bindings,
        "delete ClusterRoleBindings to cluster-admin that are not needed",
        False,
    ),
    _c(
        "5.1.3",
        "roles avoid wildcards",
        _wildcard_roles,
        "name resources and verbs in the roles listed",
        False,
    ),
    _c(
        "5.1.5",
        "default ServiceAccounts are not used",
        _default_service_accounts,
        "set automountServiceAccountToken: false on default ServiceAccounts",
        False,
    ),
    _c(
        "5.2.1",
        "a policy control mechanism is in place",
        _pod_security_labels,
        "label namespaces pod-security.kubernetes.io/enforce=baseline or restricted",
        False,
    ),
    _c(
        "5.2.2",
        "privileged containers are kept to a minimum",
        _privileged_pods,
        "drop securityContext.privileged where it is not needed",
        False,
    ),
    _c(
        "5.2.3",
        "host PID namespaces are kept to a minimum",
        _host_namespaces("hostPID"),
        "drop hostPID",
        False,
    ),
    _c(
        "5.2.4",
        "host IPC namespaces are kept to a minimum",
        _host_namespaces("hostIPC"),
        "drop hostIPC",
        False,
    ),
    _c(
        "5.2.5",
        "host networking is kept to a minimum",
        _host_namespaces("hostNetwork"),
        "drop hostNetwork",
        False,
    ),
    _c(
        "5.3.2",
        "every namespace has a NetworkPolicy",
        _namespaces_without_policies,
        "add a default-deny NetworkPolicy to the namespaces listed",
        False,
    ),
    _c(
        "5.4.1",
        "Secrets are mounted as files, not environment variables",
        _secrets_in_env,
        "mount the Secrets as volumes",
        False,
    ),
    _c(
        "5.7.4",
        "the default namespace is not used",
        _default_namespace,
        "move workloads to namespaces of their own",
        False,
    ),
]
