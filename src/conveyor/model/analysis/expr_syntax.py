"""Reading a condition: expr-lang's tokens and grammar, for the subset Conveyor evaluates.

Argo Rollouts evaluates ``successCondition`` and ``failureCondition`` with expr-lang. No
Python library reads that language, so this module parses the part of it that Argo's
documentation and examples use into a small tree (``Node``), and refuses everything else
with an error that names the construct (``the pipe operator '|' is not supported``), so a
template that could not be evaluated is rejected when it is applied, not at 3 AM.

The precedences are expr-lang's: ``?:`` < ``||``/``or`` < ``&&``/``and`` < comparisons <
``+ -`` < ``* / %`` < unary ``!``/``not`` < unary ``- +`` < ``**`` < ``??``. Size and nesting
are bounded so that a condition cannot exhaust the parser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

MAX_LENGTH = 4096  # characters in one condition
MAX_NODES = 1000  # nodes in its tree
MAX_DEPTH = 40  # nesting of sub-expressions

# The functions a condition may call, by name -> (min args, max args or None for any).
FUNCTIONS: dict[str, tuple[int, int | None]] = {
    "len": (1, 1),
    "isNaN": (1, 1),
    "isInf": (1, 1),
    "isNil": (1, 1),
    "default": (2, 2),
    "asInt": (1, 1),
    "asFloat": (1, 1),
    "abs": (1, 1),
    "max": (1, None),
    "min": (1, None),
    "sum": (1, 1),
    "mean": (1, 1),
}
# Functions whose second argument is a predicate over the array's items (``#``).
PREDICATES = frozenset({"all", "any", "none", "one", "filter", "map", "count"})
# Names a condition may read: Argo's environment has ``result`` only.
VARIABLES = frozenset({"result"})
_CONSTANTS: dict[str, Any] = {"true": True, "false": False, "nil": None}

_BINARY: dict[str, tuple[int, bool]] = {  # operator -> (precedence, right-associative)
    "||": (10, False),
    "or": (10, False),
    "&&": (15, False),
    "and": (15, False),
    "==": (20, False),
    "!=": (20, False),
    "<": (20, False),
    ">": (20, False),
    "<=": (20, False),
    ">=": (20, False),
    "in": (20, False),
    "not in": (20, False),
    "contains": (20, False),
    "startsWith": (20, False),
    "endsWith": (20, False),
    "+": (30, False),
    "-": (30, False),
    "*": (60, False),
    "/": (60, False),
    "%": (60, False),
    "**": (100, True),
    "^": (100, True),
    "??": (500, False),
}
_UNARY = {"!": 50, "not": 50, "-": 90, "+": 90}
# Constructs of expr-lang that Conveyor refuses, with the name a person recognises.
_REFUSED_WORDS = {
    "matches": "the 'matches' operator (regular expressions)",
    "let": "'let' variables",
    "if": "'if' expressions (use cond ? a : b)",
}
_REFUSED_SYMBOLS = {
    "|": "the pipe operator '|'",
    "..": "the range operator '..'",
    "`": "raw strings in backquotes",
    ";": "sequences with ';'",
    "=": "assignment '='",
}


class ExpressionError(ValueError):
    """A condition cannot be read or evaluated; the message says what and where."""


@dataclass(frozen=True)
class Node:
    """One node of a condition's tree.

    ``kind`` is one of: lit (``value``), name (``value`` = variable), pointer (``#``),
    unary/binary (``value`` = operator), ternary, member (``value`` = optional chaining),
    slice, call (``value`` = function), closure, array.
    """

    kind: str
    value: Any = None
    children: tuple[Node, ...] = ()


@dataclass(frozen=True)
class _Token:
    kind: str  # num, str, ident, op, eof
    text: str
    value: Any
    pos: int


_NUMBER = re.compile(r"0[xX][0-9a-fA-F_]+|(?:\d[\d_]*)?\.?\d[\d_]*(?:[eE][+-]?\d+)?")
_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_OPERATORS = sorted(
    ["==", "!=", "<=", ">=", "&&", "||", "**", "??", "?.", "..", "<", ">", "!", "+", "-", "*",
     "/", "%", "^", "?", ":", ".", ",", "(", ")", "[", "]", "{", "}", "#", "|", ";", "`", "="],
    key=len,
    reverse=True,
)  # fmt: skip
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "0": "\0"}


def tokenize(text: str) -> list[_Token]:
    """The tokens of ``text``; raises ExpressionError at the first character it cannot read."""
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"the condition is longer than {MAX_LENGTH} characters")
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch in "\"'":
            value, end = _read_string(text, i)
            tokens.append(_Token("str", text[i:end], value, i))
            i = end
            continue
        number = _NUMBER.match(text, i) if (ch.isdigit() or ch == ".") else None
        if number and number.group() not in ("", "."):
            raw = number.group()
            tokens.append(_Token("num", raw, _number(raw, i), i))
            i = number.end()
            continue
        ident = _IDENT.match(text, i)
        if ident:
            if ident.group() in _REFUSED_WORDS:
                raise ExpressionError(f"{_REFUSED_WORDS[ident.group()]} is not supported{_at(i)}")
            tokens.append(_Token("ident", ident.group(), None, i))
            i = ident.end()
            continue
        for op in _OPERATORS:
            if text.startswith(op, i):
                if op in _REFUSED_SYMBOLS:
                    raise ExpressionError(f"{_REFUSED_SYMBOLS[op]} is not supported{_at(i)}")
                tokens.append(_Token("op", op, None, i))
                i += len(op)
                break
        else:
            raise ExpressionError(f"unexpected character {ch!r}{_at(i)}")
    tokens.append(_Token("eof", "", None, len(text)))
    return tokens


def _at(pos: int) -> str:
    return f" (at column {pos + 1})"


def _number(raw: str, pos: int) -> int | float:
    clean = raw.replace("_", "")
    try:
        if clean[:2].lower() == "0x":
            return int(clean, 16)
        if any(c in clean for c in ".eE"):
            return float(clean)
        return int(clean)
    except ValueError:
        raise ExpressionError(f"'{raw}' is not a number{_at(pos)}") from None


def _read_string(text: str, start: int) -> tuple[str, int]:
    quote = text[start]
    out: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == quote:
            return "".join(out), i + 1
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", text[i + 2 : i + 6]):
                out.append(chr(int(text[i + 2 : i + 6], 16)))
                i += 6
                continue
            if nxt not in _ESCAPES:
                raise ExpressionError(f"unknown escape '\\{nxt}' in a string{_at(i)}")
            out.append(_ESCAPES[nxt])
            i += 2
            continue
        out.append(ch)
        i += 1
    raise ExpressionError(f"a string is not closed{_at(start)}")


def parse(text: str, variables: frozenset[str] = VARIABLES) -> Node:
    """The tree of condition ``text``; raises ExpressionError naming what is not supported.

    ``variables`` are the names it may read (an analysis reads ``result``; a notification
    trigger reads ``app``, or ``rollout`` and ``analysisRun``)."""
    parser = _Parser(tokenize(text), variables)
    node = parser.expression(0)
    if parser.peek.kind != "eof":
        raise parser.unexpected()
    return node


class _Parser:
    def __init__(self, tokens: list[_Token], variables: frozenset[str] = VARIABLES) -> None:
        self.tokens = tokens
        self.variables = variables
        self.i = 0
        self.nodes = 0
        self.depth = 0
        self.closures = 0

    @property
    def peek(self) -> _Token:
        return self.tokens[self.i]

    def next(self) -> _Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def is_op(self, text: str) -> bool:
        token = self.peek
        return token.kind in ("op", "ident") and token.text == text

    def expect(self, text: str) -> None:
        if not self.is_op(text):
            raise ExpressionError(f"expected '{text}'{self._found()}")
        self.next()

    def unexpected(self) -> ExpressionError:
        token = self.peek
        if token.kind == "eof":
            return ExpressionError("the condition ends too early")
        return ExpressionError(f"unexpected '{token.text}'{_at(token.pos)}")

    def _found(self) -> str:
        token = self.peek
        return " at the end" if token.kind == "eof" else f", found '{token.text}'{_at(token.pos)}"

    def node(self, kind: str, value: Any = None, *children: Node) -> Node:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise ExpressionError(f"the condition is too large (more than {MAX_NODES} parts)")
        return Node(kind, value, children)

    def expression(self, min_precedence: int) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionError(f"the condition nests deeper than {MAX_DEPTH} levels")
        try:
            left = self.binary(min_precedence)
            if min_precedence == 0 and self.is_op("?"):
                self.next()
                then = self.expression(0)
                self.expect(":")
                other = self.expression(0)
                left = self.node("ternary", None, left, then, other)
            return left
        finally:
            self.depth -= 1

    def binary(self, min_precedence: int) -> Node:
        left = self.unary()
        while True:
            op = self._binary_operator()
            if op is None:
                return left
            precedence, right_assoc = _BINARY[op]
            if precedence < min_precedence:
                return left
            self.i += 2 if op == "not in" else 1
            right = self.expression(precedence + (0 if right_assoc else 1))
            left = self.node("binary", op, left, right)

    def _binary_operator(self) -> str | None:
        token = self.peek
        if token.kind not in ("op", "ident"):
            return None
        if token.text == "not" and self.tokens[self.i + 1].text == "in":
            return "not in"
        if token.kind == "ident" and token.text in _REFUSED_WORDS:
            raise ExpressionError(f"{_REFUSED_WORDS[token.text]} is not supported{_at(token.pos)}")
        return token.text if token.text in _BINARY else None

    def unary(self) -> Node:
        token = self.peek
        if token.kind in ("op", "ident") and token.text in _UNARY:
            self.next()
            operand = self.expression(_UNARY[token.text])
            op = "!" if token.text == "not" else token.text
            return self.node("unary", op, operand)
        return self.postfix(self.primary())

    def primary(self) -> Node:
        token = self.next()
        if token.kind in ("num", "str"):
            return self.node("lit", token.value)
        if token.kind == "ident":
            return self.identifier(token)
        if token.text == "(":
            inner = self.expression(0)
            self.expect(")")
            return inner
        if token.text == "[":
            items: list[Node] = []
            while not self.is_op("]"):
                items.append(self.expression(0))
                if not self.is_op(","):
                    break
                self.next()
            self.expect("]")
            return self.node("array", None, *items)
        if token.text == "#":
            if self.closures == 0:
                raise ExpressionError(f"'#' is only meaningful inside a predicate{_at(token.pos)}")
            if self.peek.kind == "ident" and self.peek.pos == token.pos + 1:
                raise ExpressionError(f"'#{self.peek.text}' is not supported{_at(token.pos)}")
            return self.node("pointer")
        if token.text == "." and self.closures > 0 and self.peek.kind == "ident":
            # ``.value`` inside a predicate is expr-lang's short form of ``#.value``
            field = self.next()
            return self.node("member", False, self.node("pointer"), self.node("lit", field.text))
        if token.text == "{":
            raise ExpressionError(f"map literals are not supported{_at(token.pos)}")
        self.i -= 1
        raise self.unexpected()

    def identifier(self, token: _Token) -> Node:
        name = token.text
        if name in _CONSTANTS:
            return self.node("lit", _CONSTANTS[name])
        if name in _REFUSED_WORDS:
            raise ExpressionError(f"{_REFUSED_WORDS[name]} is not supported{_at(token.pos)}")
        if self.is_op("("):
            return self.call(token)
        if name in self.variables:
            return self.node("name", name)
        if self.variables == VARIABLES:
            raise ExpressionError(
                f"unknown name '{name}'{_at(token.pos)}: a condition reads the measurement as"
                " 'result'"
            )
        known = ", ".join(f"'{v}'" for v in sorted(self.variables))
        raise ExpressionError(f"unknown name '{name}'{_at(token.pos)}: a condition reads {known}")

    def call(self, token: _Token) -> Node:
        name = token.text
        if name not in FUNCTIONS and name not in PREDICATES:
            known = ", ".join(sorted([*FUNCTIONS, *PREDICATES]))
            raise ExpressionError(
                f"the function '{name}' is not supported{_at(token.pos)}; supported: {known}"
            )
        self.expect("(")
        args: list[Node] = []
        while not self.is_op(")"):
            if name in PREDICATES and len(args) == 1:
                args.append(self.predicate())
            else:
                args.append(self.expression(0))
            if not self.is_op(","):
                break
            self.next()
        self.expect(")")
        lo, hi = (2, 2) if name in PREDICATES else FUNCTIONS[name]
        if len(args) < lo or (hi is not None and len(args) > hi):
            want = f"{lo}" if lo == hi else f"at least {lo}"
            raise ExpressionError(
                f"{name}() takes {want} argument{'s' if lo != 1 else ''},"
                f" got {len(args)}{_at(token.pos)}"
            )
        return self.node("call", name, *args)

    def predicate(self) -> Node:
        """``{# > 0.9}`` or, as newer expr-lang allows, ``# > 0.9`` without braces."""
        braced = self.is_op("{")
        if braced:
            self.next()
        self.closures += 1
        try:
            body = self.expression(0)
        finally:
            self.closures -= 1
        if braced:
            self.expect("}")
        return self.node("closure", None, body)

    def postfix(self, node: Node) -> Node:
        while True:
            if self.is_op(".") or self.is_op("?."):
                optional = self.next().text == "?."
                if optional and self.is_op("["):
                    self.next()
                    node = self.index(node, optional=True)
                    continue
                name = self.next()
                if name.kind != "ident":
                    raise ExpressionError(f"expected a field name after '.'{_at(name.pos)}")
                if self.is_op("("):
                    raise ExpressionError(f"method calls ('.{name.text}()') are not supported")
                node = self.node("member", optional, node, self.node("lit", name.text))
            elif self.is_op("["):
                self.next()
                node = self.index(node, optional=False)
            else:
                return node

    def index(self, node: Node, *, optional: bool) -> Node:
        if self.is_op(":"):
            self.next()
            high = None if self.is_op("]") else self.expression(0)
            self.expect("]")
            return self.node("slice", None, node, self.node("lit", None), high or self.node("lit"))
        key = self.expression(0)
        if self.is_op(":"):
            self.next()
            high = None if self.is_op("]") else self.expression(0)
            self.expect("]")
            return self.node("slice", None, node, key, high or self.node("lit"))
        self.expect("]")
        return self.node("member", optional, node, key)
