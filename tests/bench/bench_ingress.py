"""Ingress benchmark: kprov-ingress and its HAProxy on loopback, against a real API server.

A local control plane (etcd + kprov-apiserver, as the integration tests use), the real
``kprov-ingress`` process under its own identity with its HAProxy on loopback ports, and
backend HTTP servers in processes of their own standing in for pods (their EndpointSlices
point at 127.0.0.1). Nothing of the lab is needed. Prints:

ingress_config_to_served_ms       median, over --routes new Ingresses, from the API write
                                  to the first 200 through HAProxy for the new host
ingress_config_to_served_p99_ms   the same, 99th percentile (target <= 2,000)
ingress_config_apply_ms           the controller's own render + check + reload time, mean
                                  (its kprov_ingress_config_apply_seconds histogram)
ingress_requests_per_s            keep-alive GETs per second through the Ingress (--clients
                                  client processes for --seconds)
ingress_direct_requests_per_s     the same load straight to one backend (no proxy)
ingress_rps_ratio                 the two divided (target >= 0.8)
ingress_p99_ms                    request latency through the Ingress under that load
ingress_failed_requests_during_reloads   failed requests while --reloads Ingress changes
                                  are applied under a steady load (target 0)
ingress_proxy_cpu_us_per_request  CPU (user + system) of kprov-ingress and its HAProxy per
                                  request during the load through the Ingress, split into
ingress_haproxy_cpu_us_per_request     HAProxy's (master and workers) and
ingress_controller_cpu_us_per_request  kprov-ingress's own: it watches the API and is not on
                                  the data path, so ~0 at steady state (its timer ticks)
ingress_backend_cpu_us_per_request   the backend's CPU per request during the direct load
                                  (with the clients' share, what the ratio is made of when
                                  the cores are saturated)

With --compare-nginx (Debian's nginx-light installed), the same load in the same run through
nginx in front of the same backend, configured as ingress-nginx configures it (one worker,
upstream keep-alive, X-Forwarded-For, an access log line per request to /dev/null as
HAProxy's goes to /dev/null here): nginx_requests_per_s, nginx_rps_ratio (÷ direct),
nginx_proxy_cpu_us_per_request, haproxy_to_nginx_rps_ratio, and ingress_proxy_cpu_ratio
(HAProxy's CPU per request ÷ nginx's on the same load, as issue 77 defines it: <= 1.0; the
controller's share is its own figure above, decision 0061).

    python tests/bench/bench_ingress.py [--routes 50] [--seconds 10] [--clients 4] [--reloads 100]
                                        [--compare-nginx]

The load generator is Python (http.client, one process per client): on a 2-core machine it
is as busy as the proxy, so take figures on a machine with cores to spare, nothing else
running, and say the core count with them.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from kprov.cluster.client.resources import ENDPOINTSLICES, INGRESSES, SERVICES
from kprov.cluster.client.rest import ApiClient
from kprov.local import LocalControlPlane

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script: the repo root
from tests.bench._cpu import process_cpu_seconds, tree_cpu_seconds  # noqa: E402

NS = "default"
BACKEND = """
import sys
from aiohttp import web
async def answer(request):
    return web.Response(text="ok")
app = web.Application()
app.router.add_get("/{tail:.*}", answer)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    sys.exit(f"nothing listens on 127.0.0.1:{port}")


def status_of(port: int, host: str) -> int:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/", headers={"Host": host})
        code = conn.getresponse().status
        conn.close()
        return code
    except OSError:
        return 0


def client_loop(port: int, host: str, seconds: float, out: Any) -> None:
    """One client: keep-alive GETs for ``seconds``; (count, failures, latencies in ms)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    count = failures = 0
    latencies: list[float] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        began = time.perf_counter()
        try:
            conn.request("GET", "/", headers={"Host": host})
            reply = conn.getresponse()
            reply.read()
            if reply.status != 200:
                failures += 1
            if reply.getheader("connection", "").lower() == "close":
                conn.close()
        except (OSError, http.client.HTTPException):
            failures += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        latencies.append((time.perf_counter() - began) * 1000)
        count += 1
    out.put((count, failures, latencies))


def load(port: int, host: str, seconds: float, clients: int) -> tuple[float, int, list[float]]:
    """(requests/s, failures, latencies) of ``clients`` processes for ``seconds``."""
    queue: Any = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=client_loop, args=(port, host, seconds, queue))
             for _ in range(clients)]
    for proc in procs:
        proc.start()
    results = [queue.get() for _ in procs]
    for proc in procs:
        proc.join()
    total = sum(r[0] for r in results)
    return total / seconds, sum(r[1] for r in results), [ms for r in results for ms in r[2]]


def measured_load(port: int, seconds: float, clients: int,
                  watched: int) -> tuple[float, int, list[float], float, float]:
    """:func:`load` through ``port``; CPU µs per request of ``watched``'s process tree, and of
    ``watched`` alone (kprov-ingress without the HAProxy it runs)."""
    tree, own = tree_cpu_seconds(watched), process_cpu_seconds(watched)
    per_s, failures, latencies = load(port, "steady.example", seconds, clients)
    tree, own = tree_cpu_seconds(watched) - tree, process_cpu_seconds(watched) - own
    requests = max(1.0, per_s * seconds)
    return per_s, failures, latencies, tree * 1e6 / requests, own * 1e6 / requests


NGINX = """
worker_processes 1;
pid {work}/nginx.pid;
error_log stderr;
events {{ worker_connections 1024; }}
http {{
    access_log /dev/null combined;
    client_body_temp_path {work}; proxy_temp_path {work};
    fastcgi_temp_path {work}; uwsgi_temp_path {work}; scgi_temp_path {work};
    upstream web {{ server 127.0.0.1:{backend}; keepalive 32; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://web;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }}
    }}
}}
"""


def nginx_load(work: Path, backend_port: int, args: argparse.Namespace) -> tuple[float, float]:
    """(requests/s, CPU µs per request) through nginx in front of the backend."""
    port = free_port()
    conf = work / "nginx.conf"
    conf.write_text(NGINX.format(work=work, backend=backend_port, port=port))
    nginx = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(work), "-g", "daemon off;"],
                             stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        per_s, failures, _, cpu_us, _ = measured_load(port, args.seconds, args.clients, nginx.pid)
        if failures:
            sys.exit(f"nginx failed {failures} requests: its configuration is wrong")
        return per_s, cpu_us
    finally:
        nginx.terminate()
        nginx.wait(timeout=20)


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) > 1 else values[0]


def ingress(name: str, host: str, service: str = "web") -> dict[str, Any]:
    backend = {"service": {"name": service, "port": {"number": 80}}}
    return {"metadata": {"name": name, "namespace": NS},
            "spec": {"rules": [{"host": host, "http": {"paths": [
                {"path": "/", "pathType": "Prefix", "backend": backend}]}}]}}


async def setup(admin: ApiClient, backend_port: int) -> None:
    await admin.create(SERVICES, {"metadata": {"name": "web", "namespace": NS},
                                  "spec": {"ports": [{"name": "http", "port": 80}]}})
    await admin.create(ENDPOINTSLICES, {
        "metadata": {"name": "web-bench", "namespace": NS, "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4", "ports": [{"name": "http", "port": backend_port, "protocol": "TCP"}],
        "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}]})
    await admin.create(INGRESSES, ingress("steady", "steady.example"))


async def config_to_served(admin: ApiClient, http_port: int, routes: int) -> list[float]:
    timings = []
    for i in range(routes):
        host = f"r{i}.example"
        began = time.perf_counter()
        await admin.create(INGRESSES, ingress(f"r{i}", host))
        while status_of(http_port, host) != 200:
            await asyncio.sleep(0.005)
        timings.append((time.perf_counter() - began) * 1000)
    return timings


async def reloads_under_load(admin: ApiClient, http_port: int, changes: int, clients: int) -> int:
    """Failed requests while ``changes`` Ingress updates are applied one after another."""
    queue: Any = multiprocessing.Queue()
    seconds = max(5.0, changes * 0.3)
    procs = [multiprocessing.Process(target=client_loop, args=(http_port, "steady.example", seconds, queue))
             for _ in range(clients)]
    for proc in procs:
        proc.start()
    for change in range(changes):
        current = await admin.get(INGRESSES, "steady", NS)
        paths = current["spec"]["rules"][0]["http"]["paths"]
        backend = {"service": {"name": "web", "port": {"number": 80}}}
        current["spec"]["rules"][0]["http"]["paths"] = [
            paths[0], {"path": f"/change{change}", "pathType": "Exact", "backend": backend}]
        await admin.update(INGRESSES, current)
        await asyncio.sleep(seconds / changes * 0.8)
    results = [queue.get() for _ in procs]
    for proc in procs:
        proc.join()
    return sum(r[1] for r in results)


def apply_mean_ms(health_port: int) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{health_port}/metrics", timeout=5).read().decode()
    values = {line.split()[0]: float(line.split()[1]) for line in text.splitlines()
              if line.startswith("kprov_ingress_config_apply_seconds_")}
    count = values.get("kprov_ingress_config_apply_seconds_count", 0)
    return values.get("kprov_ingress_config_apply_seconds_sum", 0) / count * 1000 if count else 0.0


async def run(args: argparse.Namespace, work: Path) -> None:
    plane = LocalControlPlane(work / "plane", start_components=False)
    info = plane.up()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        backend_port = free_port()
        processes.append(subprocess.Popen([sys.executable, "-c", BACKEND, str(backend_port)],
                                          stderr=subprocess.DEVNULL))
        wait_port(backend_port)
        http_port, health_port = free_port(), free_port()
        own = plane.kubeconfig_for("system:kprov:ingress-controller", [])
        processes.append(subprocess.Popen([
            str(Path(sys.executable).with_name("kprov-ingress")), f"--kubeconfig={own}",
            "--ensure-ingress-class", "--default-ingress-class", f"--state-dir={work / 'state'}",
            f"--run-dir={work / 'run'}", f"--http-port=127.0.0.1:{http_port}",
            f"--https-port=127.0.0.1:{free_port()}", f"--haproxy-monitor-address=127.0.0.1:{free_port()}",
            f"--http-address=127.0.0.1:{health_port}", "--publish-address=192.0.2.1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))  # HAProxy's access log: a line a request
        async with ApiClient.from_kubeconfig(str(info.admin_kubeconfig)) as admin:
            wait_port(health_port)
            await asyncio.sleep(1)  # the IngressClass first: new Ingresses get it by admission
            await setup(admin, backend_port)
            deadline = time.monotonic() + 30
            while status_of(http_port, "steady.example") != 200:
                if time.monotonic() > deadline:
                    sys.exit("the first Ingress was never served")
                await asyncio.sleep(0.05)
            served = await config_to_served(admin, http_port, args.routes)
            print(f"ingress_config_to_served_ms = {statistics.median(served):.0f}")
            print(f"ingress_config_to_served_p99_ms = {p99(served):.0f}")
            print(f"ingress_config_apply_ms = {apply_mean_ms(health_port):.1f}")
            through, failed, latencies, proxy_us, controller_us = measured_load(
                http_port, args.seconds, args.clients, processes[1].pid)
            haproxy_us = proxy_us - controller_us
            direct, _, _, backend_us, _ = measured_load(
                backend_port, args.seconds, args.clients, processes[0].pid)
            print(f"ingress_requests_per_s = {through:.0f}")
            print(f"ingress_direct_requests_per_s = {direct:.0f}")
            print(f"ingress_rps_ratio = {through / direct:.2f}")
            print(f"ingress_p99_ms = {p99(latencies):.1f}")
            print(f"ingress_failed_requests_under_load = {failed}")
            print(f"ingress_proxy_cpu_us_per_request = {proxy_us:.1f}")
            print(f"ingress_haproxy_cpu_us_per_request = {haproxy_us:.1f}")
            print(f"ingress_controller_cpu_us_per_request = {controller_us:.1f}")
            print(f"ingress_backend_cpu_us_per_request = {backend_us:.1f}")
            if args.compare_nginx:
                other, other_us = nginx_load(work, backend_port, args)
                print(f"nginx_requests_per_s = {other:.0f}")
                print(f"nginx_rps_ratio = {other / direct:.2f}")
                print(f"nginx_proxy_cpu_us_per_request = {other_us:.1f}")
                print(f"haproxy_to_nginx_rps_ratio = {through / other:.2f}")
                print(f"ingress_proxy_cpu_ratio = {haproxy_us / other_us:.2f}")
            failures = await reloads_under_load(admin, http_port, args.reloads, args.clients)
            print(f"ingress_failed_requests_during_reloads = {failures}")
    finally:
        for proc in reversed(processes):
            proc.terminate()
            proc.wait(timeout=20)
        plane.down()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--routes", type=int, default=50, help="new Ingresses timed to served")
    parser.add_argument("--seconds", type=float, default=10.0, help="each load run's length")
    parser.add_argument("--clients", type=int, default=4, help="load generator processes")
    parser.add_argument("--reloads", type=int, default=100, help="Ingress changes under load")
    parser.add_argument("--compare-nginx", action="store_true", help="the same load through nginx too")
    args = parser.parse_args()
    if shutil.which("haproxy") is None:
        sys.exit("haproxy is not installed (Debian package haproxy)")
    if args.compare_nginx and shutil.which("nginx") is None:
        sys.exit("--compare-nginx: nginx is not installed (apt-get install nginx-light)")
    with tempfile.TemporaryDirectory(prefix="bench-ingress-") as tmp:
        os.chmod(tmp, 0o700)
        asyncio.run(run(args, Path(tmp)))


if __name__ == "__main__":
    main()
