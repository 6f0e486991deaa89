"""Trigger conditions: Argo CD's ``when`` and ``oncePer`` expressions, read and evaluated safely.

Argo CD evaluates a trigger's ``when`` (and ``oncePer``) with expr-lang over ``app`` (Argo
Rollouts: ``rollout``). Conveyor reuses the bounded expr-lang subset of the analysis
conditions (``conveyor.model.analysis``): data only, bounded in size and steps, and a construct
outside the subset (``time.Now()``, regular expressions) is refused with an error that names it.
A trigger whose condition is refused is kept out of the configuration with a visible warning;
it is never silently ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conveyor.model.analysis.expr_eval import Evaluator, type_name
from conveyor.model.analysis.expr_syntax import ExpressionError, Node, parse

__all__ = ["Expression", "ExpressionError", "compile_expression"]

VARIABLES = frozenset({"app", "rollout", "analysisRun"})
"""What a condition may read: the app (Argo CD), the Rollout and its AnalysisRun (Rollouts)."""


@dataclass(frozen=True)
class Expression:
    """A parsed ``when`` or ``oncePer`` expression."""

    text: str
    tree: Node

    def value(self, env: dict[str, Any]) -> Any:
        """The expression's value over ``env``; raises ExpressionError when it cannot be."""
        return Evaluator(None, env).eval(self.tree)

    def holds(self, env: dict[str, Any]) -> bool:
        """Whether a ``when`` condition is true; ExpressionError if it is not a bool."""
        value = self.value(env)
        if not isinstance(value, bool):
            raise ExpressionError(f"expected bool, but got {type_name(value)}")
        return value

    def key(self, env: dict[str, Any]) -> str:
        """The ``oncePer`` value as the text that keys the notified state (nil: "")."""
        value = self.value(env)
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)


def compile_expression(text: str) -> Expression:
    """Parse ``text``; raises ExpressionError naming what is wrong or not supported."""
    if not text.strip():
        raise ExpressionError("the expression is empty")
    return Expression(text, parse(text, VARIABLES))
