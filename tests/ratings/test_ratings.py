"""A citizen's rating (voting/ratings/ratings.py), on SQLite and PostgreSQL: the five
levels mapped to Pingyang's three by a setting and stored as mapped at the time; the
input refused in Chinese with nothing stored; a duplicate (same phone, place and local
day) and a rating over a limit stored uncounted with the same thanks; a counted 差评
opening its follow-up case due 5 working days later (over the 2026 National Day
holiday, and estimated for 2027); a hundred submits at once from one phone on
PostgreSQL counted once."""
from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from voting.core.errors import DomainError
from voting.core.vault import vault_of
from voting.ratings import codes
from voting.ratings import ratings as r
from voting.ratings.models import FollowupCase, Rating, RatingResult
from voting.ratings.ratings import RatingSettings

from tests.ratings.support import at_once, places

PHONE = "13812345678"
ADDRESS = "203.0.113.7"
DEVICE = "d" * 32
# 2026-06-01 10:00 in Asia/Shanghai (a Monday).
MORNING = datetime(2026, 6, 1, 2, 0, tzinfo=timezone.utc)


@pytest.fixture
def spots(db):
    """Codes of three places: a section, a window, and one case of the section."""
    section, window = places(db)
    found = (codes.issue(db, actor="admin", section_id=section.id), codes.issue(db, actor="admin", entity_id=window.id),
             codes.issue(db, actor="admin", section_id=section.id, case_ref="BJ-1"))
    db.commit()
    return found


def rate(db, code, level=5, categories=(), text="", *, phone=None, device=DEVICE, address=ADDRESS, now=MORNING,
         **settings) -> r.Thanks:
    thanks = r.submit_rating(db, code, level, categories, text, phone=phone, device=device, network=address, now=now,
                             settings=RatingSettings(**settings))
    db.commit()
    return thanks


def rows(db) -> list[Rating]:
    db.expire_all()
    return list(db.scalars(select(Rating).order_by(Rating.id)))


def counted(db) -> list[bool]:
    return [row.counted for row in rows(db)]


def cases(db) -> list[FollowupCase]:
    db.expire_all()
    return list(db.scalars(select(FollowupCase).order_by(FollowupCase.id)))


# ---- the levels and the mapping ----------------------------------------------------------------

def test_five_levels_map_to_three_by_default(db, spots):
    section = spots[0]
    for level in (5, 4, 3, 2, 1):
        rate(db, section, level, ["slow"] if level <= 2 else (), device=f"device-{level:02d}-abcdefghijkl")
    assert [(row.level, row.result) for row in rows(db)] == [
        (5, RatingResult.satisfied), (4, RatingResult.satisfied), (3, RatingResult.basic),
        (2, RatingResult.unsatisfied), (1, RatingResult.unsatisfied)]
    assert all(counted(db))


def test_the_mapping_is_a_setting_and_a_stored_result_keeps_its_day(app, db, spots):
    stricter = {"非常满意": "满意", "满意": "基本满意", "基本满意": "不满意", "不满意": "不满意", "非常不满意": "不满意"}
    settings = RatingSettings.from_config({**app.config, "RATING_LEVEL_MAP": stricter})
    assert settings.levels[4] is RatingResult.basic and settings.levels[3] is RatingResult.unsatisfied
    rate(db, spots[0], 4)
    r.submit_rating(db, spots[1], 4, (), "", device=DEVICE, network=ADDRESS, now=MORNING, settings=settings)
    db.commit()
    assert [row.result for row in rows(db)] == [RatingResult.satisfied, RatingResult.basic]
    by_number = r.level_map({5: "满意", 4: "满意", 3: "满意", 2: "不满意", 1: "unsatisfied"})
    assert by_number[3] is RatingResult.satisfied and by_number[1] is RatingResult.unsatisfied
    with pytest.raises(ValueError, match="all five"):
        r.level_map({"非常满意": "满意"})
    with pytest.raises(ValueError):
        r.level_map({**r.DEFAULT_LEVEL_MAP, "满意": "很好"})
    assert RatingSettings.from_config(app.config) == RatingSettings()


# ---- refused input ------------------------------------------------------------------------------

@pytest.mark.parametrize("level, categories, text, message", [
    (0, (), "", "请选择一个评价等级"),
    ("six", (), "", "请选择一个评价等级"),
    (True, (), "", "请选择一个评价等级"),
    (None, (), "", "请选择一个评价等级"),
    (4, ["slow"], "", "只有选择“不满意”或“非常不满意”时"),
    (2, [], "太慢", "请至少选择一项不满意的原因"),
    (1, ["slow", "bribes"], "", "只能从列出的选项中选择"),
    (3, (), "字" * 501, "最多 500 个字，现在是 501 个字"),
])
def test_bad_input_is_refused_in_chinese_and_stores_nothing(db, spots, level, categories, text, message):
    with pytest.raises(DomainError, match=message) as refused:
        rate(db, spots[0], level, categories, text)
    assert refused.value.status == 400
    db.rollback()
    assert rows(db) == [] and cases(db) == []


def test_a_level_as_the_form_sends_it_and_the_categories_in_their_order(db, spots):
    rate(db, spots[0], "1", ["other", "attitude", "other"], "  窗口无人。\n等了一小时。\x00 ")
    row = rows(db)[0]
    assert row.level == 1 and row.categories == ["attitude", "other"] and row.text == "窗口无人。\n等了一小时。"
    assert r.CATEGORIES["attitude"] == "态度不好" and len(r.CATEGORIES) == 7


def test_a_revoked_code_takes_no_rating(db, spots):
    codes.revoke(db, spots[0].id, actor="admin", reason="海报撕毁")
    db.commit()
    with pytest.raises(codes.RevokedCodeError):
        rate(db, spots[0])


# ---- duplicates ---------------------------------------------------------------------------------

def test_a_phone_counts_once_per_place_and_local_day_with_the_same_thanks(db, spots):
    section, window, case = spots
    first = rate(db, section, 5, phone=PHONE)
    again = rate(db, section, 5, phone="+86 138 1234 5678", now=MORNING + timedelta(hours=1), device="x" * 20)
    by_case_code = rate(db, case, 5, phone=PHONE)  # a case of the same section: the same place
    elsewhere = rate(db, window, 5, phone=PHONE)
    assert first.message == again.message == by_case_code.message == elsewhere.message == r.THANKS
    assert counted(db) == [True, False, False, True]
    assert len({row.phone_hash for row in rows(db)}) == 1 and rows(db)[0].phone_hash == vault_of(db).lookup(PHONE)
    assert rows(db)[2].place == rows(db)[0].place == f"section:{section.section_id}"


def test_the_next_local_day_counts_again(db, spots):
    last_minute = datetime(2026, 6, 1, 15, 59, tzinfo=timezone.utc)  # 23:59 in Shanghai
    rate(db, spots[0], 4, phone=PHONE, now=last_minute)
    rate(db, spots[0], 4, phone=PHONE, now=last_minute + timedelta(seconds=30))
    rate(db, spots[0], 4, phone=PHONE, now=last_minute + timedelta(minutes=1))  # 00:00 of 2 June
    assert counted(db) == [True, False, True]
    assert [row.day for row in rows(db)] == [date(2026, 6, 1), date(2026, 6, 1), date(2026, 6, 2)]


def test_without_a_phone_no_duplicate_is_decided(db, spots):
    rate(db, spots[0], 5)
    rate(db, spots[0], 5)
    assert counted(db) == [True, True]


# ---- limits -------------------------------------------------------------------------------------

def test_the_device_limit_a_local_day(db, spots):
    for n in range(4):
        rate(db, spots[n % 2], 5, device_daily=3, now=MORNING + timedelta(minutes=n))
    rate(db, spots[0], 5, device_daily=3, device="y" * 24)
    rate(db, spots[0], 5, device_daily=3, now=MORNING + timedelta(days=1))
    assert counted(db) == [True, True, True, False, True, True]


def test_a_missing_or_odd_cookie_is_the_network_s_cookie_less_device(db, spots):
    for device in (None, "", "short", "有中文的设备标识符号码号码号码号码"):
        rate(db, spots[0], 5, device=device, device_daily=2)
    rate(db, spots[0], 5, device=None, address="198.51.100.9", device_daily=2)
    assert counted(db) == [True, True, False, False, True]


def test_the_network_limit_an_hour(db, spots):
    for n in range(3):
        rate(db, spots[0], 5, device=f"device-{n:02d}-abcdefghijkl", network_hourly=2, now=MORNING + timedelta(minutes=n))
    rate(db, spots[0], 5, address="2001:db8::1", network_hourly=2)
    rate(db, spots[0], 5, network_hourly=2, now=MORNING + timedelta(minutes=61))
    assert counted(db) == [True, True, False, True, True]
    assert all(ADDRESS not in row.network for row in rows(db))


def test_the_phone_limit_a_local_day_across_places(db, spots):
    section, window, _ = spots
    rate(db, section, 5, phone=PHONE, phone_daily=1)
    rate(db, window, 5, phone=PHONE, phone_daily=1)
    rate(db, window, 5, phone="13900001111", phone_daily=1)
    assert counted(db) == [True, False, True]


def test_a_rating_over_a_limit_gets_the_same_thanks_and_opens_no_case(db, spots):
    counted_thanks = rate(db, spots[0], 1, ["fees"], phone=PHONE, device_daily=1)
    over = rate(db, spots[1], 1, ["fees"], phone=PHONE, device_daily=1)
    assert counted_thanks.message == over.message == r.THANKS_POOR
    assert counted(db) == [True, False] and [case.rating_id for case in cases(db)] == [counted_thanks.rating_id]


# ---- the rating page's submit: the scanned address ---------------------------------------------

def scanned(app, db, code, level=5, categories=(), *, device=DEVICE, address=ADDRESS, token=None, **settings):
    thanks = r.submit_scanned(db, token or codes.token_for(code, codes.rating_tokens(app)), level, categories, "",
                              device=device, network=address, now=MORNING, settings=RatingSettings(**settings),
                              tokens=codes.rating_tokens(app))
    db.commit()
    return thanks


def test_a_scanned_address_stores_the_rating_of_its_code_s_place(app, db, spots):
    section, window, case = spots
    made = [scanned(app, db, section, 1, ["slow"]), scanned(app, db, window, 4), scanned(app, db, case, 5),
            scanned(app, db, case, 5, device="z" * 20)]
    assert [m.message for m in made] == [r.THANKS_POOR, r.THANKS, r.THANKS, r.THANKS]
    assert [(row.code_id, row.place, row.case_code_id, row.counted) for row in rows(db)] == [
        (section.id, f"section:{section.section_id}", None, True), (window.id, f"entity:{window.entity_id}", None, True),
        (case.id, f"section:{section.section_id}", case.id, True), (case.id, f"section:{section.section_id}", case.id, False)]
    assert [(c.rating_id, c.section_id) for c in cases(db)] == [(made[0].rating_id, section.section_id)]


def test_a_scanned_address_that_is_not_a_live_code_s_stores_nothing(app, db, spots):
    tokens = codes.rating_tokens(app)
    old = codes.token_for(spots[0], tokens)
    codes.reissue(db, spots[0].id, actor="admin")  # the old address is stopped with its code
    codes.revoke(db, spots[1].id, actor="admin", reason="海报撕毁")
    db.commit()
    for token, refused in ((old, codes.RevokedCodeError), (codes.token_for(spots[1], tokens), codes.RevokedCodeError),
                           (tokens.dumps(spots[2].id, "a-made-up-nonce"), codes.UnknownCodeError),
                           (tokens.dumps(9999, spots[0].nonce), codes.UnknownCodeError), (old[:-2] + "xx", codes.UnknownCodeError)):
        with pytest.raises(refused):
            scanned(app, db, None, token=token)
        db.rollback()
    assert rows(db) == []


@pytest.mark.parametrize("shared, limit", [("device", 7), ("network", 9)])
def test_a_hundred_submits_at_once_keep_a_limit_exact_on_postgresql(app, db, spots, shared, limit):
    """The counts see every rating committed by the submits that took their turn
    before: exactly the limit counts, whatever the order the hundred arrive in."""
    tokens = codes.rating_tokens(app)
    token = codes.token_for(spots[0], tokens)
    settings = RatingSettings(device_daily=7, network_hourly=9)

    def attempt(session, n: int) -> str:
        return r.submit_scanned(session, token, 4, (), "", device=DEVICE if shared == "device" else f"device-{n:03d}-abcdefghij",
                                network=ADDRESS if shared == "network" else f"198.51.100.{n}", now=MORNING,
                                settings=settings, tokens=tokens).message

    outcomes = at_once(app, db, attempt, "SQLite serialises writers: the parallel submits are a PostgreSQL test")
    assert outcomes == {r.THANKS: 100}
    assert Counter(counted(db)) == {True: limit, False: 100 - limit}


# ---- the follow-up case of a 差评 ---------------------------------------------------------------

def test_a_poor_rating_opens_a_case_due_five_working_days_later(db, spots):
    # Tuesday 29 September 2026, 15:00 in Shanghai. Working days after it: Wed 30 Sept (1);
    # 1–7 October is the National Day holiday; Thu 8 (2), Fri 9 (3), Saturday 10 October is a
    # make-up working day (4), Sunday 11 is not; Monday 12 October is the 5th.
    now = datetime(2026, 9, 29, 7, 0, tzinfo=timezone.utc)
    thanks = rate(db, spots[0], 2, ["attitude"], "态度生硬。", phone=PHONE, now=now)
    case = cases(db)[0]
    assert case.rating_id == thanks.rating_id and case.section_id == spots[0].section_id and case.entity_id is None
    assert case.due_at.replace(tzinfo=timezone.utc) == datetime(2026, 10, 12, 16, 0, tzinfo=timezone.utc)  # 13 Oct 00:00
    assert case.due_estimated is False and case.phone == PHONE and case.closed_at is None
    rate(db, spots[0], 1, ["attitude"], phone=PHONE, now=now)  # a duplicate: no second case
    rate(db, spots[1], 3, now=now)  # no 差评: no case
    assert len(cases(db)) == 1


def test_a_case_in_a_year_the_calendar_does_not_know_is_estimated(db, spots):
    rate(db, spots[1], 1, ["slow"], now=datetime(2027, 3, 1, 2, 0, tzinfo=timezone.utc))  # Monday 1 March 2027
    case = cases(db)[0]
    assert case.due_estimated is True and case.phone is None and case.entity_id == spots[1].entity_id
    assert case.due_at.replace(tzinfo=timezone.utc) == datetime(2027, 3, 8, 16, 0, tzinfo=timezone.utc)


def test_the_clock_is_a_setting(app, db, spots):
    settings = RatingSettings.from_config({"RATING_FOLLOW_UP_WORKING_DAYS": 1})
    r.submit_rating(db, spots[0], 1, ["slow"], "", device=DEVICE, network=ADDRESS, now=MORNING, settings=settings)
    db.commit()
    assert cases(db)[0].due_at.replace(tzinfo=timezone.utc) == datetime(2026, 6, 2, 16, 0, tzinfo=timezone.utc)


# ---- concurrency --------------------------------------------------------------------------------

def test_a_hundred_submits_at_once_from_one_phone_count_once_on_postgresql(app, db, spots):
    code = spots[0]  # loaded, detached: read only by the threads

    def attempt(session, n: int) -> str:
        return r.submit_rating(session, code, 1, ["slow"], "", phone=PHONE, device=f"device-{n:03d}-abcdefghij",
                               network=f"198.51.100.{n}", now=MORNING).message

    outcomes = at_once(app, db, attempt, "SQLite serialises writers: the parallel submits are a PostgreSQL test")
    assert outcomes == {r.THANKS_POOR: 100}
    assert Counter(counted(db)) == {True: 1, False: 99}
    assert db.scalar(select(func.count()).select_from(FollowupCase)) == 1
