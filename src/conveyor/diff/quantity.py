"""Kubernetes resource quantities, so that ``cpu: "1"`` and ``cpu: 1000m`` compare equal.

The API server rewrites quantities into a canonical form (``1000m`` comes back as ``"1"``,
``0.5`` as ``500m``); comparing the text would show a difference that no sync can remove.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

_QUANTITY = re.compile(
    r"^(?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+))"
    r"(?:(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE](?P<exponent>[+-]?\d+))?$"
)
_SUFFIX = {
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}


def parse_quantity(value: Any) -> Decimal | None:
    """The amount a quantity stands for (``"1Gi"`` -> 1073741824), or None if it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return Decimal(str(value))
    if not isinstance(value, str):
        return None
    match = _QUANTITY.match(value.strip())
    if not match:
        return None
    try:
        number = Decimal(match.group("number"))
        if match.group("exponent") is not None:
            return number.scaleb(int(match.group("exponent")))
    except (InvalidOperation, ValueError):
        return None
    suffix = match.group("suffix")
    return number * _SUFFIX[suffix] if suffix else number


def same_quantity(a: Any, b: Any) -> bool:
    """Whether ``a`` and ``b`` are quantities of the same amount."""
    left = parse_quantity(a)
    return left is not None and left == parse_quantity(b)
