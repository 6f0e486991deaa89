"""/metrics on a live server shows what each ReplicaSet behind a synced Service served.

The whole path a user sees: an app's Deployment and Service synced from git onto the local
runtime, requests through the Service's port, and Prometheus' text on /metrics.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import httpx
import pytest
from api_helpers import Live, app_manifest, synced_healthy, wait_app
from prometheus_client.parser import text_string_to_metric_families

from conveyor.artifacts import ArtifactStore
from conveyor.settings import Settings
from conveyor.targets.local.network.ports import NODE_PORT_RANGE, port_is_free
from engine.engine_helpers import ConfigRepo
from support.runtime_helpers import READY_PROBE, deployment, make_app_repo, service

pytestmark = pytest.mark.slow


def _free_node_port() -> int:
    for _ in range(100):
        port = random.choice(NODE_PORT_RANGE)
        if port_is_free(port):
            return port
    raise AssertionError("no free port in the NodePort range")


def test_requests_through_a_service_show_on_metrics_by_replicaset(
    live: Live, api: httpx.Client, tmp_path: Path
) -> None:
    source, shas = make_app_repo(tmp_path, ["v1"])
    store = ArtifactStore(Settings.from_env(home=live.home).artifacts_dir)
    asyncio.run(store.build("hello", source=str(source), revision=shas[0], tag="v1"))
    node_port = _free_node_port()
    repo = ConfigRepo(tmp_path / "cfg")
    repo.write(
        "app/web.yaml",
        deployment("web", "hello:v1", probes=READY_PROBE, namespace="traffic"),
        service("web", namespace="traffic", node_port=node_port),
    )
    repo.commit()
    manifest = app_manifest("traffic", repo.url, automated={"prune": True})
    api.post("/api/v1/applications", json=manifest).raise_for_status()
    wait_app(api, "traffic", synced_healthy, what="Synced and Healthy", timeout=90)
    with httpx.Client() as client:
        for _ in range(20):
            assert client.get(f"http://127.0.0.1:{node_port}/").status_code == 200
    text = httpx.get(f"{live.url}/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    requests = [
        s
        for s in families["conveyor_service_requests"].samples
        if s.labels["namespace"] == "traffic" and s.labels["service"] == "web"
    ]
    assert [(s.labels["code"], s.value) for s in requests] == [("2xx", 20.0)]
    replicaset = requests[0].labels["replicaset"]
    assert replicaset  # the Pod's pod-template-hash
    counts = [
        s.value
        for s in families["conveyor_service_request_duration_seconds"].samples
        if s.name.endswith("_count") and s.labels.get("replicaset") == replicaset
    ]
    assert counts == [20.0]
