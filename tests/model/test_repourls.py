"""Repository URL identity: every spelling of one repository is one repository."""

from __future__ import annotations

import pytest

from conveyor.model.repourls import normalize_git_url, parse_repo_url, repo_identity
from conveyor.source import repo_key

SAME = [
    "https://github.com/Org/Repo",
    "https://github.com/org/repo.git",
    "https://github.com/org/repo/",
    "https://GitHub.com/org/repo.git/",
    "http://github.com/org/repo",
    "https://user:token@github.com/org/repo.git",
    "https://github.com:443/org/repo",
    "ssh://git@github.com/org/repo.git",
    "ssh://git@github.com:22/org/repo",
    "ssh://github.com/org/repo",
    "git+ssh://git@github.com/org/repo",
    "git@github.com:org/repo.git",
    "git@github.com:org/repo",
    "github.com:org/repo",
    "git://github.com/org/repo.git",
]


@pytest.mark.parametrize("url", SAME, ids=SAME)
def test_every_spelling_of_a_repository_has_one_identity(url: str) -> None:
    assert repo_identity(url) == "github.com/org/repo"


@pytest.mark.parametrize(
    "other",
    ["https://github.com/org/repo2", "https://gitlab.com/org/repo", "git@github.com:org2/repo",
     "https://github.com/org/repo/sub"],
)  # fmt: skip
def test_other_repositories_differ(other: str) -> None:
    assert repo_identity(other) != repo_identity("https://github.com/org/repo")


def test_local_repositories_keep_their_case_and_match_their_file_url() -> None:
    assert repo_identity("/srv/git/Repo.git") == "file:///srv/git/Repo"
    assert repo_identity("file:///srv/git/Repo/") == repo_identity("/srv/git/Repo")
    assert repo_identity("/srv/git/Repo") != repo_identity("/srv/git/repo")


def test_parts() -> None:
    parts = parse_repo_url("ssh://deploy:secret@Git.Example.com:2222/team/app.git")
    assert (parts.scheme, parts.user, parts.host, parts.port, parts.path) == (
        "ssh", "deploy", "git.example.com", "2222", "team/app"
    )  # fmt: skip


def test_mirror_keys_keep_the_scheme_and_the_paths_case() -> None:
    # A mirror is fetched over one transport: https and ssh spellings keep separate mirrors,
    # while a push notice for either refreshes the app (repo_identity above).
    assert repo_key("https://github.com/org/repo") != repo_key("git@github.com:org/repo")
    assert repo_key("git@github.com:org/repo.git") == repo_key("ssh://git@github.com/org/repo")


@pytest.mark.parametrize(
    ("url", "normalized"),
    [("git@GitHub.com:Org/Repo.git", "git@github.com/org/repo"),
     ("ssh://git@github.com/org/repo", "git@github.com/org/repo"),
     ("https://GitHub.com/org/repo.git", "https://github.com/org/repo")],
)  # fmt: skip
def test_argo_cds_normalized_form_for_project_patterns(url: str, normalized: str) -> None:
    assert normalize_git_url(url) == normalized
