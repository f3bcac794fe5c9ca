"""`kprov conformance` as a list of phases, read top to bottom:

1. check the cluster  — every node Ready, at least one schedulable; which start-up checks of
   the suite the cluster can satisfy (:class:`~kprov.conformance.suite.Workarounds`);
2. select the specs   — a dry run of the binary with the focus/skip (and a names file);
3. provide the images — build what the suite needs under its names, import on every host;
4. run                — the parallel specs in N shards (one e2e process each, exact-name
   focus; dealt by each spec's seconds: an earlier run's when given, else those of a whole
   conformance run on a 5-host lab that ships beside this module, ``spec-seconds.json``;
   round-robin when neither names a spec), then the ``[Serial]``/``[Disruptive]`` ones in one
   process;
5. report             — summary.json, report.md, spec-seconds.json (each spec's run time, for a
   later run's shards), each shard's JUnit, JSON report and log.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from kprov.conformance.aggregator_images import etcd_version
from kprov.conformance.binaries import executable
from kprov.conformance.images import ImagePlan, image_specs, plan_images
from kprov.conformance.nnp import compiler
from kprov.conformance.python_root import host_python
from kprov.conformance.report import Summary, summarize, write_report
from kprov.conformance.specs import (
    SpecResult,
    focus_regex,
    parse_json_report,
    read_spec_seconds,
    shard,
    shard_by_seconds,
    spec_seconds,
)
from kprov.conformance.suite import CONFORMANCE_FOCUS, E2ESuite, Workarounds
from kprov.conformance.suites import Suite
from kprov.images.mirror import load_archives
from kprov.images.oci import build_multi_archive
from kprov.images.push import push_archive
from kprov.images.targets import targets_from_inventory

__all__ = ["SHIPPED_SPEC_SECONDS", "ConformanceError", "ConformanceOptions", "ConformanceRun",
           "progress_line", "run_conformance"]

PROGRESS_EVERY_S = 60.0
# each conformance spec's seconds in a whole run on a 5-host lab (a report's spec-seconds.json):
# what shards are dealt by when the run is given none (specs it does not name count as the median)
SHIPPED_SPEC_SECONDS = Path(__file__).with_name("spec-seconds.json")
_FAILED_BULLET = re.compile("\u2022 \\[(?:FAILED|PANICKED|TIMEDOUT|INTERRUPTED)\\]")


class ConformanceError(Exception):
    """The run cannot start (or its images cannot be provided); the message says what to do."""


@dataclass
class ConformanceOptions:
    inventory: Path
    kubeconfig: Path
    e2e_test: Path
    report_dir: Path
    agnhost: Path | None = None
    focus: str = CONFORMANCE_FOCUS
    skip: str = ""
    tests_file: Path | None = None  # run only these spec names (one per line)
    expect_file: Path | None = None  # these must pass (a regression floor)
    parallel: int = 4
    timeout_min: int = 120
    push_images: bool = True
    mirror_images: bool = False  # the images in the cluster's mirrors too (imagePullPolicy Always)
    content_type: str = "application/vnd.kubernetes.protobuf"  # the suite's own default
    selection: Suite | None = None  # the named suite whose skip rules the report explains
    num_nodes: int | None = None  # upstream's --num-nodes (default: the suite counts schedulable nodes)
    # an earlier run's spec-seconds.json (each spec's seconds): the shards are dealt by them
    # (None: SHIPPED_SPEC_SECONDS)
    spec_seconds: Path | None = None


@dataclass
class ConformanceRun:
    summary: Summary
    report: Path
    unknown_names: list[str] = field(default_factory=list)  # in the names file, not in the binary


def _kubectl_json(kubectl: str, kubeconfig: Path, *args: str) -> dict:
    output = [] if "--raw" in args else ["-o", "json"]
    command = [kubectl, f"--kubeconfig={kubeconfig}", "--request-timeout=20s", *args, *output]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise ConformanceError(f"kubectl {' '.join(args)}: {proc.stderr.strip()}")
    return json.loads(proc.stdout)


def _schedulable(node: dict) -> bool:
    ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                for c in node.get("status", {}).get("conditions", []))
    taints = node.get("spec", {}).get("taints") or []
    tainted = any(t.get("effect") in ("NoSchedule", "NoExecute") for t in taints)
    return ready and not tainted and not node.get("spec", {}).get("unschedulable")


def _not_ready(nodes: list[dict]) -> list[str]:
    return [n["metadata"]["name"] for n in nodes
            if not any(c.get("type") == "Ready" and c.get("status") == "True"
                       for c in n.get("status", {}).get("conditions", []))]


def check_cluster(kubectl: str, kubeconfig: Path, ready_wait_s: float = 120.0) -> Workarounds:
    """What the suite needs of the cluster, and which start-up checks it cannot pass yet.

    Nodes get ``ready_wait_s`` to become Ready: `kprov apply` returns once each kubelet is
    healthy, and its Node reports Ready a few seconds later (the suite would fail at once)."""
    deadline = time.monotonic() + ready_wait_s
    while True:
        nodes = _kubectl_json(kubectl, kubeconfig, "get", "nodes")["items"]
        not_ready = _not_ready(nodes)
        if (nodes and not not_ready) or time.monotonic() >= deadline:
            break
        time.sleep(2)
    if not nodes or not_ready:
        raise ConformanceError(f"nodes not Ready: {', '.join(not_ready) or 'there are no nodes'}; "
                               "run `kprov verify` and fix them first")
    if not any(_schedulable(n) for n in nodes):
        raise ConformanceError("no schedulable node (every node is tainted NoSchedule/NoExecute or "
                               "cordoned): the suite needs at least one worker; add a host to the "
                               "workers group")
    core = _kubectl_json(kubectl, kubeconfig, "get", "--raw", "/api/v1")
    served = {r["name"] for r in core.get("resources", [])}
    root_ca = subprocess.run([kubectl, f"--kubeconfig={kubeconfig}", "-n", "kube-system", "get", "configmap",
                              "kube-root-ca.crt"], capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    return Workarounds(no_startup_pods_check="replicationcontrollers" not in served,
                       no_service_account_check=root_ca.returncode != 0)


def select_specs(suite: E2ESuite, opts: ConformanceOptions) -> tuple[list[SpecResult], list[str]]:
    specs = suite.list_specs(opts.focus, opts.skip)
    if opts.tests_file is None:
        return specs, []
    wanted = [line.strip() for line in opts.tests_file.read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    known = {s.name for s in specs}
    keep = set(wanted)
    return [s for s in specs if s.name in keep], [n for n in wanted if n not in known]


def left_out_by_reason(suite: E2ESuite, opts: ConformanceOptions, specs: list[SpecResult]) -> dict[str, int]:
    """How many specs the focus matches that the selection's skip rules left out, by reason."""
    if opts.selection is None or not opts.selection.rules:
        return {}
    chosen = {s.name for s in specs}
    focused = [s.name for s in suite.list_specs(opts.focus, "") if s.name not in chosen]
    return opts.selection.skipped_by(focused)


def provide_images(suite: E2ESuite, opts: ConformanceOptions, say: Callable[[str], None]) -> ImagePlan:
    plan = plan_images(
        suite.list_images(), have_agnhost=opts.agnhost is not None, have_compiler=compiler() is not None,
        have_python=host_python() is not None, etcd_version=etcd_version(),
    )
    if not opts.push_images:
        return plan
    with tempfile.TemporaryDirectory(prefix="kprov-conformance-images-") as tmp:
        archive = Path(tmp) / "images.tar"
        build_multi_archive(image_specs(plan, opts.agnhost), archive)
        say(f"images: {len(plan.provided)} built ({archive.stat().st_size >> 20} MiB), "
            f"{len(plan.missing)} not available offline; importing on every host")
        results = push_archive(targets_from_inventory(opts.inventory), archive, timeout=600)
        bad = [f"{r.host}: {r.output}" for r in results if not r.ok]
        if bad:
            raise ConformanceError("importing the suite's images failed: " + "; ".join(bad))
        if opts.mirror_images:
            _into_mirrors(opts.inventory, archive, say)
    return plan


def _into_mirrors(inventory: Path, archive: Path, say: Callable[[str], None]) -> None:
    """The suite's images in the cluster's mirrors too: a spec that pulls with
    imagePullPolicy Always (the Container Runtime image-pull specs) asks the registry, which
    the nodes reach through the mirrors. A cluster without mirrors only loses those specs."""
    try:
        results = load_archives(targets_from_inventory(inventory, "control_plane"), [archive], timeout=600)
    except (OSError, ValueError) as err:
        say(f"images: not loaded into the mirrors ({err})")
        return
    bad = [f"{r.host}: {r.output.strip()[-200:]}" for r in results if not r.ok]
    if bad:
        say("images: not loaded into every mirror: " + "; ".join(bad))


def _launch(suite: E2ESuite, opts: ConformanceOptions, names: list[str], directory: Path,
            kubectl: str, workarounds: Workarounds) -> subprocess.Popen[bytes]:
    directory.mkdir(parents=True, exist_ok=True)
    command = suite.command(kubeconfig=opts.kubeconfig, report_dir=directory, focus=focus_regex(names),
                            kubectl=kubectl, workarounds=workarounds, timeout_min=opts.timeout_min,
                            content_type=opts.content_type, num_nodes=opts.num_nodes)
    log = (directory / "e2e.log").open("wb")
    try:
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    finally:
        log.close()  # the child holds its own descriptor


def _wait_all(procs: list[subprocess.Popen[bytes]], timeout_s: float,
              tick: Callable[[], None] | None = None, every_s: float = PROGRESS_EVERY_S) -> None:
    """Wait for every process (killing those past ``timeout_s``), calling ``tick`` every
    ``every_s`` seconds meanwhile."""
    deadline = time.monotonic() + timeout_s
    next_tick = time.monotonic() + every_s
    while any(proc.poll() is None for proc in procs) and time.monotonic() < deadline:
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
        if tick is not None and time.monotonic() >= next_tick:
            tick()
            next_tick = time.monotonic() + every_s
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def progress_line(logs: list[Path], total: int, elapsed_s: float, serial: int = 0, shards: int = 1,
                  serial_log: Path | None = None, serial_elapsed_s: float = 0.0) -> str:
    """Specs done/total, failed, elapsed and an estimate of what is left, read from the shards'
    Ginkgo output (a bullet per finished spec; ``• [FAILED]`` and its kind for the failed).

    The estimate knows the run's two phases: ``shards`` shards run the parallel specs at
    once, then the ``serial`` ones run alone (``serial_log``, for ``serial_elapsed_s`` so
    far). A serial spec is counted as one shard's time per spec until some have finished,
    then at the serial phase's own pace ([Serial] specs wait on the cluster more: one
    takes longer alone than a parallel one takes a shard; docs/decisions/0013)."""
    done = failed = serial_done = 0
    for log in [*logs, *([serial_log] if serial_log is not None else [])]:
        if log.is_file():
            text = log.read_text(errors="replace")
            bullets = text.count("\u2022")
            done += bullets
            serial_done += bullets if log == serial_log else 0
            failed += len(_FAILED_BULLET.findall(text))
    parallel_done = done - serial_done
    parallel_s = elapsed_s - serial_elapsed_s if serial_log is not None else elapsed_s
    left_s: float | None = None
    if serial_log is not None and serial_done:
        left_s = (serial - serial_done) * serial_elapsed_s / serial_done
    elif parallel_done:
        per_spec = parallel_s / parallel_done  # the wall time a spec took with every shard busy
        parallel_left = 0 if serial_log is not None else total - serial - parallel_done
        left_s = max(0, parallel_left) * per_spec + (serial - serial_done) * per_spec * shards
    left = f", about {left_s / 60:.0f} min left" if left_s is not None and 0 < done < total else ""
    return (f"progress: {done}/{total} specs done, {done - failed} passed, {failed} failed, "
            f"{elapsed_s / 60:.0f} min{left}")


def run_specs(suite: E2ESuite, opts: ConformanceOptions, specs: list[SpecResult], kubectl: str,
              workarounds: Workarounds, say: Callable[[str], None],
              seconds: dict[str, float] | None = None) -> list[SpecResult]:
    parallel = [s.name for s in specs if not s.serial]
    serial = [s.name for s in specs if s.serial]
    grace_s = (opts.timeout_min + 5) * 60
    dirs: list[Path] = []
    began = time.monotonic()
    shards = ((shard_by_seconds(parallel, opts.parallel, seconds) if seconds
               else shard(parallel, opts.parallel)) if parallel else [])
    serial_dir = opts.report_dir / "serial"
    serial_began: list[float] = []  # when the serial phase started (once it has)

    def tick() -> None:
        now = time.monotonic()
        serial_log = serial_dir / "e2e.log" if serial_began else None
        say(progress_line([opts.report_dir / f"shard-{i + 1}" / "e2e.log" for i in range(len(shards))],
                          len(specs), now - began, len(serial), max(1, len(shards)), serial_log,
                          now - serial_began[0] if serial_began else 0.0))

    if parallel:
        say(f"running {len(parallel)} specs in {len(shards)} parallel shard(s)")
        batch = [opts.report_dir / f"shard-{i + 1}" for i in range(len(shards))]
        dirs += batch
        procs = [_launch(suite, opts, names, directory, kubectl, workarounds)
                 for names, directory in zip(shards, batch, strict=True)]
        _wait_all(procs, grace_s, tick)
    if serial:
        say(f"running {len(serial)} serial specs")
        dirs.append(serial_dir)
        serial_began.append(time.monotonic())
        _wait_all([_launch(suite, opts, serial, serial_dir, kubectl, workarounds)], grace_s, tick)
    results: list[SpecResult] = []
    for directory in dirs:
        report = directory / "report.json"
        if report.is_file():  # the report lists every spec of the binary; keep those that ran
            results += [r for r in parse_json_report(report) if r.ran]
    return results


def run_conformance(opts: ConformanceOptions, say: Callable[[str], None] = print) -> ConformanceRun:
    started = time.monotonic()
    found = shutil.which("kubectl")
    if found is None:
        raise ConformanceError("kubectl is not on PATH; the suite runs it (install kubectl)")
    # the file itself, not a symlink to it: specs `kubectl cp` this path into pods, and a
    # copied link (/usr/bin/kubectl -> ../lib/google-cloud-sdk/...) dangles there
    kubectl = os.path.realpath(found)
    if not opts.e2e_test.is_file():
        raise ConformanceError(f"{opts.e2e_test}: no such e2e.test binary (--e2e-test PATH)")
    if opts.agnhost is not None and not opts.agnhost.is_file():
        raise ConformanceError(f"{opts.agnhost}: no such agnhost binary (--agnhost PATH)")
    try:
        binaries = opts.report_dir / "bin"
        opts = replace(opts, e2e_test=executable(opts.e2e_test, binaries),
                       agnhost=executable(opts.agnhost, binaries) if opts.agnhost else None)
    except (OSError, EOFError) as err:
        raise ConformanceError(f"unpacking the suite's binaries: {err}") from err
    seconds = read_spec_seconds(opts.spec_seconds or SHIPPED_SPEC_SECONDS)
    suite = E2ESuite(opts.e2e_test)
    workarounds = check_cluster(kubectl, opts.kubeconfig)
    specs, unknown = select_specs(suite, opts)
    if not specs:
        raise ConformanceError("the focus/skip (and names file) select no spec of this e2e.test")
    say(f"{len(specs)} specs selected" + (f"; {len(unknown)} names not in this binary" if unknown else ""))
    left_out = left_out_by_reason(suite, opts, specs)
    for reason, count in left_out.items():
        say(f"left out: {count} ({reason})")
    plan = provide_images(suite, opts, say)
    results = run_specs(suite, opts, specs, kubectl, workarounds, say, seconds)
    opts.report_dir.mkdir(parents=True, exist_ok=True)
    (opts.report_dir / "spec-seconds.json").write_text(json.dumps(spec_seconds(results), indent=1) + "\n")
    expected = None
    if opts.expect_file is not None:
        expected = {line.strip() for line in opts.expect_file.read_text().splitlines()
                    if line.strip() and not line.startswith("#")}
    summary = summarize([s.name for s in specs], results, expected=expected, images=plan,
                        flags=workarounds.flags(), duration_s=time.monotonic() - started, left_out=left_out)
    return ConformanceRun(summary, write_report(opts.report_dir, summary), unknown)
