"""``python -m kprov.cluster.kubelet.node.readycheck``: exit 0 once this node reports Ready.

The kubelet role's health handler runs it after a (re)start, so "changed" means the Node is
back: its Ready condition is True and its heartbeat is newer than ``--since`` (the unit's
start; a Ready condition written before the restart proves nothing). It asks with the
kubelet's own kubeconfig (the Node authorizer lets a node read its Node), trying each API
server the kubeconfig names. Exit 1 with the reason on stderr otherwise (the caller retries).
``--wait S`` asks again once a second for up to S seconds in the same process: a process per
question paid the interpreter, the imports and a TLS context again on every node after each
start.
"""

from __future__ import annotations

import argparse
import json
import ssl
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime

from kprov.cluster.client.kubeconfig import ClientConfig, load_kubeconfig, ssl_context

__all__ = ["main", "ready_since"]


def ready_since(node: dict, since: float) -> tuple[bool, str]:
    """(ready, why not): Ready=True with a heartbeat at or after ``since`` (epoch seconds)."""
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") != "Ready":
            continue
        if cond.get("status") != "True":
            return False, f"Ready is {cond.get('status')}: {cond.get('message', '')}"
        beat = datetime.fromisoformat(str(cond.get("lastHeartbeatTime", "")).replace("Z", "+00:00"))
        if beat.timestamp() + 1.0 < since:  # whole-second timestamps
            beat_text = cond.get("lastHeartbeatTime")
            return False, f"Ready, but its last heartbeat ({beat_text}) is from before the start"
        return True, ""
    return False, "no Ready condition yet"


def _ask(config: ClientConfig, context: ssl.SSLContext | None, node: str, since: float) -> tuple[bool, str]:
    """(ready, why not) from the first API server that answers."""
    why = "no API server answered"
    for server in config.servers:
        request = urllib.request.Request(f"{server.rstrip('/')}/api/v1/nodes/{node}")
        try:
            with urllib.request.urlopen(request, context=context, timeout=3) as reply:
                found = json.loads(reply.read())
        except (urllib.error.URLError, OSError, ValueError) as err:
            why = f"{server}: {err}"
            continue
        return ready_since(found, since)
    return False, why


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kprov-node-ready")
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--node", required=True)
    parser.add_argument("--since", type=float, default=0.0, help="epoch seconds the heartbeat must follow")
    parser.add_argument("--wait", type=float, default=0.0,
                        help="ask again once a second for up to this many seconds (default: ask once)")
    args = parser.parse_args(argv)
    config = load_kubeconfig(args.kubeconfig, user_agent="kprov-node-ready")
    context = ssl_context(config)
    deadline = time.monotonic() + args.wait
    while True:
        ready, why = _ask(config, context, args.node, args.since)
        if ready:
            print(f"node {args.node} is Ready")
            return 0
        if time.monotonic() + 1.0 > deadline:
            break
        time.sleep(1.0)
    print(f"node {args.node} is not Ready: {why}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
