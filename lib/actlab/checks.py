"""Argument checks with one message style: the parameter, the value given, and the valid range or choices."""
from __future__ import annotations

import math


def check_number(name: str, value, low: float = -math.inf, high: float = math.inf, integer: bool = False,
                 low_open: bool = False, high_open: bool = False):
    """Return value if it is a finite number (an int when integer=True) in the range; else raise naming name.

    Raises ValueError for a non-number (bool included), NaN, infinity or a value out of range; the message
    reads e.g. "lr must be a finite number in (0, inf), got -1".
    """
    kind = "an integer" if integer else "a finite number"
    opening = "(" if low_open or low == -math.inf else "["
    closing = ")" if high_open or high == math.inf else "]"
    brackets = f"{opening}{low:g}, {high:g}{closing}"
    message = f"{name} must be {kind} in {brackets}, got {value!r}"
    allowed = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, allowed) or not math.isfinite(value):
        raise ValueError(message)
    too_low = value <= low if low_open else value < low
    too_high = value >= high if high_open else value > high
    if too_low or too_high:
        raise ValueError(message)
    return value


def check_choice(name: str, value, choices) -> object:
    """Return value if it is one of choices; else raise a ValueError listing them."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value
