"""The local runtime in its own process, for the AnalysisRun kill -9 test.

Usage: ``python analysis_process.py HOME RUN.json``. It starts the local target on
CONVEYOR_HOME=HOME, applies the AnalysisRun unless the runtime already has it (a restart
finds it in its journal), and runs until killed.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from conveyor.bootstrap import local_target
from conveyor.logging import configure
from conveyor.model.objects import ObjectKey
from conveyor.settings import Settings


async def main(home: Path, manifest: Path) -> None:
    configure("INFO")
    run = json.loads(manifest.read_text())
    async with local_target(Settings.from_env(home=home)) as target:
        if await target.get(ObjectKey.of(run)) is None:
            await target.apply(run)
        print("ready", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2])))
