"""NetworkPolicy benchmark: policy changes to enforced rules on N real agents, a full resync,
and pod-to-pod throughput with policies in force.

    sudo .venv/bin/python tests/bench/bench_netpol.py [--small] [--agents 5] [--changes 100]

Needs root, ``nft``, ``ip netns``, etcd (the local control plane) and, for the throughput
figure, Debian's ``iperf3`` (``apt-get install iperf3``; a Python sender would be the
bottleneck, not the rules); without it the bench stops with that message
(``--skip-throughput`` runs the rest).

Set-up (not timed): a real local control plane (etcd + kprov-apiserver on loopback, no
scheduler or controller manager) holding namespaces, fake Node objects (``10.244.<n>.0/24``
each, 100 pods per node) and the pods as API objects bound to those nodes with ``podIP``
written through the status subresource (5,000 pods cannot run as containers here), and the
policies (tests/bench/_netpol_objects.py: four rule shapes, each selecting one app). Then
N agents (default 5, the agents of nodes 0..N-1; the other nodes' pods are peers only) start
as separate processes (tests/bench/_netpol_agent.py: kprov-proxy's ``NetpolAgent`` as is,
with the kube-proxy identity, ``nft`` run under ``ip netns exec`` in a network namespace of
its own per agent, so each has a real ``ip kprov-netpol`` table). On this machine N agents
share the cores with the API server and etcd: a node's agent has its own CPU in a cluster.

Figures, one ``name = value`` per line:
  netpol_policies, netpol_pods, netpol_nodes, netpol_agents   the size
  netpol_rules          rules in agent 0's table after its resync (its ``kprov_netpol_rules``)
  netpol_rules_kernel   the rule lines ``nft -a list table`` shows in its namespace then
  netpol_initial_sync_s  agents started -> every agent synced (informer lists + compile + nft)
  netpol_sync_p50_ms, netpol_sync_p99_ms   one policy update (PUT) -> the new rule seen in
                        the kernel of every agent node, over ``--changes`` updates made one at
                        a time (target p99 <= 1,000). "Seen" is observed: ``nft monitor rules``
                        in each namespace prints the added rule carrying the update's marker
                        port; every changed policy selects pods on all N agent nodes.
  netpol_sync_max_ms    the slowest change (and a ``#`` line listing every change's figure)
  netpol_agent_sync_mean_ms  agent 0's own mean sync (compile + ``nft``) during the changes,
                        from its sync histogram, and netpol_agent_syncs_per_change: how much
                        of the figure above is the agent's own work on a CPU it shares
  netpol_full_resync_s  agent 0 killed and started again: process start -> its first complete
                        sync (``kprov_netpol_synced``, set after ``nft`` returned), with the
                        old table still there as after a real restart (target <= 5);
  netpol_full_resync_sync_s  the part of it in the agent's own sync (compile + ``nft -f``)
  netpol_throughput_on_gbps, netpol_throughput_off_gbps, netpol_throughput_ratio
                        iperf3 TCP from a client namespace to a server namespace routed
                        through a node namespace whose table holds 100 policies' rules (the
                        server selected by 50 ingress policies, the client by 50 egress ones,
                        the allowing rules last), vs no table; rounds alternate on/off/off/on
                        in one run (target ratio >= 0.95)

``--small`` is a smoke run: 500 pods, 50 policies, 20 changes, 1 s throughput rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from kprov.cluster.client import ApiClient, resources
from kprov.cluster.netpol.compiler import NETPOL_TABLE, NodeScope, compile_node
from kprov.cluster.nftables.apply import NftApplier
from kprov.local.control_plane import LocalControlPlane
from kprov.pki import KUBE_PROXY_CN

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.bench._netpol_objects import (  # noqa: E402
    Shape,
    namespaces,
    nodes,
    percentile,
    pods,
    policies,
    spanning_policies,
    with_port,
)

AGENT = Path(__file__).resolve().parent / "_netpol_agent.py"
MARKER_BASE = 20000
DPORT = re.compile(r"dport (\d+)\b")
Obj = dict[str, Any]


def netns_exec(netns: str, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", "netns", "exec", netns, *argv], check=check, capture_output=True, text=True)


@contextmanager
def network_namespaces(count: int, tag: str) -> Iterator[list[str]]:
    names = [f"kprov-nb-{tag}{i}-{uuid.uuid4().hex[:6]}" for i in range(count)]
    made = []
    try:
        for name in names:
            subprocess.run(["ip", "netns", "add", name], check=True)
            made.append(name)
        yield names
    finally:
        for name in made:
            subprocess.run(["ip", "netns", "del", name], check=False)


# ---- the cluster's objects --------------------------------------------------------------
async def load(admin: str, shape: Shape) -> dict[tuple[str, str], Obj]:
    """Create everything; returns the policies as stored, by (namespace, name)."""
    async with ApiClient.from_kubeconfig(admin) as client:
        gate = asyncio.Semaphore(32)

        async def bounded(work: Awaitable[Obj]) -> Obj:
            async with gate:
                return await work

        await asyncio.gather(*(bounded(client.create(resources.NAMESPACES, o)) for o in namespaces(shape)))
        await asyncio.gather(*(bounded(client.create(resources.NODES, o)) for o in nodes(shape)))

        async def pod(obj: Obj) -> Obj:
            created = await client.create(resources.PODS, {k: v for k, v in obj.items() if k != "status"})
            created["status"] = {**(created.get("status") or {}), **obj["status"]}
            return await client.update_status(resources.PODS, created)

        await asyncio.gather(*(bounded(pod(o)) for o in pods(shape)))
        stored = await asyncio.gather(
            *(bounded(client.create(resources.NETWORK_POLICIES, o)) for o in policies(shape))
        )
    return {(p["metadata"]["namespace"], p["metadata"]["name"]): p for p in stored}


# ---- agents and what their kernels show -------------------------------------------------
class AgentProcess:
    """One agent process; ``wait_synced`` returns seconds from its start to its synced line."""

    def __init__(self, kubeconfig: Path, node: str, netns: str, log_dir: Path) -> None:
        self.node, self.netns = node, netns
        self.stderr = (log_dir / f"agent-{node}.log").open("ab")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, str(AGENT), str(kubeconfig), node, netns],
            stdout=subprocess.PIPE, stderr=self.stderr, text=True,
        )
        self.synced_line = ""

    def wait_synced(self, timeout: float) -> float:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        for line in self.proc.stdout:
            if line.startswith("synced"):
                self.synced_line = line.strip()
                return time.monotonic() - self.started
            if time.monotonic() > deadline:
                break
        raise SystemExit(f"agent {self.node} did not sync (rc={self.proc.poll()}); see {self.stderr.name}")

    def field(self, name: str) -> float:
        match = re.search(rf"{name}=([\d.]+)", self.synced_line)
        return float(match.group(1)) if match else float("nan")

    def stop(self) -> str:
        """Stop it; its ``stats`` line ("" if it had none)."""
        self.proc.terminate()
        try:
            rest, _ = self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rest, _ = self.proc.communicate()
        self.stderr.close()
        return next((line for line in (rest or "").splitlines() if line.startswith("stats")), "")


class RuleMonitor:
    """``nft monitor rules`` in one namespace: when each marker port was first seen."""

    def __init__(self, netns: str) -> None:
        self.seen: dict[int, float] = {}
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", netns, "nft", "monitor", "rules"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        assert self.proc.stdout is not None
        self.reader = threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True)
        self.reader.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            now = time.monotonic()
            if line.startswith("add rule"):
                for port in DPORT.findall(line):
                    self.seen.setdefault(int(port), now)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait()


def kernel_rules(netns: str) -> tuple[int, str]:
    listed = netns_exec(netns, "nft", "-a", "list", "table", "ip", NETPOL_TABLE).stdout
    count = sum(
        1 for line in listed.splitlines()
        if "# handle" in line and not line.strip().startswith(("table ", "chain ", "set ", "map "))
    )
    return count, listed


async def change_policies(
    admin: str,
    stored: dict[tuple[str, str], Obj],
    targets: list[Obj],
    monitors: list[RuleMonitor],
    changes: int,
) -> list[float]:
    latencies = []
    async with ApiClient.from_kubeconfig(admin) as client:
        for change in range(changes):
            target = targets[change % len(targets)]
            key = (target["metadata"]["namespace"], target["metadata"]["name"])
            port = MARKER_BASE + change
            started = time.monotonic()
            stored[key] = await client.update(resources.NETWORK_POLICIES, with_port(stored[key], port))
            deadline = started + 60
            while not all(port in m.seen for m in monitors):
                if time.monotonic() > deadline:
                    raise SystemExit(f"change {change} ({key}, port {port}) not seen on every agent in 60 s")
                await asyncio.sleep(0.002)
            latencies.append(max(m.seen[port] for m in monitors) - started)
            await asyncio.sleep(0.1)
    return latencies


def sync_figures(shape: Shape, changes: int, work: Path) -> None:
    plane = LocalControlPlane(work / "plane", start_components=False)
    info = plane.up()
    agents: list[AgentProcess] = []
    monitors: list[RuleMonitor] = []
    try:
        with network_namespaces(shape.agents, "a") as netnses:
            started = time.monotonic()
            stored = asyncio.run(load(info.admin_kubeconfig, shape))
            print(f"# loaded {len(stored)} policies, {shape.pods} pods in {time.monotonic() - started:.1f} s",
                  flush=True)
            kubeconfig = plane.kubeconfig_for(KUBE_PROXY_CN)
            started = time.monotonic()
            agents = [AgentProcess(kubeconfig, shape.node_name(i), ns, work) for i, ns in enumerate(netnses)]
            for agent in agents:
                agent.wait_synced(600)
            print(f"netpol_initial_sync_s = {time.monotonic() - started:.2f}", flush=True)

            monitors = [RuleMonitor(ns) for ns in netnses]
            time.sleep(1.0)
            all_pods, all_policies = pods(shape), policies(shape)
            targets = spanning_policies(shape, all_policies, all_pods)
            latencies = asyncio.run(
                change_policies(info.admin_kubeconfig, stored, targets, monitors, changes)
            )
            print(f"netpol_sync_p50_ms = {percentile(latencies, 0.50) * 1000:.0f}")
            print(f"netpol_sync_p99_ms = {percentile(latencies, 0.99) * 1000:.0f}")
            print(f"netpol_sync_max_ms = {max(latencies) * 1000:.0f}")
            print("# each change, ms:", " ".join(f"{v * 1000:.0f}" for v in latencies), flush=True)
            for monitor in monitors:
                monitor.stop()
            monitors = []

            first_sync = agents[0].field("sync_s")
            stats = agents[0].stop()
            counted = re.search(r"syncs=(\d+) sync_s=([\d.]+)", stats)
            if counted and int(counted.group(1)) > 1:
                syncs, total = int(counted.group(1)) - 1, float(counted.group(2)) - first_sync
                print(f"netpol_agent_syncs_per_change = {syncs / max(changes, 1):.2f}")
                print(f"netpol_agent_sync_mean_ms = {total / syncs * 1000:.0f}", flush=True)
            agents[0] = AgentProcess(kubeconfig, shape.node_name(0), netnses[0], work)
            print(f"netpol_full_resync_s = {agents[0].wait_synced(600):.2f}")
            print(f"netpol_full_resync_sync_s = {agents[0].field('sync_s'):.2f}")
            count, listed = kernel_rules(netnses[0])
            last = MARKER_BASE + changes - 1
            if changes and f"dport {last} " not in listed:
                sys.exit(f"agent 0's resynced table lacks the last change (dport {last})")
            print(f"netpol_rules = {int(agents[0].field('rules'))}")
            print(f"netpol_rules_kernel = {count}", flush=True)
    finally:
        for monitor in monitors:
            monitor.stop()
        for agent in agents:
            agent.stop()
        plane.down()


# ---- throughput -------------------------------------------------------------------------
def throughput_objects() -> tuple[list[Obj], list[Obj], list[Obj]]:
    """100 policies in namespace ``tp``: 50 select the server (ingress), 50 the client (egress);
    only the last of each (by name) admits the iperf3 connection."""
    pods_ = [
        {"metadata": {"name": name, "namespace": "tp", "labels": {"app": name}},
         "spec": {"nodeName": "tp-node"}, "status": {"phase": "Running", "podIP": ip}}
        for name, ip in (("client", "10.244.1.2"), ("server", "10.244.1.3"))
    ] + [
        {"metadata": {"name": f"peer-{i}", "namespace": "tp", "labels": {"app": f"peer-{i}"}},
         "spec": {"nodeName": "other"}, "status": {"phase": "Running", "podIP": f"10.244.2.{i + 2}"}}
        for i in range(50)
    ]
    policies_ = []
    for i in range(50):
        last = i == 49
        ports = [{"protocol": "TCP", "port": 5201 if last else 6000 + i}]
        server = {"podSelector": {"matchLabels": {"app": "server" if last else f"peer-{i}"}}}
        client = {"podSelector": {"matchLabels": {"app": "client" if last else f"peer-{i}"}}}
        policies_.append({
            "metadata": {"name": f"in-{i:02d}", "namespace": "tp"},
            "spec": {"podSelector": {"matchLabels": {"app": "server"}},
                     "ingress": [{"from": [client], "ports": ports}]},
        })
        policies_.append({
            "metadata": {"name": f"out-{i:02d}", "namespace": "tp"},
            "spec": {"podSelector": {"matchLabels": {"app": "client"}}, "policyTypes": ["Egress"],
                     "egress": [{"to": [server], "ports": ports}]},
        })
    return policies_, pods_, [{"metadata": {"name": "tp"}}]


def _wire(node: str, pod_ns: str, ip: str, link: str) -> None:
    subprocess.run(
        ["ip", "link", "add", link, "netns", node, "type", "veth", "peer", "eth0", "netns", pod_ns],
        check=True,
    )
    for netns, argv in (
        (node, ["ip", "link", "set", link, "up"]),
        (node, ["ip", "route", "add", f"{ip}/32", "dev", link]),
        (pod_ns, ["ip", "link", "set", "lo", "up"]),
        (pod_ns, ["ip", "addr", "add", f"{ip}/32", "dev", "eth0"]),
        (pod_ns, ["ip", "link", "set", "eth0", "up"]),
        (pod_ns, ["ip", "route", "add", "10.244.1.1", "dev", "eth0"]),
        (pod_ns, ["ip", "route", "add", "default", "via", "10.244.1.1"]),
    ):
        netns_exec(netns, *argv)


def _iperf(iperf3: str, client: str, seconds: float) -> float:
    out = netns_exec(client, iperf3, "-c", "10.244.1.3", "-t", str(seconds), "-J", check=False)
    if out.returncode != 0:
        sys.exit(f"iperf3 failed: {out.stdout[-1000:]}{out.stderr[-1000:]}")
    return float(json.loads(out.stdout)["end"]["sum_received"]["bits_per_second"])


def throughput_figures(seconds: float, rounds: int) -> None:
    iperf3 = shutil.which("iperf3")
    if iperf3 is None:
        sys.exit("bench_netpol: the throughput figure needs iperf3 (apt-get install iperf3), "
                 "or run with --skip-throughput")
    ruleset = compile_node(NodeScope("tp-node", "10.244.1.0/24"), *throughput_objects())
    with network_namespaces(3, "t") as (node, client, server):
        netns_exec(node, "ip", "link", "set", "lo", "up")
        netns_exec(node, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        _wire(node, client, "10.244.1.2", "vc")
        _wire(node, server, "10.244.1.3", "vs")
        netns_exec(node, "ip", "addr", "add", "10.244.1.1/32", "dev", "vc")
        netns_exec(node, "ip", "addr", "add", "10.244.1.1/32", "dev", "vs")
        daemons = [
            subprocess.Popen(["ip", "netns", "exec", server, iperf3, "-s", "-B", "10.244.1.3", "-p", port],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for port in ("5201", "5202")  # 5202: listening, but no policy admits it
        ]
        applier = NftApplier(["ip", "netns", "exec", node], table=f"ip {NETPOL_TABLE}")
        on: list[float] = []
        off: list[float] = []
        try:
            time.sleep(0.5)
            for round_ in range(rounds):
                for policy_on in ((True, False) if round_ % 2 == 0 else (False, True)):
                    applier.forget()
                    if policy_on:
                        applier.apply(ruleset)
                    else:
                        netns_exec(node, "nft", "delete", "table", "ip", NETPOL_TABLE, check=False)
                    (on if policy_on else off).append(_iperf(iperf3, client, seconds))
            applier.forget()
            applier.apply(ruleset)
            blocked = netns_exec(client, "timeout", "2", "bash", "-c", "exec 3<>/dev/tcp/10.244.1.3/5202",
                                 check=False)
            if blocked.returncode == 0:
                sys.exit("port 5202, which no policy admits, was reachable: the rules are not in force")
        finally:
            for daemon in daemons:
                daemon.terminate()
                daemon.wait()
    rules = sum(len(chain.rules) for chain in ruleset.chains.values())
    print(f"netpol_throughput_rules = {rules}")
    print(f"netpol_throughput_on_gbps = {statistics.mean(on) / 1e9:.2f}")
    print(f"netpol_throughput_off_gbps = {statistics.mean(off) / 1e9:.2f}")
    print(f"netpol_throughput_ratio = {statistics.mean(on) / statistics.mean(off):.3f}")
    print("# each round, Gbit/s on:", " ".join(f"{v / 1e9:.2f}" for v in on),
          "off:", " ".join(f"{v / 1e9:.2f}" for v in off))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="500 pods, 50 policies, 20 changes")
    parser.add_argument("--agents", type=int, default=5)
    parser.add_argument("--changes", type=int, default=0, help="policy updates timed (default 100; 20 small)")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-sync", action="store_true")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench_netpol: needs root (network namespaces, nft)")
    shape = Shape(pods=500, policies=50, agents=args.agents) if args.small else Shape(5000, 1000, args.agents)
    changes = args.changes or (20 if args.small else 100)
    print(f"netpol_policies = {shape.policies}")
    print(f"netpol_pods = {shape.pods}")
    print(f"netpol_nodes = {shape.nodes}")
    print(f"netpol_agents = {shape.agents}", flush=True)
    if not args.skip_sync:
        with tempfile.TemporaryDirectory(prefix="kprov-bench-netpol-") as tmp:
            sync_figures(shape, changes, Path(tmp))
    if not args.skip_throughput:
        throughput_figures(1.0 if args.small else 3.0, 2 if args.small else 4)


if __name__ == "__main__":
    main()
