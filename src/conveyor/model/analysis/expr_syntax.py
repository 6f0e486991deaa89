"""Reading a condition: expr-lang's grammar, for the subset Conveyor evaluates.

Argo Rollouts evaluates ``successCondition`` and ``failureCondition`` with expr-lang. No
Python library reads that language, so this module parses the part of it that Argo's
documentation and examples use into a small tree (``Node``), and refuses everything else
with an error that names the construct (``the pipe operator '|' is not supported``), so a
template that could not be evaluated is rejected when it is applied, not at 3 AM.

The precedences are expr-lang's: ``?:`` < ``||``/``or`` < ``&&``/``and`` < comparisons <
``+ -`` < ``* / %`` < unary ``!``/``not`` < unary ``- +`` < ``**`` < ``??``. Size and nesting
are bounded so that a condition cannot exhaust the parser. ``expr_tokens`` reads the tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conveyor.model.analysis.expr_tokens import (
    MAX_LENGTH,
    REFUSED_WORDS,
    ExpressionError,
    Token,
    at,
    tokenize,
)

__all__ = [
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "MAX_NODES",
    "PREDICATES",
    "VARIABLES",
    "ExpressionError",
    "Node",
    "parse",
    "tokenize",
]

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
    def __init__(self, tokens: list[Token], variables: frozenset[str] = VARIABLES) -> None:
        self.tokens = tokens
        self.variables = variables
        self.i = 0
        self.nodes = 0
        self.depth = 0
        self.closures = 0

    @property
    def peek(self) -> Token:
        return self.tokens[self.i]

    def next(self) -> Token:
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
        return ExpressionError(f"unexpected '{token.text}'{at(token.pos)}")

    def _found(self) -> str:
        token = self.peek
        return " at the end" if token.kind == "eof" else f", found '{token.text}'{at(token.pos)}"

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
        if token.kind == "ident" and token.text in REFUSED_WORDS:
            raise ExpressionError(f"{REFUSED_WORDS[token.text]} is not supported{at(token.pos)}")
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
                raise ExpressionError(f"'#' is only meaningful inside a predicate{at(token.pos)}")
            if self.peek.kind == "ident" and self.peek.pos == token.pos + 1:
                raise ExpressionError(f"'#{self.peek.text}' is not supported{at(token.pos)}")
            return self.node("pointer")
        if token.text == "." and self.closures > 0 and self.peek.kind == "ident":
            # ``.value`` inside a predicate is expr-lang's short form of ``#.value``
            field = self.next()
            return self.node("member", False, self.node("pointer"), self.node("lit", field.text))
        if token.text == "{":
            raise ExpressionError(f"map literals are not supported{at(token.pos)}")
        self.i -= 1
        raise self.unexpected()

    def identifier(self, token: Token) -> Node:
        name = token.text
        if name in _CONSTANTS:
            return self.node("lit", _CONSTANTS[name])
        if name in REFUSED_WORDS:
            raise ExpressionError(f"{REFUSED_WORDS[name]} is not supported{at(token.pos)}")
        if self.is_op("("):
            return self.call(token)
        if name in self.variables:
            return self.node("name", name)
        if self.variables == VARIABLES:
            raise ExpressionError(
                f"unknown name '{name}'{at(token.pos)}: a condition reads the measurement as"
                " 'result'"
            )
        known = ", ".join(f"'{v}'" for v in sorted(self.variables))
        raise ExpressionError(f"unknown name '{name}'{at(token.pos)}: a condition reads {known}")

    def call(self, token: Token) -> Node:
        name = token.text
        if name not in FUNCTIONS and name not in PREDICATES:
            known = ", ".join(sorted([*FUNCTIONS, *PREDICATES]))
            raise ExpressionError(
                f"the function '{name}' is not supported{at(token.pos)}; supported: {known}"
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
                f" got {len(args)}{at(token.pos)}"
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
                    raise ExpressionError(f"expected a field name after '.'{at(name.pos)}")
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
