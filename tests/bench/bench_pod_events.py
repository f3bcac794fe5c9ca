"""Events a failing pod costs the API server: ``events_per_failing_pod_first_min``.

Against a running cluster (default: the README's `kprov up` lab 0), it creates a ConfigMap and
a pod whose container asks for a key the ConfigMap lacks (CreateContainerConfigError for
good), waits a minute from the pod's creation, and prints the number of Event objects about
the pod (target: at most 10) and ``failing_pod_event_count_sum`` (the sum of their counts:
how many times something was recorded, folded into those objects).

    python tests/bench/bench_pod_events.py [--kubeconfig PATH] [--window 60]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time

DEFAULT_KUBECONFIG = "/var/lib/kprov/lab/0/inventory/pki/kubeconfigs/admin.conf"
IMAGE = "kprov.local/busybox:1"
NAME = "bench-events"


def kubectl(kubeconfig: str, *args: str, stdin: str | None = None) -> str:
    return subprocess.run(["kubectl", "--kubeconfig", kubeconfig, *args], input=stdin, capture_output=True,
                          text=True, check=True, timeout=120).stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", default=DEFAULT_KUBECONFIG)
    parser.add_argument("--window", type=float, default=60.0)
    args = parser.parse_args()
    kc = args.kubeconfig
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": NAME},
                  "data": {"present": "1"}}
    env = [{"name": "K", "valueFrom": {"configMapKeyRef": {"name": NAME, "key": "absent"}}}]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": NAME},
           "spec": {"containers": [{"name": "app", "image": IMAGE, "command": ["sleep", "3600"],
                                    "env": env}]}}
    kubectl(kc, "delete", "pod", NAME, "--ignore-not-found", "--wait=true")
    kubectl(kc, "apply", "-f", "-", stdin=json.dumps(config_map))
    kubectl(kc, "apply", "-f", "-", stdin=json.dumps(pod))
    began = time.monotonic()
    try:
        time.sleep(max(0.0, args.window - (time.monotonic() - began)))
        items = json.loads(kubectl(kc, "get", "events", "-o", "json", "--field-selector",
                                   f"involvedObject.name={NAME},involvedObject.kind=Pod"))["items"]
        print(f"events_per_failing_pod_first_min = {len(items)}")
        print(f"failing_pod_event_count_sum = {sum(int(e.get('count') or 1) for e in items)}")
    finally:
        kubectl(kc, "delete", "pod", NAME, "--wait=false")
        kubectl(kc, "delete", "configmap", NAME, "--ignore-not-found")


if __name__ == "__main__":
    main()
