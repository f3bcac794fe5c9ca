"""ValidatingAdmissionPolicy: matching, evaluation, validation, defaults and printing, free of
the server."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kprov.cluster.api import defaults
from kprov.cluster.api.printers.admission import VALIDATINGADMISSIONPOLICY, VALIDATINGADMISSIONPOLICYBINDING
from kprov.cluster.api.resources import REGISTRY
from kprov.cluster.api.validation import core as validation
from kprov.cluster.apiserver.admission.vap.admission import _caches
from kprov.cluster.apiserver.admission.vap.evaluator import activation_of, compile_policy
from kprov.cluster.apiserver.admission.vap.matching import Attributes, matches
from kprov.cluster.apiserver.attributes import AdmissionAttributes

POLICY_INFO: Any = REGISTRY.get("admissionregistration.k8s.io", "v1", "validatingadmissionpolicies")
BINDING_INFO: Any = REGISTRY.get("admissionregistration.k8s.io", "v1", "validatingadmissionpolicybindings")
RULE = {"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["deployments"]}

def _creating(info: Any, obj: Any) -> AdmissionAttributes:
    return AdmissionAttributes(info, "CREATE", obj, None, None)


def _connecting(info: Any, options: Any, subresource: str, target: tuple[str, str]) -> AdmissionAttributes:
    return AdmissionAttributes(info, "CONNECT", options, None, None, subresource, target=target)



def _deployment(replicas: int, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"name": "d", "namespace": "n", "labels": labels or {}},
        "spec": {"replicas": replicas},
    }


def _attrs(operation: str = "CREATE", resource: str = "deployments", **kw: Any) -> Attributes:
    return Attributes(
        group=kw.pop("group", "apps"),
        version="v1",
        resource=resource,
        kind="Deployment",
        operation=operation,
        name=kw.pop("name", "d"),
        namespace="n",
        namespaced=True,
        **kw,
    )


# -- matching ----------------------------------------------------------------------------------
def test_rules_match_operation_group_resource_and_wildcards() -> None:
    assert matches({"resourceRules": [RULE]}, _attrs(), {})
    assert not matches({"resourceRules": [RULE]}, _attrs("UPDATE"), {})
    assert not matches({"resourceRules": [RULE]}, _attrs(resource="replicasets"), {})
    star = {**RULE, "apiGroups": ["*"], "resources": ["*"], "operations": ["*"]}
    assert matches({"resourceRules": [star]}, _attrs("DELETE", resource="pods", group=""), {})
    assert not matches({"resourceRules": [star]}, _attrs(resource="deployments", subresource="scale"), {})
    sub = {**star, "resources": ["deployments/scale"]}
    assert matches({"resourceRules": [sub]}, _attrs(subresource="scale"), {})


def test_exclusions_names_and_selectors() -> None:
    match = {"resourceRules": [RULE], "excludeResourceRules": [{**RULE, "resourceNames": ["skip"]}]}
    assert matches(match, _attrs(), {})
    assert not matches(match, _attrs(name="skip"), {})
    by_ns = {"resourceRules": [RULE], "namespaceSelector": {"matchLabels": {"env": "prod"}}}
    assert matches(by_ns, _attrs(), {"env": "prod"})
    assert not matches(by_ns, _attrs(), {"env": "dev"})
    by_obj = {"resourceRules": [RULE], "objectSelector": {"matchLabels": {"app": "x"}}}
    assert matches(by_obj, _attrs(obj=_deployment(1, {"app": "x"})), {})
    assert not matches(by_obj, _attrs(obj=_deployment(1)), {})
    assert matches(None, _attrs(), {})  # a binding without matchResources


def test_match_memo_remembers_only_what_depends_on_the_request_kind() -> None:
    from kprov.cluster.apiserver.admission.vap.matching import MatchMemo

    plain = MatchMemo({"resourceRules": [RULE]})
    for _ in range(2):  # the second round answers from the memo
        assert plain.matches(_attrs(), {})
        assert not plain.matches(_attrs("UPDATE"), {})
        assert not plain.matches(_attrs(resource="replicasets"), {})
    by_name = MatchMemo({"resourceRules": [{**RULE, "resourceNames": ["d"]}]})
    by_obj = MatchMemo({"resourceRules": [RULE], "objectSelector": {"matchLabels": {"app": "x"}}})
    by_ns = MatchMemo({"resourceRules": [RULE], "namespaceSelector": {"matchLabels": {"env": "prod"}}})
    for _ in range(2):
        assert by_name.matches(_attrs(), {}) and not by_name.matches(_attrs(name="e"), {})
        assert by_obj.matches(_attrs(obj=_deployment(1, {"app": "x"})), {})
        assert not by_obj.matches(_attrs(obj=_deployment(1)), {})
        assert by_ns.matches(_attrs(), {"env": "prod"}) and not by_ns.matches(_attrs(), {"env": "dev"})
    assert MatchMemo(None).matches(_attrs("DELETE"), None)


# -- evaluation --------------------------------------------------------------------------------
def test_validation_messages_and_reasons() -> None:
    compiled = compile_policy(
        {
            "metadata": {"name": "p"},
            "spec": {
                "validations": [
                    {"expression": "object.spec.replicas <= 5"},
                    {"expression": "object.spec.replicas <= 3", "message": "too many", "reason": "Forbidden"},
                    {
                        "expression": "object.spec.replicas <= 2",
                        "messageExpression": "'replicas: ' + string(object.spec.replicas)",
                    },
                ]
            },
        }
    )
    assert compiled.evaluate(activation_of({"object": _deployment(1)})).decisions == []
    decisions = compiled.evaluate(activation_of({"object": _deployment(10)})).decisions
    assert [(d.message, d.reason) for d in decisions] == [
        ("failed expression: object.spec.replicas <= 5", "Invalid"),
        ("too many", "Forbidden"),
        ("replicas: 10", "Invalid"),
    ]


def test_match_conditions_variables_params_and_failure_policy() -> None:
    spec = {
        "matchConditions": [{"name": "big-only", "expression": "object.spec.replicas > 1"}],
        "variables": [
            {"name": "limit", "expression": "int(params.data.max)"},
            {"name": "over", "expression": "object.spec.replicas > variables.limit"},
        ],
        "validations": [{"expression": "!variables.over"}],
    }
    compiled = compile_policy({"metadata": {"name": "p"}, "spec": spec})
    params = {"data": {"max": "3"}}
    assert (
        compiled.evaluate(activation_of({"object": _deployment(1), "params": params})).decisions == []
    )  # not matched
    assert compiled.evaluate(activation_of({"object": _deployment(3), "params": params})).decisions == []
    assert len(compiled.evaluate(activation_of({"object": _deployment(4), "params": params})).decisions) == 1
    broken = compile_policy(
        {"metadata": {"name": "p"}, "spec": {"validations": [{"expression": "object.nope"}]}}
    )
    (error,) = broken.evaluate(activation_of({"object": _deployment(4)})).decisions
    assert error.error and error.message == "expression 'object.nope' resulted in error: no such key: nope"
    ignored = compile_policy(
        {
            "metadata": {"name": "p"},
            "spec": {"failurePolicy": "Ignore", "validations": [{"expression": "object.nope"}]},
        }
    )
    assert ignored.evaluate(activation_of({"object": _deployment(4)})).decisions == []


def test_audit_annotations() -> None:
    compiled = compile_policy(
        {
            "metadata": {"name": "p"},
            "spec": {
                "auditAnnotations": [
                    {"key": "size", "valueExpression": "'replicas ' + string(object.spec.replicas)"},
                    {"key": "none", "valueExpression": "null"},
                ]
            },
        }
    )
    result = compiled.evaluate(activation_of({"object": _deployment(4)}))
    assert [(a.key, a.value) for a in result.annotations] == [("size", "replicas 4")]


# -- validation, defaults, printing ------------------------------------------------------------
def _causes(info: Any, obj: dict[str, Any]) -> list[str]:
    return [str(c) for c in validation.validate(info, obj)]


def test_policy_validation_paths() -> None:
    base = {"metadata": {"name": "p"}, "spec": {"failurePolicy": "Fail"}}
    causes = _causes(POLICY_INFO, base)
    assert "spec.matchConstraints: Required value" in causes
    assert (
        "spec.validations: Required value: validations or auditAnnotations must contain at least one item"
        in causes
    )
    bad = {
        "metadata": {"name": "p"},
        "spec": {
            "failurePolicy": "Sometimes",
            "matchConstraints": {
                "matchPolicy": "Equivalent",
                "namespaceSelector": {},
                "objectSelector": {},
                "resourceRules": [{**RULE, "operations": []}],
            },
            "validations": [{"expression": "object.x <"}, {"expression": "true", "reason": "Other"}],
        },
    }
    causes = _causes(POLICY_INFO, bad)
    assert 'spec.failurePolicy: Unsupported value: "Sometimes": supported values: "Fail", "Ignore"' in causes
    assert "spec.matchConstraints.resourceRules[0].operations: Required value" in causes
    assert any(
        c.startswith(
            'spec.validations[0].expression: Invalid value: "object.x <": compilation failed: ERROR: '
        )
        for c in causes
    )
    assert any(c.startswith('spec.validations[1].reason: Unsupported value: "Other"') for c in causes)


def test_policy_defaults() -> None:
    policy = {"metadata": {"name": "p"}, "spec": {"matchConstraints": {"resourceRules": [dict(RULE)]}}}
    defaults.apply_defaults(POLICY_INFO, policy)
    assert policy["spec"]["failurePolicy"] == "Fail"
    match = policy["spec"]["matchConstraints"]
    assert (match["matchPolicy"], match["namespaceSelector"], match["objectSelector"]) == (
        "Equivalent",
        {},
        {},
    )
    assert match["resourceRules"][0]["scope"] == "*"


def test_binding_validation_and_defaults() -> None:
    binding = {"metadata": {"name": "b"}, "spec": {"validationActions": ["Deny", "Warn"], "paramRef": {}}}
    defaults.apply_defaults(BINDING_INFO, binding)
    assert binding["spec"]["paramRef"] == {"parameterNotFoundAction": "Deny"}
    causes = _causes(BINDING_INFO, binding)
    assert "spec.policyName: Required value" in causes
    assert "spec.paramRef: Required value: one of name or selector must be specified" in causes
    assert any("must not contain both Deny and Warn" in c for c in causes)


@pytest.mark.parametrize(
    ("ref", "shown"),
    [(None, "<unset>"), ({"name": "x", "namespace": "n"}, "n/x"), ({"name": "x"}, "*/x")],
)
def test_printers(ref: Any, shown: str) -> None:
    binding = {"metadata": {"name": "b"}, "spec": {"policyName": "p", "paramRef": ref}}
    assert VALIDATINGADMISSIONPOLICYBINDING.row(binding, lambda _: "1s") == ["b", "p", shown, "1s"]
    policy = {"metadata": {"name": "p"}, "spec": {"validations": [{}, {}]}}
    assert VALIDATINGADMISSIONPOLICY.row(policy, lambda _: "1s") == ["p", 2, "<unset>", "1s"]


# -- the plugin over a fake watch cache --------------------------------------------------------
class _Cache:
    def __init__(self, objects: dict[str, dict[str, Any]]) -> None:
        self.objects = objects

    def get(self, key: str) -> dict[str, Any] | None:
        return self.objects.get(key)

    def scope(self, prefix: str) -> list[dict[str, Any]]:
        return [o for k, o in self.objects.items() if k.startswith(prefix) and "/" not in k[len(prefix) :]]

    def changes(self, prefix: str) -> object:
        """A mark that moves when an object of the scope is replaced, added or removed (the
        plugin's remembered selections hold the objects, so no identity is reused)."""
        return tuple(map(id, self.scope(prefix)))


def _context(actions: list[str], extra: dict[str, Any] | None = None, disabled: tuple[str, ...] = ()) -> Any:
    from kprov.cluster.apiserver.config import ServerConfig
    from kprov.cluster.apiserver.context import ApiContext
    from kprov.cluster.storage import EtcdConfig

    policy = {
        "metadata": {"name": "p", "uid": "u1", "generation": 1},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": [{**RULE, "operations": ["*"], "resources": ["*", "*/*"]}]},
            "validations": [{"expression": "object.spec.replicas <= 5", "message": "at most 5"}],
        },
    }
    binding = {"metadata": {"name": "b"}, "spec": {"policyName": "p", "validationActions": actions}}
    objects = {
        "/registry/admissionregistration.k8s.io/validatingadmissionpolicies/p": policy,
        "/registry/admissionregistration.k8s.io/validatingadmissionpolicybindings/b": binding,
        "/registry/namespaces/n": {"metadata": {"name": "n", "labels": {}}},
        **(extra or {}),
    }
    config = ServerConfig(EtcdConfig(["http://127.0.0.1:2379"]), disable_admission_plugins=disabled)
    return ApiContext(config=config, registry=REGISTRY, store=None, cache=_Cache(objects))  # type: ignore[arg-type]


async def test_plugin_deny_warn_audit_and_no_bindings() -> None:
    from kprov.cluster.apiserver.admission import vap
    from kprov.cluster.apiserver.request import warning
    from kprov.cluster.apiserver.request.status import ApiError

    deployments: Any = REGISTRY.get("apps", "v1", "deployments")
    with pytest.raises(ApiError) as refused:
        await vap.validate(
            _context(["Deny"]), _creating(deployments, _deployment(10))
        )
    assert refused.value.code == 422 and refused.value.reason == "Invalid"
    assert refused.value.message == (
        'deployments.apps "d" is forbidden: '
        "ValidatingAdmissionPolicy 'p' with binding 'b' denied request: at most 5"
    )
    await vap.validate(
        _context(["Deny"]), _creating(deployments, _deployment(5))
    )
    warning.reset_request()
    await vap.validate(
        _context(["Warn", "Audit"]), _creating(deployments, _deployment(10))
    )
    assert warning.take_warnings() == [
        "Validation failed for ValidatingAdmissionPolicy 'p' with binding 'b': at most 5"
    ]
    annotations = warning.audit_annotations() or {}
    assert annotations[vap.FAILURE_ANNOTATION] == (
        '[{"message":"at most 5","policy":"p","binding":"b","expressionIndex":0,'
        '"validationActions":["Warn","Audit"]}]'
    )
    warning.reset_request()
    empty = _context(["Deny"])
    empty.cache.objects.pop("/registry/admissionregistration.k8s.io/validatingadmissionpolicybindings/b")
    await vap.validate(empty, _creating(deployments, _deployment(10)))


async def test_plugin_switched_off_by_disable_admission_plugins() -> None:
    from kprov.cluster.apiserver.admission import vap

    deployments: Any = REGISTRY.get("apps", "v1", "deployments")
    switched_off = _context(["Deny"], disabled=(vap.PLUGIN_NAME,))
    await vap.validate(switched_off, _creating(deployments, _deployment(10)))  # bound, but not asked


async def test_each_policy_sees_the_request_values_it_reads() -> None:
    """Values are converted only when a matching policy reads them: a second policy reading
    request, oldObject and namespaceObject still finds them after the first read only object."""
    from kprov.cluster.apiserver.admission import vap
    from kprov.cluster.apiserver.request.status import ApiError

    other = {
        "metadata": {"name": "q", "uid": "u2", "generation": 1},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": [{**RULE, "operations": ["*"], "resources": ["*"]}]},
            "validations": [{"expression": "request.operation == 'CREATE' && oldObject == null"
                             " && namespaceObject.metadata.name == 'n' && object.spec.replicas < 4",
                             "message": "q refused"}],
        },
    }
    extra = {
        "/registry/admissionregistration.k8s.io/validatingadmissionpolicies/q": other,
        "/registry/admissionregistration.k8s.io/validatingadmissionpolicybindings/c": {
            "metadata": {"name": "c"}, "spec": {"policyName": "q", "validationActions": ["Deny"]}},
    }
    deployments: Any = REGISTRY.get("apps", "v1", "deployments")
    server = _context(["Deny"], extra)  # one server: its CEL context is reused by each request
    await vap.validate(server, _creating(deployments, _deployment(3)))
    with pytest.raises(ApiError) as refused:
        await vap.validate(server, _creating(deployments, _deployment(4)))
    assert refused.value.message.endswith("with binding 'c' denied request: q refused")


async def test_the_remembered_selection_follows_every_change_of_the_stored_objects() -> None:
    """One server, the same kind of request each time: the selection remembered per set of
    stored bindings and policies is never used once one of them is replaced, added or
    removed, and a binding with a namespace selector is matched per request."""
    from kprov.cluster.apiserver.admission import vap
    from kprov.cluster.apiserver.request.status import ApiError

    deployments: Any = REGISTRY.get("apps", "v1", "deployments")
    server = _context(["Deny"])
    policies = "/registry/admissionregistration.k8s.io/validatingadmissionpolicies"
    bindings = "/registry/admissionregistration.k8s.io/validatingadmissionpolicybindings"
    objects = server.cache.objects
    await vap.validate(server, _creating(deployments, _deployment(4)))
    await vap.validate(server, _creating(deployments, _deployment(4)))  # (the remembered selection)
    stricter = copy.deepcopy(objects[f"{policies}/p"])  # the watch cache's replacement object
    stricter["metadata"]["generation"] = 2
    stricter["spec"]["validations"][0] = {"expression": "object.spec.replicas <= 3", "message": "at most 3"}
    objects[f"{policies}/p"] = stricter
    with pytest.raises(ApiError, match="at most 3"):
        await vap.validate(server, _creating(deployments, _deployment(4)))
    del objects[f"{bindings}/b"]
    await vap.validate(server, _creating(deployments, _deployment(4)))
    objects[f"{bindings}/b"] = {"metadata": {"name": "b"}, "spec": {
        "policyName": "p", "validationActions": ["Deny"],
        "matchResources": {"namespaceSelector": {"matchLabels": {"env": "prod"}}}}}
    await vap.validate(server, _creating(deployments, _deployment(4)))  # n is not prod
    objects["/registry/namespaces/n"] = {"metadata": {"name": "n", "labels": {"env": "prod"}}}
    with pytest.raises(ApiError, match="at most 3"):
        await vap.validate(server, _creating(deployments, _deployment(4)))


async def test_inputs_that_held_are_remembered_per_policy_version_and_only_when_they_decide() -> None:
    """A policy that reads nothing but the object's fields is answered from the inputs it
    held for (those fields, as JSON); an input that fails is never remembered, and a new
    version of the policy starts from nothing. A policy that reads another request value
    (here the user) is evaluated every time."""
    from kprov.cluster.apiserver.admission import vap
    from kprov.cluster.apiserver.identity import UserInfo
    from kprov.cluster.apiserver.request.status import ApiError

    deployments: Any = REGISTRY.get("apps", "v1", "deployments")
    server = _context(["Deny"])
    policies = "/registry/admissionregistration.k8s.io/validatingadmissionpolicies"
    await vap.validate(server, _creating(deployments, _deployment(3)))
    await vap.validate(server, _creating(deployments, _deployment(3, {"other": "labels"})))
    (selection,) = _caches(server).selections.values()
    (group,) = selection.groups
    assert group.held == {b'{"spec":{"replicas":3}}'}  # what the policy reads, nothing more
    for _ in range(2):  # a failing input is evaluated (and refused) every time
        with pytest.raises(ApiError, match="at most 5"):
            await vap.validate(server, _creating(deployments, _deployment(10)))
    assert group.held == {b'{"spec":{"replicas":3}}'}
    stricter = copy.deepcopy(server.cache.objects[f"{policies}/p"])
    stricter["metadata"]["generation"] = 2
    stricter["spec"]["validations"][0] = {"expression": "object.spec.replicas <= 2", "message": "at most 2"}
    server.cache.objects[f"{policies}/p"] = stricter
    with pytest.raises(ApiError, match="at most 2"):
        await vap.validate(server, _creating(deployments, _deployment(3)))
    by_user = copy.deepcopy(stricter)
    by_user["metadata"]["generation"] = 3
    by_user["spec"]["validations"][0] = {
        "expression": "request.userInfo.username != 'mallory' && object.spec.replicas <= 2",
        "message": "not mallory's"}
    server.cache.objects[f"{policies}/p"] = by_user
    alice, mallory = UserInfo("alice"), UserInfo("mallory")
    await vap.validate(server, AdmissionAttributes(deployments, "CREATE", _deployment(1), None, alice))
    with pytest.raises(ApiError, match="not mallory's"):
        await vap.validate(server, AdmissionAttributes(deployments, "CREATE", _deployment(1), None, mallory))
    grouped = [sel.groups is not None for sel in _caches(server).selections.values()]
    assert grouped == [True, True, False]  # one selection per version; the user's is never grouped


def test_a_groups_validations_run_as_one_program_true_only_when_each_is() -> None:
    """conjunction: one program over the distinct expressions (a trailing comment stays on its
    line), true exactly when every expression is the boolean true; false or an error otherwise."""
    from kprov.cluster.api.cel.environment import environment
    from kprov.cluster.apiserver.admission.vap.evaluator import conjunction

    def compiled(*texts: str) -> dict[str, Any]:  # (each distinct text once)
        return {text: environment().compile(text, {"object": "dyn"}) for text in texts}

    texts = ["object.spec.replicas <= 5 // at most five", "object.spec.replicas <= 5 // at most five",
             "has(object.metadata.name)", "object.metadata.name.startsWith('d')"]
    (program,) = conjunction(compiled(*texts))
    assert program.execute(activation_of({"object": _deployment(3)})) is True
    assert program.execute(activation_of({"object": _deployment(6)})) is False
    renamed = {**_deployment(3), "metadata": {"name": "e"}}
    assert program.execute(activation_of({"object": renamed})) is False
    with pytest.raises(Exception):  # noqa: B017 - the binding's error type is its own
        program.execute(activation_of({"object": {"metadata": {"name": "d"}, "spec": {}}}))
    (not_boolean,) = conjunction(compiled("object.spec.replicas", "true"))
    with pytest.raises(Exception):  # noqa: B017
        not_boolean.execute(activation_of({"object": _deployment(1)}))
    assert len(conjunction(compiled("true"))) == 1 and conjunction({}) == ()


async def test_plugin_connect_sees_the_options() -> None:
    from kprov.cluster.apiserver.admission import vap
    from kprov.cluster.apiserver.request.status import ApiError

    pods: Any = REGISTRY.get("", "v1", "pods")
    ctx = _context(["Deny"])
    policy = ctx.cache.objects["/registry/admissionregistration.k8s.io/validatingadmissionpolicies/p"]
    policy["spec"]["matchConstraints"]["resourceRules"] = [
        {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CONNECT"], "resources": ["pods/exec"]}
    ]
    policy["spec"]["validations"] = [{"expression": "!object.tty", "message": "no tty"}]
    options = {"kind": "PodExecOptions", "apiVersion": "v1", "tty": True}
    with pytest.raises(ApiError) as refused:
        await vap.validate(
            ctx, _connecting(pods, options, "exec", ("n", "web"))
        )
    assert 'pods "web" is forbidden' in refused.value.message and "no tty" in refused.value.message
    await vap.validate(
        ctx,
        AdmissionAttributes(
            pods, "CONNECT", {**options, "tty": False}, None, None, "exec", target=("n", "web")
        ),
    )


def test_string_extension_functions_are_there() -> None:
    compiled = compile_policy(
        {
            "metadata": {"name": "p"},
            "spec": {
                "validations": [{"expression": "object.metadata.name.lowerAscii().split('-')[0] == 'web'"}]
            },
        }
    )
    named = {"metadata": {"name": "WEB-1"}}
    assert compiled.evaluate(activation_of({"object": named})).decisions == []
    assert len(compiled.evaluate(activation_of({"object": {"metadata": {"name": "db-1"}}})).decisions) == 1


@pytest.mark.parametrize(
    ("expression", "refused"),
    [
        ("object.metadata.name.lowerAscii() == 'a'", None),
        ("params.max > 1", "ERROR: <input>:1:1: undeclared reference to 'params' (in container '')"),
        ("url('https://x').getHost() == 'x' && quantity('1').isInteger()", None),  # Kubernetes' libraries
        ("math.abs(-1) == 1", "undeclared reference to 'math'"),  # Kubernetes does not enable ext.Math
        ("matches(object.metadata.name, '^a')", None),  # the global form (Gateway API's safe-upgrades)
    ],
)
def test_expressions_checked_at_create(expression: str, refused: str | None) -> None:
    from kprov.cluster.api.validation.admission_policy import BASE_VARIABLES, check_expression

    found = check_expression(expression, BASE_VARIABLES)
    assert found == refused if refused is None else refused in str(found)


def test_an_expression_over_the_per_call_cost_limit_is_an_error_not_a_run() -> None:
    """As cel-go's tracker stops it (kube-apiserver's PerCallLimit, 1,000,000): the
    estimate on the values refuses it before the runtime spends the time."""
    nested = "object.items.all(a, object.items.all(b, object.items.all(c, a + b + c >= 0)))"
    compiled = compile_policy({"metadata": {"name": "p"}, "spec": {"validations": [{"expression": nested}]}})
    small = compiled.evaluate(activation_of({"object": {"items": list(range(10))}}))
    assert small.decisions == []
    (decision,) = compiled.evaluate(activation_of({"object": {"items": list(range(200))}})).decisions
    assert decision.error
    cancelled = "operation cancelled: actual cost limit exceeded"
    assert decision.message == f"expression '{nested}' resulted in error: {cancelled}"
