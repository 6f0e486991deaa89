"""Argo CD's directory globs: '*' crosses '/', brace lists, classes; bad globs say where."""

from __future__ import annotations

import re

import pytest

from conveyor.errors import ValidationError
from conveyor.render import glob_match

CASES = [
    ("*.yaml", "a.yaml", True),
    ("*.yaml", "dir/a.yaml", True),
    ("*.yaml", "a.yml", False),
    ("**/*.yaml", "dir/a.yaml", True),
    ("{config.json,env-usw2/*}", "config.json", True),
    ("{config.json,env-usw2/*}", "env-usw2/x/y.yaml", True),
    ("{config.json,env-usw2/*}", "env-use1/a.yaml", False),
    ("{a,{b,c}}.yaml", "c.yaml", True),
    ("?.yaml", "ab.yaml", False),
    ("[a-c]*.json", "b1.json", True),
    ("[!a-c]*.json", "b1.json", False),
    ("a\\*.yaml", "a*.yaml", True),
    ("a\\*.yaml", "ab.yaml", False),
    ("a.yaml", "a.yaml", True),
    ("a.yaml", "axyaml", False),  # '.' is literal
]


@pytest.mark.parametrize(
    ("pattern", "path", "matches"), CASES, ids=[f"{p}|{t}" for p, t, _ in CASES]
)
def test_glob_match(pattern: str, path: str, matches: bool) -> None:
    assert glob_match(pattern, path) is matches


@pytest.mark.parametrize(
    ("pattern", "message"),
    [("{a,b", "'{' is never closed"), ("[ab", "'[' is never closed"), ("a\\", "trailing")],
    ids=["brace", "class", "escape"],
)
def test_malformed_glob(pattern: str, message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        glob_match(pattern, "x")
