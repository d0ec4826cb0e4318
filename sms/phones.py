"""Mainland mobile numbers: normalisation and masking (docs/rules.md §3.5, §4.13).

A number is accepted with +86 / 0086 / 86, spaces, dashes, dots, brackets or full-width
digits, and stored as its 11 national digits (1[3-9]xxxxxxxxx), so that the same phone
written two ways matches. `phonenumbers` then refuses ranges that are not allocated
to mobile service (data-only IoT ranges cannot receive an SMS).
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

import phonenumbers
import pandas as pd

_SEPARATORS = re.compile(r"[\s\-\.()\u00a0\u200b-\u200d\u2060\ufeff]")
_MAINLAND = re.compile(r"1[3-9]\d{9}")
_PREFIX = re.compile(r"^(?:\+86|0086|86)(?=1\d{10}$)")
_INTEGRAL_FLOAT = re.compile(r"^(\d+)\.0+$")


class PhoneError(ValueError):
    """A value that is not a mainland mobile number; the message says why, in Chinese."""


def _strip(raw: str) -> str:
    text = unicodedata.normalize("NFKC", raw).strip()
    text = _INTEGRAL_FLOAT.sub(r"\1", text)  # 13812345678.0 from a numeric cell
    text = _SEPARATORS.sub("", text)
    return _PREFIX.sub("", text)


# phonenumbers' own pattern of China's mobile ranges, compiled once: the same answer as
# `is_valid_number` + `number_type` (checked in the tests) at a fraction of the cost,
# and usable on a whole column at once.
def _mobile_pattern() -> str:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region("CN")
    pattern = metadata.mobile.national_number_pattern if metadata and metadata.mobile else None
    if not pattern:  # a phonenumbers without China's metadata: no number could be checked
        raise RuntimeError("phonenumbers has no pattern for China's mobile numbers")
    return pattern


_ALLOCATED = re.compile(_mobile_pattern())


def _allocated(national: str) -> bool:
    return _ALLOCATED.fullmatch(national) is not None


def phone_problem(national: str) -> str | None:
    """Why an already stripped value is not a mainland mobile, or None when it is one."""
    if national == "":
        return "手机号码为空"
    if not national.isdigit():
        return "手机号码含有非数字字符"
    if len(national) != 11:
        return f"手机号码应为 11 位，实为 {len(national)} 位"
    if not _MAINLAND.fullmatch(national):
        return "不是大陆手机号码（应以 13–19 开头）"
    if not _allocated(national):
        return "号段未分配给可收短信的手机"
    return None


def normalize_phone(raw: str) -> str:
    """The 11 national digits of a mainland mobile number, or PhoneError."""
    national = _strip(str(raw))
    problem = phone_problem(national)
    if problem:
        raise PhoneError(problem)
    return national


def normalize_phones(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Vectorised `normalize_phone`: (normalised numbers, problem or None) per row."""
    text = raw.astype(str).str.normalize("NFKC").str.strip()
    text = text.str.replace(_INTEGRAL_FLOAT.pattern, r"\1", regex=True)
    text = text.str.replace(_SEPARATORS.pattern, "", regex=True)
    stripped = text.str.replace(_PREFIX.pattern, "", regex=True)
    fine = stripped.str.fullmatch(_ALLOCATED.pattern).fillna(False).astype(bool)
    problems: list[str | None] = [None] * len(raw)
    for position in (~fine).to_numpy().nonzero()[0]:
        problems[position] = phone_problem(stripped.iat[position])
    return stripped, pd.Series(problems, index=raw.index, dtype=object)


def mask_phone(phone: str | None) -> str:
    """138****5678: what a person may see of a stored number."""
    if not phone:
        return ""
    if len(phone) < 7:
        return "*" * len(phone)
    return f"{phone[:3]}****{phone[-4:]}"


def mask_phone_text(raw: str) -> str:
    """A cell that failed to be a phone number, as an error message may echo it: with 7
    digits or more, only the first 3 and the last 4 digits show (docs/rules.md §4.13)."""
    text = unicodedata.normalize("NFKC", raw)
    positions = [i for i, ch in enumerate(text) if ch.isdigit()]
    if len(positions) < 7:
        return text
    hidden = set(positions[3:-4])
    return "".join("*" if i in hidden else ch for i, ch in enumerate(text))


# A run of digits a phone number could hide in, with its +86, spaces or dashes (a
# provider's error message quoting the number it refused).
_DIGIT_RUN = re.compile(r"\+?\d[\d\s\-]{5,}\d")


def mask_phones_in(text: str) -> str:
    """`text` with every phone-like run of digits masked, a mainland number as 138****5678."""

    def mask(found: re.Match[str]) -> str:
        try:
            return mask_phone(normalize_phone(found.group()))
        except PhoneError:
            return mask_phone_text(found.group())

    return _DIGIT_RUN.sub(mask, text)


def blank_values(text: str, values: Iterable[str], shortest: int) -> str:
    """`text` with each of `values` at least `shortest` long (a call's template values:
    a code, a password) replaced by ***, the longest first."""
    for value in sorted({v for v in values if len(v) >= shortest}, key=len, reverse=True):
        text = text.replace(value, "***")
    return text
