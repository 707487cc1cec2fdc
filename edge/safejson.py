"""JSON from the other end of the wire, read so that no payload can raise anything but ``JsonRefused``.

Standard library only (it runs on the device too). Python's parser turns a 5,000-digit integer into
a ValueError, a 401-digit one into an int that overflows every float conversion, 100,000 levels of
nesting into a RecursionError, and ``"\\ud800"`` into a string PostgreSQL cannot store. So:

* integer literals longer than ``MAX_INT_DIGITS`` are never converted: they parse to a
  ``HugeInteger`` marker, which no number check accepts, so only the record holding one is refused;
* a decimal literal of any length parses to a finite double or to infinity (CPython's float parser
  is linear), and callers check finiteness and range after every unit conversion;
* nesting beyond the parser's recursion guard is refused; callers accept only flat objects;
* text that goes on to a database passes ``bounded_text`` (length, printable, no lone surrogates);
* ``describe`` renders any parsed value for an error message without recursing or growing.
"""

from __future__ import annotations

import json
import math

MAX_INT_DIGITS = 40  # 10**40 still converts to a double; no reading or counter needs more digits
_MAX_SHOWN_CHARS = 60


class JsonRefused(ValueError):
    """The payload is not JSON this side will read; the message says why, in a bounded length."""


class HugeInteger:
    """An integer literal too long to convert; it stands in the parsed value so the record can be refused."""

    __slots__ = ("digits",)

    def __init__(self, digits: int) -> None:
        self.digits = digits

    def __repr__(self) -> str:
        return f"<integer of {self.digits} digits>"


def _bounded_int(literal: str) -> int | HugeInteger:
    digits = len(literal) - literal.startswith("-")
    return int(literal) if digits <= MAX_INT_DIGITS else HugeInteger(digits)


def _nan_constant(_token: str) -> float:
    return math.nan  # NaN, Infinity, -Infinity: kept so that the record holding one is refused


def _refuse_constant(token: str) -> float:
    raise JsonRefused(f"{token} is not a JSON value")


def loads(payload: bytes | str, *, keep_non_finite: bool = False) -> object:
    """Parse ``payload``; raises only ``JsonRefused``.

    ``keep_non_finite`` reads the non-standard ``NaN``/``Infinity`` tokens as NaN (the readings
    decoder refuses the record, not the message); otherwise they refuse the whole payload.
    """
    try:
        return json.loads(
            payload, parse_int=_bounded_int, parse_constant=_nan_constant if keep_non_finite else _refuse_constant
        )
    except RecursionError as error:
        raise JsonRefused("nested deeper than the parser allows") from error
    except JsonRefused:
        raise
    except (ValueError, UnicodeDecodeError) as error:  # JSONDecodeError is a ValueError
        raise JsonRefused(str(error)[:200]) from error


def bounded_text(value: object, limit: int) -> str | None:
    """``value`` if it is a string of at most ``limit`` printable characters, else None.

    Printable excludes NUL (PostgreSQL text refuses it), other control characters and lone
    surrogates (which no UTF-8 encoder accepts).
    """
    if isinstance(value, str) and len(value) <= limit and (value.isprintable() or not value):
        return value
    return None


def describe(value: object) -> str:
    """A short rendering of any parsed value for an error message: never recursive, never long."""
    if value is None or isinstance(value, bool | int | float | HugeInteger):
        return repr(value)
    if isinstance(value, str):
        shown = repr(value[:_MAX_SHOWN_CHARS])
        return shown if len(value) <= _MAX_SHOWN_CHARS else f"{shown}... ({len(value)} characters)"
    if isinstance(value, list):
        return f"an array of {len(value)} items"
    if isinstance(value, dict):
        return f"an object of {len(value)} keys"
    return type(value).__name__
