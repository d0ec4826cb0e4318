"""The citizen's verdict on the handling of their 差评 (voting/ratings/verdict_views.py,
voting/ratings/cases.py), on SQLite and PostgreSQL: the SMS's link shows the place and
the question with two buttons, and GET writes nothing; the first answer is recorded
and stands (a second is told so, 409, and changes nothing; a hundred at once record
one); a forged, garbled or other-purpose token, or one whose nonce is not the case's, is
a 404; past its days the link is a 410; the setting and the template."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from itsdangerous import URLSafeSerializer
from sqlalchemy import select

from sms.templates import FOLLOWUP_VERDICT, SCRUBBED, render, scrub
from sms.tokens import LINK_PURPOSE
from tests.ratings.support import at_once, places
from tests.security.common import changed, snapshot
from tests.support.web import text
from voting.core.errors import DomainError
from voting.ratings import cases, codes, followups, verdict_views
from voting.ratings import ratings as r
from voting.ratings.models import FollowupCase

PUBLIC_URL = "https://pingyi.example.gov.cn"
PHONE = "13812345678"
MORNING = datetime(2026, 6, 1, 2, 0, tzinfo=timezone.utc)  # Monday 1 June 2026, 10:00 in Shanghai
CLOSED = datetime(2026, 6, 3, 7, 0, tzinfo=timezone.utc)  # Wednesday 3 June, 15:00
# The link answers until the end of 3 July in Shanghai (30 days after the closing's day).
LAST = datetime(2026, 7, 3, 15, 59, 59, tzinfo=timezone.utc)
QUESTION = "您对这次差评的处理结果是否满意？"


@pytest.fixture
def app_config():
    return {"PUBLIC_URL": PUBLIC_URL}


@pytest.fixture
def clock(monkeypatch):
    now = {"now": CLOSED + timedelta(hours=2)}
    monkeypatch.setattr(verdict_views, "utcnow", lambda: now["now"])
    return now


def settings() -> cases.VerdictSettings:
    return cases.VerdictSettings(address=f"{PUBLIC_URL}/r/case/")


@pytest.fixture
def closed(app, db):
    """A 差评 of the section with a phone, called back and closed: (the case, its token)."""
    section, _ = places(db)
    code = codes.issue(db, actor="admin", section_id=section.id)
    thanks = r.submit_rating(db, code, 1, ["attitude"], "态度不好。", phone=PHONE, device="a" * 20,
                             network="203.0.113.7", now=MORNING)
    case = db.scalars(select(FollowupCase).where(FollowupCase.rating_id == thanks.rating_id)).one()
    followups.record_callback(db, case.id, actor="admin", finding="已回访。", now=MORNING + timedelta(hours=2))
    tokens = cases.verdict_tokens(app)
    case, asked = cases.close_case(db, case.id, actor="admin", now=CLOSED, settings=settings(), tokens=tokens)
    db.commit()
    assert asked and case.phone is None
    return case, tokens.sign(case)


def state(db, case_id: int) -> tuple:
    db.rollback()
    db.expire_all()
    case = db.get(FollowupCase, case_id)
    return case.citizen_satisfied, case.citizen_answered_at


def test_the_link_asks_and_records_the_first_answer_once(app, client, db, closed, clock):
    case, token = closed
    before = snapshot(db)
    page = client.get(f"/r/case/{token}")
    shown = text(page)
    assert page.status_code == 200 and QUESTION in shown and "价格科" in shown and "县发改局" in shown
    assert 'name="answer" value="satisfied">满意</button>' in shown
    assert 'name="answer" value="unsatisfied">不满意</button>' in shown
    assert "<script" not in shown and 'name="viewport" content="width=device-width' in shown
    assert page.headers["Cache-Control"] == "no-store" and page.headers["Referrer-Policy"] == "no-referrer"
    # GET writes nothing, whatever its query says.
    assert client.get(f"/r/case/{token}?answer=unsatisfied").status_code == 200
    assert changed(before, snapshot(db)) == []
    # No answer, or another value: 400, the question again, nothing stored.
    for data in ({}, {"answer": "maybe"}, {"answer": ""}):
        refused = client.post(f"/r/case/{token}", data=data)
        assert refused.status_code == 400 and "请点击“满意”或“不满意”。" in text(refused) and QUESTION in text(refused)
    assert changed(before, snapshot(db)) == []

    answered = client.post(f"/r/case/{token}", data={"answer": "satisfied"})
    assert answered.status_code == 303 and answered.headers["Location"].endswith(f"/r/case/{token}")
    satisfied, at = state(db, case.id)
    assert satisfied is True and at is not None and at.replace(tzinfo=timezone.utc) == clock["now"]
    after = client.get(f"/r/case/{token}")
    assert after.status_code == 200 and "您的评价已记录：满意。" in text(after) and "<form" not in text(after)

    # A second answer changes nothing, and says so; from another phone or browser too.
    before = snapshot(db)
    clock["now"] += timedelta(days=1)
    for browser in (client, app.test_client()):
        again = browser.post(f"/r/case/{token}", data={"answer": "unsatisfied"})
        assert again.status_code == 409 and "您已经评价过这次处理结果" in text(again)
        assert browser.post(f"/r/case/{token}", data={}).status_code == 409
    assert changed(before, snapshot(db)) == []
    assert state(db, case.id)[0] is True


def test_the_office_sees_the_verdict(app, admin_client, db, closed, clock):
    case, token = closed
    assert app.test_client().post(f"/r/case/{token}", data={"answer": "unsatisfied"}).status_code == 303
    page = text(admin_client.get(f"/office/rating-cases/{case.id}"))
    assert "不满意（2026-06-03 17:00）" in page


def forged_tokens(app, case: FollowupCase, token: str) -> dict[str, str]:
    keys = [app.config["SECRET_KEY"]]
    return {
        "cut short": token[:-3],
        "garbled signature": token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1],
        "not a token": "x",
        "very long": "A" * 5000,
        "the rating codes' salt": URLSafeSerializer(keys, salt=codes.PURPOSE).dumps([case.id, case.verdict_nonce]),
        "a vote link's salt": URLSafeSerializer(keys, salt=LINK_PURPOSE).dumps([case.id, case.verdict_nonce]),
        "another key": URLSafeSerializer(["another secret"], salt=cases.PURPOSE).dumps([case.id, case.verdict_nonce]),
        "another nonce": URLSafeSerializer(keys, salt=cases.PURPOSE).dumps([case.id, "A" * 22]),
        "another case": URLSafeSerializer(keys, salt=cases.PURPOSE).dumps([case.id + 1, case.verdict_nonce]),
        "a boolean id": URLSafeSerializer(keys, salt=cases.PURPOSE).dumps([True, case.verdict_nonce]),
        "a dict": URLSafeSerializer(keys, salt=cases.PURPOSE).dumps({"id": case.id}),
    }


def test_a_forged_garbled_or_other_purpose_token_is_404(app, client, db, closed, clock):
    case, token = closed
    before = snapshot(db)
    for name, bad in forged_tokens(app, case, token).items():
        for method, data in (("GET", None), ("POST", {"answer": "satisfied"}), ("POST", {})):
            response = client.open(f"/r/case/{bad}", method=method, data=data)
            assert response.status_code == 404, (name, method, response.status_code)
            assert "没有找到这个评价链接" in text(response) and "代码 404" in text(response), (name, method)
    # Nor is the verdict's token a rating code's address.
    assert client.get(f"/r/{token}").status_code == 404
    assert changed(before, snapshot(db)) == []
    assert client.get(f"/r/case/{token}").status_code == 200


def test_a_case_closed_without_a_phone_has_no_link(app, db, clock):
    section, _ = places(db)
    code = codes.issue(db, actor="admin", section_id=section.id)
    thanks = r.submit_rating(db, code, 2, ["slow"], "", device="b" * 20, network="203.0.113.7", now=MORNING)
    case = db.scalars(select(FollowupCase).where(FollowupCase.rating_id == thanks.rating_id)).one()
    followups.record_callback(db, case.id, actor="admin", finding="已回访。", now=MORNING)
    case, asked = cases.close_case(db, case.id, actor="admin", now=CLOSED, settings=settings(),
                                   tokens=cases.verdict_tokens(app))
    db.commit()
    assert not asked and case.verdict_nonce is None
    with pytest.raises(ValueError):
        cases.verdict_tokens(app).sign(case)
    fake = URLSafeSerializer([app.config["SECRET_KEY"]], salt=cases.PURPOSE).dumps([case.id, ""])
    assert app.test_client().get(f"/r/case/{fake}").status_code == 404


def test_the_link_ends_after_its_days(app, client, db, closed, clock):
    case, token = closed
    clock["now"] = LAST
    assert client.get(f"/r/case/{token}").status_code == 200
    clock["now"] = LAST + timedelta(seconds=1)
    before = snapshot(db)
    for method, data in (("GET", None), ("POST", {"answer": "satisfied"}), ("POST", {})):
        gone = client.open(f"/r/case/{token}", method=method, data=data)
        assert gone.status_code == 410 and "这个评价链接已过期（办结后 30 天内有效）" in text(gone), method
    assert changed(before, snapshot(db)) == []


def test_the_days_are_a_setting(app):
    assert cases.VerdictSettings.from_config({}, PUBLIC_URL + "/").days == 30
    found = cases.VerdictSettings.from_config({"RATING_VERDICT_LINK_DAYS": "7", "SMS_SIGN": "某县评议办",
                                               "TIMEZONE": "Asia/Urumqi"}, PUBLIC_URL)
    assert found == cases.VerdictSettings(address=f"{PUBLIC_URL}/r/case/", sign="某县评议办", timezone="Asia/Urumqi",
                                          days=7)
    with pytest.raises(ValueError):
        cases.VerdictSettings.from_config({"RATING_VERDICT_LINK_DAYS": 0}, PUBLIC_URL)


def test_the_verdict_needs_a_closed_case(db, closed):
    case, _ = closed
    with pytest.raises(DomainError):
        followups.answer_verdict(db, 999999, satisfied=True, now=CLOSED)
    assert followups.answer_verdict(db, case.id, satisfied=False, now=CLOSED) is True
    assert followups.answer_verdict(db, case.id, satisfied=True, now=CLOSED) is False
    db.commit()
    assert case.citizen_satisfied is False


def test_a_hundred_answers_at_once_record_one(app, db, closed):
    case, token = closed
    case_id = case.id
    tokens = cases.verdict_tokens(app)

    def attempt(session, i: int) -> str:
        try:
            cases.answer(session, token, i % 2 == 0, now=CLOSED + timedelta(hours=1), settings=settings(), tokens=tokens)
        except cases.VerdictGivenError:
            return "refused"
        return "recorded"

    outcomes = at_once(app, db, attempt, "SQLite writes one at a time")
    assert outcomes == {"recorded": 1, "refused": 99}
    with app.extensions["pingyi.sessions"]() as session:
        assert session.get(FollowupCase, case_id).citizen_satisfied is not None


def test_the_template_names_the_place_and_masks_the_token_once_sent():
    params = {"sign": "县千人评议办", "place": "县发改局价格科", "address": f"{PUBLIC_URL}/r/case/",
              "token": "WzEsImFiYyJd.c2lnbmF0dXJl", "closes": "7月3日"}
    assert render(FOLLOWUP_VERDICT, params) == (
        f"【县千人评议办】您对县发改局价格科提出的意见已办理完毕，请打开 {PUBLIC_URL}/r/case/WzEsImFiYyJd.c2lnbmF0dXJl "
        "评价处理结果是否满意，有效期至7月3日。")
    kept, scrubbed = scrub(FOLLOWUP_VERDICT, params)
    assert kept["token"] == SCRUBBED and "WzEs" not in scrubbed and f"/r/case/{SCRUBBED} " in scrubbed
