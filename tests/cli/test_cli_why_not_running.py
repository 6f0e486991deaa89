"""Why nothing runs is visible where users look: Argo CD's guestbook, whose image is not in
the local artifact store, through the real ``conveyor`` console script against ``conveyor
server``: ``app get``, ``app resources``, ``app wait``'s timeout and an empty ``app logs``
all name the missing image."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import conveyor, ok, wait_json

from engine.example_apps import example_apps
from support.server_helpers import ServerProcess

pytestmark = pytest.mark.slow

IMAGE = "gcr.io/heptio-images/ks-guestbook-demo:0.2"
REASON = f'image "{IMAGE}" not found in the local artifact store'


def test_the_missing_image_is_named_by_get_resources_wait_and_logs(tmp_path: Path) -> None:
    home = tmp_path / "home"
    repo = example_apps(tmp_path / "argocd-example-apps")
    with ServerProcess(home, "--poll-interval", "2"):
        ok(conveyor(
            home, "app", "create", "guestbook", "--repo", repo.url, "--path", "guestbook",
            "--dest-namespace", "guestbook", "--sync-option", "CreateNamespace=true",
        ))  # fmt: skip
        ok(conveyor(home, "app", "sync", "guestbook", "--timeout", "60"))
        wait_json(
            home, "guestbook",
            lambda app: REASON in (app["status"].get("health") or {}).get("message", ""),
            what="the reason in the app's health", timeout=60,
        )  # fmt: skip

        table = ok(conveyor(home, "app", "get", "guestbook"))
        assert "Progressing" in table and REASON in table

        resources = ok(conveyor(home, "app", "resources", "guestbook"))
        [pod_row] = [line for line in resources.splitlines() if " Pod " in line]
        assert "ImagePullBackOff" in pod_row or REASON in pod_row

        waited = conveyor(home, "app", "wait", "guestbook", "--health", "--timeout", "2")
        assert waited.returncode != 0
        assert "timed out" in waited.stderr and REASON in waited.stderr

        logs = conveyor(home, "app", "logs", "guestbook")
        assert logs.returncode == 0 and logs.stdout == ""
        assert "no logs from pod guestbook-ui-" in logs.stderr and IMAGE in logs.stderr
