"""Fixtures for the compare stage: a Deployment as Git has it and as the target returns it."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

TESTDATA = Path(__file__).parent / "testdata"


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((TESTDATA / name).read_text())
    assert isinstance(data, dict)
    return data


@pytest.fixture
def desired() -> dict[str, Any]:
    return load("deployment-desired.yaml")


@pytest.fixture
def live() -> dict[str, Any]:
    return copy.deepcopy(load("deployment-live.yaml"))
