"""`kprov upgrade -i INV`: a new kprov build onto a running cluster, one piece at a time.

The phases, in order (the first failure stops the rollout and says how to go on):

1. preflight: versions — which kprov runtime each host's running components were started
   from (read from their processes, not from the installed link or a local record) and
   which it gets (a host whose components all run the new one is skipped: rerunning an
   interrupted upgrade resumes it);
2. preflight: the etcd quorum — every member healthy;
3. preflight: an etcd backup — a fresh snapshot beside the inventory (``kprov etcd
   backup``), so the way back exists before anything changes;
4. control plane — the cluster playbook limited to the etcd members and control-plane
   hosts: etcd members restart one at a time (their restart lock), control-plane hosts
   one at a time (site.yml's rolling play: their API servers run; each host ready before
   the next), their kubelets
   one at a time; the control plane is new before any worker's kubelet (version skew);
5. workers — in batches of ``--max-unavailable``: each node cordoned and drained through
   the Eviction API (a PodDisruptionBudget's 429 is retried), the playbook limited to the
   batch (its kubelets wait until their Node is Ready again), then uncordoned.

``--dry-run`` prints what each host gets and the phases, changing nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kprov.bundle.runtime import NODE_SUFFIX
from kprov.deploy.prepare import REPO_ROOT, SITE_PLAYBOOK, PreparedCluster, prepare_cluster
from kprov.provision.execute.context import RunOptions
from kprov.provision.execute.results import RunReport
from kprov.provision.inventory import load_inventory
from kprov.provision.pipelines import exec_command, run_playbook

__all__ = ["INSTALLED_ONLY", "READ_VERSION", "HostPlan", "UpgradeOptions", "UpgradeResult", "batches_of",
           "checked", "running_version", "still_old", "upgrade", "what_changed"]

Progress = Callable[[str], None]
VENV = "/opt/kprov/venv"


@dataclass
class UpgradeOptions:
    inventory: Path
    source: Path = REPO_ROOT  # the kprov tree whose build the hosts get
    max_unavailable: str = "1"
    dry_run: bool = False
    drain_timeout_s: float = 180.0


@dataclass(frozen=True)
class HostPlan:
    host: str
    kind: str  # "control-plane" | "worker"
    current: str  # the runtime digest it runs ("" when none could be read)
    new: str

    @property
    def needed(self) -> bool:
        return self.current != self.new


@dataclass
class UpgradeResult:
    plans: list[HostPlan] = field(default_factory=list)
    phases: list[tuple[str, bool, str]] = field(default_factory=list)  # title, ok, detail
    backup: Path | None = None
    stopped: str = ""  # why the rollout stopped ("" when it finished)
    interrupted: bool = False  # stopped by the operator's SIGINT/SIGTERM, not by a failure
    how_to_continue: str = ""

    @property
    def ok(self) -> bool:
        return not self.stopped


class _Stop(Exception):
    """A phase failed: the rollout stops here."""


class _Interrupted(_Stop):
    """The operator interrupted a playbook run (SIGINT/SIGTERM): not a failure of the hosts."""


def batches_of(hosts: list[str], max_unavailable: str) -> list[list[str]]:
    """Worker batches: a count, or a percentage of the workers (at least one)."""
    text = str(max_unavailable).strip()
    size = max(1, int(len(hosts) * float(text[:-1]) / 100)) if text.endswith("%") else max(1, int(text))
    return [hosts[i:i + size] for i in range(0, len(hosts), size)]


def upgrade(options: UpgradeOptions, progress: Progress) -> UpgradeResult:
    result = UpgradeResult()
    inventory = load_inventory(str(options.inventory))
    groups = inventory.group_map()
    control_set = set(groups.get("etcd", [])) | set(groups.get("control_plane", []))
    control = [h for h in inventory.hosts if h in control_set]
    workers = [h for h in inventory.hosts if h in groups.get("workers", []) and h not in control]
    progress(f"building kprov's runtime from {options.source}")
    prepared = prepare_cluster(options.inventory, options.source)
    phases: list[tuple[str, Callable[[], str]]] = [
        ("preflight: versions", lambda: _versions(options, prepared, control, workers, result)),
        ("preflight: etcd quorum healthy", lambda: _quorum(options)),
        ("preflight: etcd backup", lambda: _backup(options, result)),
        ("control plane, one host at a time", lambda: _control_plane(options, prepared, control)),
        (f"workers in batches of {options.max_unavailable}: cordon, drain, upgrade, uncordon",
         lambda: _workers(options, prepared, result, progress)),
    ]
    if options.dry_run:
        _versions(options, prepared, control, workers, result)
        result.phases = [(title, True, "would run") for title, _ in phases]
        return result
    for title, run in phases:
        progress(title)
        try:
            detail = run()
        except _Stop as stop:
            result.phases.append((title, False, str(stop)))
            result.stopped = f"{title}: {stop}"
            result.interrupted = isinstance(stop, _Interrupted)
            result.how_to_continue = _how_to_continue(options, result)
            return result
        result.phases.append((title, True, detail))
    return result


# What runs, not what is installed: for each running kprov component (a kprov-* unit whose
# main process was started from kprov's venv), the runtime directories its process maps (the
# compiled extensions it loaded, by their real path: the version it started from, even after
# the link moved on or the directory was deleted); a process that maps none (pure Python, as
# kprov-mirror-order) is dated against the link: started after the link last changed, it runs
# the link's version, else the one the switch kept beside it (the only other one there), or
# an older one. The link itself is the version installed.
#
# ``started_since PID PATH``: did the process start after PATH last changed? To the tick
# (10 ms), not the second: a worker's whole playbook can run in 6 s, its first restart 0.3 s
# after the switch, which whole seconds (the link's mtime, /proc/stat's btime) misjudged as
# before it. The process's start (ticks after boot) is put on the wall clock through
# /proc/uptime read now; 50 ms allows for the two clocks' resolution.
STARTED_SINCE = r"""started_since() {
  now=$(date +%s.%N); up=$(cut -d' ' -f1 /proc/uptime); hz=$(getconf CLK_TCK)
  since=$(stat -c %.9Y "$2" 2>/dev/null || stat -c %Y "$2")
  ticks=$(sed 's/.*) //' "/proc/$1/stat" | awk '{print $20}')
  awk -v t="$ticks" -v hz="$hz" -v now="$now" -v up="$up" -v since="$since" \
    'BEGIN { exit !(now - up + t / hz >= since - 0.05) }'
}"""
READ_VERSION = f"""venv={VENV}
link=$(readlink "$venv" 2>/dev/null || true)
echo "link $link"
[ -n "$link" ] || exit 0
runtime=$(dirname "$link")
echo "kept $(ls "$runtime" | tr '\\n' ' ')"
{STARTED_SINCE}
units=$(systemctl list-units --type=service --state=running --plain --no-legend 'kprov-*' |
  awk '{{print $1}}')
for unit in $units; do
  pid=$(systemctl show -p MainPID --value "$unit")
  [ "${{pid:-0}}" -gt 0 ] && tr '\\0' ' ' < /proc/$pid/cmdline | grep -q "$venv/" || continue
  dirs=$(grep -o "$runtime/[^/ ]*" /proc/$pid/maps | sort -u | tr '\\n' ' ')
  if [ -n "$dirs" ]; then echo "unit $unit maps $dirs"
  elif started_since "$pid" "$venv"; then echo "unit $unit since-link"
  else echo "unit $unit before-link"
  fi
done"""
OLDER = "older"  # a component started before the link moved: an earlier version than it names
INSTALLED_ONLY = " (installed; no kprov component running)"


def _digest(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1].removesuffix(NODE_SUFFIX)


def running_version(output: str) -> str:
    """The version a host runs, from :data:`READ_VERSION`'s output: the one digest all its
    kprov components run (a host outside the control plane runs a version's node runtime:
    <digest>-node), or ``mixed: <digest> (units); ...`` when they differ (an interrupted
    switch); `` (installed: <digest>)`` added when the link names another one, and the
    installed digest marked as such when no component runs; "" when nothing is installed.
    Anything but a bare digest differs from every new version: the host is upgraded again."""
    link, kept = "", set[str]()
    by_unit: dict[str, list[str]] = {}
    for line in output.splitlines():
        words = line.split()
        if words[:1] == ["link"]:
            link = _digest(words[1]) if len(words) > 1 else ""
        elif words[:1] == ["kept"]:
            kept = {_digest(w) for w in words[1:]}
        elif words[:1] == ["unit"] and len(words) >= 3:
            unit = words[1].removesuffix(".service")
            if words[2] == "maps":
                by_unit[unit] = sorted({_digest(w) for w in words[3:]})
            else:
                by_unit[unit] = [link if words[2] == "since-link" else OLDER]
    previous = sorted(kept - {link})
    if len(previous) == 1:  # what a component started before the switch runs
        by_unit = {u: [previous[0] if d == OLDER else d for d in ds] for u, ds in by_unit.items()}
    if not link:
        return ""
    if not by_unit:
        return link + INSTALLED_ONLY
    versions: dict[str, list[str]] = {}
    for unit, digests in sorted(by_unit.items()):
        for digest in digests:
            versions.setdefault(digest, []).append(unit)
    if len(versions) > 1 or OLDER in versions:
        return "mixed: " + "; ".join(f"{d} ({', '.join(units)})" for d, units in versions.items())
    [running] = versions
    return running if running == link else f"{running} (installed: {link})"


def _read_digests(options: UpgradeOptions, hosts: list[str]) -> dict[str, str]:
    outcome = exec_command([str(options.inventory)], READ_VERSION, RunOptions(limit=":".join(hosts)),
                           become=True)
    return {host: running_version(out.stdout) for host, out in outcome.outputs.items()}


def _versions(options: UpgradeOptions, prepared: PreparedCluster, control: list[str], workers: list[str],
              result: UpgradeResult) -> str:
    current = _read_digests(options, control + workers)
    missing = [h for h in control + workers if h not in current]
    if missing:
        raise _Stop(f"cannot read the running version of {', '.join(missing)} (unreachable?)")
    new = prepared.runtime.digest
    result.plans = [HostPlan(h, "control-plane", current[h], new) for h in control]
    result.plans += [HostPlan(h, "worker", current[h], new) for h in workers]
    todo = [p.host for p in result.plans if p.needed]
    return f"{len(todo)} of {len(result.plans)} hosts get {new}" if todo else f"every host runs {new}"


def _quorum(options: UpgradeOptions) -> str:
    from kprov.etcdops.cluster import EtcdCluster

    try:
        with EtcdCluster(options.inventory) as cluster:
            views = cluster.members(cluster.anchor())
    except Exception as exc:  # noqa: BLE001 - any failure to reach etcd stops the upgrade
        raise _Stop(f"etcd cannot be asked: {exc}") from exc
    sick = [f"{v.name or v.endpoint}: {v.error}" for v in views if not v.healthy]
    if sick:
        raise _Stop("etcd members not healthy: " + "; ".join(sick))
    return f"{len(views)} members healthy"


def _backup(options: UpgradeOptions, result: UpgradeResult) -> str:
    from kprov.etcdops.cluster import EtcdCluster
    from kprov.etcdops.snapshots import backup

    out_dir = Path(options.inventory).resolve().parent / "backups" / "etcd"
    try:
        with EtcdCluster(options.inventory) as cluster:
            taken = backup(cluster, out_dir)
    except Exception as exc:  # noqa: BLE001 - no backup, no upgrade
        raise _Stop(f"etcd backup failed: {exc}") from exc
    result.backup = taken.path
    return str(taken.path)


def _play(options: UpgradeOptions, prepared: PreparedCluster, hosts: list[str]) -> RunReport:
    report = run_playbook(options.inventory, SITE_PLAYBOOK, limit=":".join(hosts),
                          extra_vars={**prepared.extra_vars, "kprov_node_serial": 1})
    checked(report)
    still_old(_read_digests(options, hosts), hosts, prepared.runtime.digest)
    return report


def still_old(running: dict[str, str], hosts: list[str], new: str) -> None:
    """After a host's playbook run: stop unless every kprov component of it runs ``new`` (read
    from its processes, as the versions phase reads them), so "upgraded" is never said of a
    host whose processes kept the old build."""
    behind = [f"{h} runs {running.get(h) or 'nothing readable'}" for h in hosts if running.get(h) != new]
    if behind:
        raise _Stop(f"the playbook finished, yet not every component runs {new}: " + "; ".join(behind))


def checked(report: RunReport) -> RunReport:
    """The playbook's report, or the stop it means: interrupted by the operator, or failed."""
    if report.interrupted:
        raise _Interrupted(f"interrupted by {report.interrupted} (no new task was started after it)")
    if not report.ok:
        failed = [f"{r.host}: {r.task}: {r.msg}" for r in report.results
                  if r.status in ("failed", "unreachable")]
        raise _Stop("; ".join((failed + report.errors)[:3]) or "the playbook failed")
    return report


def _changed_hosts(report: RunReport, hosts: list[str]) -> list[str]:
    return [h for h in hosts if h in report.stats and report.stats[h].changed]


def what_changed(report: RunReport, hosts: list[str], changed: list[str] | None = None) -> str:
    """The phase's detail: the hosts the playbook changed (``changed``: over several runs),
    and those it found current."""
    changed = _changed_hosts(report, hosts) if changed is None else changed
    current = [h for h in hosts if h not in changed]
    if not changed:
        return f"nothing changed: {', '.join(hosts)} already current"
    return f"{', '.join(changed)} upgraded" + (f"; {', '.join(current)} already current" if current else "")


def _control_plane(options: UpgradeOptions, prepared: PreparedCluster, control: list[str]) -> str:
    return what_changed(_play(options, prepared, control), control)


def _workers(options: UpgradeOptions, prepared: PreparedCluster, result: UpgradeResult,
             progress: Progress) -> str:
    todo = [p.host for p in result.plans if p.kind == "worker" and p.needed]
    if not todo:
        return "no worker needs the new version"
    from kprov.cluster.client import ApiClient
    from kprov.cluster.client.kubeconfig import load_kubeconfig
    from kprov.deploy.verify.run import admin_kubeconfig_path

    config = load_kubeconfig(admin_kubeconfig_path(options.inventory))
    changed: list[str] = []
    report = RunReport()
    for batch in batches_of(todo, options.max_unavailable):
        progress(f"  cordon and drain {', '.join(batch)}")
        asyncio.run(_drain_all(ApiClient, config, batch, options.drain_timeout_s))
        progress(f"  upgrade {', '.join(batch)}")
        report = _play(options, prepared, batch)
        changed += _changed_hosts(report, batch)
        asyncio.run(_uncordon_all(ApiClient, config, batch))
        progress(f"  {', '.join(batch)} Ready and uncordoned")
    return what_changed(report, todo, changed)


async def _drain_all(client_type: Any, config: Any, nodes: list[str], timeout_s: float) -> None:
    from kprov.deploy.scale_in import drain

    async with client_type(config, timeout=30.0) as client:
        for node in nodes:
            try:
                await drain(client, node, timeout_s)
            except TimeoutError as exc:
                raise _Stop(f"draining {node}: {exc}") from exc


async def _uncordon_all(client_type: Any, config: Any, nodes: list[str]) -> None:
    from kprov.cluster.client import resources

    async with client_type(config, timeout=30.0) as client:
        for node in nodes:
            await client.patch(resources.NODES, node, {"spec": {"unschedulable": None}})


def _how_to_continue(options: UpgradeOptions, result: UpgradeResult) -> str:
    lines = [f"fix what stopped it, then run `kprov upgrade -i {options.inventory}` again: hosts already "
             "on the new version are skipped, the others continue where it stopped."]
    lines.append("a node it drained stays cordoned until then (`kubectl uncordon NODE` to use it meanwhile).")
    if result.backup:
        inv = options.inventory
        lines.append(f"to go back: `kprov upgrade -i {inv} --source <the previous kprov tree>`; the data "
                     f"as it was before: `kprov etcd restore -i {inv} {result.backup}`.")
    return "\n".join(lines)
