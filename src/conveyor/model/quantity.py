"""Kubernetes resource quantities ("128Mi", "0.5", "500m", "1G", "1e3"), parsed exactly.

One parser, so that the kubelet's limits, ``resourceFieldRef`` env values and the diff (where
``1000m`` equals ``"1"``) agree on what a manifest means. Values are Decimals: "0.1" CPU is
exactly 100 millicores.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

from conveyor.errors import ValidationError

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}
_QUANTITY = re.compile(r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))([eE][+-]?[0-9]+|[A-Za-z]*)$")


def parse_quantity(value: str | int | float) -> Decimal:
    """The number a quantity stands for; raises ValidationError with the accepted forms."""
    if isinstance(value, bool):
        raise _invalid(value)
    if isinstance(value, int | float):
        return Decimal(str(value))
    match = _QUANTITY.match(value.strip())
    if not match:
        raise _invalid(value)
    number, suffix = match.groups()
    try:
        base = Decimal(number)
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only numbers
        raise _invalid(value) from exc
    if suffix in _BINARY:
        return base * _BINARY[suffix]
    if suffix in _DECIMAL:
        return base * _DECIMAL[suffix]
    if suffix[:1] in ("e", "E") and len(suffix) > 1:
        return base * (Decimal(10) ** int(suffix[1:]))
    raise _invalid(value)


def memory_bytes(value: str | int | float) -> int:
    """A memory quantity in whole bytes (rounded up, as Kubernetes does)."""
    return math.ceil(parse_quantity(value))


def cpu_millis(value: str | int | float) -> int:
    """A CPU quantity in millicores (rounded up): "0.5" and "500m" are both 500."""
    return math.ceil(parse_quantity(value) * 1000)


def _invalid(value: object) -> ValidationError:
    return ValidationError(
        f"quantity {value!r} is not valid: use a number with an optional suffix, "
        'e.g. "128Mi", "1G", "0.5", "500m", "1e3"'
    )
