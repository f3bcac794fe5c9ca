"""``kprov-hollow-nodes``: run N hollow nodes against a cluster until stopped.

Example::

    kprov-hollow-nodes --kubeconfig admin.conf --count 200 --prefix hollow-

The identity in the kubeconfig must be allowed to write Nodes, Leases in kube-node-lease
and pods/status for every hollow node (the admin's, in a test cluster). SIGTERM/SIGINT
stop it; the Node objects stay (the node lifecycle controller marks them NotReady, as it
would real nodes that went away).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal

import uvloop

from kprov.cluster import collector
from kprov.cluster.client import ApiClient
from kprov.cluster.hollow.fleet import FleetConfig, HollowFleet
from kprov.cluster.kubelet.node.registration import parse_labels

__all__ = ["main", "parse_args"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="kprov-hollow-nodes", description="Run N hollow node agents in one process."
    )
    p.add_argument("--kubeconfig", required=True)
    p.add_argument("--count", type=int, required=True, help="how many hollow nodes")
    p.add_argument("--prefix", default="hollow-node-", help="node names are PREFIX<F>..PREFIX<F+N-1>")
    p.add_argument("--first-index", type=int, default=0,
                   help="F: the first node's number (fleets sharing a cluster take disjoint ranges)")
    p.add_argument("--cpus", type=int, default=4, help="each node's cpu capacity")
    p.add_argument("--memory-gib", type=int, default=16, help="each node's memory capacity")
    p.add_argument("--node-labels", default="", help="key=value,key2=value2 on every node")
    p.add_argument("--lease-period", type=float, default=10.0, help="seconds between a node's lease renewals")
    p.add_argument("--status-period", type=float, default=300.0, help="seconds between a node's status posts")
    p.add_argument("--complete-after", type=float, default=1.0,
                   help="seconds a pod with restartPolicy Never/OnFailure runs before it succeeds")
    p.add_argument("--concurrency", type=int, default=64, help="API requests in flight at most")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    if args.count < 1:
        p.error("--count must be at least 1")
    if args.first_index < 0:
        p.error("--first-index must not be negative")
    return args


async def _run(args: argparse.Namespace) -> None:
    collector.settle()
    config = FleetConfig(
        count=args.count, prefix=args.prefix, cpus=args.cpus, memory_gib=args.memory_gib,
        labels=parse_labels(args.node_labels), lease_period_s=args.lease_period,
        status_period_s=args.status_period, complete_after_s=args.complete_after,
        concurrency=args.concurrency, first_index=args.first_index,
    )
    async with ApiClient.from_kubeconfig(
        args.kubeconfig, user_agent="kprov-hollow-nodes", max_connections=args.concurrency, lean=True
    ) as client:
        task = asyncio.create_task(HollowFleet(client, config).run())
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(_run(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
