"""One revision grammar: the GitOps source and the artifact builder agree on every input."""

from __future__ import annotations

import pytest

from conveyor.artifacts import gitsource
from conveyor.errors import ValidationError
from conveyor.model.revisions import is_commit_sha, push_concerns
from conveyor.source import validate_revision

SHA1 = "0123456789abcdef0123456789abcdef01234567"
SHA256 = "0123456789abcdef" * 4

# (revision, a targetRevision may be it, a build may be it)
CASES = [
    ("main", True, True),
    ("release/1.2", True, True),
    ("v1.0.0", True, True),
    ("refs/heads/main", True, True),
    ("refs/pull/1/head", True, True),
    ("abc1234", True, True),
    (SHA1, True, True),
    (SHA256, True, True),
    ("HEAD", True, True),
    # git's ancestry suffixes: rev-parse takes them in a clone, Argo CD cannot resolve them
    ("main~1", False, True),
    ("HEAD~1", False, True),
    ("HEAD^", False, True),
    ("v1^2", False, True),
    ("main~1^2~3", False, True),
    # refused everywhere
    ("~1", False, False),
    ("main..dev", False, False),
    ("main...dev", False, False),
    ("main@{1}", False, False),
    ("@{upstream}", False, False),
    ("main:secret.txt", False, False),
    ("HEAD^{tree}", False, False),
    ("main~1..dev", False, False),
    ("--output=/tmp/x", False, False),
    ("-h", False, False),
    ("ma in", False, False),
    ("main\n", False, False),
    ("branch.lock", False, False),
    ("/main", False, False),
    ("x" * 256, False, False),
]


def _accepted(check: object, revision: str) -> bool:
    try:
        check(revision)  # type: ignore[operator]
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize(("revision", "target", "build"), CASES, ids=[c[0][:20] for c in CASES])
def test_source_and_builder_agree(revision: str, target: bool, build: bool) -> None:
    assert _accepted(validate_revision, revision) is target
    assert _accepted(gitsource.validate_revision, revision) is build


def test_every_refusal_says_why_in_the_same_words() -> None:
    for revision in ("--x", "a..b", "ma in"):
        with pytest.raises(ValidationError) as from_source:
            validate_revision(revision)
        with pytest.raises(ValidationError) as from_build:
            gitsource.validate_revision(revision)
        assert from_source.value.message == from_build.value.message


def test_full_shas_of_both_hash_functions() -> None:
    assert is_commit_sha(SHA1) and is_commit_sha(SHA256)
    assert not is_commit_sha(SHA1[:-1]) and not is_commit_sha(SHA256 + "0")
    assert not is_commit_sha(SHA1.upper()) and not is_commit_sha("g" * 40)


@pytest.mark.parametrize(
    ("target", "ref", "concerns"),
    [
        ("main", "refs/heads/main", True),
        ("refs/heads/main", "refs/heads/main", True),
        ("main", "refs/heads/dev", False),
        ("v1", "refs/tags/v1", True),
        ("v1", "refs/tags/v2", False),
        ("HEAD", "refs/heads/anything", True),
        ("", "refs/heads/anything", True),
        (SHA1, "refs/heads/main", True),
        (SHA256, "refs/heads/main", True),
        (SHA256[:40], "refs/heads/other", True),  # 40 hex digits: a SHA-1 commit
        (SHA256[:50], "refs/heads/other", False),  # neither: a branch named so
    ],
)
def test_which_push_concerns_an_app(target: str, ref: str, concerns: bool) -> None:
    assert push_concerns(target, ref) is concerns
