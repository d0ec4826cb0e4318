"""Whole numbers from outside: one check for every integer the platform takes from a
URL's path, a query string, a form or an imported file's cell.

Python's own readers are too lenient for text a stranger writes: `int()` takes "٣"
(3), "１２" (12), " 7 ", "+5" and "1_000"; `str.isdigit()` also says yes to "²",
which `int()` then refuses (a 500 where it was trusted); and a number that is too
large passes both and fails only in the database (PostgreSQL: "integer out of
range", SQLite: an OverflowError), again a 500. Here a number is ASCII digits and no
larger than the column it is compared with or stored in.
"""
from __future__ import annotations

from werkzeug.exceptions import NotFound
from werkzeug.routing import BaseConverter

# PostgreSQL's `integer`, the type of every id, year and count column (voting.models):
# a larger value cannot name a row, and comparing one with such a column raises.
INT_MAX = 2**31 - 1


def whole_number(text: str, maximum: int = INT_MAX) -> int | None:
    """`text` as a whole number from 0 to `maximum`, or None: ASCII digits only, no
    sign, no spaces (leading zeros are allowed)."""
    if not text or not text.isascii() or not text.isdigit():
        return None
    significant = text.lstrip("0") or "0"
    # Compared by length first: int() of a 100,000-digit string costs time (and past
    # 4,300 digits raises).
    if len(significant) > len(str(maximum)):
        return None
    value = int(significant)
    return value if value <= maximum else None


def not_a_number(what: str) -> str:
    """What is wrong with `what` (a field's label, a parameter) when whole_number said
    None."""
    return f"{what}不是有效的整数。只能用数字 0–9，且不超过 {INT_MAX}。"


class WholeNumberConverter(BaseConverter):
    """The app's `int` in URL rules (`<int:round_id>`), in place of Werkzeug's, whose
    `\\d+` matches other scripts' digits and whose value has no upper bound: other
    characters do not match the rule, a number past INT_MAX names no row; both 404."""

    regex = r"[0-9]+"
    weight = 50  # as Werkzeug's numbers: preferred to a plain string part

    def to_python(self, value: str) -> int:
        number = whole_number(value)
        if number is None:
            # Not ValidationError ("no match"): Werkzeug checks a value only once it has
            # chosen a rule, and by then it may have passed one of another method on the
            # same path (GET and POST /office/phone/<id>), so it would answer 405.
            raise NotFound()
        return number

    def to_url(self, value: int) -> str:
        return str(int(value))
