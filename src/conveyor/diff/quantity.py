"""Kubernetes resource quantities, so that ``cpu: "1"`` and ``cpu: 1000m`` compare equal.

The API server rewrites quantities into a canonical form (``1000m`` comes back as ``"1"``,
``0.5`` as ``500m``); comparing the text would show a difference that no sync can remove.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from conveyor.errors import ValidationError
from conveyor.model.quantity import parse_quantity


def amount(value: Any) -> Decimal | None:
    """The amount a quantity stands for (``"1Gi"`` -> 1073741824), or None if it is not one."""
    if not isinstance(value, str | int | float):
        return None
    try:
        return parse_quantity(value)
    except ValidationError:
        return None


def same_quantity(a: Any, b: Any) -> bool:
    """Whether ``a`` and ``b`` are quantities of the same amount."""
    left = amount(a)
    return left is not None and left == amount(b)
