"""A citizen's free text as a unit may read it (docs/rules.md §7): what the citizen typed
about a window can name them, and units never learn who rated them.

`for_unit` removes what a machine can find: every run of seven or more digits (a phone
number with its +86, spaces or dashes, an ID card number, a case or plate number that
may lead to the person), email addresses and ID card numbers ending in X, each replaced
by a marker that says something was removed. A name typed in the text cannot be found
this way: the office reads each text before a unit does and may replace what the unit
sees (the complaint's and the case's 单位可见内容).
"""
from __future__ import annotations

import re

REMOVED = "〔已隐去〕"

# Seven or more digits, possibly with +, spaces, dashes or dots between them, and an ID
# card number's final X.
_DIGITS = re.compile(r"\+?\d(?:[\d\s\-.]{5,}\d)(?:[Xx](?![A-Za-z]))?")
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
_DATE = re.compile(r"(?:19|20)\d\d[\-.]\d{1,2}[\-.]\d{1,2}")  # 2024-05-06 says when, not who


def _long_enough(found: re.Match[str]) -> str:
    digits = sum(ch.isdigit() for ch in found.group())
    return REMOVED if digits >= 7 and not _DATE.fullmatch(found.group().strip()) else found.group()


def for_unit(text: str | None) -> str:
    """`text` without phone-like or ID-like digit runs (full-width digits too: `\\d` is
    any digit) and email addresses; dates and the rest as typed."""
    if not text:
        return ""
    return _DIGITS.sub(_long_enough, _EMAIL.sub(REMOVED, text))
