"""One NetworkPolicy agent for the bench: kprov-proxy's agent, its nft in a network namespace.

    python tests/bench/_netpol_agent.py KUBECONFIG NODE_NAME NETNS

Design: the agent is :class:`kprov.cluster.netpol.agent.NetpolAgent` unchanged (its
informers, compiler, sync loop and ``NftApplier``) with a Node informer of its own, as
kprov-proxy gives it. The one difference from kprov-proxy: this process stays in the host's
network namespace (the bench's API server listens on loopback) and runs ``nft`` as ``ip
netns exec NETNS nft``, so every agent owns a real, separate ``ip kprov-netpol`` table.
It prints ``synced rules=N sync_s=S`` once the agent's ``kprov_netpol_synced`` is set (after
``nft`` returned success on the first complete view), then runs until SIGTERM, when it prints
``stats syncs=N sync_s=S`` (every sync's compile + apply, summed).
"""

from __future__ import annotations

import asyncio
import signal
import sys

from prometheus_client import CollectorRegistry

from kprov.cluster.client import Informer
from kprov.cluster.client.resources import NODES
from kprov.cluster.client.rest import ApiClient
from kprov.cluster.netpol.agent import NetpolAgent

__all__ = ["NetnsAgent"]


class NetnsAgent(NetpolAgent):
    """The agent with ``ip netns exec NETNS`` before every ``nft`` (its ``nft_prefix``)."""

    def __init__(self, client: ApiClient, hostname: str, netns: str) -> None:
        super().__init__(client, hostname, Informer(client, NODES), CollectorRegistry(auto_describe=False),
                         nft_prefix=["ip", "netns", "exec", netns])


async def _report_synced(agent: NetnsAgent) -> None:
    while not agent.metrics.synced:
        await asyncio.sleep(0.005)
    print(f"synced rules={agent.metrics.rules} sync_s={agent.metrics.sync.total:.3f}", flush=True)


async def _main(kubeconfig: str, hostname: str, netns: str) -> None:
    async with ApiClient.from_kubeconfig(kubeconfig, user_agent="kprov-proxy") as client:
        agent = NetnsAgent(client, hostname, netns)
        tasks = [asyncio.create_task(agent.nodes.run()), asyncio.create_task(_report_synced(agent))]
        running = asyncio.create_task(agent.run())
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, running.cancel)
        try:
            await running
        except asyncio.CancelledError:
            pass
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            sync = agent.metrics.sync
            print(f"stats syncs={sum(sync.counts)} sync_s={sync.total:.3f}", flush=True)


if __name__ == "__main__":
    asyncio.run(_main(*sys.argv[1:4]))
