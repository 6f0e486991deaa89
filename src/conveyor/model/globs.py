"""Argo CD's glob matching, in time linear in the text, for every glob Conveyor evaluates.

Argo CD matches AppProject rules (sourceRepos, destinations, resource kinds) and a directory
app's include/exclude with gobwas/glob: ``*`` any run of characters, ``?`` one character (both
stop at the separator when there is one, ``/`` for repository URLs), ``**`` any run including
the separator, ``[a-z]`` / ``[!a-z]`` a class, ``{a,b}`` alternatives (which may nest and hold
globs), ``\\x`` the character x literally.

The patterns come from users and are matched on the event loop, so they are never turned into
a backtracking regular expression (ten ``*`` against a long URL took seconds). A pattern
compiles into a small automaton that is run as a lazily built DFA: each character of the text
costs one table lookup once seen, and at most one pass over the pattern's states otherwise,
whatever the pattern. Patterns are bounded to ``MAX_PATTERN`` characters.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache

from conveyor.errors import ValidationError

MAX_PATTERN = 1024
"""Longest glob accepted; real patterns are a few dozen characters."""

_MAX_MOVES = 65_536
"""Cached DFA transitions per glob before the table is dropped and rebuilt as needed."""


@dataclass(frozen=True)
class _Test:
    """What one character must be: ``chars`` (or not, when ``negate``) or in ``ranges``."""

    chars: frozenset[str] = frozenset()
    ranges: tuple[tuple[str, str], ...] = ()
    negate: bool = False

    def accepts(self, char: str) -> bool:
        hit = char in self.chars or any(low <= char <= high for low, high in self.ranges)
        return hit != self.negate


# -- parsing: pattern -> tree ----------------------------------------------------------------


# A node is a _Test (one character), a _Star, or an _Alt of sequences.
@dataclass(frozen=True)
class _Star:
    test: _Test  # what each character of the run must be


@dataclass(frozen=True)
class _Alt:
    options: tuple[tuple[_Node, ...], ...]


_Node = _Test | _Star | _Alt


class _Parser:
    """Recursive descent over one pattern; errors name the position."""

    def __init__(self, pattern: str, separator: str | None) -> None:
        self.pattern = pattern
        self.pos = 0
        self.not_sep = _Test(frozenset(separator or ""), negate=True)

    def fail(self, what: str) -> ValidationError:
        return ValidationError(f"{what} at position {self.pos + 1} of glob {self.pattern!r}")

    def sequence(self, in_braces: bool) -> tuple[_Node, ...]:
        """Nodes up to the end, or up to ',' / '}' when inside braces."""
        out: list[_Node] = []
        while self.pos < len(self.pattern):
            char = self.pattern[self.pos]
            if in_braces and char in ",}":
                return tuple(out)
            self.pos += 1
            if char == "*":
                crosses = False
                while self.pos < len(self.pattern) and self.pattern[self.pos] == "*":
                    crosses = True
                    self.pos += 1
                out.append(_Star(_Test(negate=True) if crosses else self.not_sep))
            elif char == "?":
                out.append(self.not_sep)
            elif char == "[":
                out.append(self.char_class())
            elif char == "{":
                out.append(self.alternatives())
            elif char == "\\":
                if self.pos >= len(self.pattern):
                    raise self.fail("a trailing '\\' escapes nothing")
                out.append(_Test(frozenset(self.pattern[self.pos])))
                self.pos += 1
            else:
                out.append(_Test(frozenset(char)))
        if in_braces:
            raise self.fail("'{' is never closed")
        return tuple(out)

    def alternatives(self) -> _Alt:
        options = [self.sequence(in_braces=True)]
        while self.pattern[self.pos] == ",":
            self.pos += 1
            options.append(self.sequence(in_braces=True))
        self.pos += 1  # the closing '}'
        return _Alt(tuple(options))

    def char_class(self) -> _Test:
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
        chars: set[str] = set()
        ranges: list[tuple[str, str]] = []
        i = 0
        while i < len(body):
            if i + 2 < len(body) and body[i + 1] == "-":
                ranges.append((body[i], body[i + 2]))
                i += 3
            else:
                chars.add(body[i])
                i += 1
        return _Test(frozenset(chars), tuple(ranges), negate)


# -- the automaton -----------------------------------------------------------------------------

_MATCH = 0  # index of the accepting state in every program


class Glob:
    """One compiled glob; ``match`` runs in time linear in the text."""

    def __init__(self, pattern: str, nodes: tuple[_Node, ...]) -> None:
        self.pattern = pattern
        # Each state is a character test with its next state, or a split (a set of states
        # reached without reading a character); state 0 accepts.
        self._tests: list[_Test | None] = [None]
        self._next: list[tuple[int, ...]] = [()]
        start = self._sequence(nodes, _MATCH)
        self._closures: dict[int, frozenset[int]] = {}
        self._ids: dict[frozenset[int], int] = {}
        self._sets: list[frozenset[int]] = []
        self._moves: dict[tuple[int, str], int] = {}
        self._lock = threading.Lock()
        self._start = self._intern(self._closure((start,)))

    def _state(self, test: _Test | None, outs: tuple[int, ...]) -> int:
        self._tests.append(test)
        self._next.append(outs)
        return len(self._tests) - 1

    def _sequence(self, nodes: tuple[_Node, ...], follow: int) -> int:
        for node in reversed(nodes):
            follow = self._node(node, follow)
        return follow

    def _node(self, node: _Node, follow: int) -> int:
        if isinstance(node, _Test):
            return self._state(node, (follow,))
        if isinstance(node, _Star):
            loop = self._state(None, ())
            step = self._state(node.test, (loop,))
            self._next[loop] = (step, follow)
            return loop
        return self._state(None, tuple(self._sequence(o, follow) for o in node.options))

    def _closure(self, states: tuple[int, ...] | frozenset[int]) -> frozenset[int]:
        """The character-reading (and accepting) states reachable without reading."""
        found: set[int] = set()
        seen: set[int] = set()
        stack = list(states)
        while stack:
            state = stack.pop()
            if state in seen:
                continue
            seen.add(state)
            if state == _MATCH or self._tests[state] is not None:
                found.add(state)
            else:
                stack.extend(self._next[state])
        return frozenset(found)

    def _intern(self, states: frozenset[int]) -> int:
        known = self._ids.get(states)
        if known is None:
            known = self._ids[states] = len(self._sets)
            self._sets.append(states)
        return known

    def _step(self, current: int, char: str) -> int:
        reached: set[int] = set()
        for state in self._sets[current]:
            test = self._tests[state]
            if test is not None and test.accepts(char):
                target = self._next[state][0]
                closure = self._closures.get(target)
                if closure is None:
                    closure = self._closures[target] = self._closure((target,))
                reached |= closure
        return self._intern(frozenset(reached))

    def match(self, value: str) -> bool:
        """Whether the whole of ``value`` matches."""
        current = self._start
        moves = self._moves
        for char in value:
            following = moves.get((current, char))
            if following is None:
                with self._lock:  # renders may match from worker threads
                    if len(moves) >= _MAX_MOVES:
                        moves.clear()
                    following = moves[(current, char)] = self._step(current, char)
            current = following
            if not self._sets[current]:
                return False
        return _MATCH in self._sets[current]


@lru_cache(maxsize=1024)
def compile_glob(pattern: str, separator: str | None = None) -> Glob:
    """The compiled glob; ValidationError naming the position when it is malformed.

    With ``separator``, ``*`` and ``?`` do not match it (``**`` does).
    """
    if len(pattern) > MAX_PATTERN:
        raise ValidationError(
            f"the glob {pattern[:40]!r}... is longer than {MAX_PATTERN} characters"
        )
    return Glob(pattern, _Parser(pattern, separator).sequence(in_braces=False))


def glob_match(pattern: str, value: str, separator: str | None = None) -> bool:
    """Whether ``value`` matches ``pattern``, as Argo CD's project rules decide.

    ``*`` alone matches everything; a pattern that does not parse matches nothing (Argo CD
    logs it and denies).
    """
    if pattern == "*":
        return True
    try:
        glob = compile_glob(pattern, separator)
    except ValidationError:
        return False
    return glob.match(value)


def path_match(pattern: str, path: str) -> bool:
    """Whether the whole of ``path`` (relative, '/' separated) matches a directory glob.

    Directory include/exclude globs have no separator (``*.yaml`` matches ``sub/a.yaml``);
    a malformed one raises ValidationError naming the position.
    """
    return compile_glob(pattern).match(path)
