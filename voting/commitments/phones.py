"""The numbers of the units' forms (附件4, 附件5): what each field takes, and how a person
sees a stored one (never in full, not even the liaison who typed it).

- 手机号码: a mainland mobile, as sms.phones normalises it (11 digits), sealed and found
  by its keyed hash (the list-integrity checks compare it with the service objects').
- 联系电话 (附件4): a mobile, or a landline.
- 办公电话 (附件5): a landline, or a short number.
- 纪委短号: a short number of 3–6 digits (the county's internal network).
- QQ号码: 5–11 digits, not starting with 0.

A landline is an optional area code (0 and 2–3 digits, in brackets or followed by a
dash or a space) and a 7- or 8-digit number not starting with 0 or 1, with an optional
extension (-, 转 or ext and 1–6 digits); it is stored as 0577-63712345 (-801). A
mobile shows as 138****5678 (sms.phones.mask_phone); any other number with only its
last 2 digits (6 digits or fewer) or its last 4, the rest as * (`mask_number`).
"""
from __future__ import annotations

import re
import unicodedata
from enum import Enum

from sms.phones import PhoneError, mask_phone, normalize_phone

_SPACES = re.compile(r"[\s\u00a0\u200b-\u200d\u2060\ufeff]+")
_LANDLINE = re.compile(
    r"(?:\(?(?P<area>0\d{2,3})\)?[-.]?)?(?P<number>[2-9]\d{6,7})(?:(?:-|转|ext\.?|#)(?P<extension>\d{1,6}))?",
    re.IGNORECASE,
)
_SHORT = re.compile(r"\d{3,6}")
_QQ = re.compile(r"[1-9]\d{4,10}")
_MOBILE = re.compile(r"1[3-9]\d{9}")
_INTEGRAL_FLOAT = re.compile(r"^(\d+)\.0+$")  # 63712345.0 from a numeric cell
_MAINLAND_PREFIX = re.compile(r"^(?:0086|86)(?=1\d{10}$)")


class Kind(str, Enum):
    """What a number field takes."""

    mobile = "mobile"  # 手机号码
    contact = "contact"  # 联系电话: a mobile or a landline
    office = "office"  # 办公电话: a landline or a short number
    short = "short"  # 纪委短号
    qq = "qq"  # QQ号码


# What each kind takes, as the forms and the files' errors say it.
RULES = {
    Kind.mobile: "11 位大陆手机号码",
    Kind.contact: "手机号码（11 位）或固定电话（如 0577-63712345）",
    Kind.office: "固定电话（如 0577-63712345）或 3–6 位短号",
    Kind.short: "3–6 位数字的短号",
    Kind.qq: "5–11 位数字，不以 0 开头",
}


class NumberError(ValueError):
    """A value a number field does not take; the message says why, in Chinese, and
    shows the value masked only."""


def _text(raw: object) -> str:
    text = _SPACES.sub("", unicodedata.normalize("NFKC", str(raw)))
    return _INTEGRAL_FLOAT.sub(r"\1", text)


def _landline(text: str) -> str | None:
    found = _LANDLINE.fullmatch(text)
    if found is None:
        return None
    area, number, extension = found.group("area"), found.group("number"), found.group("extension")
    value = f"{area}-{number}" if area else number
    return f"{value}-{extension}" if extension else value


def _shown(text: str) -> str:
    """What was typed, as a message may echo it: masked (`mask_number`), and short."""
    shown = mask_number(text)
    return shown if len(shown) <= 30 else shown[:30] + "…"


def read_number(raw: object, kind: Kind, label: str) -> str:
    """The value to store for `raw` typed in a field of `kind` named `label`, or
    NumberError. Empty input is the caller's (it keeps the stored value)."""
    text = _text(raw)
    bare = re.sub(r"[-.()]", "", text).lstrip("+")
    if kind is Kind.mobile or kind is Kind.contact and _MOBILE.fullmatch(_MAINLAND_PREFIX.sub("", bare)):
        try:
            return normalize_phone(text)
        except PhoneError as error:
            raise NumberError(f"{label}“{_shown(text)}”无效：{error}") from None
    if kind in (Kind.contact, Kind.office) and (landline := _landline(text)) is not None:
        return landline
    if kind in (Kind.office, Kind.short) and _SHORT.fullmatch(text):
        return text
    if kind is Kind.qq and _QQ.fullmatch(text):
        return text
    advice = "；手机号码请填在“手机号码”栏" if kind is Kind.office and _MOBILE.fullmatch(bare) else ""
    raise NumberError(f"{label}“{_shown(text)}”无效：应为{RULES[kind]}{advice}")


def is_mobile(value: str) -> bool:
    return _MOBILE.fullmatch(value) is not None


def mask_number(value: str | None) -> str:
    """What a person may see of a stored number: a mobile as 138****5678; anything else
    with its last 2 digits (6 digits or fewer) or 4, every other digit as *."""
    if not value:
        return ""
    if is_mobile(value):
        return mask_phone(value)
    positions = [i for i, ch in enumerate(value) if ch.isdigit()]
    keep = 2 if len(positions) <= 6 else 4
    hidden = set(positions[:-keep]) if len(positions) > keep else set(positions)
    return "".join("*" if i in hidden else ch for i, ch in enumerate(value))
