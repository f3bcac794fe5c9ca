"""The admission chain: one function runs every plugin's steps, in the declared order.

The first test reads the API server's source: a call to any plugin's entry point (an
admit/validate function a step runs, or one an adapter of the plugin list wraps) anywhere
but the plugin list itself is a second place admission is invoked, and fails.
"""

from __future__ import annotations

import ast
import asyncio
import importlib
from importlib.util import resolve_name
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from kprov.cluster.api.resources import REGISTRY
from kprov.cluster.apiserver.admission import plugins as plugin_list
from kprov.cluster.apiserver.admission.chain import AdmissionChain, Plugin, Step
from kprov.cluster.apiserver.admission.metrics import AdmissionMetrics
from kprov.cluster.apiserver.attributes import AdmissionAttributes, Stage

APISERVER = Path(plugin_list.__file__).resolve().parents[1]
PACKAGE = "kprov.cluster.apiserver"


async def _never(*args: Any, **kwargs: Any) -> dict[str, Any]:
    raise AssertionError("not called")


def _aliases(tree: ast.Module, module: str) -> dict[str, str]:
    """Local name -> the dotted name it was imported as (relative imports resolved)."""
    out: dict[str, str] = {}
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                out[alias.asname or top] = alias.name if alias.asname else top
        elif isinstance(node, ast.ImportFrom):
            base = resolve_name("." * node.level + (node.module or ""), package)
            for alias in node.names:
                out[alias.asname or alias.name] = f"{base}.{alias.name}"
    return out


def _resolve(dotted: str) -> Any:
    """The object a dotted name denotes (a module's attribute, a package's module), or None."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            found = getattr(found, name, None)
            if found is None:
                return None
        return found
    return None


def _callee(call: ast.Call, aliases: dict[str, str]) -> str | None:
    func = call.func
    if isinstance(func, ast.Name) and func.id in aliases:
        return aliases[func.id]
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in aliases:
        return f"{aliases[func.value.id]}.{func.attr}"
    return None


def _module_of(path: Path) -> str:
    rel = path.relative_to(APISERVER).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join([PACKAGE, *parts])


def _entry_points() -> set[Any]:
    """Every function a step runs, and every plugin function the plugin list's adapters call."""
    steps = {step.run for plugin in plugin_list.default_plugins(_never) for step in plugin.steps}
    path = Path(plugin_list.__file__)
    tree = ast.parse(path.read_text())
    aliases = _aliases(tree, plugin_list.__name__)
    functions = (ast.AsyncFunctionDef, ast.FunctionDef)  # (an adapter may return the coroutine)
    adapters = {f.name for f in tree.body if isinstance(f, functions) and f.name.startswith("_")}
    called: set[Any] = set()
    for node in tree.body:
        if isinstance(node, functions) and node.name in adapters:
            for call in (n for n in ast.walk(node) if isinstance(n, ast.Call)):
                dotted = _callee(call, aliases)
                found = _resolve(dotted) if dotted else None
                if callable(found) and getattr(found, "__module__", "").startswith(f"{PACKAGE}.admission"):
                    called.add(found)
    # (quota's step is an object holding the writer: its class is the entry point)
    entry = {s for s in steps if getattr(s, "__module__", None) != plugin_list.__name__} | called
    return {e for e in entry if not isinstance(e, plugin_list.ResourceQuota)} | {plugin_list.ResourceQuota}


def test_admission_is_invoked_only_through_the_chain() -> None:
    entry = _entry_points()
    assert len(entry) >= 15  # the list's plugins (a broken resolution would pass vacuously)
    bad = []
    for path in sorted(APISERVER.rglob("*.py")):
        module = _module_of(path)
        if module == plugin_list.__name__:
            continue
        tree = ast.parse(path.read_text())
        aliases = _aliases(tree, module if path.name != "__init__.py" else f"{module}.__init__")
        for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
            dotted = _callee(call, aliases)
            found = _resolve(dotted) if dotted else None
            if found is not None and getattr(found, "__hash__", None) and found in entry:
                bad.append(f"{path.relative_to(APISERVER)}:{call.lineno} calls {dotted}")
    assert not bad, "admission invoked outside the chain:\n" + "\n".join(bad)


def test_the_declared_order_for_a_pod() -> None:
    chain = AdmissionChain(plugin_list.default_plugins(_never))
    pods = REGISTRY.get("", "v1", "pods")
    assert pods is not None
    assert chain.names(Stage.MUTATE, "CREATE", pods) == ["LimitRanger", "MutatingAdmissionWebhook"]
    assert chain.names(Stage.VALIDATE, "CREATE", pods) == [
        "PodSecurity", "ValidatingAdmissionPolicy", "ValidatingAdmissionWebhook"
    ]
    assert chain.names(Stage.VALIDATE, "DELETE", pods) == [
        "NodeRestriction", "ValidatingAdmissionPolicy", "ValidatingAdmissionWebhook"
    ]
    assert chain.names(Stage.STORE, "CREATE", pods) == [
        "NodeRestriction", "NamespaceLifecycle", "Priority", "RuntimeClass", "ServiceAccount", "ResourceQuota"
    ]
    connect = chain.names(Stage.VALIDATE, "CONNECT", pods)
    assert connect == ["ValidatingAdmissionPolicy", "ValidatingAdmissionWebhook"]
    disabled = AdmissionChain(plugin_list.default_plugins(_never), {"NodeRestriction", "LimitRanger"})
    assert "ServiceAccount" not in disabled.names(Stage.STORE, "CREATE", pods)
    assert disabled.names(Stage.MUTATE, "CREATE", pods) == ["LimitRanger"]


def test_a_binding_is_admitted_as_a_subresource_create() -> None:
    """pods/binding: the webhooks, the policies and the namespace's lifecycle see the Binding;
    the plugins that read a pod (LimitRanger, Pod Security, quota, ...) are not asked."""
    chain = AdmissionChain(plugin_list.default_plugins(_never))
    pods = REGISTRY.get("", "v1", "pods")
    assert pods is not None
    assert chain.names(Stage.MUTATE, "CREATE", pods, "binding") == ["MutatingAdmissionWebhook"]
    assert chain.names(Stage.VALIDATE, "CREATE", pods, "binding") == [
        "ValidatingAdmissionPolicy", "ValidatingAdmissionWebhook"
    ]
    # NodeRestriction's eviction check is a subresource create's step (it passes a Binding by)
    for subresource in ("binding", "eviction"):
        names = chain.names(Stage.STORE, "CREATE", pods, subresource)
        assert names == ["NodeRestriction", "NamespaceLifecycle"]
    # an UPDATE of a subresource (status) keeps the resource's plugins
    assert "NodeRestriction" in chain.names(Stage.STORE, "UPDATE", pods, "status")


def test_a_subresource_create_has_its_own_plan() -> None:
    seen: list[str] = []

    async def everywhere(ctx: Any, attrs: AdmissionAttributes) -> None:
        seen.append(f"everywhere {attrs.subresource}")

    async def objects_only(ctx: Any, attrs: AdmissionAttributes) -> None:
        seen.append(f"objects only {attrs.subresource}")

    chain = AdmissionChain([
        Plugin("A", (Step(Stage.VALIDATE, frozenset({"CREATE"}), everywhere, subresource_creates=True),)),
        Plugin("B", (Step(Stage.VALIDATE, frozenset({"CREATE"}), objects_only),)),
    ])
    ctx: Any = SimpleNamespace()
    pods = REGISTRY.get("", "v1", "pods")
    assert pods is not None
    pod = AdmissionAttributes(pods, "CREATE", {"metadata": {"name": "p"}}, None, None)
    binding = AdmissionAttributes(
        pods, "CREATE", {"kind": "Binding"}, None, None, "binding", target=("ns", "p")
    )
    for attrs in (pod, binding, pod, binding):  # each keeps its plan: the first never serves the other
        asyncio.run(chain.run(ctx, Stage.VALIDATE, attrs))
    assert seen == ["everywhere ", "objects only ", "everywhere binding"] * 2
    assert binding.subresource_object and not pod.subresource_object


def test_a_step_for_subresource_creates_only_costs_the_resource_nothing() -> None:
    seen: list[str] = []

    async def subresources_only(ctx: Any, attrs: AdmissionAttributes) -> None:
        seen.append(attrs.subresource)

    step = Step(Stage.STORE, frozenset({"CREATE"}), subresources_only, subresource_creates=True,
                only_subresource_creates=True)
    chain = AdmissionChain([Plugin("A", (step,))])
    pods = REGISTRY.get("", "v1", "pods")
    assert pods is not None
    pod = AdmissionAttributes(pods, "CREATE", {"metadata": {"name": "p"}}, None, None)
    eviction = AdmissionAttributes(pods, "CREATE", {"kind": "Eviction"}, None, None, "eviction")
    for attrs in (pod, eviction, pod):
        asyncio.run(chain.run(SimpleNamespace(), Stage.STORE, attrs))  # type: ignore[arg-type]
    assert seen == ["eviction"]
    assert chain.names(Stage.STORE, "CREATE", pods) == []


def test_a_subresource_objects_kind_is_its_own() -> None:
    """Upstream's request kind: an Eviction is policy/v1 though the resource is core pods."""
    pods = REGISTRY.get("", "v1", "pods")
    assert pods is not None
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "p"}}
    evicting = AdmissionAttributes(pods, "CREATE", eviction, None, None, "eviction")
    assert evicting.kind == ("policy", "v1", "Eviction")
    binding = {"apiVersion": "v1", "kind": "Binding"}
    assert AdmissionAttributes(pods, "CREATE", binding, None, None, "binding").kind == ("", "v1", "Binding")
    connect = AdmissionAttributes(pods, "CONNECT", {"kind": "PodExecOptions"}, None, None, "exec")
    assert connect.kind == ("", "v1", "PodExecOptions")
    not_a_subresource = AdmissionAttributes(pods, "CREATE", eviction, None, None)
    assert not_a_subresource.kind == ("", "v1", "Pod")


def _attrs(operation: str = "CREATE") -> AdmissionAttributes:
    info = REGISTRY.get("", "v1", "configmaps")
    assert info is not None
    return AdmissionAttributes(info, operation, {"metadata": {"name": "a"}}, None, None)


def test_steps_run_in_order_and_mutations_carry() -> None:
    seen: list[str] = []
    asked: list[str] = []

    def handles(info: Any) -> bool:
        asked.append(info.resource)
        return True

    async def first(ctx: Any, attrs: AdmissionAttributes) -> dict[str, Any]:
        seen.append("first")
        return {**attrs.obj, "data": {"k": "v"}}

    async def second(ctx: Any, attrs: AdmissionAttributes) -> None:
        seen.append(f"second saw {attrs.obj.get('data')}")

    async def deleting(ctx: Any, attrs: AdmissionAttributes) -> None:
        seen.append("delete only")

    chain = AdmissionChain([
        Plugin("A", (Step(Stage.MUTATE, frozenset({"CREATE"}), first, handles),)),
        Plugin("B", (Step(Stage.MUTATE, frozenset({"CREATE"}), second),
                     Step(Stage.MUTATE, frozenset({"DELETE"}), deleting))),
    ])
    ctx: Any = SimpleNamespace()
    out = asyncio.run(chain.run(ctx, Stage.MUTATE, _attrs()))
    assert out.obj["data"] == {"k": "v"}
    assert seen == ["first", "second saw {'k': 'v'}"]
    asyncio.run(chain.run(ctx, Stage.MUTATE, _attrs()))
    assert asked == ["configmaps"]  # the plan was kept: handles asked once per resource
    assert asyncio.run(chain.run(ctx, Stage.VALIDATE, _attrs())).obj == {"metadata": {"name": "a"}}


def test_metrics_per_plugin_and_stage_with_rejections() -> None:
    async def ok(ctx: Any, attrs: AdmissionAttributes) -> None:
        return None

    async def refuse(ctx: Any, attrs: AdmissionAttributes) -> None:
        raise PermissionError("no")

    metrics = AdmissionMetrics()
    chain = AdmissionChain(
        [Plugin("Ok", (Step(Stage.VALIDATE, frozenset({"CREATE"}), ok),)),
         Plugin("No", (Step(Stage.VALIDATE, frozenset({"CREATE"}), refuse),))],
        metrics=metrics,
    )
    with pytest.raises(PermissionError):
        asyncio.run(chain.run(SimpleNamespace(), Stage.VALIDATE, _attrs()))  # type: ignore[arg-type]
    assert sum(metrics.plugins[("Ok", "CREATE", "validate")].admitted.counts) == 1
    assert sum(metrics.plugins[("No", "CREATE", "validate")].rejected.counts) == 1
    assert sum(metrics.steps[("CREATE", "validate")].rejected.counts) == 1
    families = {m.name: m for m in metrics.collect()}
    samples = families["apiserver_admission_controller_admission_duration_seconds"].samples
    assert {s.labels["name"] for s in samples} == {"Ok", "No"}
    rejected = {s.labels["rejected"] for s in samples if s.labels["name"] == "No"}
    assert rejected == {"true"}


def test_step_times_land_in_the_buckets_histogram_observe_picks() -> None:
    """The chain's written-out observation puts each step where Histogram.observe would: a
    quick step in the first bucket, a slow one (past 5 ms) further up, the sums their times."""
    from kprov.cluster.apiserver.admission.metrics import ADMISSION_BUCKETS
    from kprov.cluster.client.metrics import Histogram

    async def quick(ctx: Any, attrs: AdmissionAttributes) -> None:
        return None

    async def slow(ctx: Any, attrs: AdmissionAttributes) -> None:
        await asyncio.sleep(0.03)  # past the 0.025 s bound

    metrics = AdmissionMetrics()
    chain = AdmissionChain(
        [Plugin("Quick", (Step(Stage.MUTATE, frozenset({"CREATE"}), quick),)),
         Plugin("Slow", (Step(Stage.MUTATE, frozenset({"CREATE"}), slow),))],
        metrics=metrics,
    )
    asyncio.run(chain.run(SimpleNamespace(), Stage.MUTATE, _attrs()))  # type: ignore[arg-type]
    for name in ("Quick", "Slow"):
        got = metrics.plugins[(name, "CREATE", "admit")].admitted
        expected = Histogram(ADMISSION_BUCKETS)
        expected.observe(got.total)
        assert got.counts == expected.counts, name
    assert metrics.plugins[("Quick", "CREATE", "admit")].admitted.counts[0] == 1
    assert metrics.plugins[("Slow", "CREATE", "admit")].admitted.counts[0] == 0
    whole = metrics.steps[("CREATE", "admit")].admitted
    slow_total = metrics.plugins[("Slow", "CREATE", "admit")].admitted.total
    assert sum(whole.counts) == 1 and whole.total >= slow_total
