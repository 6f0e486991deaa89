"""A sync executor on the local runtime's object store: no process, no git, no worker.

The runtime is not started, so its controllers never run: what the store holds after a sync
is exactly what the sync wrote (children are made by hand where a test needs them).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conveyor.diff import compile_ignore_rules
from conveyor.engine.compare import prepare
from conveyor.engine.livestate import LiveState
from conveyor.engine.sync import SyncExecutor, SyncOutcome, SyncRequest
from conveyor.engine.syncplan import PlanOptions
from conveyor.model.objects import Object, ObjectKey
from conveyor.model.syncoptions import SyncOptions
from conveyor.targets.local.journal import MemoryJournal
from conveyor.targets.local.runtime import LocalRuntime
from conveyor.targets.local.target import LocalTarget

NAMESPACE = "demo"


class NoImages:
    def resolve(self, image: str) -> None:
        return None


@dataclass
class Harness:
    runtime: LocalRuntime
    target: LocalTarget
    live: LiveState
    executor: SyncExecutor

    async def sync(
        self,
        app: str,
        desired: Sequence[Object],
        options: Sequence[str] = (),
        *,
        prune: bool = True,
        ignore_differences: Sequence[dict[str, Any]] = (),
    ) -> SyncOutcome:
        """Sync ``desired`` as app ``app`` with these sync options; returns the outcome."""
        objects = prepare([dict(o) for o in desired], app, NAMESPACE)
        request = SyncRequest(
            app=app,
            revision="0" * 40,
            namespace=NAMESPACE,
            desired=objects,
            options=PlanOptions(prune=prune, sync=SyncOptions.parse(options)),
            ignore_rules=compile_ignore_rules(list(ignore_differences)),
        )
        return await self.executor.run(request)

    def get(self, kind: str, name: str, group: str = "") -> Object | None:
        namespace = "" if kind in ("Namespace", "CustomResourceDefinition") else NAMESPACE
        return self.runtime.store.get(ObjectKey(group, kind, namespace, name))


async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    runtime = LocalRuntime(runtime_dir=tmp_path / "run", journal=MemoryJournal(), images=NoImages())
    runtime.store.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    target = LocalTarget(runtime)
    live = LiveState(target)
    await live.start()
    try:
        yield Harness(runtime, target, live, SyncExecutor(target, live, step_timeout=10.0))
    finally:
        await live.stop()
