"""Conditions of analysis metrics: read once, checked when applied, evaluated per measurement.

``compile_condition`` reads a successCondition or failureCondition (raising ExpressionError
that names any construct outside the supported subset); ``check_condition`` does the same
for a template's condition that still holds ``{{args.x}}`` placeholders; ``evaluate_result``
turns one measured value into a measurement phase exactly as Argo Rollouts does:

- neither condition: Successful;
- only a success condition: Failed when it does not hold;
- only a failure condition: Successful when it does not hold;
- both: Failed when the failure condition holds, else Successful when the success condition
  holds, else Inconclusive;
- a condition that cannot be evaluated (a type error, a value that is not a bool): Error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from conveyor.model.analysis.expr_eval import Evaluator, type_name
from conveyor.model.analysis.expr_syntax import ExpressionError, Node, parse
from conveyor.model.analysis.status import AnalysisPhase

__all__ = [
    "Condition",
    "ExpressionError",
    "check_condition",
    "compile_condition",
    "evaluate_result",
]

# ``{{args.name}}`` / ``{{ args.name }}``: resolved when an AnalysisRun is created.
PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")


@dataclass(frozen=True)
class Condition:
    """A parsed condition; ``holds(result)`` evaluates it against one measured value."""

    text: str
    tree: Node

    def holds(self, result: Any) -> bool:
        """Whether the condition is true for ``result``; raises ExpressionError when it
        cannot be evaluated or does not give a bool."""
        value = Evaluator(result).eval(self.tree)
        if not isinstance(value, bool):
            raise ExpressionError(f"expected bool, but got {type_name(value)}")
        return value


def compile_condition(text: str) -> Condition:
    """Parse ``text``; raises ExpressionError naming what is wrong or not supported."""
    if not text.strip():
        raise ExpressionError("the condition is empty")
    return Condition(text, parse(text))


def check_condition(text: str) -> str | None:
    """Why a template's condition cannot work, or None when it parses.

    Placeholders are resolved only when a run is created, so each ``{{...}}`` outside a
    string literal stands for a number here: ``default(result, 0) > {{args.max}}`` is checked
    as ``default(result, 0) > 0``.
    """
    try:
        compile_condition(PLACEHOLDER.sub("0", text))
    except ExpressionError as err:
        return str(err)
    return None


def evaluate_result(
    result: Any, success: str | None, failure: str | None
) -> tuple[AnalysisPhase, str]:
    """The phase of a measurement whose value is ``result``, and an error message (or "")."""
    try:
        succeeded = compile_condition(success).holds(result) if success else False
        failed = compile_condition(failure).holds(result) if failure else False
    except ExpressionError as err:
        return AnalysisPhase.ERROR, str(err)
    if not success and not failure:
        return AnalysisPhase.SUCCESSFUL, ""
    if success and not failure:
        failed = not succeeded
    elif failure and not success:
        succeeded = not failed
    if failed:
        return AnalysisPhase.FAILED, ""
    if not succeeded:
        return AnalysisPhase.INCONCLUSIVE, ""
    return AnalysisPhase.SUCCESSFUL, ""
