"""Input checks: what git may see, and the message a refused input gets."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest

from conveyor.errors import ValidationError
from conveyor.source import (
    InvalidSourceError,
    SourceError,
    validate_path,
    validate_repo_url,
    validate_revision,
    validate_sha,
)


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/argoproj/argocd-example-apps.git",
        "http://git.local:3000/org/repo",
        "https://user:token@github.com/org/repo.git",
        "ssh://git@github.com/org/repo.git",
        "git@github.com:org/repo.git",
        "git://host/repo.git",
        "file:///srv/git/repo.git",
        "/srv/git/repo.git",
        "./relative/repo",
        "repo-dir",
    ],
    ids=["https", "http-port", "https-creds", "ssh", "scp-like", "git", "file", "abs-path",
         "rel-path", "bare-name"],
)  # fmt: skip
def test_accepted_urls(url: str) -> None:
    assert validate_repo_url(url) == url


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("", "empty"),
        ("--upload-pack=touch /tmp/x", "starts with '-'"),
        ("-uhelp", "starts with '-'"),
        ("ext::sh -c touch% /tmp/x", "'ext::' transport"),
        ("ext::touch%20/tmp/x", "'ext::' transport"),
        ("fd::17", "'fd::' transport"),
        ("git-remote-foo::bar", "transport"),
        ("gopher://host/repo", "scheme 'gopher'"),
        ("ssh://-oProxyCommand=touch%20x/repo", "ssh would read as an option"),
        ("-oProxyCommand=x@host:repo", "starts with '-'"),
        ("git@-oProxyCommand=x:repo", "ssh would read as an option"),
        ("https://host/re po", "whitespace"),
        ("https://host/repo\n", "control characters"),
        ("/srv/https://host/repo", "does not start with a scheme"),
    ],
    ids=["empty", "option", "short-option", "ext-space", "ext", "fd", "helper", "scheme",
         "ssh-host-option", "scp-user-option", "scp-host-option", "space", "newline",
         "inner-scheme"],
)  # fmt: skip
def test_refused_urls(url: str, says: str) -> None:
    with pytest.raises(InvalidSourceError, match="repoURL") as caught:
        validate_repo_url(url)
    assert says in caught.value.message
    assert isinstance(caught.value, ValidationError)
    assert isinstance(caught.value, SourceError)


@pytest.mark.parametrize(
    ("revision", "expected"),
    [("", "HEAD"), ("HEAD", "HEAD"), ("main", "main"), ("release/1.2", "release/1.2"),
     ("v1.0.0", "v1.0.0"), ("refs/heads/main", "refs/heads/main"), ("abc1234", "abc1234")],
    ids=["empty", "head", "branch", "slash", "tag", "full-ref", "short-sha"],
)  # fmt: skip
def test_accepted_revisions(revision: str, expected: str) -> None:
    assert validate_revision(revision) == expected


@pytest.mark.parametrize(
    ("revision", "says"),
    [
        ("--upload-pack=touch /tmp/x", "starts with '-'"),
        ("-h", "starts with '-'"),
        ("main..dev", "'..'"),
        ("HEAD~1", "'~'"),
        ("HEAD^", "'^'"),
        ("main@{1}", "'@{'"),
        ("main:secret.txt", "':'"),
        ("ma in", "whitespace"),
        ("main\x00", "control characters"),
        ("branch.lock", "not a valid git ref name"),
    ],
    ids=["option", "short-option", "range", "ancestor", "parent", "reflog", "rev-path", "space",
         "nul", "lock"],
)  # fmt: skip
def test_refused_revisions(revision: str, says: str) -> None:
    with pytest.raises(InvalidSourceError, match="targetRevision") as caught:
        validate_revision(revision)
    assert says in caught.value.message


@pytest.mark.parametrize(
    ("path", "expected"),
    [("", "."), (".", "."), ("./", "."), ("apps/guestbook", "apps/guestbook"),
     ("./apps//guestbook/", "apps/guestbook"), ("with space/x", "with space/x")],
    ids=["empty", "dot", "dot-slash", "plain", "untidy", "inner-space"],
)  # fmt: skip
def test_accepted_paths(path: str, expected: str) -> None:
    assert validate_path(path) == PurePosixPath(expected)


@pytest.mark.parametrize(
    ("path", "says"),
    [("..", "'..'"), ("../other", "'..'"), ("apps/../../etc", "'..'"), ("apps/../x", "'..'"),
     ("/etc/passwd", "absolute"), (" apps", "whitespace"), ("apps\n", "control")],
    ids=["dotdot", "parent", "climb", "inner-dotdot", "absolute", "leading-space", "newline"],
)  # fmt: skip
def test_refused_paths(path: str, says: str) -> None:
    with pytest.raises(InvalidSourceError, match="path") as caught:
        validate_path(path)
    assert says in caught.value.message


def test_sha_must_be_full() -> None:
    assert validate_sha("a" * 40) == "a" * 40
    with pytest.raises(InvalidSourceError, match="resolve the revision first"):
        validate_sha("abc1234")
