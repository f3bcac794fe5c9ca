"""ValidatingAdmissionPolicy's pruning of the request objects to what the expressions read:
an expression sees the same on the pruned object as on the whole one (a pruning that drops a
field an expression reads makes it fail or err here), and the pruning does prune."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kprov.cluster.api.resources import REGISTRY
from kprov.cluster.apiserver import _lib
from kprov.cluster.apiserver.admission.vap.evaluator import activation_of, compile_policy
from kprov.cluster.apiserver.admission.vap.reads import ROOTS, expression_reads, held_key, merge_reads, prune
from kprov.cluster.apiserver.attributes import AdmissionAttributes
from kprov.cluster.apiserver.handlers.lifecycle import prepare_create
from tests.unit.test_validating_admission_policy import _context

PODS: Any = REGISTRY.get("", "v1", "pods")


def _stored_pod() -> dict[str, Any]:
    """A pod as the API server holds it: defaulted, with managedFields."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "labels": {"app": "bench", "tier": "web"}},
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": "registry.local/bench:1",
                    "command": ["sleep", "3600"],
                    "ports": [{"containerPort": 8080}],
                    "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                    "env": [{"name": "A", "value": "1"}],
                },
                {"name": "side", "image": "registry.local/side:2"},
            ],
            "volumes": [{"name": "v", "emptyDir": {}}],
        },
    }
    obj = prepare_create(PODS, pod, "n")
    _lib.apply_defaults(PODS, obj)
    _lib.record_update(PODS, None, obj, "bench")
    return obj


# Each is true of the stored pod: pruned to what it reads, it must stay true.
TRUE_OF_THE_POD = [
    "object.spec.containers.size() <= 20",
    "size(object.metadata.name) <= 63",
    "object.spec.containers.all(c, c.image != '' && !c.image.endsWith(':latest'))",
    "!has(object.metadata.labels) || !('vap-probe' in object.metadata.labels)",
    "object.spec.containers.exists(c, c.ports.exists(p, p.containerPort == 8080 && p.protocol == 'TCP'))",
    "object.spec.containers.map(c, c.resources).exists(r, has(r.requests) && r.requests.cpu == '10m')",
    "object.spec.containers.filter(c, c.name == 'c').all(c, c.imagePullPolicy == 'IfNotPresent')",
    "object.spec.containers.map(c, c).exists(c, c.command[0] == 'sleep')",
    "object.spec.containers.exists_one(c, has(c.env) && size(c.env) == 1 && c.env[0].value == '1')",
    "object.spec.tolerations[0].key == 'node.kubernetes.io/not-ready'",
    "has(object.spec.securityContext) && !has(object.spec.hostNetwork) && object.spec.volumes.size() == 1",
    "object.metadata.managedFields.exists(m, m.manager == 'bench')",
    "object.metadata.labels.all(k, k.size() < 10) && object.metadata.labels.tier == 'web'",
    "object.status.phase == 'Pending' && object.spec.dnsPolicy == 'ClusterFirst'",
    "object.spec.containers.all(c, object.spec.containers.exists(d, d.name == c.name))",
    "object.metadata.name.endsWith(')') || object.spec.restartPolicy == 'Always' // a comment )",
    "object.spec.containers.all(c, c.terminationMessagePolicy == 'File') && object.spec == object.spec",
    "object.spec.volumes.all(v, has(v.emptyDir)) && size(object.spec.volumes[0].emptyDir) == 0",
    "size(object.metadata.labels) == 2 && object.spec.containers[0].resources.requests.size() == 2",
    "object.spec.containers.all(c, c.resources.size() < 2)",
]
# Each errs on the stored pod: pruned, it must err the same way.
ERRS_ON_THE_POD = [
    "object.spec.containers.all(c, c.missing == 1)",
    "object.spec.nothere.x == 1",
    "object.spec.containers.exists(c, c.image.size() > 1000 || c.workingDir == '/')",
]


def _run(expression: str, obj: Any) -> Any:
    program = compile_policy(
        {"metadata": {"name": "p"}, "spec": {"validations": [{"expression": expression}]}}
    ).validations[0].expression.program
    try:
        return program.execute(activation_of({"object": obj}))
    except Exception as exc:  # the error is part of what must not change
        return f"error: {exc}"


@pytest.mark.parametrize("expression", TRUE_OF_THE_POD)
def test_a_pruned_object_gives_the_same_result(expression: str) -> None:
    pod = _stored_pod()
    pruned = prune(pod, expression_reads(expression, ROOTS)["object"])
    assert _run(expression, pod) is True
    assert _run(expression, pruned) is True


@pytest.mark.parametrize("expression", ERRS_ON_THE_POD)
def test_a_pruned_object_gives_the_same_error(expression: str) -> None:
    pod = _stored_pod()
    pruned = prune(pod, expression_reads(expression, ROOTS)["object"])
    assert str(_run(expression, pod)).startswith("error: ")
    assert _run(expression, pruned) == _run(expression, pod)


def test_all_expressions_together_see_what_each_reads() -> None:
    pod = _stored_pod()
    reads = merge_reads(expression_reads(e, ROOTS) for e in TRUE_OF_THE_POD)
    pruned = prune(pod, reads["object"])
    assert all(_run(e, pruned) is True for e in TRUE_OF_THE_POD)


def test_what_is_kept() -> None:
    """The bench's one-rule policies read a handful of the stored pod's fields."""
    pod = _stored_pod()
    expressions = TRUE_OF_THE_POD[:4]
    pruned = prune(pod, merge_reads(expression_reads(e, ROOTS) for e in expressions)["object"])
    assert pruned == {
        "metadata": {"name": "web", "labels": {"app": "bench", "tier": "web"}},
        "spec": {"containers": [{"image": "registry.local/bench:1"}, {"image": "registry.local/side:2"}]},
    }
    assert len(json.dumps(pruned)) * 10 < len(json.dumps(pod))


@pytest.mark.parametrize(
    ("expression", "reads"),
    [
        ("object.spec.replicas > 1", {"object": {"spec": {"replicas": None}}}),
        ("object.spec.containers[0].image == ''", {"object": {"spec": {"containers": None}}}),
        ("object.spec.containers.size() > 0", {"object": {"spec": {"containers": {"*": {}}}}}),
        ("has(object.spec.x)", {"object": {"spec": {"x": {}}}}),
        ("object.a.filter(c, c.b).size() > 0", {"object": {"a": None}}),  # filter returns elements
        ("object.a.all(i, v, v.b)", {"object": {"a": None}}),  # not the one-variable form
        ("object.a.all(c, c.b.c)", {"object": {"a": {"*": {"b": {"c": None}}}}}),
        ("object.a.__dash__b == 1", {"object": {"a": None}}),  # an escaped name
        ("object == oldObject", {"object": None, "oldObject": None}),
        ("r'\\\\' == object.a.b", {"object": None}),  # beyond the scanner: whole
        ("namespaceObject.metadata.labels.env == 'prod'",
         {"namespaceObject": {"metadata": {"labels": {"env": None}}}}),
        ("request.operation == 'CREATE'", {}),
    ],
)
def test_read_paths(expression: str, reads: dict[str, Any]) -> None:
    assert expression_reads(expression, ROOTS) == reads


def test_prune_keeps_everything_a_path_does_not_shape() -> None:
    assert prune({"a": [1, 2], "b": 1}, {"a": {"x": None}}) == {"a": [1, 2]}  # a list under a field
    assert prune({"a": "s"}, {"a": {"*": {}}}) == {"a": "s"}  # a scalar
    assert prune({"m": {"k": {"x": 1, "y": 2}}}, {"m": {"*": {"x": None}}}) == {"m": {"k": {"x": 1}}}


async def test_policies_of_one_request_see_the_union_of_their_reads() -> None:
    """Two policies on one request: one reads only the containers' count, the other a
    variable, a validation and a messageExpression over other fields of the stored pod."""
    from kprov.cluster.apiserver.admission import vap
    from kprov.cluster.apiserver.request.status import ApiError

    ctx = _context(["Deny"])
    rule = {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"]}
    policy = ctx.cache.objects["/registry/admissionregistration.k8s.io/validatingadmissionpolicies/p"]
    policy["spec"]["matchConstraints"]["resourceRules"] = [rule]
    policy["spec"]["validations"] = [{"expression": "object.spec.containers.size() <= 20"}]
    other = {
        "metadata": {"name": "q", "uid": "u2", "generation": 1},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": [rule]},
            "variables": [{"name": "phase", "expression": "object.status.phase"}],
            "validations": [{
                "expression": "variables.phase != 'Pending' || object.spec.containers.all(c, c.name == 'c')",
                "messageExpression": "'image ' + object.spec.containers[1].image",
            }],
        },
    }
    ctx.cache.objects.update({
        "/registry/admissionregistration.k8s.io/validatingadmissionpolicies/q": other,
        "/registry/admissionregistration.k8s.io/validatingadmissionpolicybindings/c": {
            "metadata": {"name": "c"}, "spec": {"policyName": "q", "validationActions": ["Deny"]}},
    })
    with pytest.raises(ApiError) as refused:
        await vap.validate(ctx, AdmissionAttributes(PODS, "CREATE", _stored_pod(), None, None))
    assert refused.value.message == (
        "pods \"web\" is forbidden: ValidatingAdmissionPolicy 'q' with binding 'c' denied request: "
        "image registry.local/side:2"
    )


def test_held_keys_keep_a_size_only_string_as_its_lengths() -> None:
    """A string read only by size() keys by its lengths (code points and UTF-8 bytes, as the
    binding counts bytes): equal lengths share a key, and each key's outcome is the binding's
    for every string it stands for; anything else read of it, or another type, keeps it."""
    sized = expression_reads("size(object.metadata.name) <= 3", {"object"})["object"]
    program = compile_policy({"spec": {"validations": [
        {"expression": "size(object.metadata.name) <= 3"}]}}).validations[0].expression.program
    names = ["abc", "xyz", "abcd", "ü", "üa", "a", "€", "abü", "😀", "ab"]
    by_key: dict[bytes, set[bool]] = {}
    for name in names:
        obj = {"metadata": {"name": name, "uid": "u"}}
        outcome = program.execute(activation_of({"object": prune(obj, sized)}))
        by_key.setdefault(held_key(obj, sized), set()).add(outcome)
    assert all(len(outcomes) == 1 for outcomes in by_key.values())  # one key, one outcome
    assert held_key({"metadata": {"name": "abc"}}, sized) == held_key({"metadata": {"name": "xyz"}}, sized)
    assert held_key({"metadata": {"name": "ü"}}, sized) != held_key({"metadata": {"name": "ab"}}, sized)
    assert held_key({"metadata": {"name": "ü"}}, sized) != held_key({"metadata": {"name": "a"}}, sized)
    abc = held_key({"metadata": {"name": "abc"}}, sized)
    for other in (["a", "b", "c"], {"a": 1, "b": 2, "c": 3}, None, 3):  # not a string: kept as it is
        assert held_key({"metadata": {"name": other}}, sized) != abc
    whole = expression_reads("object.metadata.name.startsWith('a')", {"object"})["object"]
    assert held_key({"metadata": {"name": "abc"}}, whole) != held_key({"metadata": {"name": "axy"}}, whole)
    assert held_key({"metadata": {"name": "abc"}}, whole) == json.dumps(
        {"metadata": {"name": "abc"}}, separators=(",", ":")).encode()
