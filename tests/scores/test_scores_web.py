"""The score pages of the review office: what they show is what the offline bundle
scores from the same files; sorting; the section breakdown; the shortlist; the final
lists with the office's decisions (a reason always, nothing stored on bad input); the
unit effects; the Excel download; who may see and do what."""
from __future__ import annotations

import io
import re

import openpyxl
import pytest
from markupsafe import escape
from sqlalchemy import func, select

from scoring import columns as C
from scoring.rounding import display_text
from tests.conftest import PASSWORD, daily_only, login
from tests.support.reports import excel_report
from voting.demo.campaign import load_bundle
from voting.online.models import Candidate
from voting.components.models import ComponentKind, SupervisorScore
from voting.scores.models import ResultDecision
from voting.staff.models import Role
from voting.lists.models import Section, Unit
from voting.audit import audit
from voting.components import components
from voting.staff import users
from voting.components.bundle import score_bundle
from voting.scores.report import SHEETS

PAGES = ("/office/scores/", "/office/scores/shortlist", "/office/scores/final", "/office/scores/units",
         "/office/scores/report")


@pytest.fixture(scope="module")
def offline_card(bundle_dir):
    """The same files scored offline, with no database: the reference."""
    return score_bundle(bundle_dir)


@pytest.fixture(scope="module")
def offline(offline_card):
    return offline_card.sections.set_index([C.UNIT, C.SECTION])


def section_id(db, unit: str, section: str) -> int:
    return db.scalar(select(Section.id).join(Unit).where(Unit.name == unit, Section.name == section))


def body_rows(html: str) -> list[str]:
    """The rows of the page's first table body, as text without tags."""
    tbody = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [re.sub(r"<[^>]+>", " ", row) for row in tbody.split("<tr")[1:]]


def decisions(db) -> int:
    db.rollback()
    return db.scalar(select(func.count()).select_from(ResultDecision))


def test_score_pages_are_for_the_review_office_only(client, db, year):
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path
    unit = db.scalar(select(Unit).where(Unit.name == "县公安局"))
    users.create_user(db, "liaison", PASSWORD, Role.liaison, unit)
    users.create_user(db, "auditor", PASSWORD, Role.auditor)
    db.commit()
    login(client, "liaison")
    for path in PAGES:
        assert client.get(path).status_code == 403, path
    client.post("/logout")
    login(client, "auditor")
    for path in PAGES:
        assert client.get(path).status_code == 200, path


def test_daily_page_shows_what_the_bundle_scores(admin_client, year, offline):
    html = admin_client.get("/office/scores/").get_data(as_text=True)
    rows = body_rows(html)
    participating = offline[~offline[C.EXEMPT].astype(bool)]
    assert len(rows) == len(participating)
    # Default order: by daily rank; the first row is the best daily score.
    best = participating[C.DAILY].astype(float).idxmax()
    assert best[1] in rows[0] and display_text(participating.loc[best, C.DAILY]) in rows[0]
    for key in list(participating.index[:40]):
        shown = display_text(participating.loc[key, C.DAILY])
        assert any(key[1] in row and key[0] in row and shown in row for row in rows), key
    exempt = offline[offline[C.EXEMPT].astype(bool)].index
    assert f"免评科室（{len(exempt)} 个" in html


def test_daily_table_sorts_on_the_server(admin_client, year, offline):
    participating = offline[~offline[C.EXEMPT].astype(bool)]
    worst = participating[C.DAILY].astype(float).idxmin()
    rows = body_rows(admin_client.get("/office/scores/?sort=daily&desc=0").get_data(as_text=True))
    assert worst[1] in rows[0]
    rows = body_rows(admin_client.get("/office/scores/?sort=supervisor&desc=1").get_data(as_text=True))
    top = participating[C.SUPERVISOR].astype(float).max()
    assert display_text(top, 1) in rows[0]
    # An unknown column falls back to the default order instead of failing.
    response = admin_client.get("/office/scores/?sort=__class__&desc=1")
    assert response.status_code == 200


def test_section_page_explains_every_component(admin_client, db, year, offline, offline_card):
    candidates = offline[offline[C.SHORTLIST].notna()]
    unit, name = candidates.index[0]
    html = admin_client.get(f"/office/scores/sections/{section_id(db, unit, name)}").get_data(as_text=True)
    assert f"{unit} · {name}" in html
    row = offline.loc[(unit, name)]
    for code in (C.SERVICE, C.PLATFORM_SCORE, C.INSPECTION, C.NETWORK, C.BONUS):
        assert display_text(row[code]) in html, code
    assert display_text(row[C.SUPERVISOR], 1) in html
    # Every line of every component, each with its formula ("… ÷ 5000 × 15 = 9.6 分").
    lines = offline_card.lines
    lines = lines[(lines[C.UNIT] == unit) & (lines[C.SECTION] == name)]
    shown = lines[lines[C.COMPONENT].isin([C.SERVICE, C.PLATFORM_SCORE, C.SUPERVISOR, C.INSPECTION, C.NETWORK, C.BONUS])]
    for text in shown[C.TEXT]:
        assert str(escape(text)) in html, text
    assert re.search(r"上半年服务对象评价：满意 \d+、基本满意 \d+、不满意 \d+，共 \d+ 票；\(.+\) ÷ \d+ × 25 = [\d.]+ 分", html)
    assert re.search(r"网络评价：满意 \d+、基本满意 \d+、不满意 \d+，共 \d+ 票；\(.+\) ÷ \d+ × 15 = [\d.]+ 分", html)
    assert 'role="img"' in html  # the components chart


def test_an_exempt_section_says_so_and_an_unknown_one_is_404(admin_client, db, year, offline):
    unit, name = offline[offline[C.EXEMPT].astype(bool)].index[0]
    html = admin_client.get(f"/office/scores/sections/{section_id(db, unit, name)}").get_data(as_text=True)
    assert "免评" in html and "<h2>得分明细</h2>" not in html
    assert admin_client.get("/office/scores/sections/999999").status_code == 404


def test_shortlist_page_groups_the_110_candidates(admin_client, year, offline):
    html = admin_client.get("/office/scores/shortlist").get_data(as_text=True)
    counts = offline[C.SHORTLIST].value_counts()
    assert f"候选名单 · 2021 年度（{int(counts.sum())} 个）" in html
    assert f"满意候选（{counts[C.SATISFIED_CANDIDATE]} 个）" in html
    assert f"不满意候选（{counts[C.UNSATISFIED_CANDIDATE]} 个）" in html
    assert f"上年不满意单位（{counts[C.PREVIOUS_UNSATISFIED]} 个）" in html
    cutoff = offline.loc[offline[C.SHORTLIST] == C.SATISFIED_CANDIDATE, C.DAILY].astype(float).min()
    assert display_text(cutoff) in html


def test_final_page_lists_the_proposals(admin_client, year, offline):
    html = admin_client.get("/office/scores/final").get_data(as_text=True)
    satisfied = offline[offline[C.RESULT] == C.SATISFIED]
    assert f"满意单位（{len(satisfied)} 个）" in html
    for unit, name in satisfied.index:
        assert f"{unit} {name}</a>" in html
    assert len(body_rows(html.split("候选科室（", 1)[1])) == int(offline[C.SHORTLIST].notna().sum())


def test_a_decision_is_recorded_with_its_reason_and_can_be_undone(admin_client, db, year, offline):
    unit, name = offline[offline[C.RESULT] == C.SATISFIED].index[0]
    sid = section_id(db, unit, name)
    page = f"/office/scores/sections/{sid}"
    assert "记录决定" in admin_client.get(page).get_data(as_text=True)

    response = admin_client.post(f"{page}/decision", data={"result": "none", "reason": "  "})
    assert response.status_code == 422 and "请填写理由" in response.get_data(as_text=True)
    assert decisions(db) == 0
    response = admin_client.post(f"{page}/decision", data={"result": "bogus", "reason": "县评议领导小组决定"})
    assert response.status_code == 422 and decisions(db) == 0

    response = admin_client.post(f"{page}/decision", data={"result": "none", "reason": "县评议领导小组 2021-12-20 会议决定"})
    assert response.status_code == 303
    html = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "由 满意单位 改为 不列入：县评议领导小组 2021-12-20 会议决定" in html
    assert "admin 记录于 " in html  # who recorded it, and when
    assert decisions(db) == 1
    final = admin_client.get("/office/scores/final").get_data(as_text=True)
    assert f"{unit} {name}</a>" not in final.split("不满意单位（", 1)[0]  # off the satisfied list
    assert "满意单位现为 9 个，规则为 10 个" in final

    assert admin_client.post(f"{page}/decision/undo").status_code == 303
    assert decisions(db) == 0
    assert admin_client.post(f"{page}/decision/undo").status_code == 404


def test_decisions_are_refused_off_the_shortlist_and_by_readers(admin_client, client, db, year, offline):
    unit, name = offline[offline[C.SHORTLIST].isna() & ~offline[C.EXEMPT].astype(bool)].index[0]
    response = admin_client.post(f"/office/scores/sections/{section_id(db, unit, name)}/decision",
                                 data={"result": "satisfied", "reason": "试图列入"})
    assert response.status_code == 400 and "不在候选名单中" in response.get_data(as_text=True)
    assert decisions(db) == 0
    assert admin_client.get(f"/office/scores/sections/{section_id(db, unit, name)}/decision").status_code == 405

    admin_client.post("/logout")
    users.create_user(db, "operator", PASSWORD, Role.operator)
    db.commit()
    login(client, "operator")
    unit, name = offline[offline[C.SHORTLIST].notna()].index[0]
    sid = section_id(db, unit, name)
    assert "记录决定" not in client.get(f"/office/scores/sections/{sid}").get_data(as_text=True)
    response = client.post(f"/office/scores/sections/{sid}/decision", data={"result": "satisfied", "reason": "x"})
    assert response.status_code == 403 and decisions(db) == 0


def test_units_page_adds_up_the_effects(admin_client, year, offline):
    html = admin_client.get("/office/scores/units").get_data(as_text=True)
    results = offline[C.RESULT].dropna()
    unit = results[results == C.SATISFIED].index[0][0]
    of_unit = results[[k[0] == unit for k in results.index]]
    effect = 5 * (of_unit == C.SATISFIED).sum() - 5 * (of_unit == C.UNSATISFIED).sum() - 10 * (of_unit == C.MOST_UNSATISFIED).sum()
    row = next(r for r in body_rows(html) if f" {unit} " in r)
    assert display_text(float(effect)) in row


def test_the_excel_report_downloads(admin_client, year, offline):
    response = excel_report(admin_client)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in response.headers["Content-Disposition"] and response.headers["Cache-Control"] == "no-store"
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    assert book.sheetnames[: len(SHEETS)] == list(SHEETS)
    sheet = book["满意单位"]
    names = {(sheet.cell(r, 2).value, sheet.cell(r, 3).value) for r in range(2, sheet.max_row + 1)}
    assert names == set(offline[offline[C.RESULT] == C.SATISFIED].index)


def test_before_the_online_round_there_are_no_results(admin_client, db, campaign, bundle_dir, tmp_path):
    load_bundle(db, campaign, daily_only(bundle_dir, tmp_path / "bundle"))
    db.commit()
    html = admin_client.get("/office/scores/final").get_data(as_text=True)
    assert "网络评价尚未进行" in html and "满意单位（" not in html
    candidates = admin_client.get("/office/scores/shortlist").get_data(as_text=True)
    assert "候选名单 · 2021 年度（110 个）" in candidates


def test_data_that_cannot_be_scored_gives_a_clear_422(admin_client, db, year, offline):
    unit, name = offline[offline[C.SHORTLIST].isna() & ~offline[C.EXEMPT].astype(bool)].index[0]
    components.add_entry(db, year, ComponentKind.votes, section_id(db, unit, name),
                         {"round": C.NET, "satisfied": 3, "basic": 0, "unsatisfied": 0}, None)
    db.commit()
    response = admin_client.get("/office/scores/")
    text = response.get_data(as_text=True)
    assert response.status_code == 422 and "无法评分" in text and f"{unit} {name} 不在候选名单中" in text
    assert "Traceback" not in text


def test_units_sort_by_effect(admin_client, year, offline):
    points = {C.SATISFIED: 5, C.UNSATISFIED: -5, C.MOST_UNSATISFIED: -10}
    effects = {}
    for (unit, _), result in offline[C.RESULT].items():
        effects[unit] = effects.get(unit, 0) + points.get(result, 0)
    rows = body_rows(admin_client.get("/office/scores/units?sort=effect&desc=1").get_data(as_text=True))
    assert f" +{max(effects.values()):.2f} " in rows[0]
    rows = body_rows(admin_client.get("/office/scores/units?sort=effect&desc=0").get_data(as_text=True))
    assert f" {min(effects.values()):+.2f} " in rows[0]
    assert len(rows) == len(effects)


def test_the_candidate_list_is_fixed_and_then_holds(admin_client, client, db, year, offline):
    assert "确定候选名单" in admin_client.get("/office/scores/shortlist").get_data(as_text=True)
    assert admin_client.post("/office/scores/shortlist/fix").status_code == 303
    db.rollback()
    assert db.scalar(select(func.count()).select_from(Candidate)) == 110
    page = admin_client.get("/office/scores/shortlist").get_data(as_text=True)
    assert "候选名单已于" in page and "撤销确定" not in page  # the online round has votes: no undo
    response = admin_client.post("/office/scores/shortlist/unfix")
    assert response.status_code == 400 and "不能撤销" in response.get_data(as_text=True)
    assert admin_client.post("/office/scores/shortlist/fix").status_code == 400  # already fixed

    # A correction after the fact: the weakest satisfied candidate's supervisor score
    # drops; its daily score falls, the list holds and the page says where it would differ.
    weakest = offline[offline[C.SHORTLIST] == C.SATISFIED_CANDIDATE][C.DAILY].astype(float).idxmin()
    score = db.scalar(select(SupervisorScore).where(SupervisorScore.section_id == section_id(db, *weakest)))
    score.score = 0.0
    # With its audit entry, as every score-affecting write records one: the pages score
    # again when the log moves (scorecards.score_version).
    audit.record(db, "supervisor.save", actor="test", detail={"section_id": score.section_id, "score": 0.0})
    db.commit()
    page = admin_client.get("/office/scores/shortlist").get_data(as_text=True)
    assert "候选名单已确定，未按现在的日常评价变动" in page and weakest[1] in page
    assert admin_client.get("/office/scores/final").status_code == 200  # the online round still scores

    admin_client.post("/logout")
    users.create_user(db, "operator", PASSWORD, Role.operator)
    db.commit()
    login(client, "operator")
    assert client.post("/office/scores/shortlist/unfix").status_code == 403


def test_before_the_online_round_a_fixed_list_can_be_undone(admin_client, db, campaign, bundle_dir, tmp_path):
    load_bundle(db, campaign, daily_only(bundle_dir, tmp_path / "bundle"))
    db.commit()
    admin_client.post("/office/scores/shortlist/fix")
    assert "撤销确定" in admin_client.get("/office/scores/shortlist").get_data(as_text=True)
    assert admin_client.post("/office/scores/shortlist/unfix").status_code == 303
    db.rollback()
    assert db.scalar(select(func.count()).select_from(Candidate)) == 0
