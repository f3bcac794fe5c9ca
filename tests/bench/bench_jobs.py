"""Jobs: how fast the job controller drives Jobs of one completion to Complete on hollow nodes.

Starts a local etcd + kprov-apiserver (kprov.local), the real kprov-scheduler, a
kprov-controller-manager running only the job controller (so its CPU is the job
controller's), and ``kprov-hollow-nodes`` (the scheduler bench's hollow nodes: a Job's pod
is marked Succeeded ``--complete-after`` seconds after it is seen bound). Once every node is
Ready it creates ``--jobs`` Jobs of one completion as fast as the API takes them and watches
them until each has the Complete condition.

Prints ``jobs`` (how many), ``jobs_completed_per_s`` (jobs / time from the first create to
the last Complete; the issue's target is >= 50), ``job_complete_p50_s``/``job_complete_p99_s``
(create -> Complete seen) and ``job_controller_cpu_ms_per_job`` (the controller manager's
CPU over the timed section / jobs), plus ``cpu_s_<process>`` for the other processes.

    python tests/bench/bench_jobs.py [--jobs 1000] [--nodes 50]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from kprov.cluster.client import ApiClient, resources  # noqa: E402
from kprov.local import LocalControlPlane  # noqa: E402
from kprov.local.processes import pid_of  # noqa: E402
from kprov.pki import CONTROLLER_MANAGER_CN, SCHEDULER_CN  # noqa: E402
from tests.bench.bench_density import _ready, cpu_s, p99  # noqa: E402
from tests.integration.controllers.hollow import ensure_namespace, start_component, stop_component  # noqa: E402

NAMESPACE = "bench-jobs"


def job(name: str) -> dict:
    return {
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {
                            "name": "c",
                            "image": "registry.k8s.io/pause:3.9",
                            "resources": {"requests": {"cpu": "10m", "memory": "10Mi"}},
                        }
                    ],
                }
            }
        },
    }


def _complete(obj: dict) -> bool:
    return any(
        c.get("type") == "Complete" and c.get("status") == "True"
        for c in (obj.get("status") or {}).get("conditions") or []
    )


async def run(plane_dir: Path, count: int, nodes: int, complete_after: float) -> dict[str, float]:
    plane = LocalControlPlane(plane_dir, start_components=False)
    info = plane.up()
    procs: dict[str, subprocess.Popen] = {}
    try:
        procs["scheduler"] = start_component(
            "kprov.cluster.scheduler",
            plane.kubeconfig_for(SCHEDULER_CN),
            plane_dir,
            "scheduler",
            "--leader-elect=false",
        )
        procs["controller_manager"] = start_component(
            "kprov.cluster.controllers",
            plane.kubeconfig_for(CONTROLLER_MANAGER_CN),
            plane_dir,
            "cm",
            "--leader-elect=false",
            "--controllers=job",
            "--use-service-account-credentials=true",
        )
        procs["hollow"] = start_component(
            "kprov.cluster.hollow",
            Path(info.admin_kubeconfig),
            plane_dir,
            "hollow",
            f"--count={nodes}",
            "--cpus=64",
            "--memory-gib=256",
            f"--complete-after={complete_after}",
        )
        pids = {
            "apiserver": pid_of(plane_dir, "apiserver"),
            "etcd": pid_of(plane_dir, "etcd"),
            **{k: p.pid for k, p in procs.items()},
        }
        async with ApiClient.from_kubeconfig(info.admin_kubeconfig, max_connections=32, lean=True) as admin:
            await ensure_namespace(admin, NAMESPACE)
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                listed, _ = await admin.list_all(resources.NODES, label_selector="kprov.io/hollow=true")
                if sum(1 for n in listed if _ready(n)) >= nodes:
                    break
                await asyncio.sleep(1)
            else:
                raise RuntimeError(f"{nodes} hollow nodes did not become Ready; see {plane_dir}/hollow.log")
            _, rv = await admin.list_all(resources.JOBS, NAMESPACE)
            created: dict[str, float] = {}
            completed: dict[str, float] = {}
            done = asyncio.Event()

            async def watch() -> None:
                version = rv
                while not done.is_set():
                    async for event in admin.watch(
                        resources.JOBS, NAMESPACE, resource_version=version, timeout_seconds=600
                    ):
                        meta = event.object.get("metadata") or {}
                        version = meta.get("resourceVersion", version)
                        name = meta.get("name", "")
                        if _complete(event.object) and name not in completed:
                            completed[name] = time.monotonic()
                            if len(completed) >= count:
                                done.set()
                                return

            cpu_before = {k: cpu_s(v) for k, v in pids.items()}
            watcher = asyncio.create_task(watch())
            first = time.monotonic()
            semaphore = asyncio.Semaphore(32)

            async def create(i: int) -> None:
                async with semaphore:
                    name = f"j{i}"
                    created[name] = time.monotonic()
                    await admin.create(resources.JOBS, job(name))

            await asyncio.gather(*(create(i) for i in range(count)))
            await asyncio.wait_for(done.wait(), timeout=1800)
            last = max(completed.values())
            watcher.cancel()
            latencies = [completed[n] - created[n] for n in completed if n in created]
            cpu = {k: cpu_s(v) - cpu_before[k] for k, v in pids.items()}
            figures: dict[str, float] = {
                "jobs": count,
                "jobs_completed_per_s": round(count / (last - first), 1),
                "job_complete_p50_s": round(sorted(latencies)[len(latencies) // 2], 3),
                "job_complete_p99_s": round(p99(latencies), 3),
                "job_controller_cpu_ms_per_job": round(cpu["controller_manager"] * 1000 / count, 2),
            }
            for key, value in cpu.items():
                figures[f"cpu_s_{key}"] = round(value, 1)
            return figures
    finally:
        for proc in procs.values():
            stop_component(proc)
        plane.down()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--complete-after", type=float, default=0.5, help="seconds a hollow Job pod runs")
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix="kprov-bench-jobs-") as tmp,
        asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner,
    ):
        figures = runner.run(run(Path(tmp), args.jobs, args.nodes, args.complete_after))
    for name, value in figures.items():
        print(f"{name} = {value}")


if __name__ == "__main__":
    main()
