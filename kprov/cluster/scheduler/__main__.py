"""kprov-scheduler: flags, then the scheduling loop under leader election, on uvloop (as the
API server: its C TLS and I/O cost about half of asyncio's per request, and the scheduler
sends a binding and reads two watch events per pod), with the lean request transport
(bindings and events are small requests; aiohttp's per-request CPU was a large share)."""

from __future__ import annotations

import argparse

import uvloop
from prometheus_client import CollectorRegistry

from kprov.cluster.client.component import add_common_flags, parse_bool, run_component
from kprov.cluster.client.metrics import WorkQueueCollector
from kprov.cluster.client.rest import ApiClient
from kprov.cluster.client.secure_serving import add_secure_serving_flags
from kprov.cluster.scheduler.metrics import SchedulerCollector
from kprov.cluster.scheduler.plugins import REGISTRY
from kprov.cluster.scheduler.scheduler import Scheduler

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kprov-scheduler", description="Assigns pending pods to nodes.")
    add_common_flags(parser, lease_name="kube-scheduler")
    parser.add_argument("--scheduler-name", default="default-scheduler")
    parser.add_argument("--percentage-of-nodes-to-score", type=int, default=0,
                        help="stop filtering after this %% of nodes fit (0 = adaptive, as kube-scheduler)")
    parser.add_argument("--bind-concurrency", type=int, default=128, help="bindings in flight at once")
    parser.add_argument("--disable-plugins", default="",
                        help=f"comma-separated plugins to turn off; known: {','.join(REGISTRY)}")
    parser.add_argument("--event-writers", type=int, default=2,
                        help="events written at once, in the background (never holding up bindings)")
    parser.add_argument("--record-scheduled-events", type=parse_bool, nargs="?", const=True, default=True)
    add_secure_serving_flags(parser, upstream_port=10259)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    disabled = tuple(p for p in args.disable_plugins.split(",") if p)
    unknown = [p for p in disabled if p not in REGISTRY]
    if unknown:
        raise SystemExit(f"kprov-scheduler: --disable-plugins: unknown plugin(s) {', '.join(unknown)}")
    plugins = tuple(p for p in REGISTRY if p not in disabled)

    running: list[Scheduler] = []  # what /metrics reports, once leading
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SchedulerCollector(lambda: running[0] if running else None))
    registry.register(WorkQueueCollector(lambda: [s.queue for s in running]))

    async def work(client: ApiClient) -> None:
        scheduler = Scheduler(
            client,
            args.scheduler_name,
            plugins=plugins,
            percentage_of_nodes_to_score=args.percentage_of_nodes_to_score,
            bind_concurrency=args.bind_concurrency,
            record_scheduled_events=args.record_scheduled_events,
            event_writers=args.event_writers,
        )
        running.append(scheduler)
        await scheduler.run()

    return run_component(
        args, "kprov-scheduler", work, loop_factory=uvloop.new_event_loop, lean_client=True, registry=registry
    )


if __name__ == "__main__":
    raise SystemExit(main())
