"""主管单位评价 on the web: the liaison's form for their own unit, the review office's
overview, the server's checks on submit (422 with the row's message and the entered
values kept, nothing stored), roles, and CSRF."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD, login
from voting.lists.models import Campaign, Section, Unit
from voting.staff.models import Role, User
from voting.components.models import SupervisorScore
from voting.lists import campaigns
from voting.staff import users
from tests.support.web import text

NDRC = "县发改局"  # 14 sections: each tier holds 4 or 5
# Five 优秀, five 良好, four 一般, with every tier's edges.
GOOD_SET = [5.0, 4.8, 4.5, 4.2, 4.0, 3.9, 3.5, 3.3, 3.0, 3.1, 2.9, 2.0, 1.5, 0.0]
# Six 优秀, five 良好, three 一般.
BREAKING_SET = [5.0, 4.8, 4.5, 4.2, 4.0, 4.1, 3.9, 3.5, 3.3, 3.0, 3.1, 2.9, 2.0, 1.5]


def unit_named(db, campaign, name: str) -> Unit:
    return db.scalar(select(Unit).where(Unit.campaign_id == campaign.id, Unit.name == name))


def section_ids(db, unit: Unit) -> list[int]:
    return list(db.scalars(select(Section.id).where(Section.unit_id == unit.id).order_by(Section.number, Section.name)))


def stored(db, unit: Unit) -> dict[int, float]:
    db.rollback()  # a fresh snapshot: the request committed in its own session
    return dict(db.execute(
        select(SupervisorScore.section_id, SupervisorScore.score).join(Section).where(Section.unit_id == unit.id)
    ).all())


def form_data(ids: list[int], values) -> dict[str, str]:
    return {f"score-{sid}": str(value) for sid, value in zip(ids, values)}


def row_error(html: str, section_id: int) -> str:
    match = re.search(rf'<p class="field-error" id="error-{section_id}"[^>]*>([^<]*)</p>', html)
    return match.group(1) if match else ""


def input_value(html: str, section_id: int) -> str | None:
    match = re.search(rf'<input type="number" id="score-{section_id}"[^>]*?value="([^"]*)"', html, re.DOTALL)
    return match.group(1) if match else None


@pytest.fixture
def ndrc(db, campaign) -> Unit:
    unit = unit_named(db, campaign, NDRC)
    assert len(section_ids(db, unit)) == len(GOOD_SET) == 14
    return unit


@pytest.fixture
def liaison_client(app, db, ndrc):
    users.create_user(db, "liaison", PASSWORD, Role.liaison, ndrc)
    db.commit()
    client = app.test_client()
    assert login(client, "liaison").status_code == 302
    return client


def staff_client(app, db, username: str, role: Role):
    users.create_user(db, username, PASSWORD, role)
    db.commit()
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def test_form_shows_every_section_with_the_campaign_numbers(liaison_client, db, ndrc):
    response = liaison_client.get(f"/office/supervisor/{ndrc.id}")
    assert response.status_code == 200
    html = text(response)
    ids = section_ids(db, ndrc)
    assert html.count('type="number"') == len(ids)
    for sid in ids:
        assert re.search(
            rf'<input type="number" id="score-{sid}" name="score-{sid}" value="" step="0.1" min="0"\s+max="5" inputmode="decimal"',
            html,
        )
    assert "发展规划综合科" in html and "价格科" in html
    assert "优秀</b>：4.0 – 5.0 分" in html and "良好</b>：3.0 – 3.9 分" in html and "一般</b>：0 – 2.9 分" in html
    assert re.search(r'id="tier-bounds">4 到 5 个<', html)
    assert 'data-points="5.0" data-excellent-min="4.0" data-good-min="3.0" data-low="4" data-high="5"' in html
    assert 'aria-live="polite"' in html
    assert 'src="/static/supervisor.js"' in html
    assert "<script>" not in html and "onclick" not in html and "oninput" not in html
    assert "还有 14 个科室未填写有效分值" in html
    assert "保存评分" in html


def test_liaison_saves_a_valid_set(liaison_client, db, ndrc):
    ids = section_ids(db, ndrc)
    data = form_data(ids, GOOD_SET)
    data[f"score-{ids[2]}"] = "４.５"  # full-width digits from a Chinese input method
    data[f"score-{ids[3]}"] = " 4.20 "
    response = liaison_client.post(f"/office/supervisor/{ndrc.id}", data=data)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/office/supervisor/{ndrc.id}"
    assert stored(db, ndrc) == dict(zip(ids, GOOD_SET))
    liaison = db.scalar(select(User).where(User.username == "liaison"))
    assert set(db.scalars(select(SupervisorScore.entered_by_id))) == {liaison.id}

    html = text(liaison_client.get(response.headers["Location"]))
    assert "已保存 14 个科室的主管单位评分" in html
    assert input_value(html, ids[0]) == "5.0" and input_value(html, ids[-1]) == "0.0"
    assert re.search(rf'id="tier-{ids[4]}" data-tier="优秀"', html)
    assert re.search(rf'id="tier-{ids[5]}" data-tier="良好"', html)
    assert re.search(rf'id="tier-{ids[10]}" data-tier="一般"', html)
    assert "档次比例符合要求。" in html

    # A new set replaces the old one.
    changed = list(reversed(GOOD_SET))
    assert liaison_client.post(f"/office/supervisor/{ndrc.id}", data=form_data(ids, changed)).status_code == 302
    assert stored(db, ndrc) == dict(zip(ids, changed))


def test_a_set_that_breaks_the_tiers_is_refused(liaison_client, db, ndrc):
    ids = section_ids(db, ndrc)
    response = liaison_client.post(f"/office/supervisor/{ndrc.id}", data=form_data(ids, BREAKING_SET))
    assert response.status_code == 422
    html = text(response)
    assert "未保存" in html
    assert "县发改局：优秀档有 6 个科室，应为 4 到 5 个，多了 1 个" in html
    assert "县发改局：一般档有 3 个科室，应为 4 到 5 个，少了 1 个" in html
    assert "良好档" not in html
    assert stored(db, ndrc) == {}
    assert [input_value(html, sid) for sid in ids] == [str(v) for v in BREAKING_SET]


@pytest.mark.parametrize(("value", "message"), [
    ("5.1", "分值 5.1 超出范围：应在 0 到 5 之间"),
    ("-1", "分值 -1 超出范围：应在 0 到 5 之间"),
    ("4.55", "分值 4.55 只能保留一位小数"),
    ("", "请填写分值"),
    ("abc", "“abc”不是数字，请填写如 4.5 的分值"),
    ("nan", "“nan”不是数字，请填写如 4.5 的分值"),
])
def test_a_bad_value_is_flagged_at_its_row_and_nothing_is_stored(liaison_client, db, ndrc, value, message):
    ids = section_ids(db, ndrc)
    assert liaison_client.post(f"/office/supervisor/{ndrc.id}", data=form_data(ids, GOOD_SET)).status_code == 302
    before = stored(db, ndrc)
    data = form_data(ids, reversed(GOOD_SET))
    data[f"score-{ids[1]}"] = value
    response = liaison_client.post(f"/office/supervisor/{ndrc.id}", data=data)
    assert response.status_code == 422
    html = text(response)
    assert row_error(html, ids[1]) == message
    assert all(row_error(html, sid) == "" for sid in ids if sid != ids[1])
    assert re.search(rf'id="score-{ids[1]}"[^>]*aria-invalid="true"', html, re.DOTALL)
    assert f"<li>经济体制综合改革科：{message}</li>" in html  # at the top too
    # Every entered value is kept; the old set is untouched.
    assert input_value(html, ids[1]) == value
    assert [input_value(html, sid) for sid in ids if sid != ids[1]] == [
        str(v) for sid, v in zip(ids, reversed(GOOD_SET)) if sid != ids[1]
    ]
    assert stored(db, ndrc) == before


def test_a_missing_field_counts_as_blank(liaison_client, db, ndrc):
    ids = section_ids(db, ndrc)
    data = form_data(ids, GOOD_SET)
    del data[f"score-{ids[0]}"]
    response = liaison_client.post(f"/office/supervisor/{ndrc.id}", data=data)
    assert response.status_code == 422
    assert row_error(text(response), ids[0]) == "请填写分值"
    assert stored(db, ndrc) == {}


def test_liaison_cannot_open_or_post_another_unit(liaison_client, db, campaign):
    police = unit_named(db, campaign, "县公安局")
    assert liaison_client.get(f"/office/supervisor/{police.id}").status_code == 403
    ids = section_ids(db, police)
    scores = [[4.5, 3.5, 2.0][i % 3] for i in range(len(ids))]
    response = liaison_client.post(f"/office/supervisor/{police.id}", data=form_data(ids, scores))
    assert response.status_code == 403
    assert "无权访问" in text(response)
    assert stored(db, police) == {}


def test_admin_saves_any_unit(admin_client, db, campaign):
    science = unit_named(db, campaign, "县科技局")  # three sections: exactly one per tier
    ids = section_ids(db, science)
    assert len(ids) == 3
    html = text(admin_client.get(f"/office/supervisor/{science.id}"))
    assert re.search(r'id="tier-bounds">1 个<', html)
    response = admin_client.post(f"/office/supervisor/{science.id}", data=form_data(ids, [4.5, 4.0, 1.0]))
    assert response.status_code == 422
    html = text(response)
    assert "县科技局：优秀档有 2 个科室，应为 1 个，多了 1 个" in html
    assert "县科技局：良好档有 0 个科室，应为 1 个，少了 1 个" in html
    assert stored(db, science) == {}
    response = admin_client.post(f"/office/supervisor/{science.id}", data=form_data(ids, [4.5, 3.9, 1.0]), follow_redirects=True)
    assert response.status_code == 200
    assert "已保存 3 个科室的主管单位评分" in text(response)
    assert stored(db, science) == dict(zip(ids, [4.5, 3.9, 1.0]))


@pytest.mark.parametrize("role", [Role.operator, Role.auditor])
def test_operator_and_auditor_read_only(app, db, ndrc, role):
    client = staff_client(app, db, "reader", role)
    response = client.get(f"/office/supervisor/{ndrc.id}")
    assert response.status_code == 200
    html = text(response)
    assert "只读" in html and "保存评分" not in html and 'method="post" novalidate' not in html
    assert html.count(" readonly>") == 14
    ids = section_ids(db, ndrc)
    response = client.post(f"/office/supervisor/{ndrc.id}", data=form_data(ids, GOOD_SET))
    assert response.status_code == 403
    assert stored(db, ndrc) == {}


def test_unknown_unit_or_another_campaigns_unit_is_404(admin_client, db, campaign):
    older = campaigns.create_campaign(db, 2020)
    old_unit = Unit(campaign_id=older.id, number=1, name=NDRC)
    db.add(old_unit)
    db.commit()
    assert db.scalar(select(Campaign).order_by(Campaign.year.desc())).year == 2021
    for unit_id in (old_unit.id, 999_999):
        response = admin_client.get(f"/office/supervisor/{unit_id}")
        assert response.status_code == 404
        assert "页面不存在" in text(response)
        assert admin_client.post(f"/office/supervisor/{unit_id}", data={}).status_code == 404


def test_index_sends_the_liaison_to_their_form(liaison_client, ndrc):
    response = liaison_client.get("/office/supervisor/")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/office/supervisor/{ndrc.id}"


def test_index_lists_every_unit_for_the_office(admin_client, db, campaign, ndrc):
    ids = section_ids(db, ndrc)
    assert admin_client.post(f"/office/supervisor/{ndrc.id}", data=form_data(ids, GOOD_SET)).status_code == 302
    # Stored sets that came another way (an old file, sections added since): the
    # overview says which tier is off, or how many are still missing.
    science = unit_named(db, campaign, "县科技局")
    db.add_all(SupervisorScore(section_id=sid, score=4.5) for sid in section_ids(db, science))
    police = unit_named(db, campaign, "县公安局")
    db.add(SupervisorScore(section_id=section_ids(db, police)[0], score=4.5))
    db.commit()

    response = admin_client.get("/office/supervisor/")
    assert response.status_code == 200
    html = text(response)
    rows = re.findall(r'<tr data-unit-id="(\d+)">(.*?)</tr>', html, re.DOTALL)
    assert len(rows) == 44
    by_unit = {
        int(uid): [" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in re.findall(r"<td[^>]*>(.*?)</td>", body, re.DOTALL)]
        for uid, body in rows
    }
    assert f'href="/office/supervisor/{ndrc.id}"' in html
    assert by_unit[ndrc.id][:4] == ["县发改局", "14", "14", "符合"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", by_unit[ndrc.id][4])
    science_cells = by_unit[science.id]
    assert science_cells[1:3] == ["3", "3"]
    assert science_cells[3].startswith("不符合") and "县科技局：优秀档有 3 个科室，应为 1 个，多了 2 个" in science_cells[3]
    assert "县科技局：良好档有 0 个科室，应为 1 个，少了 1 个" in science_cells[3]
    assert by_unit[police.id][1:4] == ["25", "1", "未评完 还差 24 个科室"]
    other = unit_named(db, campaign, "县财政局")
    assert by_unit[other.id][1:5] == ["21", "0", "未评分", ""]


def test_office_form_needs_login(client, ndrc):
    response = client.get(f"/office/supervisor/{ndrc.id}")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_campaign_settings_decide_the_numbers(admin_client, db, campaign):
    campaign.settings = {
        **campaign.settings, "supervisor_points": 10.0, "supervisor_excellent_min": 8.0, "supervisor_good_min": 6.0,
    }
    db.commit()
    science = unit_named(db, campaign, "县科技局")
    ids = section_ids(db, science)
    html = text(admin_client.get(f"/office/supervisor/{science.id}"))
    assert 'max="10"' in html and 'data-points="10.0" data-excellent-min="8.0" data-good-min="6.0"' in html
    assert "优秀</b>：8.0 – 10.0 分" in html and "良好</b>：6.0 – 7.9 分" in html
    response = admin_client.post(f"/office/supervisor/{science.id}", data=form_data(ids, [9.5, 7.9, 5.9]))
    assert response.status_code == 302
    assert stored(db, science) == dict(zip(ids, [9.5, 7.9, 5.9]))


class TestCsrf:
    @pytest.fixture
    def app_config(self) -> dict:
        return {"WTF_CSRF_ENABLED": True}

    @staticmethod
    def _token(html: str) -> str:
        return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)

    def test_post_without_the_token_is_400_and_stores_nothing(self, app, db, ndrc):
        users.create_user(db, "liaison", PASSWORD, Role.liaison, ndrc)
        db.commit()
        client = app.test_client()
        token = self._token(text(client.get("/login")))
        response = client.post("/login", data={"username": "liaison", "password": PASSWORD, "csrf_token": token})
        assert response.status_code == 302
        ids = section_ids(db, ndrc)
        response = client.post(f"/office/supervisor/{ndrc.id}", data=form_data(ids, GOOD_SET))
        assert response.status_code == 400
        assert "CSRF" in text(response)
        assert stored(db, ndrc) == {}
        # With the form's own token it goes through.
        token = self._token(text(client.get(f"/office/supervisor/{ndrc.id}")))
        response = client.post(f"/office/supervisor/{ndrc.id}", data={**form_data(ids, GOOD_SET), "csrf_token": token})
        assert response.status_code == 302
        assert stored(db, ndrc) == dict(zip(ids, GOOD_SET))
