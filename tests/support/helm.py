"""The real helm, for the tests that render charts (`make test` installs it into the venv)."""

from __future__ import annotations

import os
import shutil

import pytest

needs_helm = pytest.mark.skipif(
    shutil.which("helm") is None and not os.environ.get("CI"),
    reason="helm is not on PATH (make test installs it): real chart rendering not tested",
)
"""Skips without helm, except in CI, where a missing helm must fail rather than hide tests."""
