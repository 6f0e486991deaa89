"""CONVEYOR_HA and CONVEYOR_LEASE_TTL: leases are on with PostgreSQL unless told otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.errors import ValidationError
from conveyor.settings import Settings

PG = "postgresql+psycopg://conveyor@db:5432/conveyor"


@pytest.mark.parametrize(
    ("ha", "url", "leases"),
    [
        ("", None, False),
        ("auto", PG, True),
        ("off", PG, False),
        ("on", None, True),
    ],
    ids=["default-sqlite", "auto-postgresql", "off-postgresql", "on-sqlite"],
)
def test_leases_follow_the_database_unless_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ha: str, url: str | None, leases: bool
) -> None:
    monkeypatch.setenv("CONVEYOR_HA", ha)
    if url:
        monkeypatch.setenv("CONVEYOR_DATABASE_URL", url)
    assert Settings.from_env(home=tmp_path).leases is leases


def test_settings_built_in_code_take_no_lease(tmp_path: Path) -> None:
    assert Settings(home=tmp_path, database_url=PG).leases is False


def test_bad_values_are_refused_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVEYOR_HA", "yes")
    with pytest.raises(ValidationError, match="CONVEYOR_HA='yes': use auto, on or off"):
        Settings.from_env(home=tmp_path)
    monkeypatch.setenv("CONVEYOR_HA", "on")
    monkeypatch.setenv("CONVEYOR_LEASE_TTL", "0")
    with pytest.raises(ValidationError, match="CONVEYOR_LEASE_TTL"):
        Settings.from_env(home=tmp_path)
    monkeypatch.setenv("CONVEYOR_LEASE_TTL", "4")
    monkeypatch.setenv("CONVEYOR_ADVERTISE_URL", "10.0.0.1:8600")
    with pytest.raises(ValidationError, match="CONVEYOR_ADVERTISE_URL"):
        Settings.from_env(home=tmp_path)
    monkeypatch.setenv("CONVEYOR_ADVERTISE_URL", "http://10.0.0.1:8600/")
    settings = Settings.from_env(home=tmp_path)
    assert (settings.lease_ttl, settings.advertise_url) == (4.0, "http://10.0.0.1:8600")
