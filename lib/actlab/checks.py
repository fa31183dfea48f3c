"""The library's argument checks, with one message style: the parameter, the value given, and what is valid.

Every message reads "<name> must be <what is valid>, got <value>", e.g. "lr must be a finite number in (0, inf),
got -1" or "kind must be one of 'xor', 'circles', got 'xr'. Did you mean 'xor'?". Each check returns the value
(converted where it says so) and raises ValueError otherwise.
"""
from __future__ import annotations

import difflib
import math
import numbers
import os


def _interval(low: float, high: float, low_open: bool = False, high_open: bool = False) -> str:
    """An interval in the usual notation: [0, 1), (0, inf); infinite ends are always open."""
    opening = "(" if low_open or low == -math.inf else "["
    closing = ")" if high_open or high == math.inf else "]"
    return f"{opening}{low:g}, {high:g}{closing}"


def _is_number(value, integer: bool = False) -> bool:
    """A real number (an integral one when integer=True), bool excluded; numpy scalars count."""
    kind = numbers.Integral if integer else numbers.Real
    return isinstance(value, kind) and not isinstance(value, bool)


def check_number(name: str, value, low: float = -math.inf, high: float = math.inf, integer: bool = False,
                 low_open: bool = False, high_open: bool = False):
    """Return value if it is a finite number (an integer when integer=True) in the range; else raise naming name.

    Raises ValueError for a non-number (bool included), NaN, infinity or a value out of range; the message
    reads e.g. "lr must be a finite number in (0, inf), got -1".
    """
    kind = "an integer" if integer else "a finite number"
    message = f"{name} must be {kind} in {_interval(low, high, low_open, high_open)}, got {value!r}"
    if not _is_number(value, integer) or not math.isfinite(value):
        raise ValueError(message)
    too_low = value <= low if low_open else value < low
    too_high = value >= high if high_open else value > high
    if too_low or too_high:
        raise ValueError(message)
    return value


def check_choice(name: str, value, choices) -> object:
    """Return value if it is one of choices; else raise a ValueError listing them (with the closest, for a string)."""
    choices = tuple(choices)  # a tuple compares by ==: an unhashable value is simply not one of them
    if value in choices:
        return value
    strings = [c for c in choices if isinstance(c, str)]
    close = difflib.get_close_matches(value, strings, n=1) if isinstance(value, str) else []
    hint = f". Did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}{hint}")


def check_range(name: str, value, low: float = -math.inf, high: float = math.inf) -> tuple[float, float]:
    """Return value, a pair (a, b) of finite numbers with low <= a < b <= high, as floats; else raise naming name.

    The message says which condition failed, e.g. "x_range must be a pair (low, high) of finite numbers with
    low < high within [-20, 20], got (3, -3): empty or reversed".
    """
    within = "" if (low, high) == (-math.inf, math.inf) else f" within {_interval(low, high)}"
    message = f"{name} must be a pair (low, high) of finite numbers with low < high{within}, got {value!r}"
    try:
        a, b = value
    except (TypeError, ValueError):
        raise ValueError(f"{message}: not a pair") from None
    if not (_is_number(a) and _is_number(b)):
        raise ValueError(f"{message}: not numbers")
    if not (math.isfinite(a) and math.isfinite(b)):
        raise ValueError(f"{message}: not finite")
    if not a < b:
        raise ValueError(f"{message}: empty or reversed")
    if a < low or b > high:
        raise ValueError(f"{message}: outside the range")
    return float(a), float(b)


def check_list(name: str, value, min_length: int = 1) -> list:
    """Return value's items as a list if it is a sequence (list, tuple, array, dict keys ...) of at least min_length
    items; else raise naming name. A string is refused: it is one name, never a list of them ("names must be a
    non-empty list, got 'relu'")."""
    what = "a non-empty list" if min_length == 1 else f"a list of at least {min_length} items"
    message = f"{name} must be {what}, got {value!r}"
    if isinstance(value, (str, bytes)):
        raise ValueError(message)
    try:
        items = list(value)
    except TypeError:
        raise ValueError(message) from None
    if len(items) < min_length:
        raise ValueError(message)
    return items


TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


def env_flag(name: str, default: bool) -> bool:
    """The boolean environment variable name: 1, true, yes, on or 0, false, no, off, in any case (spaces around are
    ignored); default when it is unset or empty. Raises ValueError naming the variable for any other value."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if value.lower() in TRUE_WORDS:
        return True
    if value.lower() in FALSE_WORDS:
        return False
    raise ValueError(f"{name} must be one of {', '.join(TRUE_WORDS + FALSE_WORDS)} (any case), got {value!r}")
