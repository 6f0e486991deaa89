"""``engine.fleet``: one controller per destination target behind one controller's face.

Two in-memory targets (``FakeTarget``: the local target's own code, never started) stand for
the primary and a cluster named ``east``; a real git repository and the real store. Each app
lands on the target its destination names and nowhere else; the views of an app read its own
target; a move waits for a running operation; a project change reaches every member; the
fleet's watch hears both targets; a new fleet on the same store finds each app on its target.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import ConfigRepo, application, configmap

from conveyor.bootstrap import build_controller, renderer_for, repo_cache
from conveyor.engine import views
from conveyor.engine.controller import Controller, ControllerOptions
from conveyor.engine.fleet import Fleet, owner
from conveyor.errors import ConflictError
from conveyor.model.objects import ObjectKey
from conveyor.multicluster import PRIMARY, OwnedStore
from conveyor.settings import Settings
from conveyor.store import Database, EngineStore, open_database
from conveyor.targets.protocol import Selector
from support.fake_target import FakeTarget

QUIET = ControllerOptions(poll_interval=300.0, step_timeout=60.0)
EAST = "https://east.example:6443"


def route(server: str, name: str) -> str:
    return EAST if name == "east" or server == EAST else PRIMARY


def checked(key: str, server: str, name: str) -> str | None:
    """A member's destination check: its own destinations only (as ``serves`` says)."""
    return None if route(server, name) == key else f"not deployed from here: {server or name}"


def to_east(manifest: dict[str, Any]) -> dict[str, Any]:
    spec = {**manifest["spec"], "destination": {"name": "east", "namespace": "demo"}}
    return {**manifest, "spec": spec}


class Two:
    def __init__(self, tmp_path: Path) -> None:
        self.settings = Settings.from_env(home=tmp_path / "home")
        self.repo = ConfigRepo(tmp_path / "config")
        self.here = FakeTarget()
        self.east = FakeTarget()
        self.database: Database | None = None
        self.repos, self.renderer = repo_cache(self.settings), renderer_for()

    def member(self, key: str, target: FakeTarget) -> Controller:
        assert self.database is not None
        return build_controller(
            self.settings, target, OwnedStore(self.database, key, route), self.repos,
            self.renderer, options=QUIET, destination_check=lambda s, n: checked(key, s, n),
            checkouts=self.settings.home / ("checkouts-east" if key else "checkouts"),
        )  # fmt: skip

    @contextlib.asynccontextmanager
    async def fleet(self, *, with_east: bool = True) -> AsyncIterator[Fleet]:
        database = self.database = await open_database(self.settings)
        members = {PRIMARY: self.member(PRIMARY, self.here)}
        if with_east:
            members[EAST] = self.member(EAST, self.east)
        fleet = Fleet(members, PRIMARY, route, EngineStore(database))
        await fleet.start()
        try:
            yield fleet
        finally:
            await fleet.stop()
            await database.close()


@pytest.fixture
def two(tmp_path: Path) -> Two:
    env = Two(tmp_path)
    env.repo.write("here/cm.yaml", configmap("cm-here", {"at": "here"}))
    env.repo.write("east/cm.yaml", configmap("cm-east", {"at": "east"}))
    env.repo.commit()
    return env


def cm(name: str) -> ObjectKey:
    return ObjectKey("", "ConfigMap", "demo", name)


async def synced(fleet: Fleet, name: str) -> None:
    async with asyncio.timeout(30):
        while True:
            status = fleet.application(name)["status"]
            in_sync = (status.get("sync") or {}).get("status") == "Synced"
            if in_sync and not fleet.operation_running(name):
                return
            await fleet.wait_changed(name, 5)


async def test_each_app_deploys_to_its_own_target_and_comes_back_there(two: Two) -> None:
    async with two.fleet() as fleet:
        await fleet.apply_application(application("here", two.repo, "here"))
        await fleet.apply_application(to_east(application("east", two.repo, "east")))
        await synced(fleet, "here")
        await synced(fleet, "east")
        assert cm("cm-here") in two.here.applied() and cm("cm-here") not in two.east.applied()
        assert cm("cm-east") in two.east.applied() and cm("cm-east") not in two.here.applied()
        assert fleet.names() == ["east", "here"]
        nodes = views.resource_tree(fleet, "east")["nodes"]
        assert [n["name"] for n in nodes if n["kind"] == "ConfigMap"] == ["cm-east"]
        assert owner(fleet, "east").target is two.east
        assert {o["metadata"]["name"] for o in fleet.live.app_objects("east")} == {"cm-east"}

    async with two.fleet() as fleet:  # a restart: each stored app is loaded by its own member
        assert fleet.names_by_member() == {PRIMARY: ["here"], EAST: ["east"]}
        await synced(fleet, "east")
        await fleet.delete_application("east")
        assert two.east.deleted() == [cm("cm-east")]
        assert two.here.deleted() == []
        assert fleet.names() == ["here"]


async def test_a_target_connected_later_takes_the_apps_that_waited_for_it(two: Two) -> None:
    async with two.fleet(with_east=False) as fleet:
        await fleet.apply_application(to_east(application("east", two.repo, "east")))
        await fleet.apply_application(application("here", two.repo, "here"))
        await synced(fleet, "here")
        async with asyncio.timeout(30):
            while "not deployed from here" not in str(fleet.application("east")["status"]):
                await fleet.wait_changed("east", 5)
        assert fleet.names_by_member() == {PRIMARY: ["east", "here"]}
        assert cm("cm-east") not in two.here.applied()  # refused on the primary

        taken = await fleet.add_member(EAST, two.member(EAST, two.east))
        assert taken == ["east"]
        assert fleet.names_by_member() == {PRIMARY: ["here"], EAST: ["east"]}
        await synced(fleet, "east")
        assert cm("cm-east") in two.east.applied()
        assert cm("cm-east") not in two.here.applied()


async def test_a_destination_change_moves_the_app_but_not_during_an_operation(two: Two) -> None:
    async with two.fleet() as fleet:
        manifest = application("mover", two.repo, "east", automated=False)
        await fleet.apply_application(manifest)
        await fleet.sync("mover")
        await synced(fleet, "mover")
        assert cm("cm-east") in two.here.applied()

        moved = to_east(manifest)
        with pytest.raises(ConflictError, match="--upsert"):
            await fleet.apply_application(moved, upsert=False)
        await fleet.apply_application(moved)
        assert fleet.names_by_member() == {PRIMARY: [], EAST: ["mover"]}
        await fleet.sync("mover")
        await synced(fleet, "mover")
        assert cm("cm-east") in two.east.applied()
        assert two.here.deleted() == []  # left on the old target, as Argo CD leaves it
        assert len(await fleet.history("mover")) == 2  # one sync on each target: kept

        slow = ObjectKey("apps", "Deployment", "demo", "slow")
        two.east.hold(slow)
        two.repo.write("east/slow.yaml", {
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "slow"},
            "spec": {"selector": {"matchLabels": {"app": "slow"}}, "template": {
                "metadata": {"labels": {"app": "slow"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]}}},
        })  # fmt: skip
        two.repo.commit()
        looked = fleet.wait_reconciled("mover")
        fleet.refresh("mover")
        assert await looked
        await fleet.sync("mover")
        await two.east.until(lambda: slow in two.east.applied(), what="the Deployment applied")
        assert fleet.operation_running("mover")
        with pytest.raises(ConflictError, match="an operation is running"):
            await fleet.apply_application(manifest)
        assert fleet.names_by_member() == {PRIMARY: [], EAST: ["mover"]}
        assert await fleet.terminate("mover")


async def test_projects_reach_every_member_and_the_watch_hears_every_target(two: Two) -> None:
    def team(destination: str) -> dict[str, object]:
        return {
            "apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
            "metadata": {"name": "team", "namespace": "argocd"},
            "spec": {"sourceRepos": ["*"],
                     "destinations": [{"name": destination, "namespace": "*"}]},
        }  # fmt: skip

    async with two.fleet() as fleet:
        await fleet.apply_project(team("east"))
        app = to_east(application("east", two.repo, "east", automated=False, project="team"))
        await fleet.apply_application(app)
        await fleet.wait_reconciled("east")
        assert fleet.application("east")["status"]["sync"]["status"] == "OutOfSync"
        waiting = fleet.wait_reconciled("east")
        await fleet.apply_project(team("west"))  # the east member's cached project changes
        assert await waiting
        messages = [c["message"] for c in fleet.application("east")["status"]["conditions"]]
        assert any("destination cluster 'east', namespace 'demo' is not permitted in project "
                   "'team'" in m for m in messages), messages  # fmt: skip

        seen: set[str] = set()

        async def watch() -> None:
            async for event in fleet.target.watch(Selector(kind="ConfigMap")):
                seen.add(event.object["metadata"]["name"])
                if {"on-here", "on-east"} <= seen:
                    return

        for target in (two.here, two.east):
            await target.apply({"apiVersion": "v1", "kind": "Namespace",
                                "metadata": {"name": "watched"}})  # fmt: skip
        watching = asyncio.create_task(watch())
        for target, name in ((two.here, "on-here"), (two.east, "on-east")):
            await target.apply(
                {**configmap(name, {}), "metadata": {"name": name, "namespace": "watched"}}
            )
        await asyncio.wait_for(watching, 10)
        assert await fleet.target.get(ObjectKey("", "ConfigMap", "watched", "on-east")) is not None
        listed = await fleet.target.list(Selector(kind="ConfigMap"))
        assert {"on-here", "on-east"} <= {o["metadata"]["name"] for o in listed}
