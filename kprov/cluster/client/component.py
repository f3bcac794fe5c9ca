"""What every control-plane component's main() shares: common flags, logging, signals,
and running the component's work under leader election.

:func:`add_common_flags` adds ``--kubeconfig``, ``--leader-elect`` and the real
components' ``--leader-elect-*`` tuning flags (``--lease-namespace`` is an alias of
``--leader-elect-resource-namespace``). :func:`run_component` opens the client, and either
runs ``work`` directly or only while holding the Lease; SIGTERM/SIGINT release the lease
so a standby takes over at once. Losing the lease ends the process with status 1, like
kube-scheduler and kube-controller-manager do. A component may ask for another event loop
(``loop_factory``, e.g. uvloop's: C TLS and I/O for a component that is mostly requests)
and the lean request transport (``lean_client``, see :mod:`~.lean_http`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from prometheus_client import CollectorRegistry

from kprov.cluster import collector
from kprov.cluster.client.leader import LeaderElectionConfig, LeaderElector, LeadershipLost
from kprov.cluster.client.leader_metrics import register_component_metrics
from kprov.cluster.client.rest import ApiClient
from kprov.cluster.client.secure_serving import secure_serving_config, start_secure_serving

__all__ = ["add_common_flags", "parse_bool", "parse_duration", "run_component"]

log = logging.getLogger(__name__)


def parse_bool(text: str) -> bool:
    """Go's strconv.ParseBool spellings."""
    if text in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if text in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean {text!r}; use true or false")


def parse_duration(text: str) -> float:
    """Seconds from a Go-style duration (``40s``, ``5m``, ``1h30m``, ``500ms``) or a bare number."""
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    try:
        return float(text)
    except ValueError:
        pass
    total, number = 0.0, ""
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isdigit() or ch == ".":
            number += ch
            i += 1
            continue
        unit = "ms" if text.startswith("ms", i) else ch
        if unit not in units or not number:
            raise argparse.ArgumentTypeError(f"invalid duration {text!r}; use e.g. 40s, 5m, 1h")
        total += float(number) * units[unit]
        number = ""
        i += len(unit)
    if number:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}: missing unit after {number}")
    return total


def add_common_flags(parser: argparse.ArgumentParser, lease_name: str) -> None:
    parser.add_argument("--kubeconfig", required=True, help="kubeconfig with the component's identity")
    parser.add_argument("--leader-elect", type=parse_bool, nargs="?", const=True, default=True,
                        help="elect one active replica through a Lease (default true)")
    parser.add_argument("--leader-elect-resource-name", default=lease_name)
    parser.add_argument("--leader-elect-resource-namespace", "--lease-namespace", dest="lease_namespace",
                        default="kube-system")
    parser.add_argument("--leader-elect-lease-duration", type=parse_duration, default=15.0)
    parser.add_argument("--leader-elect-renew-deadline", type=parse_duration, default=10.0)
    parser.add_argument("--leader-elect-retry-period", type=parse_duration, default=2.0)
    parser.add_argument("-v", "--v", dest="verbosity", type=int, default=0, help="log verbosity (0-5)")


def _setup_logging(verbosity: int, name: str) -> None:
    level = logging.DEBUG if verbosity >= 4 else logging.INFO if verbosity >= 0 else logging.WARNING
    logging.basicConfig(level=level, stream=sys.stderr,
                        format=f"%(asctime)s {name} %(levelname)s %(name)s: %(message)s")


async def _run(
    args: argparse.Namespace,
    name: str,
    work: Callable[[ApiClient], Coroutine[Any, Any, None]],
    lean_client: bool = False,
    registry: CollectorRegistry | None = None,
) -> int:
    collector.settle()
    client = ApiClient.from_kubeconfig(args.kubeconfig, user_agent=name, lean=lean_client)
    serving = None
    secure_port = getattr(args, "secure_port", 0)
    if registry is not None and secure_port:
        serving = await start_secure_serving(secure_serving_config(args), name, client, registry)
    elector: LeaderElector | None = None
    if registry is not None:
        lease = args.leader_elect_resource_name if args.leader_elect else None
        register_component_metrics(registry, lease, lambda: elector is not None and elector.is_leader)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if args.leader_elect:
        elector = LeaderElector(client, LeaderElectionConfig(
            name=args.leader_elect_resource_name, namespace=args.lease_namespace,
            lease_duration=args.leader_elect_lease_duration, renew_deadline=args.leader_elect_renew_deadline,
            retry_period=args.leader_elect_retry_period,
        ))
        main = asyncio.create_task(elector.run(lambda: work(client)))
    else:
        main = asyncio.create_task(work(client))
    stopper = asyncio.create_task(stop.wait())
    code = 0
    try:
        await asyncio.wait({main, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if main.done():
            main.result()
    except LeadershipLost as exc:
        log.error("%s; exiting", exc)
        code = 1
    finally:
        main.cancel()
        stopper.cancel()
        await asyncio.gather(main, stopper, return_exceptions=True)
        if elector is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(elector.release(), 2)
        if serving is not None:
            await serving.cleanup()
        await client.close()
    return code


def run_component(
    args: argparse.Namespace,
    name: str,
    work: Callable[[ApiClient], Coroutine[Any, Any, None]],
    loop_factory: Callable[[], Any] | None = None,
    lean_client: bool = False,
    registry: CollectorRegistry | None = None,
) -> int:
    """Run a component's async ``work(client)`` until a signal, under leader election if asked;
    with a ``registry`` (and ``--secure-port``, see :mod:`.secure_serving`) /healthz and
    /metrics are served from start-up on, leader or not."""
    _setup_logging(args.verbosity, name)
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(_run(args, name, work, lean_client, registry))
