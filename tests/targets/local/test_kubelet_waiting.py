"""A Pod whose image or config is missing waits (Pending, with the kubelet's reasons) and starts
by itself once the missing piece appears; nothing crashes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from test_kubelet_support import (
    Images,
    Lookup,
    container_state,
    fetch,
    is_running_ready,
    key_of,
    make_pod,
    python_container,
    running_kubelet,
    write_server,
)

from conveyor.targets.local.kubelet import ResolvedImage


def waiting_reason(status: dict[str, Any]) -> str | None:
    reason: str | None = container_state(status).get("waiting", {}).get("reason")
    return reason


async def test_missing_image_backs_off_then_starts_once_the_image_appears(tmp_path: Path) -> None:
    images = Images()
    container = python_container("web", write_server(tmp_path))
    container["image"] = "hello:abc123"
    pod = make_pod("pull", [container])
    key = key_of(pod)
    async with running_kubelet(tmp_path, images=images) as (kubelet, rec):
        kubelet.sync_pod(pod)
        status = await rec.status_where(
            key, lambda s: waiting_reason(s) == "ImagePullBackOff", "ImagePullBackOff"
        )
        assert status["phase"] == "Pending"
        assert (
            'Back-off pulling image "hello:abc123"' in container_state(status)["waiting"]["message"]
        )
        assert kubelet.running_pods() == [key]
        await rec.until(lambda: rec.reasons(key).count("BackOff") >= 2, what="a second retry")

        images.known["hello:abc123"] = ResolvedImage(tmp_path, (), None)
        status = await rec.status_where(key, is_running_ready)
        assert status["containerStatuses"][0]["restartCount"] == 0
        assert (await fetch(kubelet.host_port(key, 8080) or 0)).text == "hello from pull"

    reasons = [waiting_reason(s) for s in rec.history(key)]
    assert reasons.index("ErrImagePull") < reasons.index("ImagePullBackOff")
    failed = [m for k, r, m, _ in rec.events if k == key and r == "Failed"]
    assert failed[0].startswith('Failed to pull image "hello:abc123": image "hello:abc123" not')


class BrokenImages:
    """An artifact store that fails: the kubelet reports it and keeps trying."""

    def __init__(self) -> None:
        self.calls = 0

    def resolve(self, image: str) -> ResolvedImage | None:
        self.calls += 1
        raise OSError("disk on fire")


async def test_an_image_store_that_raises_is_an_image_pull_error(tmp_path: Path) -> None:
    images = BrokenImages()
    pod = make_pod("broken", [python_container("web", write_server(tmp_path))])
    key = key_of(pod)
    async with running_kubelet(tmp_path, images=images) as (kubelet, rec):  # type: ignore[arg-type]
        kubelet.sync_pod(pod)
        status = await rec.status_where(key, lambda s: waiting_reason(s) == "ImagePullBackOff")
        await rec.until(lambda: images.calls >= 2, what="a retry")

    assert "could not be resolved: disk on fire" in container_state(status)["waiting"]["message"]


async def test_missing_config_map_waits_in_create_container_config_error_then_starts(
    tmp_path: Path,
) -> None:
    lookup = Lookup()
    container = python_container("web", write_server(tmp_path))
    container["envFrom"] = [{"configMapRef": {"name": "settings"}}]
    container["env"] = [
        {"name": "COLOR", "valueFrom": {"configMapKeyRef": {"name": "colors", "key": "main"}}}
    ]
    pod = make_pod("configured", [container])
    key = key_of(pod)
    async with running_kubelet(tmp_path, lookup=lookup) as (kubelet, rec):
        kubelet.sync_pod(pod)
        status = await rec.status_where(
            key, lambda s: waiting_reason(s) == "CreateContainerConfigError"
        )
        message = container_state(status)["waiting"]["message"]
        assert message == 'configmap "settings" not found; configmap "colors" not found'
        assert status["phase"] == "Pending"
        assert any(
            m == f"Error: {message}" for k, r, m, _ in rec.events if k == key and r == "Failed"
        )

        lookup.add_config_map("settings", {"GREETING": "hi"})
        lookup.add_config_map("colors", {"main": "teal"})
        await rec.status_where(key, is_running_ready)
        env = json.loads((await fetch(kubelet.host_port(key, 8080) or 0, "/env")).text)

    assert (env["GREETING"], env["COLOR"]) == ("hi", "teal")


async def test_missing_working_dir_is_a_start_error_that_backs_off(tmp_path: Path) -> None:
    container = python_container("web", write_server(tmp_path), workingDir="/nonexistent/dir")
    pod = make_pod("nowhere", [container])
    key = key_of(pod)
    async with running_kubelet(tmp_path) as (kubelet, rec):
        kubelet.sync_pod(pod)
        status = await rec.status_where(
            key, lambda s: waiting_reason(s) == "CrashLoopBackOff", "CrashLoopBackOff"
        )

    last = status["containerStatuses"][0]["lastState"]["terminated"]
    assert last["reason"] == "StartError"
    assert last["message"] == 'chdir to workingDir "/nonexistent/dir": no such directory'
