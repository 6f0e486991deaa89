"""One glob matcher for projects and directory apps: Argo CD's meaning, in linear time."""

from __future__ import annotations

import re
import time

import pytest

from conveyor.errors import ValidationError
from conveyor.model.globs import MAX_PATTERN, compile_glob, glob_match, path_match
from conveyor.model.loading import ManifestError, project_from_dict

SEPARATED = [
    ("https://github.com/org/*", "https://github.com/org/repo", True),
    ("https://github.com/org/*", "https://github.com/org/team/repo", False),
    ("https://github.com/org/**", "https://github.com/org/team/repo", True),
    ("https://github.com/*/repo", "https://github.com/org/repo", True),
    ("https://github.com/org/re?o", "https://github.com/org/repo", True),
    ("https://github.com/org/re?o", "https://github.com/org/re/o", False),
    ("https://{github,gitlab}.com/org/*", "https://gitlab.com/org/x", True),
    ("https://{github,gitlab}.com/org/*", "https://bitbucket.org/org/x", False),
    ("*", "https://anything/at/all", True),  # Argo CD: '*' alone allows every repository
    ("[a-c]x", "bx", True),
    ("[!a-c]x", "bx", False),
]


@pytest.mark.parametrize(
    ("pattern", "value", "matches"), SEPARATED, ids=[f"{p}|{v}" for p, v, _ in SEPARATED]
)
def test_project_globs_stop_at_the_separator_except_double_star(
    pattern: str, value: str, matches: bool
) -> None:
    assert glob_match(pattern, value, "/") is matches


def test_without_a_separator_star_crosses_slashes() -> None:
    assert glob_match("backend-*", "backend-api/x")
    assert path_match("*.yaml", "sub/dir/a.yaml")


def test_a_malformed_project_glob_matches_nothing_and_a_directory_glob_says_why() -> None:
    assert not glob_match("{unclosed", "unclosed")
    assert not glob_match("[ab", "a")
    with pytest.raises(ValidationError, match=re.escape("'{' is never closed at position")):
        path_match("{unclosed", "unclosed")


def test_a_pattern_longer_than_the_bound_is_refused() -> None:
    long = "a" * (MAX_PATTERN + 1)
    with pytest.raises(ValidationError, match="longer than"):
        compile_glob(long)
    assert not glob_match(long, long)
    assert glob_match("a" * MAX_PATTERN, "a" * MAX_PATTERN)


@pytest.mark.parametrize("separator", [None, "/"], ids=["no-separator", "slash"])
def test_many_stars_against_a_long_text_finish_at_once(separator: str | None) -> None:
    # A backtracking regex (the former implementation) needs about n^10 steps for this; the
    # automaton reads each character once. The budget is generous: the match takes a few ms.
    pattern = "https://" + "*a" * 10 + "*b"
    text = "https://" + "a" * 20_000
    started = time.monotonic()
    assert not glob_match(pattern, text, separator)
    assert glob_match(pattern, text + "b", separator)
    assert time.monotonic() - started < 1.0


def test_nested_alternatives_with_globs_inside() -> None:
    assert path_match("{config.json,env-{usw2,use1}/*}", "env-use1/a/b.yaml")
    assert not path_match("{config.json,env-{usw2,use1}/*}", "env-euw1/a.yaml")
    assert path_match("a\\*b", "a*b") and not path_match("a\\*b", "axb")


def test_a_project_with_a_glob_that_does_not_parse_is_refused_naming_the_field() -> None:
    project = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": {"name": "p"},
        "spec": {
            "sourceRepos": ["https://github.com/org/*", "https://github.com/{org,other/*"],
            "destinations": [{"server": "*", "namespace": "!team-[abc"}],
            "clusterResourceWhitelist": [{"group": "*", "kind": "x" * (MAX_PATTERN + 1)}],
        },
    }
    with pytest.raises(ManifestError) as caught:
        project_from_dict(project)
    message = str(caught.value)
    assert "sourceRepos[1]: '{' is never closed" in message
    assert "destinations[0].namespace: '[' is never closed" in message
    assert "clusterResourceWhitelist[0].kind: the glob" in message
