"""What ValidatingAdmissionPolicy costs a pod create, in process, and where it goes.

The server-level figure (bench_apiserver.py's ``vap_overhead_ratio``) moves ±10% between runs
on this 2-core machine, more than a change of ten microseconds; this measures the plugin alone
against a watch-cache stand-in holding bench_apiserver's ten one-rule policies and their
bindings. Each create is a pod of its own name, as in bench_apiserver (three of the ten
policies read the name's size, so their inputs repeat by length; the others' repeat). Prints:
  vap_validate_us             one pod create through the plugin (every policy holds)
  vap_validate_same_input_us  the same pod again and again (a Deployment's replicas, as far
                              as policies reading no name see them): every group of policies
                              answered from the inputs it held for before, no CEL run
  vap_convert_object_us       converting the request's object, pruned to what all ten
                              policies read, into CEL (what one create paid before the
                              held-input memo)
  vap_programs_us             running the ten validations against it (the same)
  vap_validate_cold_us, vap_validate_same_input_cold_us, vap_convert_object_cold_us,
  vap_programs_cold_us        the same with the CPU's caches cold: a walk over ~300,000 small
                              objects (as a busy server's other requests touch) before each
                              call, its own time left out. The CEL binding's calls cost several
                              times their warm figure then (~10 us even to add an int); the
                              server's profile (bench_apiserver --only-admission --profile) shows
                              the cold figures, not the warm ones
Run: .venv/bin/python tests/bench/bench_vap.py
"""

from __future__ import annotations

import asyncio
import gc
import sys
import time
import timeit
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script: the repo root

from kprov.cluster.api.resources import REGISTRY  # noqa: E402
from kprov.cluster.apiserver.admission import vap  # noqa: E402
from kprov.cluster.apiserver.admission.vap.evaluator import activation_of, compile_policy  # noqa: E402
from kprov.cluster.apiserver.admission.vap.reads import merge_reads, prune  # noqa: E402
from kprov.cluster.apiserver.attributes import AdmissionAttributes  # noqa: E402
from kprov.cluster.apiserver.config import ServerConfig  # noqa: E402
from kprov.cluster.apiserver.context import ApiContext  # noqa: E402
from kprov.cluster.apiserver.identity import UserInfo  # noqa: E402
from kprov.cluster.storage import EtcdConfig  # noqa: E402
from tests.bench.bench_apiserver import VAP_POLICIES, _pod, _vap_policy  # noqa: E402

ROUNDS = 20_000
COLD_ROUNDS = 1_000
_GROUP = "/registry/admissionregistration.k8s.io"


class _Cache:
    """The three watch-cache calls the plugin makes, as cheap as the cache's own: get (one
    lookup in the key's scope), scope (a fresh list of one scope's objects) and changes (a
    scope's change mark)."""

    def __init__(self, objects: dict[str, dict[str, Any]]) -> None:
        self.scopes: dict[str, dict[str, dict[str, Any]]] = {}
        for key, obj in objects.items():
            self.scopes.setdefault(key.rsplit("/", 1)[0] + "/", {})[key] = obj

    def get(self, key: str) -> dict[str, Any] | None:
        return self.scopes.get(key.rsplit("/", 1)[0] + "/", {}).get(key)

    def scope(self, prefix: str) -> list[dict[str, Any]]:
        return list(self.scopes.get(prefix, {}).values())

    def changes(self, prefix: str) -> tuple[int, int]:
        return 0, 0  # (the bench's objects never change)


def _context() -> ApiContext:
    objects: dict[str, dict[str, Any]] = {"/registry/namespaces/default": {"metadata": {"name": "default"}}}
    for i in range(VAP_POLICIES):
        policy = _vap_policy(i)
        policy["metadata"].update(uid=f"bench-{i}", generation=1)
        objects[f"{_GROUP}/validatingadmissionpolicies/bench-{i}"] = policy
        objects[f"{_GROUP}/validatingadmissionpolicybindings/bench-{i}"] = {
            "metadata": {"name": f"bench-{i}"},
            "spec": {"policyName": f"bench-{i}", "validationActions": ["Deny"]}}
    config = ServerConfig(EtcdConfig(["http://127.0.0.1:2379"]))
    return ApiContext(config=config, registry=REGISTRY, store=None, cache=_Cache(objects))  # type: ignore[arg-type]


def main() -> None:
    ctx = _context()
    info = REGISTRY.get("", "v1", "pods")
    assert info is not None
    user = UserInfo("admin", ("system:masters",))

    def create(name: str) -> AdmissionAttributes:
        pod = {**_pod(name), "metadata": {"name": name, "namespace": "default", "labels": {"app": "bench"}}}
        return AdmissionAttributes(info, "CREATE", pod, None, user)

    fresh = iter([create(f"p{i}") for i in range(ROUNDS + COLD_ROUNDS + 200)])
    same = create("p-same")

    async def creates(count: int, pick: Any) -> float:
        start = time.perf_counter()
        for _ in range(count):
            await vap.validate(ctx, pick())
        return time.perf_counter() - start

    asyncio.run(creates(200, lambda: next(fresh)))  # compiled, remembered
    validate_us = asyncio.run(creates(ROUNDS, lambda: next(fresh))) / ROUNDS * 1e6
    same_us = asyncio.run(creates(ROUNDS, lambda: same)) / ROUNDS * 1e6
    compiled = [compile_policy(_vap_policy(i)) for i in range(VAP_POLICIES)]
    tree = merge_reads(c.field_reads for c in compiled)["object"]
    pruned = prune(same.obj, tree)
    activation = activation_of({})
    convert = timeit.timeit(lambda: activation.add_variable("object", pruned), number=ROUNDS)
    convert_us = convert / ROUNDS * 1e6
    programs = [v.expression.program for c in compiled for v in c.validations]

    def run_all() -> None:
        for program in programs:
            program.execute(activation)

    programs_us = timeit.timeit(run_all, number=ROUNDS) / ROUNDS * 1e6
    print(f"vap_policies = {VAP_POLICIES}")
    print(f"vap_validate_us = {validate_us:.1f}")
    print(f"vap_validate_same_input_us = {same_us:.1f}")
    print(f"vap_convert_object_us = {convert_us:.1f}")
    print(f"vap_programs_us = {programs_us:.1f}")
    crowd: list[dict[str, Any]] = [
        {"metadata": {"name": f"p{i}", "labels": {"a": str(i)}}, "spec": {"containers": []}}
        for i in range(300_000)
    ]

    def cold(call: Any) -> float:
        """Microseconds per ``call()`` right after a walk over ``crowd`` evicted the caches."""
        spent = 0.0
        for _ in range(COLD_ROUNDS):
            for i in range(0, len(crowd), 97):
                crowd[i]["metadata"]["name"]  # noqa: B018 - the read is the point
            start = time.perf_counter()
            call()
            spent += time.perf_counter() - start
        return spent / COLD_ROUNDS * 1e6

    gc.disable()  # (the crowd makes collections slow; neither side should pay one)
    try:
        loop = asyncio.new_event_loop()
        validate_cold = cold(lambda: loop.run_until_complete(vap.validate(ctx, next(fresh))))
        same_cold = cold(lambda: loop.run_until_complete(vap.validate(ctx, same)))
        loop.close()
        convert_cold = cold(lambda: activation.add_variable("object", pruned))
        programs_cold = cold(run_all)
    finally:
        gc.enable()
    print(f"vap_validate_cold_us = {validate_cold:.1f}")
    print(f"vap_validate_same_input_cold_us = {same_cold:.1f}")
    print(f"vap_convert_object_cold_us = {convert_cold:.1f}")
    print(f"vap_programs_cold_us = {programs_cold:.1f}")


if __name__ == "__main__":
    main()
