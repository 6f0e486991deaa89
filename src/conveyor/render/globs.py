"""Argo CD's include/exclude globs for directory apps, with its exact meaning.

Argo CD matches ``spec.source.directory.include``/``exclude`` with gobwas/glob and no
separators against each file's path relative to the app path, so ``*`` also crosses ``/``
(``*.yaml`` matches ``sub/a.yaml``) and ``{a,b}`` lists alternatives, which may nest and hold
globs themselves (``{config.json,env-usw2/*}``). ``fnmatch`` differs on both, hence this module.

Syntax: ``*`` and ``**`` any run of characters, ``?`` one character, ``[abc]`` / ``[a-z]`` a
class, ``[!abc]`` a negated class, ``{a,b}`` alternatives, ``\\x`` the character x literally.
A pattern only ever filters paths found under the app directory; it never opens a file.
"""

from __future__ import annotations

import re
from functools import lru_cache

from conveyor.errors import ValidationError


class _Parser:
    """Recursive-descent translation of one glob into a regular expression."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.pos = 0

    def fail(self, what: str) -> ValidationError:
        return ValidationError(f"{what} at position {self.pos + 1} of glob {self.pattern!r}")

    def sequence(self, in_braces: bool) -> str:
        """Translate up to the end, or up to ',' / '}' when inside braces."""
        out: list[str] = []
        while self.pos < len(self.pattern):
            char = self.pattern[self.pos]
            if in_braces and char in ",}":
                return "".join(out)
            self.pos += 1
            if char == "*":
                while self.pos < len(self.pattern) and self.pattern[self.pos] == "*":
                    self.pos += 1
                out.append(".*")
            elif char == "?":
                out.append(".")
            elif char == "[":
                out.append(self.char_class())
            elif char == "{":
                out.append(self.alternatives())
            elif char == "\\":
                if self.pos >= len(self.pattern):
                    raise self.fail("a trailing '\\' escapes nothing")
                out.append(re.escape(self.pattern[self.pos]))
                self.pos += 1
            else:
                out.append(re.escape(char))
        if in_braces:
            raise self.fail("'{' is never closed")
        return "".join(out)

    def alternatives(self) -> str:
        options = [self.sequence(in_braces=True)]
        while self.pattern[self.pos] == ",":
            self.pos += 1
            options.append(self.sequence(in_braces=True))
        self.pos += 1  # the closing '}'
        return "(?:" + "|".join(options) + ")"

    def char_class(self) -> str:
        end = self.pattern.find("]", self.pos + 1)
        if end < 0:
            raise self.fail("'[' is never closed")
        body = self.pattern[self.pos : end]
        self.pos = end + 1
        negate = body.startswith("!")
        if negate:
            body = body[1:]
        if not body:
            raise self.fail("an empty character class '[]'")
        chars = "".join("\\" + c if c in "\\^[]" else c for c in body)
        return f"[{'^' if negate else ''}{chars}]"


@lru_cache(maxsize=256)
def compile_glob(pattern: str) -> re.Pattern[str]:
    """The compiled glob; ValidationError naming the position when it is malformed."""
    parser = _Parser(pattern)
    return re.compile(parser.sequence(in_braces=False), re.DOTALL)


def glob_match(pattern: str, path: str) -> bool:
    """Whether the whole of ``path`` (relative, '/' separated) matches ``pattern``."""
    return compile_glob(pattern).fullmatch(path) is not None
