"""Evaluating a condition's tree over a measurement, with expr-lang's semantics.

The values a condition sees are data only: None, bools, numbers, strings, lists and dicts
(what a provider decoded from JSON or a Prometheus response). ``result.values`` looks up the
key ``values`` in a dict and nothing else: no attribute of a Python object is ever read, and
no Python object other than those data is reachable. Type errors follow expr-lang (``&&`` on
a number, ``<`` between a string and a number, an index out of range) and raise
ExpressionError; Argo records such a measurement as an Error.

Evaluation is bounded in steps and in the size of what it builds, so a condition over a
large result cannot stall the controller.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from conveyor.model.analysis.expr_syntax import ExpressionError, Node

MAX_STEPS = 1_000_000  # nodes evaluated for one condition
MAX_SIZE = 100_000  # items in a list, characters in a string, built by a condition
_INT64 = 2**63


def type_name(value: Any) -> str:
    """A value's type in expr-lang's (Go's) words, for error messages."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "map"
    return "unsupported value"


def is_number(value: Any) -> bool:
    """An int or float, never a bool (Python counts bools as ints; expr-lang does not)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def equal(a: Any, b: Any) -> bool:
    """expr-lang's ``==``: numbers by value across int and float, else same type and value."""
    if is_number(a) and is_number(b):
        return bool(a == b)
    if type_name(a) != type_name(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    return bool(a == b)


class Evaluator:
    """Evaluates one tree against ``result``; one instance per evaluation (it counts steps)."""

    def __init__(self, result: Any, env: dict[str, Any] | None = None) -> None:
        self.result = result
        self.env = env
        """Values by name, for conditions that read several (``app``); None: ``result``."""
        self.steps = 0
        self.pointers: list[Any] = []

    def eval(self, node: Node) -> Any:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise ExpressionError(f"evaluation took more than {MAX_STEPS} steps")
        return _DISPATCH[node.kind](self, node)

    def _eval_lit(self, node: Node) -> Any:
        return node.value

    def _eval_name(self, node: Node) -> Any:
        return self.result if self.env is None else self.env.get(node.value)

    def _eval_pointer(self, node: Node) -> Any:
        return self.pointers[-1]

    def _eval_array(self, node: Node) -> Any:
        return [self.eval(child) for child in node.children]

    def _eval_ternary(self, node: Node) -> Any:
        cond = self._bool(self.eval(node.children[0]), "?:")
        return self.eval(node.children[1] if cond else node.children[2])

    def _eval_unary(self, node: Node) -> Any:
        value = self.eval(node.children[0])
        if node.value == "!":
            return not self._bool(value, "!")
        if not is_number(value):
            raise ExpressionError(f"invalid operation: {node.value}{type_name(value)}")
        return -value if node.value == "-" else value

    def _eval_binary(self, node: Node) -> Any:
        op = node.value
        left = self.eval(node.children[0])
        if op in ("&&", "and", "||", "or"):
            truth = self._bool(left, op)
            if truth == (op in ("||", "or")):
                return truth
            return self._bool(self.eval(node.children[1]), op)
        if op == "??":
            return left if left is not None else self.eval(node.children[1])
        return _binary(op, left, self.eval(node.children[1]))

    def _eval_member(self, node: Node) -> Any:
        target = self.eval(node.children[0])
        if target is None and node.value:
            return None
        return _member(target, self.eval(node.children[1]))

    def _eval_slice(self, node: Node) -> Any:
        target = self.eval(node.children[0])
        low, high = self.eval(node.children[1]), self.eval(node.children[2])
        if not isinstance(target, list | str):
            raise ExpressionError(f"cannot slice {type_name(target)}")
        for bound in (low, high):
            if bound is not None and (not isinstance(bound, int) or isinstance(bound, bool)):
                raise ExpressionError(f"slice bounds must be int, got {type_name(bound)}")
        return target[low:high]

    def _eval_closure(self, node: Node) -> Any:
        raise ExpressionError("a predicate can only be an argument of all/any/filter/map")

    def _eval_call(self, node: Node) -> Any:
        name = node.value
        if name in _PREDICATE_FUNCS:
            items = self.eval(node.children[0])
            if not isinstance(items, list):
                raise ExpressionError(f"{name}() needs an array, got {type_name(items)}")
            body = node.children[1].children[0]
            return _PREDICATE_FUNCS[name](self, items, body)
        args = [self.eval(child) for child in node.children]
        return _FUNCS[name](*args)

    def apply(self, body: Node, item: Any) -> Any:
        """The predicate ``body`` with ``#`` bound to ``item``."""
        self.pointers.append(item)
        try:
            return self.eval(body)
        finally:
            self.pointers.pop()

    def test(self, body: Node, item: Any, name: str) -> bool:
        return self._bool(self.apply(body, item), f"{name}() predicate")

    @staticmethod
    def _bool(value: Any, op: str) -> bool:
        if not isinstance(value, bool):
            raise ExpressionError(f"invalid operation: {op} needs bool, got {type_name(value)}")
        return value


_DISPATCH: dict[str, Callable[[Evaluator, Node], Any]] = {
    "lit": Evaluator._eval_lit,
    "name": Evaluator._eval_name,
    "pointer": Evaluator._eval_pointer,
    "array": Evaluator._eval_array,
    "ternary": Evaluator._eval_ternary,
    "unary": Evaluator._eval_unary,
    "binary": Evaluator._eval_binary,
    "member": Evaluator._eval_member,
    "slice": Evaluator._eval_slice,
    "closure": Evaluator._eval_closure,
    "call": Evaluator._eval_call,
}


def _member(target: Any, key: Any) -> Any:
    if isinstance(target, dict):
        if not isinstance(key, str):
            raise ExpressionError(f"a map key must be a string, got {type_name(key)}")
        return target.get(key)
    if isinstance(target, list | str) and not isinstance(key, str):
        if not isinstance(key, int) or isinstance(key, bool):
            raise ExpressionError(f"an array index must be int, got {type_name(key)}")
        index = key + len(target) if key < 0 else key
        if not 0 <= index < len(target):
            raise ExpressionError(f"index out of range: {key} (array of length {len(target)})")
        return target[index]
    shown = f".{key}" if isinstance(key, str) else f"[{key}]"
    raise ExpressionError(f"cannot fetch {shown} from {type_name(target)}")


def _binary(op: str, left: Any, right: Any) -> Any:
    if op == "==":
        return equal(left, right)
    if op == "!=":
        return not equal(left, right)
    if op in ("in", "not in"):
        if isinstance(right, list):
            found = any(equal(left, item) for item in right)
        elif isinstance(right, dict):
            found = isinstance(left, str) and left in right
        else:
            raise ExpressionError(f"invalid operation: in {type_name(right)}")
        return found if op == "in" else not found
    if op in ("contains", "startsWith", "endsWith"):
        if not isinstance(left, str) or not isinstance(right, str):
            raise ExpressionError(
                f"invalid operation: {op} (mismatched types {type_name(left)}"
                f" and {type_name(right)})"
            )
        check = {"contains": str.__contains__, "startsWith": str.startswith}
        return check.get(op, str.endswith)(left, right)
    if op in ("<", ">", "<=", ">="):
        if not ((is_number(left) and is_number(right)) or
                (isinstance(left, str) and isinstance(right, str))):  # fmt: skip
            raise _mismatch(op, left, right)
        return {"<": left < right, ">": left > right, "<=": left <= right, ">=": left >= right}[op]
    if op == "+" and isinstance(left, str) and isinstance(right, str):
        return _bounded(left + right)
    if op == "+" and isinstance(left, list) and isinstance(right, list):
        return _bounded(left + right)
    if not (is_number(left) and is_number(right)):
        raise _mismatch(op, left, right)
    return _arithmetic(op, left, right)


def _arithmetic(op: str, left: int | float, right: int | float) -> int | float:
    if op in ("**", "^"):
        try:
            return math.pow(left, right)
        except (OverflowError, ValueError):
            return math.inf if left > 0 else math.nan
    if op == "/":
        if right == 0:
            return math.nan if left == 0 or math.isnan(left) else math.copysign(math.inf, left)
        return left / right
    if op == "%":
        if not isinstance(left, int) or not isinstance(right, int):
            raise _mismatch(op, left, right)
        if right == 0:
            raise ExpressionError("integer divide by zero")
        return int(math.fmod(left, right))
    value = {"+": left + right, "-": left - right, "*": left * right}[op]
    if isinstance(value, int) and not -_INT64 <= value < _INT64:
        raise ExpressionError("integer overflow")
    return value


def _mismatch(op: str, left: Any, right: Any) -> ExpressionError:
    return ExpressionError(
        f"invalid operation: {op} (mismatched types {type_name(left)} and {type_name(right)})"
    )


def _bounded(value: Any) -> Any:
    if len(value) > MAX_SIZE:
        raise ExpressionError(f"a value built by the condition exceeds {MAX_SIZE} items")
    return value


def _number_arg(name: str, value: Any) -> int | float:
    if not is_number(value):
        raise ExpressionError(f"{name}() needs a number, got {type_name(value)}")
    return value  # type: ignore[no-any-return]


def _len(value: Any) -> int:
    if not isinstance(value, list | dict | str):
        raise ExpressionError(f"invalid argument for len (type {type_name(value)})")
    return len(value)


def _is_nan(value: Any) -> bool:
    return isinstance(_number_arg("isNaN", value), float) and math.isnan(value)


def _is_inf(value: Any) -> bool:
    return isinstance(_number_arg("isInf", value), float) and math.isinf(value)


def _as_int(value: Any) -> int:
    if isinstance(value, str):
        try:
            return int(value.strip(), 10)
        except ValueError:
            raise ExpressionError(f"asInt(): '{value}' is not a whole number") from None
    number = _number_arg("asInt", value)
    if isinstance(number, float) and not math.isfinite(number):
        raise ExpressionError(f"asInt(): {number} has no integer value")
    return int(number)


def _as_float(value: Any) -> float:
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            raise ExpressionError(f"asFloat(): '{value}' is not a number") from None
    return float(_number_arg("asFloat", value))


def _numbers(name: str, args: tuple[Any, ...]) -> list[int | float]:
    items = args[0] if len(args) == 1 and isinstance(args[0], list) else list(args)
    return [_number_arg(name, item) for item in items]


def _extreme(name: str, pick: Callable[[list[int | float]], int | float]) -> Callable[..., Any]:
    def run(*args: Any) -> Any:
        numbers = _numbers(name, args)
        if not numbers:
            raise ExpressionError(f"{name}() of an empty array")
        return pick(numbers)

    return run


def _sum(items: Any) -> int | float:
    return sum(_numbers("sum", (items,)), 0)


def _mean(items: Any) -> float:
    numbers = _numbers("mean", (items,))
    return math.fsum(numbers) / len(numbers) if numbers else math.nan


_FUNCS: dict[str, Callable[..., Any]] = {
    "len": _len,
    "isNaN": _is_nan,
    "isInf": _is_inf,
    "isNil": lambda value: value is None,
    "default": lambda value, fallback: fallback if value is None else value,
    "asInt": _as_int,
    "asFloat": _as_float,
    "abs": lambda value: abs(_number_arg("abs", value)),
    "max": _extreme("max", max),
    "min": _extreme("min", min),
    "sum": _sum,
    "mean": _mean,
}

_Predicate = Callable[[Evaluator, list[Any], Node], Any]
_PREDICATE_FUNCS: dict[str, _Predicate] = {
    "all": lambda ev, items, body: all(ev.test(body, item, "all") for item in items),
    "any": lambda ev, items, body: any(ev.test(body, item, "any") for item in items),
    "none": lambda ev, items, body: not any(ev.test(body, item, "none") for item in items),
    "one": lambda ev, items, body: sum(ev.test(body, item, "one") for item in items) == 1,
    "count": lambda ev, items, body: sum(ev.test(body, item, "count") for item in items),
    "filter": lambda ev, items, body: [item for item in items if ev.test(body, item, "filter")],
    "map": lambda ev, items, body: [ev.apply(body, item) for item in items],
}
