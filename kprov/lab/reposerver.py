"""The bundle's HTTP server for one lab instance: ``python -m kprov.lab.reposerver``.

A static file server (the standard library's) bound to the instance's bridge address, so
only that instance's hosts (and the machine) reach it. Started detached by
kprov.lab.services, which records its pid, restarts it on ``up`` if it died, and stops it on
``down``/``wipe``.
"""

from __future__ import annotations

import argparse
import functools
import sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from kprov.lab.layout import REPO_PORT

__all__ = ["main"]


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        return


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kprov.lab.reposerver")
    parser.add_argument("--bind", required=True)
    parser.add_argument("--port", type=int, default=REPO_PORT)
    parser.add_argument("--directory", type=Path, required=True)
    args = parser.parse_args(argv)
    handler = functools.partial(_QuietHandler, directory=str(args.directory))
    with ThreadingHTTPServer((args.bind, args.port), handler) as server:
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
