"""Repository identity and credential masking."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.engine.compare import checkout_path
from conveyor.source import mask_credentials, repo_key, strip_credentials
from conveyor.source.urls import mirror_name


@pytest.mark.parametrize(
    "spelling",
    [
        "https://github.com/Org/Repo",
        "https://GitHub.com/Org/Repo.git",
        "https://github.com/Org/Repo/",
        "https://user:pass@github.com/Org/Repo.git",
    ],
    ids=["plain", "case-and-suffix", "slash", "creds"],
)
def test_spellings_of_one_repo_share_a_key(spelling: str) -> None:
    assert repo_key(spelling) == "https://github.com/Org/Repo"


def test_ssh_forms_share_a_key() -> None:
    assert repo_key("git@github.com:org/repo.git") == repo_key("ssh://git@github.com/org/repo")
    assert repo_key("ssh://git@github.com:22/org/repo") == "ssh://github.com/org/repo"


def test_local_path_and_file_url_share_a_key() -> None:
    assert (
        repo_key("/srv/git/repo.git")
        == repo_key("file:///srv/git/repo")
        == ("file:///srv/git/repo")
    )


def test_path_case_tells_repos_apart() -> None:
    assert repo_key("https://host/org/Repo") != repo_key("https://host/org/repo")


def test_mirror_name_is_readable_and_unique() -> None:
    name = mirror_name("https://github.com/argoproj/argocd-example-apps.git")
    assert name.startswith("argoproj-argocd-example-apps-")
    assert mirror_name("https://a/x/y") != mirror_name("https://b/x/y")
    assert "/" not in mirror_name("file:///../../etc")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("fatal: https://user:s3cret@host/r.git", "fatal: https://user:******@host/r.git"),
        ("https://ghp_token123@github.com/o/r", "https://******@github.com/o/r"),
        ("https://user:p@ss@host/r", "https://user:******@host/r"),
        ("ssh://git@host/r and git@host:r", "ssh://git@host/r and git@host:r"),
    ],
    ids=["password", "token", "at-in-password", "ssh-user-kept"],
)
def test_mask_credentials(text: str, expected: str) -> None:
    assert mask_credentials(text) == expected


def test_mask_credentials_catches_a_bare_password() -> None:
    url = "https://user:s3cret%21@host/r"
    assert "s3cret" not in mask_credentials("auth failed for s3cret! and s3cret%21", url)


def test_strip_credentials() -> None:
    assert strip_credentials("https://user:pw@host/r") == "https://user@host/r"
    assert strip_credentials("https://token@host/r") == "https://host/r"
    assert strip_credentials("ssh://git@host/r") == "ssh://git@host/r"
    assert strip_credentials("/local/path") == "/local/path"


@pytest.mark.parametrize(
    "url",
    [
        "https://host/../../../../tmp/evil/repo.git",
        "https://host/org/./../../../../tmp/evil/repo",
        "ssh://git@host/../../tmp/evil/repo",
        "git@host:../../tmp/evil/repo",
    ],
    ids=lambda v: str(v),
)
def test_repo_key_has_no_dot_segments(url: str) -> None:
    key = repo_key(url)
    assert "/../" not in key and "/./" not in key and not key.endswith("/..")
    assert key.endswith("tmp/evil/repo")


def test_checkout_paths_stay_under_the_checkouts_dir(tmp_path: Path) -> None:
    root = tmp_path / "checkouts"
    for url in ("https://host/../../../../tmp/evil/repo.git", "/a/../../b", "file:///../x"):
        path = checkout_path(root, url, "0" * 40)
        assert path.resolve().is_relative_to(root.resolve())
