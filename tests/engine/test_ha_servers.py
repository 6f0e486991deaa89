"""Two `conveyor server` processes on one real PostgreSQL: one reconciles, both serve the API.
When the one that reconciles dies (SIGKILL) or hangs (SIGSTOP) mid-sync, the other takes
over and finishes the same operation; a hung holder that wakes up writes nothing and stops."""

from __future__ import annotations

import asyncio
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from engine_helpers import ConfigRepo, application, configmap, hook_job

from conveyor.api.ha import FORWARDED_BY
from conveyor.artifacts import ArtifactStore
from conveyor.engine.repository import HistoryRecord, OperationRecord
from conveyor.settings import Settings
from conveyor.store import EngineStore, open_database
from conveyor.store.leases import LOCAL_SHARD, Lease, LeaseStore
from support.postgres import PostgresServer, find_bindir, running_postgres
from support.runtime_helpers import make_app_repo
from support.server_helpers import ServerProcess

pytestmark = pytest.mark.processes

TAKEOVER_LIMIT = 15.0
"""The issue's bound: another server takes over within 15 s of the holder's death."""

Stored = tuple[Lease | None, OperationRecord | None, list[HistoryRecord]]


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    bindir = find_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL binaries not found (apt-get install postgresql)")
    with running_postgres(bindir) as server:
        yield server


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """hello:v1, built once: the hook Job's image, shared by both servers' homes."""
    root = tmp_path_factory.mktemp("artifacts")
    repo, [sha] = make_app_repo(root, ["v1"])
    store = ArtifactStore(root / "store")
    asyncio.run(store.build("hello", source=str(repo), revision=sha, tag="v1"))
    return store.root


def wait_for(what: str, check: Callable[[], Any], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = check()
        except httpx.HTTPError:
            result = None
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout}s")


@dataclass
class Group:
    """Two servers' homes on one database, and a config repo with a slow PreSync hook."""

    tmp: Path
    url: str
    repo: ConfigRepo
    revision: str
    env: dict[str, str]

    def home(self, name: str, artifacts: Path) -> Path:
        home = self.tmp / name
        home.mkdir(mode=0o700)
        (home / "artifacts").symlink_to(artifacts, target_is_directory=True)
        return home

    def read(self) -> Stored:
        """The lease, the app's last operation and its history, as the database has them."""

        async def read() -> Stored:
            async with await open_database(Settings(self.tmp, self.url)) as db:
                store = EngineStore(db)
                return (
                    await LeaseStore(db).get(LOCAL_SHARD),
                    await store.last_operation("crashy"),
                    await store.history("crashy"),
                )

        return asyncio.run(read())


@pytest.fixture
def group(tmp_path: Path, postgres: PostgresServer) -> Group:
    repo = ConfigRepo(tmp_path / "config")
    slow = hook_job("migrate", "PreSync", "sleep 8")
    slow["spec"]["template"]["spec"]["containers"][0]["image"] = "hello:v1"
    repo.write("app/hook.yaml", slow)
    repo.write("app/cm.yaml", configmap("settings", {"k": "1"}))
    revision = repo.commit()
    url = postgres.create_database()
    env = {"CONVEYOR_DATABASE_URL": url, "CONVEYOR_HA": "on", "CONVEYOR_LEASE_TTL": "10"}
    return Group(tmp_path, url, repo, revision, env)


def get_app(server: ServerProcess, headers: dict[str, str]) -> httpx.Response:
    return httpx.get(f"{server.url}/api/v1/applications/crashy", headers=headers)


def start_a_sync_through_the_standby(
    group: Group, a: ServerProcess, b: ServerProcess, headers: dict[str, str]
) -> OperationRecord:
    """Check that b forwards to a, create the app through b, wait for the hook to run."""
    listed = httpx.get(f"{b.url}/api/v1/applications", headers=headers)
    assert listed.status_code == 200 and listed.json() == {"items": []}
    assert listed.headers.get(FORWARDED_BY), "b answered without a: b is a standby"
    lease, _, _ = group.read()
    assert lease is not None and lease.holder_url == a.url
    created = httpx.post(
        f"{b.url}/api/v1/applications",
        json=application("crashy", group.repo, "app"),
        headers=headers,
    )
    assert created.status_code == 200, created.text

    def hook_running() -> bool:
        status = get_app(b, headers).json()["status"]
        result = (status.get("operationState") or {}).get("syncResult") or {}
        return any(r.get("hookPhase") == "Running" for r in result.get("resources", []))

    wait_for("the PreSync hook runs (through b)", hook_running, timeout=90)
    _, interrupted, _ = group.read()
    assert interrupted is not None and interrupted.phase == "Running"
    return interrupted


def b_takes_over(b: ServerProcess, headers: dict[str, str]) -> None:
    """Wait for b to answer by itself: it leads."""

    def b_leads() -> bool:
        answer = get_app(b, headers)
        return answer.status_code == 200 and FORWARDED_BY not in answer.headers

    wait_for("b takes over", b_leads, timeout=60)


def synced_by(b: ServerProcess, headers: dict[str, str]) -> dict[str, Any]:
    """Wait for the app Synced and Healthy with its operation Succeeded."""

    def synced() -> dict[str, Any] | None:
        app: dict[str, Any] = get_app(b, headers).json()
        status = app["status"]
        done = (
            (status.get("operationState") or {}).get("phase") == "Succeeded"
            and status.get("sync", {}).get("status") == "Synced"
            and status.get("health", {}).get("status") == "Healthy"
        )
        return app if done else None

    try:
        result: dict[str, Any] = wait_for("the app synced by b", synced, timeout=120)
    except AssertionError:
        raise AssertionError(f"not synced: {get_app(b, headers).json()['status']}") from None
    return result


def assert_one_operation_one_entry(
    group: Group, b: ServerProcess, interrupted: OperationRecord, app: dict[str, Any]
) -> None:
    lease, last, history = group.read()
    assert lease is not None and lease.holder_url == b.url
    assert last is not None and last.id == interrupted.id  # resumed, not run again
    assert last.phase == "Succeeded"
    assert [(h.revision, h.operation_id) for h in history] == [(group.revision, interrupted.id)]
    assert [h["revision"] for h in app["status"]["history"]] == [group.revision]


def leading(server: ServerProcess, headers: dict[str, str]) -> None:
    wait_for(
        "the first server leads",
        lambda: httpx.get(f"{server.url}/api/v1/applications", headers=headers).status_code == 200,
        timeout=60,
    )


def test_kill_9_of_the_reconciling_server_mid_sync_the_other_takes_over_with_one_history(
    group: Group, artifacts: Path
) -> None:
    home_a, home_b = group.home("a", artifacts), group.home("b", artifacts)
    with ServerProcess(home_a, "--poll-interval", "2", env=group.env) as a:
        headers = {"Authorization": f"Bearer {a.token}"}
        leading(a, headers)
        # Every server's home holds the admin credential: a home without it would make a new one.
        shutil.copy(home_a / "admin.token", home_b / "admin.token")
        with ServerProcess(home_b, "--poll-interval", "2", env=group.env) as b:
            interrupted = start_a_sync_through_the_standby(group, a, b, headers)
            assert a.proc is not None
            a.proc.kill()  # SIGKILL: no release of the lease, no cleanup
            a.proc.wait()
            killed_at = time.monotonic()
            b_takes_over(b, headers)
            took = time.monotonic() - killed_at
            assert took < TAKEOVER_LIMIT, f"b took over {took:.1f}s after the kill"
            app = synced_by(b, headers)
    assert_one_operation_one_entry(group, b, interrupted, app)


def test_a_hung_holder_that_wakes_after_the_takeover_writes_nothing_and_stops(
    group: Group, artifacts: Path
) -> None:
    home_a, home_b = group.home("a", artifacts), group.home("b", artifacts)
    with ServerProcess(home_a, "--poll-interval", "2", env=group.env) as a:
        headers = {"Authorization": f"Bearer {a.token}"}
        leading(a, headers)
        shutil.copy(home_a / "admin.token", home_b / "admin.token")
        with ServerProcess(home_b, "--poll-interval", "2", env=group.env) as b:
            interrupted = start_a_sync_through_the_standby(group, a, b, headers)
            assert a.proc is not None
            a.proc.send_signal(signal.SIGSTOP)  # a hangs with its sync in flight
            try:
                b_takes_over(b, headers)
            finally:
                a.proc.send_signal(signal.SIGCONT)  # a wakes up, its hook Pod still running
            a.proc.wait(60)  # a finds its lease gone and stops by itself
            app = synced_by(b, headers)
    assert "lease lost" in a.log.read_text()
    assert_one_operation_one_entry(group, b, interrupted, app)
