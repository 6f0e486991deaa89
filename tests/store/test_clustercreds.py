"""Registered clusters are kept encrypted, with a private key, and never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.errors import NotFoundError, ValidationError
from conveyor.store.clustercreds import DATA_FILE, KEY_FILE, ClusterStore
from conveyor.targets.kubernetes.credentials import ClusterCredentials

TOKEN = "eyJhbGciOiJSUzI1NiJ9.s3cret-token"
PROD = ClusterCredentials(
    "prod", "https://prod.example.com:6443",
    {"bearerToken": TOKEN, "tlsClientConfig": {"caData": "Q0EK"}},
)  # fmt: skip


def test_clusters_are_stored_encrypted_under_a_private_key(tmp_path: Path) -> None:
    store = ClusterStore(tmp_path)
    assert store.add(PROD) == "created"
    assert TOKEN.encode() not in (tmp_path / DATA_FILE).read_bytes()
    assert (tmp_path / KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert (tmp_path / DATA_FILE).stat().st_mode & 0o777 == 0o600
    assert ClusterStore(tmp_path).list() == [PROD]  # another process reads it back
    view = PROD.public()
    assert TOKEN not in str(view) and view["auth"] == "bearerToken" and view["hasCaData"]


def test_a_name_or_server_in_use_needs_upsert_and_rm_forgets(tmp_path: Path) -> None:
    store = ClusterStore(tmp_path)
    store.add(PROD)
    moved = ClusterCredentials("prod", "https://new.example.com", {"bearerToken": "t2"})
    with pytest.raises(ValidationError, match="--upsert"):
        store.add(moved)
    assert store.add(moved, upsert=True) == "configured"
    assert store.list() == [moved]
    assert store.remove("https://new.example.com") == moved
    assert store.list() == []
    with pytest.raises(NotFoundError, match="no cluster 'prod'"):
        store.remove("prod")


def test_a_server_that_is_not_a_url_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="https:// URL"):
        ClusterStore(tmp_path).add(ClusterCredentials("x", "prod.example.com"))
