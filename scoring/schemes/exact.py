"""Exact arithmetic of the schemes (docs/schemes.md): points are integer thousandths
(0.1 is 100), never binary floats, so that 29.562 + 10 + 24 + 14.5 + 13.5 + 16 is
107562 and rounds half up to 107.56, where floats print some totals 0.01 low."""
from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import numpy as np
import pandas as pd

MILLI = 1000  # thousandths in one point
DIGITS = 3  # the finest decimal a figure may have


class NotExact(ValueError):
    """A figure that is not a number of at most three decimals."""


def to_milli(value: object) -> int:
    """"0.1", 2, Decimal("-2.4"), "85.71%" (a percentage: 85.71) as thousandths;
    NotExact for anything else, or a finer figure than thousandths."""
    text = str(value).strip().replace("，", "").replace(",", "")
    if text.endswith(("%", "％")):
        text = text[:-1].strip()
    if text.startswith("+"):
        text = text[1:]
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise NotExact(f"“{value}”不是数字") from None
    if not number.is_finite():
        raise NotExact(f"“{value}”不是数字")
    scaled = number * MILLI
    if scaled != scaled.to_integral_value():
        raise NotExact(f"“{value}”的小数超过 {DIGITS} 位")
    return int(scaled)


def to_decimal(milli: int) -> Decimal:
    """Thousandths as the exact decimal, trailing zeros dropped (107562 → 107.562)."""
    value = Decimal(int(milli)).scaleb(-DIGITS)
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


def text(milli: int, signed: bool = False) -> str:
    """As people write points: 2, 0.1, -2.4 (+0.1 with `signed`)."""
    shown = f"{to_decimal(milli):f}"
    return f"+{shown}" if signed and milli > 0 else shown


def round_half_up(milli: int, decimals: int) -> int:
    """Thousandths rounded half up (away from zero at .5, as Excel) to `decimals` (0–3)."""
    step = 10 ** (DIGITS - decimals)
    quotient, remainder = divmod(abs(milli), step)
    if remainder * 2 >= step:
        quotient += 1
    return (quotient * step) * (1 if milli >= 0 else -1)


def times(milli: int, weight_milli: int) -> int:
    """A figure times a weight, both in thousandths, rounded half up to thousandths
    (98.54 × 0.3 = 29.562)."""
    product = Decimal(milli) * Decimal(weight_milli) / MILLI
    return int(product.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def mean(values: list[int]) -> int:
    """The mean of figures in thousandths, rounded half up to thousandths."""
    exact = Decimal(sum(values)) / len(values)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


# ---- the same on whole columns (numpy arrays of int64 thousandths) ------------------------

_SIGNS = np.array(["", "-"], dtype=object)  # of a figure ≥ 0, < 0
# The decimals of 0–999 thousandths as `text` writes them: "", ".001", …, ".5", ….
_DECIMALS = np.array([""] + [f".{part:03d}".rstrip("0") for part in range(1, MILLI)], dtype=object)


def texts(milli: np.ndarray, before: str | Sequence[str] | np.ndarray = "", after: str = "") -> np.ndarray:
    """`text` of each figure of an array of thousandths: an object array of str
    (107562 → "107.562", -500 → "-0.5", 2000 → "2"), after `before` (the same words
    for all, or each figure's own) and before `after` ("2023-01：" … " 分")."""
    milli = np.asarray(milli, dtype="int64")
    # Each distinct figure written once (a year's totals repeat), then spread.
    codes, figures = pd.factorize(milli)
    whole, part = np.divmod(np.abs(figures), MILLI)
    common = before if isinstance(before, str) else ""
    written = np.empty(len(figures), dtype=object)
    written[:] = [f"{common}{sign}{number}{decimals}{after}" for sign, number, decimals in
                  zip(_SIGNS[(figures < 0).astype("int64")].tolist(), whole.tolist(), _DECIMALS[part].tolist())]
    if isinstance(before, str):
        return written[codes]
    return np.asarray(before, dtype=object) + written[codes]  # each one's own words: numpy adds the str pairwise


def divide_half_up(numerators: np.ndarray, divisors: np.ndarray | int) -> np.ndarray:
    """Each numerator ÷ its divisor (positive), rounded half up (away from zero at .5,
    as `mean` and `times`), in integers throughout."""
    numerators = np.asarray(numerators, dtype="int64")
    whole, rest = np.divmod(np.abs(numerators), divisors)
    return (whole + (2 * rest >= divisors)) * np.sign(numerators)


def rounds_half_up(milli: np.ndarray, decimals: int) -> np.ndarray:
    """`round_half_up` of each figure of an array of thousandths."""
    step = 10 ** (DIGITS - decimals)
    return divide_half_up(milli, step) * step


def times_each(milli: np.ndarray, weight_milli: int) -> np.ndarray:
    """`times` of each figure of an array of thousandths and one weight; products
    beyond int64 worked as Python integers."""
    milli = np.asarray(milli, dtype="int64")
    if weight_milli == 0 or milli.size == 0 or int(np.abs(milli).max()) <= 2**62 // abs(weight_milli):
        return divide_half_up(milli * weight_milli, MILLI)
    return np.array([times(int(figure), weight_milli) for figure in milli], dtype="int64")
