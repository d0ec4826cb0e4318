"""Mainland mobile numbers: normalisation and masking (SPEC §3, §4).

A number is accepted with +86 / 0086 / 86, spaces, dashes, dots, brackets or full-width
digits, and stored as its 11 national digits (1[3-9]xxxxxxxxx), so that the same phone
written two ways matches. `phonenumbers` then refuses ranges that are not allocated
to mobile service (data-only IoT ranges cannot receive an SMS).
"""
from __future__ import annotations

import functools
import re
import unicodedata

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


@functools.lru_cache(maxsize=65536)
def _allocated(national: str) -> bool:
    number = phonenumbers.PhoneNumber(country_code=86, national_number=int(national))
    kind = phonenumbers.number_type(number)
    return phonenumbers.is_valid_number(number) and kind in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )


def phone_problem(national: str) -> str | None:
    """Why an already stripped value is not a mainland mobile, or None when it is one."""
    if national == "":
        return "手机号码为空"
    if not national.isdigit():
        return "手机号码含有非数字字符"
    if len(national) != 11:
        return f"手机号码应为 11 位,实为 {len(national)} 位"
    if not _MAINLAND.fullmatch(national):
        return "不是大陆手机号码(应以 13–19 开头)"
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
    stripped = raw.astype(str).map(_strip)
    problems = stripped.map(phone_problem)
    return stripped, problems


def mask_phone(phone: str | None) -> str:
    """138****5678: what a person may see of a stored number."""
    if not phone:
        return ""
    if len(phone) < 7:
        return "*" * len(phone)
    return f"{phone[:3]}****{phone[-4:]}"
