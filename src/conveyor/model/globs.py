"""Argo CD's glob matching, for AppProject rules.

Argo CD matches sourceRepos and destinations with gobwas/glob: ``*`` and ``?`` (which stop at
the separator, ``/`` for repository URLs), ``**`` (which does not), ``[a-z]`` / ``[!a-z]`` and
``{a,b}``; repository URLs are compared in a normalized form (lower case, no ``.git``).
"""

from __future__ import annotations

import re
from functools import lru_cache


def normalize_git_url(url: str) -> str:
    """A repository URL in the form used for matching: lower case, no ``.git``, scp-style ssh
    (``git@host:org/repo``) written as ``git@host/org/repo``, as Argo CD's NormalizeGitURL."""
    value = url.strip().lower()
    if "://" not in value and re.match(r"^[\w.-]+@[\w.-]+:", value):
        value = value.replace(":", "/", 1)
    value = value.removeprefix("ssh://")
    return value.removesuffix(".git")


def glob_match(pattern: str, value: str, separator: str | None = None) -> bool:
    """Whether ``value`` matches the glob ``pattern``; a pattern that does not parse matches
    nothing."""
    if pattern == "*":
        return True
    regex = _compile(pattern, separator)
    return regex is not None and regex.fullmatch(value) is not None


@lru_cache(maxsize=1024)
def _compile(pattern: str, separator: str | None) -> re.Pattern[str] | None:
    not_sep = f"[^{re.escape(separator)}]" if separator else "."
    out: list[str] = []
    depth = 0
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            if pattern.startswith("**", i):
                out.append(".*")
                i += 1
            else:
                out.append(f"{not_sep}*")
        elif char == "?":
            out.append(not_sep)
        elif char == "[":
            end = pattern.find("]", i + 2)
            if end < 0:
                return None
            body = pattern[i + 1 : end]
            body = "^" + body[1:] if body.startswith("!") else body
            out.append(f"[{body.replace(chr(92), chr(92) * 2)}]")
            i = end
        elif char == "{":
            depth += 1
            out.append("(?:")
        elif char == "}" and depth:
            depth -= 1
            out.append(")")
        elif char == "," and depth:
            out.append("|")
        elif char == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(char))
        i += 1
    if depth:
        return None
    try:
        return re.compile("".join(out), re.DOTALL)
    except re.error:
        return None
