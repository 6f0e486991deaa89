"""What the local runtime does not honour reaches the user of the CLI: ``conveyor app events
--warnings`` lists a ``FieldNotHonoured`` Warning per field the app's Deployment sets and the
runtime does not apply, against a real ``conveyor server``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import conveyor, ok

from engine.engine_helpers import ConfigRepo
from support.server_helpers import ServerProcess

pytestmark = [pytest.mark.slow, pytest.mark.processes]

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web"},
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "volumes": [{"name": "data", "emptyDir": {}}],
                "containers": [
                    {
                        "name": "web",
                        "image": "not-built:1",
                        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                    }
                ],
            },
        },
    },
}


def _warnings(home: Path, app: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 90
    items: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        items = json.loads(ok(conveyor(home, "app", "events", app, "--warnings", "-o", "json")))
        found = [e for e in items if e["reason"] == "FieldNotHonoured"]
        if len(found) >= 2:
            return found
        time.sleep(0.3)
    raise AssertionError(f"no FieldNotHonoured events; events: {items}")


def test_app_events_names_the_fields_the_runtime_does_not_mount(tmp_path: Path) -> None:
    home = tmp_path / "home"
    repo = ConfigRepo(tmp_path / "cfg")
    repo.write("app/deploy.yaml", DEPLOYMENT)
    repo.commit("first")
    with ServerProcess(home, "--poll-interval", "2"):
        ok(conveyor(
            home, "app", "create", "fields", "--repo", repo.url, "--path", "app",
            "--dest-namespace", "fields", "--sync-option", "CreateNamespace=true",
        ))  # fmt: skip
        ok(conveyor(home, "app", "sync", "fields", "--async"))
        found = _warnings(home, "fields")
        assert sorted(e["message"].split(":")[0] for e in found) == [
            "spec.template.spec.containers[0].volumeMounts",
            "spec.template.spec.volumes",
        ]
        table = ok(conveyor(home, "app", "events", "fields", "--warnings"))
        [row] = [line for line in table.splitlines() if "spec.template.spec.volumes:" in line]
        assert "Warning" in row and "FieldNotHonoured" in row and "Deployment/web" in row
        assert "the local runtime mounts no volumes" in row
