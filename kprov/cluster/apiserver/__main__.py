"""``kprov-apiserver``: the Kubernetes API over etcd. Flags mirror kube-apiserver's."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import subprocess
import sys

import uvloop

from kprov.cluster.apiserver.config import ServerConfig, config_from_flags
from kprov.cluster.apiserver.front.heap import tune_glibc_heap
from kprov.cluster.apiserver.server import run_server

__all__ = ["main", "parse_args"]


def parse_args(argv: list[str] | None = None) -> ServerConfig:
    """The flags (kube-apiserver's names, grouped by concern: :data:`.config.FLAG_GROUPS`),
    with logging set up at their ``--v``."""
    parser = argparse.ArgumentParser(prog="kprov-apiserver", description=__doc__)
    config, args = config_from_flags(parser, argv)
    logging.basicConfig(
        # start-up, warnings and errors at --v=0 (journald keeps them), details from --v=2
        level=[logging.INFO, logging.INFO, logging.DEBUG][min(args.v, 2)],
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return config


def _run_workers(config: ServerConfig, argv: list[str]) -> None:
    """Start ``workers`` copies of this server on the same port; stop them all on SIGTERM."""
    children = [
        subprocess.Popen([sys.executable, "-m", "kprov.cluster.apiserver", *argv, "--worker-of-pool"])
        for _ in range(config.workers)
    ]

    def stop(*_: object) -> None:
        for child in children:
            child.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    codes = [child.wait() for child in children]
    if any(codes) and not all(c in (0, -signal.SIGTERM) for c in codes):
        raise SystemExit(1)


def main(argv: list[str] | None = None) -> None:
    raw = list(sys.argv[1:] if argv is None else argv)
    in_pool = "--worker-of-pool" in raw
    config = parse_args([a for a in raw if a != "--worker-of-pool"])
    if config.workers > 1 and not in_pool:
        _run_workers(config, raw)
        return
    tune_glibc_heap()  # large blocks in their own mappings, returned when freed
    try:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(run_server(config))
    except KeyboardInterrupt:
        pass
    except Exception as exc:
        print(f"kprov-apiserver: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
