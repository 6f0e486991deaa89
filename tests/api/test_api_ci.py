"""``/api/v1/ci/runs``: a run submitted to the server is recorded and listed; the CLI submits
to a running server and waits for the result."""

from __future__ import annotations

import time
from typing import Any

import httpx
from api_helpers import Live

from support.ci_repos import GOOD_APP, conveyor, make_repo, pipeline


def _finished(api: httpx.Client, run_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        run: dict[str, Any] = api.get(f"/api/v1/ci/runs/{run_id}").raise_for_status().json()
        if run["status"] in ("passed", "warned", "failed"):
            return run
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} did not finish")


def test_a_submitted_run_is_recorded_and_listed(live: Live, api: httpx.Client) -> None:
    repo = make_repo(live.repos / "ci-listed", {**GOOD_APP, ".conveyor/pipeline.yaml": pipeline()})

    started = api.post("/api/v1/ci/runs", json={"path": str(repo)})

    assert started.status_code == 202, started.text
    run = _finished(api, started.json()["id"])
    assert run["status"] == "passed"
    assert run["artifact"] == f"ci-listed:{run['commit']}"
    listed = api.get("/api/v1/ci/runs", params={"name": "ci-listed"}).json()["items"]
    assert [r["id"] for r in listed] == [run["id"]]
    assert "log" not in listed[0]["stages"][0]  # the list is a summary
    missing = api.post("/api/v1/ci/runs", json={"path": str(live.repos / "nothing")})
    assert missing.status_code == 404
    assert httpx.get(f"{live.url}/api/v1/ci/runs").status_code == 401


def test_the_cli_submits_to_the_running_server(live: Live, api: httpx.Client) -> None:
    repo = make_repo(live.repos / "ci-cli", {**GOOD_APP, ".conveyor/pipeline.yaml": pipeline()})

    code, _, err = conveyor(
        "ci", "run", str(repo), env={"CONVEYOR_SERVER": live.url, "CONVEYOR_AUTH_TOKEN": live.token}
    )

    assert code == 0, err
    assert f"submitted to {live.url}" in err
    listed = api.get("/api/v1/ci/runs", params={"name": "ci-cli"}).json()["items"]
    assert len(listed) == 1 and listed[0]["status"] == "passed"
