"""A controller in its own process, for the crash test.

Usage: ``python engine_process.py HOME ARTIFACTS APP.json``.

It runs the local target and the controller on CONVEYOR_HOME=HOME, registers the app and
runs until killed. The test kills it with SIGKILL in the middle of a sync and starts it again.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from conveyor.artifacts import ArtifactStore
from conveyor.bootstrap import engine, local_target
from conveyor.engine.controller import ControllerOptions
from conveyor.logging import configure
from conveyor.settings import Settings
from conveyor.targets.local.kubelet import KubeletOptions


async def main(home: Path, artifacts: Path, manifest: Path) -> None:
    configure("INFO")
    settings = Settings.from_env(home=home)
    options = ControllerOptions(poll_interval=1.0, step_timeout=60.0)
    async with (
        local_target(
            settings, KubeletOptions(backoff_base=0.5), ArtifactStore(artifacts)
        ) as target,
        engine(settings, target, options=options) as controller,
    ):
        await controller.apply_application(json.loads(manifest.read_text()))
        print("ready", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])))
