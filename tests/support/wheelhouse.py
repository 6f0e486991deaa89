"""Offline pip for the tests: the wheels `make test` downloaded, and no package index at all.

The demo app's artifact installs FastAPI and uvicorn; a test that builds it installs them from
``.venv/wheelhouse`` (filled by `make test` from the app's pinned requirements.txt), never from
the network. ``tests/conftest.py`` puts ``OFFLINE_PIP`` into every test's environment, so any
other pip a test runs is offline too.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

WHEELHOUSE = Path(sys.executable).parent.parent / "wheelhouse"
"""Beside the venv's bin/: where `make test` downloads the demo app's wheels."""

OFFLINE_PIP = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(WHEELHOUSE)}
"""pip settings (as environment variables) that install only from the wheelhouse."""

needs_wheelhouse = pytest.mark.skipif(
    not (WHEELHOUSE / ".complete").exists() and not os.environ.get("CI"),
    reason=f"the demo app's wheels are not in {WHEELHOUSE} (make test downloads them)",
)
"""Skips without the wheels, except in CI, where a missing wheelhouse must fail."""
