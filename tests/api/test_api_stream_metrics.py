"""The SSE stream delivers application changes; /metrics has Argo CD's names."""

from __future__ import annotations

import json
import queue
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from api_helpers import Live, app_manifest, configmap, synced_healthy, wait_app

from engine.engine_helpers import ConfigRepo


class StreamReader:
    """Reads /stream/applications in a thread; events land in a queue."""

    def __init__(self, live: Live, **params: Any) -> None:
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.content_type = ""
        self.seen: list[dict[str, Any]] = []
        self._client = live.client()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(params,), daemon=True)
        self._thread.start()
        assert self._ready.wait(10), "the stream did not open"

    def _read(self, params: dict[str, Any]) -> None:
        try:
            with self._client.stream(
                "GET", "/api/v1/stream/applications", params=params, timeout=None
            ) as response:
                self.content_type = response.headers["content-type"]
                self._ready.set()
                for line in response.iter_lines():
                    if line.startswith("data: "):
                        self.events.put(json.loads(line[len("data: ") :])["result"])
        except httpx.HTTPError:
            pass  # closed by the test

    def next(self, check: Any, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                event = self.events.get(timeout=left)
            except queue.Empty:
                break
            self.seen.append(event)
            if check(event):
                return event
        seen = [
            (
                e["type"],
                e["application"]["metadata"]["name"],
                (e["application"].get("status") or {}).get("operationState", {}).get("phase"),
            )
            for e in self.seen
        ]
        raise AssertionError(f"no matching event arrived; seen: {seen}")

    def close(self) -> None:
        self._client.close()


def _named(name: str, kind: str) -> Any:
    return lambda e: e["type"] == kind and e["application"]["metadata"]["name"] == name


def test_the_stream_sends_current_apps_then_changes_then_deletions(
    live: Live, api: httpx.Client, tmp_path: Path
) -> None:
    repo = ConfigRepo(tmp_path / "cfg")
    repo.write("app/cm.yaml", configmap("settings", k="1"))
    repo.commit()
    api.post("/api/v1/applications", json=app_manifest("streamed-a", repo.url)).raise_for_status()
    wait_app(api, "streamed-a", lambda a: bool(a["status"]), what="a status")
    everything = StreamReader(live)
    only_b = StreamReader(live, name="streamed-b")
    try:
        assert everything.content_type.startswith("text/event-stream")
        everything.next(_named("streamed-a", "ADDED"))
        api.post("/api/v1/applications", json=app_manifest("streamed-b", repo.url))
        api.post("/api/v1/applications/streamed-b/sync", json={}).raise_for_status()
        event = everything.next(
            lambda e: (
                _named("streamed-b", "MODIFIED")(e)
                and (e["application"]["status"].get("operationState") or {}).get("phase")
                == "Succeeded"
            )
        )
        assert event["application"]["status"]["sync"]["revision"]
        only_b.next(_named("streamed-b", "MODIFIED"))
        api.delete("/api/v1/applications/streamed-b").raise_for_status()
        everything.next(_named("streamed-b", "DELETED"))
        assert all(
            e["application"]["metadata"]["name"] == "streamed-b" for e in list(only_b.events.queue)
        )
    finally:
        everything.close()
        only_b.close()


def test_metrics_use_argo_cd_names(live: Live, api: httpx.Client, tmp_path: Path) -> None:
    repo = ConfigRepo(tmp_path / "cfg")
    repo.write("app/cm.yaml", configmap("settings", k="1"))
    repo.commit()
    manifest = app_manifest("measured", repo.url, automated={"prune": True})
    api.post("/api/v1/applications", json=manifest).raise_for_status()
    wait_app(api, "measured", synced_healthy, what="Synced and Healthy")
    text = httpx.get(f"{live.url}/metrics").text
    info = next(
        line
        for line in text.splitlines()
        if line.startswith("argocd_app_info{") and 'name="measured"' in line
    )
    labels = [
        'sync_status="Synced"',
        'health_status="Healthy"',
        'project="default"',
        'dest_namespace="measured"',
        f'repo="{repo.url}"',
        'autosync_enabled="true"',
    ]
    for label in labels:
        assert label in info, info
    sync_total = (
        'argocd_app_sync_total{dest_server="https://kubernetes.default.svc",'
        'name="measured",namespace="argocd",phase="Succeeded",project="default"}'
    )
    assert sync_total in text
    for name in (
        "argocd_app_reconcile_bucket",
        "argocd_git_request_total",
        "argocd_git_request_duration_seconds_bucket",
        'conveyor_render_duration_seconds_bucket{le="0.005",outcome="rendered",source_type="Directory"}',
    ):
        assert name in text, name
    assert "_created" not in text
