"""One live API server per test module: real uvicorn, real controller, local target.

The poll interval is long (300 s), so that nothing refreshes unless a test asks for it (a
webhook, ``?refresh=``); apps are named per test so that tests sharing a server stay apart.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from api_helpers import SECRET, Live

from conveyor.api.app import create_app, local_engine
from conveyor.engine.controller import ControllerOptions
from conveyor.settings import Settings
from conveyor.targets.local.kubelet import KubeletOptions
from support.server_helpers import ThreadServer

OPTIONS = ControllerOptions(poll_interval=300.0, self_heal_backoff=0.2, step_timeout=60.0)
KUBELET = KubeletOptions(backoff_base=0.5, backoff_cap=2.0, image_retry_base=0.5)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    home = tmp_path_factory.mktemp("api-home")
    settings = Settings.from_env(home=home)
    app = create_app(
        settings,
        controller_factory=local_engine(settings, OPTIONS, KUBELET),
        webhook_secret=SECRET,
    )
    with ThreadServer(app) as server:
        yield Live(server.url, home, app, tmp_path_factory.mktemp("repos"))


@pytest.fixture
def api(live: Live) -> Iterator[httpx.Client]:
    with live.client() as client:
        yield client
