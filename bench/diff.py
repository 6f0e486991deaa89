"""Benchmark of the compare stage: 1,000 applications of 10 objects each, nothing changed.

The engine compares every application on every pass, so this is the steady-state cost of a
pass: live objects look as the local runtime returns them (identity fields, last-applied
annotation, status), desired objects as rendered from Git.

    .venv/bin/python bench/diff.py [--apps 1000]
"""

from __future__ import annotations

import argparse
import base64
import copy
import time
import uuid
from typing import Any

from conveyor.diff import compile_ignore_rules, diff_app
from conveyor.model.merge import three_way_apply

Object = dict[str, Any]


def desired_objects(app: int) -> list[Object]:
    """Ten small objects of the kinds a service deploys."""
    name = f"app-{app}"
    labels = {"app.kubernetes.io/name": name}
    container = {
        "name": "web",
        "image": f"registry.local/{name}:3f2a9c1",
        "ports": [{"containerPort": 8080}],
        "env": [{"name": "LOG_LEVEL", "value": "info"}, {"name": "PORT", "value": "8080"}],
        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
    }
    objs: list[Object] = [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "labels": labels},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "labels": labels},
            "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 8080}]},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": f"{name}-db"},
            "stringData": {"password": f"pw-{app}"},
        },
    ]
    for i in range(7):
        objs.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"{name}-cfg-{i}", "labels": labels},
                "data": {"greeting": "hello", "index": str(i)},
            }
        )
    return objs


def live_object(desired: Object, namespace: str) -> Object:
    """``desired`` as the local runtime stores and returns it."""
    obj = three_way_apply(None, copy.deepcopy(desired))
    meta = obj["metadata"]
    meta.update(
        namespace=namespace,
        uid=str(uuid.uuid4()),
        resourceVersion="1",
        generation=1,
        creationTimestamp="2024-05-01T10:00:00Z",
    )
    if obj["kind"] == "Secret":
        data = {k: base64.b64encode(v.encode()).decode() for k, v in obj["stringData"].items()}
        obj["data"] = data
        del obj["stringData"]
    if obj["kind"] == "Deployment":
        obj["spec"]["strategy"] = {"type": "RollingUpdate"}
        obj["status"] = {"replicas": 2, "readyReplicas": 2, "observedGeneration": 1}
    return obj


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--apps", type=int, default=1000)
    args = parser.parse_args()
    rules = compile_ignore_rules(
        [{"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]}]
    )  # an HPA-style rule, as many apps have
    apps = []
    for app in range(args.apps):
        desired = desired_objects(app)
        apps.append((desired, [live_object(obj, f"ns-{app}") for obj in desired], f"ns-{app}"))
    objects = sum(len(d) for d, _, _ in apps)
    start = time.perf_counter()
    out_of_sync = 0
    for desired, live, namespace in apps:
        result = diff_app(desired, live, namespace=namespace, ignore_rules=rules)
        out_of_sync += result.status != "Synced"
    elapsed = time.perf_counter() - start
    print(
        f"diff of {args.apps} apps x {objects // args.apps} objects ({objects} objects),"
        f" nothing changed: {elapsed:.3f}s ({elapsed / objects * 1e6:.1f} µs/object),"
        f" {out_of_sync} apps out of sync"
    )


if __name__ == "__main__":
    main()
