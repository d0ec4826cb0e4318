"""The pure parts: layering, rule settings, phone numbers."""
from __future__ import annotations

import subprocess
import sys

import pytest

from scoring.settings import PINGYANG_2021, RuleSettings
from sms.phones import PhoneError, mask_phone, normalize_phone


@pytest.mark.parametrize(
    ("module", "forbidden"),
    [
        ("scoring.history", ("flask", "sqlalchemy", "voting", "sms")),
        ("scoring.engine", ("flask", "sqlalchemy", "voting", "sms")),
        ("sms.phones", ("flask", "voting", "scoring")),
        ("sms.tokens", ("flask", "voting", "scoring")),
        ("sms.templates", ("flask", "voting", "scoring")),
        ("sms.webhook", ("flask", "voting", "scoring")),
    ],
)
def test_scoring_and_sms_do_not_load_the_web_app(module, forbidden):
    code = f"import sys, {module}; print(sorted(m for m in sys.modules if m.split('.')[0] in {forbidden!r}))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_settings_default_to_pingyang_2021():
    rules = RuleSettings.from_dict({})
    assert rules == PINGYANG_2021
    assert (rules.service_round_points, rules.blend_min_votes, rules.network_points, rules.bonus_cap) == (25, 30, 15, 5)
    assert (rules.shortlist_satisfied, rules.shortlist_unsatisfied, rules.max_objects_per_section) == (50, 50, 500)


def test_settings_round_trip_and_keep_their_types():
    changed = RuleSettings.from_dict({"blend_min_votes": "20", "weight_basic": "0.5"})
    assert changed.blend_min_votes == 20 and isinstance(changed.blend_min_votes, int)
    assert changed.weight_basic == 0.5
    assert RuleSettings.from_dict(changed.to_dict()) == changed


def test_unknown_setting_is_refused():
    with pytest.raises(ValueError, match="未知的规则设置：blend_votes"):
        RuleSettings.from_dict({"blend_votes": 20})


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("13812345678", "13812345678"),
        ("+86 138-1234-5678", "13812345678"),
        ("0086 13912345678", "13912345678"),
        ("8613912345678", "13912345678"),
        ("１３８１２３４５６７８", "13812345678"),
        ("13812345678.0", "13812345678"),
        (" 199 1234 5678 ", "19912345678"),
        ("(150)1234-5678", "15012345678"),
    ],
)
def test_phone_forms_are_normalised(raw, stored):
    assert normalize_phone(raw) == stored


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "为空"),
        ("1.38e10", "非数字"),
        ("1381234567", "实为 10 位"),
        ("138123456789", "实为 12 位"),
        ("12345678901", "13–19"),
        ("05778123456", "13–19"),
        ("14012345678", "号段"),
        ("+1 415 555 0100", "非数字"),
    ],
)
def test_bad_phones_say_why(raw, reason):
    with pytest.raises(PhoneError, match=reason):
        normalize_phone(raw)


def test_masking():
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("") == "" and mask_phone(None) == ""
    assert mask_phone("12345") == "*****"


def test_allocated_ranges_agree_with_phonenumbers_own_validation():
    import random

    import phonenumbers

    from sms.phones import _allocated

    rng = random.Random(7)
    for _ in range(3000):
        national = f"1{rng.randrange(3, 10)}{rng.randrange(10**9):09d}"
        number = phonenumbers.parse(national, "CN")
        expected = phonenumbers.is_valid_number(number) and phonenumbers.number_type(number) in (
            phonenumbers.PhoneNumberType.MOBILE,
            phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
        )
        assert _allocated(national) == expected, national


def test_vectorised_normalisation_agrees_with_the_single_one():
    import pandas as pd

    from sms.phones import PhoneError, normalize_phones

    raw = ["+86 138-1234-5678", "13812345678.0", "１３８１２３４５６７８", "1.38e10", "14012345678", "", "(150)1234-5678", "12345"]
    stripped, problems = normalize_phones(pd.Series(raw))
    for value, got, problem in zip(raw, stripped, problems):
        try:
            assert normalize_phone(value) == got and problem is None
        except PhoneError as error:
            assert str(error) == problem


@pytest.mark.parametrize(
    ("raw", "shown"),
    [("13800000001a", "138****0001a"), ("+86 138-1234-5678", "+86 1**-****-5678"), ("12345", "12345"), ("", "")],
)
def test_rejected_phone_cells_are_echoed_masked(raw, shown):
    from sms.phones import mask_phone_text

    assert mask_phone_text(raw) == shown


def test_sms_settings_of_a_campaign_are_checked():
    rules = RuleSettings.from_dict({"sms_window_start": "07:30", "sms_daily_cap": "3"})
    assert (rules.sms_window_start, rules.sms_window_end, rules.sms_daily_cap) == ("07:30", "21:00", 3)
    for bad in ({"sms_window_end": "25:00"}, {"sms_window_start": "8"}, {"sms_daily_cap": -1}):
        with pytest.raises(ValueError):
            RuleSettings.from_dict(bad)
