"""The lists that go to the leaders as printable documents (/office/scores/print/…):
who may open them, and that each holds its title, the issuing office, the date, every
section of its lists with the figures the score pages show, where the figures come
from (the audit log's latest entry) and the signature lines. Printing them in Chromium:
tests/scores/test_browser_print.py."""
from __future__ import annotations

import html as markup
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from scoring import columns as C
from scoring.rounding import display_text
from tests.conftest import PASSWORD, daily_only, login
from voting.demo.campaign import load_bundle
from voting.audit.models import AuditEntry
from voting.staff.models import Role
from voting.lists.models import Section, Unit
from voting.staff import users
from voting.components.bundle import score_bundle

DOCUMENTS = ("/office/scores/print/shortlist", "/office/scores/print/final", "/office/scores/print/units")
SIGNATURES = ("制表人：________", "审核人：________", "评议办负责人（签字）：________", "日期：________")
OFFICE = "平阳县千人评议办"


@pytest.fixture
def app_config() -> dict:
    return {"OFFICE_NAME": OFFICE}


@pytest.fixture(scope="module")
def offline(bundle_dir):
    return score_bundle(bundle_dir).sections.set_index([C.UNIT, C.SECTION])


def tables(html: str) -> list[tuple[str, list[list[str]]]]:
    """Each table of a document: its list's heading and its body rows as cell texts."""
    found = []
    for table in html.split('<table class="list">')[1:]:
        heading = re.search(r'<tr class="group"><th colspan="\d+">(.*?)</th>', table).group(1)
        body = table.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
        cells = [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in body.split("<tr>")[1:]]
        rows = [[markup.unescape(re.sub(r"<[^>]+>", "", cell).strip()) for cell in row] for row in cells]
        found.append((markup.unescape(heading), rows))
    return found


def shown(value: object, decimals: int = 2) -> str:
    return display_text(float(value), decimals)


def test_the_documents_are_for_the_review_office_only(client, db, year):
    for path in DOCUMENTS:
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path
    unit = db.scalar(select(Unit).where(Unit.name == "县公安局"))
    users.create_user(db, "liaison", PASSWORD, Role.liaison, unit)
    users.create_user(db, "operator", PASSWORD, Role.operator)
    users.create_user(db, "auditor", PASSWORD, Role.auditor)
    db.commit()
    login(client, "liaison")
    for path in DOCUMENTS:
        response = client.get(path)
        assert response.status_code == 403, path
        assert "制表人" not in response.get_data(as_text=True)
    for reader in ("operator", "auditor"):
        client.post("/logout")
        login(client, reader)
        for path in DOCUMENTS:
            response = client.get(path)
            assert response.status_code == 200 and "制表人" in response.get_data(as_text=True), (reader, path)
    for path in DOCUMENTS:
        assert client.post(path).status_code == 405  # reading only


def test_each_document_has_its_head_provenance_and_signatures(admin_client, db, year):
    head = db.scalar(select(func.max(AuditEntry.id)))
    assert head  # the bundle's imports were logged
    today = datetime.now(ZoneInfo("Asia/Shanghai"))
    titles = {
        "shortlist": "2021年度千人评机关中层科室活动候选名单",
        "final": "2021年度千人评机关中层科室活动拟定满意单位、不满意单位和最不满意单位名单",
        "units": "2021年度千人评机关中层科室活动单位考绩表",
    }
    for path in DOCUMENTS:
        response = admin_client.get(path)
        html = response.get_data(as_text=True)
        assert response.status_code == 200 and response.mimetype == "text/html"
        title = titles[path.rsplit("/", 1)[1]]
        assert f"<title>{title}</title>" in html and f"<h1>{title}</h1>" in html
        assert f"制表单位：{OFFICE}" in html
        assert f"制表日期：{today.year}年{today.month}月{today.day}日" in html
        day = f"{today.year}年{today.month}月{today.day}日"
        provenance = (re.escape(f"本表根据千人评议平台 {day} ") + r"\d\d:\d\d"
                      + re.escape(f" 的评分结果生成（数据版本：审计日志第 {head} 条记录，平台投票 0 票）"))
        assert re.search(provenance, html), path
        for line in SIGNATURES:
            assert line in html, (path, line)
        # A page of its own: none of the staff pages' navigation or forms.
        assert "<nav" not in html and "<form" not in html and "print_document.css" in html
        assert 'href="/office/scores/' in html  # the way back to the score page


def test_the_shortlist_document_lists_the_110_candidates(admin_client, year, offline):
    html = admin_client.get("/office/scores/print/shortlist").get_data(as_text=True)
    found = tables(html)
    counts = offline[C.SHORTLIST].value_counts()
    assert [heading for heading, _ in found] == [
        f"上年不满意单位（{counts[C.PREVIOUS_UNSATISFIED]} 个）", f"满意候选（{counts[C.SATISFIED_CANDIDATE]} 个）",
        f"不满意候选（{counts[C.UNSATISFIED_CANDIDATE]} 个）"]
    assert sum(len(rows) for _, rows in found) == 110
    for code, (_, rows) in zip((C.PREVIOUS_UNSATISFIED, C.SATISFIED_CANDIDATE, C.UNSATISFIED_CANDIDATE), found):
        expected = offline[offline[C.SHORTLIST] == code].sort_values(C.DAILY_RANK, kind="stable")
        assert [r[0] for r in rows] == [str(n) for n in range(1, len(rows) + 1)]  # numbered
        assert [(r[1], r[2]) for r in rows] == list(expected.index)
        assert [r[3] for r in rows] == [shown(v) for v in expected[C.DAILY]]
        assert [r[4] for r in rows] == [str(int(v)) for v in expected[C.DAILY_RANK]]
    cutoff = offline.loc[offline[C.SHORTLIST] == C.SATISFIED_CANDIDATE, C.DAILY].astype(float).min()
    assert f"满意候选分数线（最低日常评价）{shown(cutoff)} 分" in html
    assert "候选名单尚未确定" in html
    assert admin_client.post("/office/scores/shortlist/fix").status_code == 303
    assert "候选名单已于 " in admin_client.get("/office/scores/print/shortlist").get_data(as_text=True)


def test_the_final_document_shows_the_proposals_and_the_decisions(admin_client, db, year, offline):
    by_total = offline.sort_values(C.TOTAL_RANK, kind="stable")
    html = admin_client.get("/office/scores/print/final").get_data(as_text=True)
    found = dict(tables(html))
    for code, label in ((C.SATISFIED, "满意单位"), (C.UNSATISFIED, "不满意单位"), (C.MOST_UNSATISFIED, "最不满意单位")):
        expected = by_total[by_total[C.RESULT] == code]
        rows = found[f"{label}（{len(expected)} 个）"]
        assert [(r[1], r[2]) for r in rows] == list(expected.index)
        assert [r[6] for r in rows] == [shown(v) for v in expected[C.TOTAL]]
        assert [r[8] for r in rows] == [label] * len(rows)  # 系统拟定
    assert "不列入名单" not in html

    # The office takes one satisfied section off every list: the list shows it no more,
    # a group of its own does, with the proposal and the reason.
    unit, name = by_total[by_total[C.RESULT] == C.SATISFIED].index[0]
    sid = db.scalar(select(Section.id).join(Unit).where(Unit.name == unit, Section.name == name))
    response = admin_client.post(f"/office/scores/sections/{sid}/decision",
                                 data={"result": "none", "reason": "县评议领导小组会议决定"})
    assert response.status_code == 303
    html = admin_client.get("/office/scores/print/final").get_data(as_text=True)
    found = dict(tables(html))
    n = int((offline[C.RESULT] == C.SATISFIED).sum())
    assert name not in [r[2] for r in found[f"满意单位（{n - 1} 个）"]]
    (dropped,) = found["经评议办决定不列入名单（1 个）"]
    assert dropped[1:3] == [unit, name] and dropped[8] == "满意单位"
    assert "县评议领导小组会议决定" in dropped[9]
    assert f"满意单位现为 {n - 1} 个，规则为 {n} 个。" in html


def test_the_units_document_names_the_sections(admin_client, year, offline):
    html = admin_client.get("/office/scores/print/units").get_data(as_text=True)
    ((heading, rows),) = tables(html)
    units = list(dict.fromkeys(u for u, _ in offline.index))
    assert [r[1] for r in rows] == units
    assert heading.startswith(f"各单位考绩（{len(units)} 个单位")
    points = {C.SATISFIED: 5, C.UNSATISFIED: -5, C.MOST_UNSATISFIED: -10}
    for row in rows:
        results = offline.xs(row[1], level=0)[C.RESULT]
        for column, code in ((2, C.SATISFIED), (3, C.UNSATISFIED), (4, C.MOST_UNSATISFIED)):
            named = [n.removesuffix("（优秀档）") for n in row[column].split("、") if n]
            assert named == [name for name, result in results.items() if result == code], row
        effect = sum(points.get(result, 0) for result in results)
        assert row[5] == ("+" if effect > 0 else "") + display_text(float(effect))
    assert sum(bool(r[2] or r[3] or r[4]) for r in rows) > 10
    top = offline[offline[C.TOP_TIER].astype(bool)].index[0]
    assert f"{markup.escape(top[1])}（优秀档）" in html


def test_before_the_online_round_the_final_document_says_so(admin_client, db, campaign, bundle_dir, tmp_path):
    load_bundle(db, campaign, daily_only(bundle_dir, tmp_path / "bundle"))
    db.commit()
    html = admin_client.get("/office/scores/print/final").get_data(as_text=True)
    assert "网络评价尚未进行：还没有总成绩和评议结果。" in html and tables(html) == []
    assert "制表人：________" in html
    units = admin_client.get("/office/scores/print/units").get_data(as_text=True)
    assert "网络评价尚未进行" in units and "其中 0 个有科室列入名单" in units


@pytest.mark.parametrize(("page", "document"), [
    ("/office/scores/shortlist", "/office/scores/print/shortlist"),
    ("/office/scores/final", "/office/scores/print/final"),
    ("/office/scores/units", "/office/scores/print/units"),
])
def test_the_score_pages_link_their_document(admin_client, year, page, document):
    html = admin_client.get(page).get_data(as_text=True)
    assert f'<a href="{document}">打印</a>' in html
