"""What Prometheus is told to scrape, and how cluster addresses reach local ports: the file_sd
file of Ready Pods (labels, annotations, atomic rewrites) and the address resolver."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import pytest

from conveyor.errors import TemporaryError
from conveyor.model.objects import ObjectKey
from conveyor.settings import Settings
from conveyor.targets.local.addresses import AddressResolver
from conveyor.targets.local.journal import MemoryJournal
from conveyor.targets.local.monitoring.file_sd import FileSDWriter, pod_target_groups
from conveyor.targets.local.objects import ObjectStore
from support.clock import ManualClock

HOST_PORTS = {"web-a": 41001, "web-b": 41002, "worker-1": 41003}


def host_port(key: ObjectKey, port: int | str) -> int | None:
    """The kubelet's remapping, for these Pods: metrics on 9100 are 1000 higher."""
    base = HOST_PORTS.get(key.name)
    if base is None:
        return None
    return base + 1000 if str(port) in ("9100", "metrics") else base


def pod(name: str, labels: dict[str, str], *, ready: bool = True, **notes: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "shop", "labels": labels, "annotations": notes},
        "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 8080}]}]},
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


def service(name: str, selector: dict[str, str], namespace: str = "shop") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"selector": selector, "ports": [{"name": "http", "port": 80}]},
    }


class Store(ObjectStore):
    """The runtime's object store, where applying a Pod also records its status (the
    kubelet's part)."""

    def apply(self, desired: dict[str, Any]) -> dict[str, Any]:
        applied = super().apply(desired)
        if desired.get("status"):
            self.update_status(ObjectKey.of(desired), desired["status"])
        return applied


@pytest.fixture
def store() -> ObjectStore:
    return Store(ManualClock(), MemoryJournal())


def test_ready_pods_are_targets_with_their_services_and_labels(store: ObjectStore) -> None:
    labels = {"app": "web", "pod-template-hash": "abc12", "role": "canary"}
    store.apply(pod("web-a", labels))
    store.apply(pod("web-b", {"app": "web"}, ready=False))
    store.apply(pod("worker-1", {"app": "worker"}, **{"prometheus.io/scrape": "false"}))
    store.apply(service("web", {"app": "web"}))
    store.apply(service("all-web", {"app": "web"}))

    groups = pod_target_groups(store, host_port)

    assert [g["labels"]["service"] for g in groups] == ["all-web", "web"]
    assert all(g["targets"] == ["127.0.0.1:41001"] for g in groups)
    assert groups[1]["labels"] == {
        "app": "web",
        "pod_template_hash": "abc12",
        "namespace": "shop",
        "pod": "web-a",
        "replicaset": "abc12",
        "role": "canary",
        "service": "web",
        "__metrics_path__": "/metrics",
    }


def test_scrape_annotations_choose_port_and_path(store: ObjectStore) -> None:
    notes = {"prometheus.io/port": "9100", "prometheus.io/path": "/stats"}
    store.apply(pod("web-a", {"rollouts-pod-template-hash": "r1"}, **notes))

    (group,) = pod_target_groups(store, host_port)

    assert group["targets"] == ["127.0.0.1:42001"]
    assert group["labels"]["__metrics_path__"] == "/stats"
    assert group["labels"]["rollouts_pod_template_hash"] == "r1"
    assert "service" not in group["labels"]


async def test_file_follows_the_pods_and_is_never_seen_half_written(
    store: ObjectStore, tmp_path: Path
) -> None:
    path = tmp_path / "sd" / "pods.json"
    writer = FileSDWriter(store, host_port, path, delay=0.01)
    writer.start()
    assert json.loads(path.read_text()) == []
    seen: list[int] = []
    broken: list[str] = []
    done = threading.Event()

    def read_constantly() -> None:
        while not done.is_set():
            text = path.read_text()
            try:
                seen.append(len(json.loads(text)))
            except ValueError:
                broken.append(text)

    reader = threading.Thread(target=read_constantly)
    reader.start()
    try:
        for i in range(60):
            store.apply(pod("web-a", {"app": "web", "n": str(i)}))
            store.apply(pod("web-b", {"app": "web", "n": str(i)}, ready=i % 2 == 0))
            await asyncio.sleep(0.02)
        store.apply(service("web", {"app": "web"}))
        await asyncio.sleep(0.05)
        store.remove(ObjectKey("", "Pod", "shop", "web-b"))
        final = await _wait_for_file(path, lambda g: len(g) == 1 and g[0]["labels"]["n"] == "59")
    finally:
        done.set()
        reader.join()
        writer.stop()
    assert not broken, f"a reader saw a partial file: {broken[0][:80]!r}"
    assert {1, 2} <= set(seen)
    assert final[0]["labels"]["service"] == "web"
    assert [p.name for p in path.parent.iterdir()] == ["pods.json"], "temporary files left"


async def _wait_for_file(path: Path, check: Any) -> Any:
    for _ in range(200):
        groups = json.loads(path.read_text())
        if check(groups):
            return groups
        await asyncio.sleep(0.02)
    raise AssertionError(f"file never matched: {path.read_text()}")


def _resolver(store: ObjectStore) -> AddressResolver:
    ports = {"shop/web/http": 30080, "shop/web/9000": 30090, "shop/prometheus/http": 30070}
    return AddressResolver(store.get, lambda key, p: ports.get(f"{key.namespace}/{key.name}/{p}"))


def test_service_names_reach_the_services_local_port(store: ObjectStore) -> None:
    svc = service("web", {"app": "web"})
    svc["spec"]["ports"].append({"port": 9000})
    store.apply(svc)
    resolver = _resolver(store)

    for host in ("web.shop", "web.shop.svc", "web.shop.svc.cluster.local"):
        assert resolver.resolve(f"http://{host}/api?q=1") == "http://127.0.0.1:30080/api?q=1"
    assert resolver.resolve("http://web:9000/x", namespace="shop") == "http://127.0.0.1:30090/x"
    assert resolver.resolve("http://web:80/") == "http://web:80/", "no Service web in default"
    assert resolver.resolve("http://web.shop:81/") == "http://web.shop:81/", "no such port"
    assert resolver.resolve("https://example.com/a") == "https://example.com/a"


def test_prometheus_address_reaches_the_configured_one_or_says_why_not(
    store: ObjectStore,
) -> None:
    resolver = _resolver(store)
    resolver.prometheus_unavailable = "install prometheus"
    with pytest.raises(TemporaryError, match="install prometheus"):
        resolver.resolve("http://prometheus:9090")

    resolver.prometheus_url = "http://127.0.0.1:41234/prom"
    assert resolver.resolve("http://prometheus:9090") == "http://127.0.0.1:41234/prom"
    assert (
        resolver.resolve("http://prometheus.monitoring.svc.cluster.local:9090/api/v1/query")
        == "http://127.0.0.1:41234/prom/api/v1/query"
    )
    store.apply(service("prometheus", {"app": "prom"}))  # a Service of that name wins
    assert resolver.resolve("http://prometheus.shop/") == "http://127.0.0.1:30070/"


@pytest.mark.parametrize(
    ("value", "mode"),
    [("auto", "auto"), ("OFF", "off"), ("http://prom:9090/", "http://prom:9090")],
)
def test_conveyor_prometheus_setting(
    value: str, mode: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CONVEYOR_PROMETHEUS", value)
    assert Settings.from_env(tmp_path).prometheus == mode


def test_conveyor_prometheus_setting_refuses_anything_else(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CONVEYOR_PROMETHEUS", "yes")
    with pytest.raises(Exception, match="use auto, off, or a Prometheus URL"):
        Settings.from_env(tmp_path)
