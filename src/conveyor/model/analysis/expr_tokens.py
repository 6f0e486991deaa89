"""Reading a condition's characters: expr-lang's tokens (numbers, strings, names, operators).

The parser (``expr_syntax``) works on these tokens. Reading them is its own job: expr-lang's
number forms (``0x1F``, ``1_000``, ``1e3``), its string escapes, and refusing at the first
character the constructs Conveyor does not evaluate, with the name a person recognises and the
column where they start.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

MAX_LENGTH = 4096  # characters in one condition

# Constructs of expr-lang that Conveyor refuses, with the name a person recognises.
REFUSED_WORDS = {
    "matches": "the 'matches' operator (regular expressions)",
    "let": "'let' variables",
    "if": "'if' expressions (use cond ? a : b)",
}
REFUSED_SYMBOLS = {
    "|": "the pipe operator '|'",
    "..": "the range operator '..'",
    "`": "raw strings in backquotes",
    ";": "sequences with ';'",
    "=": "assignment '='",
}


class ExpressionError(ValueError):
    """A condition cannot be read or evaluated; the message says what and where."""


@dataclass(frozen=True)
class Token:
    """One word of a condition, with its column for error messages."""

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


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text``; raises ExpressionError at the first character it cannot read."""
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"the condition is longer than {MAX_LENGTH} characters")
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch in "\"'":
            value, end = _read_string(text, i)
            tokens.append(Token("str", text[i:end], value, i))
            i = end
            continue
        number = _NUMBER.match(text, i) if (ch.isdigit() or ch == ".") else None
        if number and number.group() not in ("", "."):
            raw = number.group()
            tokens.append(Token("num", raw, _number(raw, i), i))
            i = number.end()
            continue
        ident = _IDENT.match(text, i)
        if ident:
            if ident.group() in REFUSED_WORDS:
                raise ExpressionError(f"{REFUSED_WORDS[ident.group()]} is not supported{at(i)}")
            tokens.append(Token("ident", ident.group(), None, i))
            i = ident.end()
            continue
        for op in _OPERATORS:
            if text.startswith(op, i):
                if op in REFUSED_SYMBOLS:
                    raise ExpressionError(f"{REFUSED_SYMBOLS[op]} is not supported{at(i)}")
                tokens.append(Token("op", op, None, i))
                i += len(op)
                break
        else:
            raise ExpressionError(f"unexpected character {ch!r}{at(i)}")
    tokens.append(Token("eof", "", None, len(text)))
    return tokens


def at(pos: int) -> str:
    """Where in the condition, for an error message."""
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
        raise ExpressionError(f"'{raw}' is not a number{at(pos)}") from None


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
                raise ExpressionError(f"unknown escape '\\{nxt}' in a string{at(i)}")
            out.append(_ESCAPES[nxt])
            i += 2
            continue
        out.append(ch)
        i += 1
    raise ExpressionError(f"a string is not closed{at(start)}")
