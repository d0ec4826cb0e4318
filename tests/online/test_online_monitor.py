"""The review office's monitoring of the online round, on SQLite and
PostgreSQL: turnout per evaluator category in counts only; reminders once to those who
have not voted, without a password; the close, after which the ballots are the online
score (网络评价) of every candidate on the 综合评价 page, the decisions and the report;
the published lists on the public results page; who may see and do what; audit
entries with counts, never who voted."""
from __future__ import annotations

import html as markup
import io
import re

import openpyxl
import pandas as pd
import pytest
from sqlalchemy import select

from scoring import columns as C
from scoring.rounding import display_text
from sms.templates import ONLINE_REMINDER
from tests.support.ballots import PASSWORD as EVALUATOR_PASSWORD
from tests.support.ballots import candidates, cast_ballots, counts, evaluators, held_round, open_online_round
from tests.conftest import PASSWORD, login
from tests.support.reports import excel_report
from voting.core.errors import DomainError
from voting.audit.models import AuditEntry
from voting.survey.models import Choice, RoundStatus
from voting.components.models import ComponentKind
from voting.online.models import Evaluator, OnlineRound
from voting.outbox.models import OutboxMessage
from voting.lists.models import Result, Unit
from voting.staff.models import Role
from voting.core.models import utcnow
from voting.online import ballots
from voting.components import components
from voting.scores import scorecards
from voting.staff import users

MONITOR = "/office/online/monitor"
ACTIONS = ("remind", "close", "publish")
CONFIRMED = {"confirmed": "1"}  # each action acts only once confirmed (tests/online/test_online_confirm.py)


@pytest.fixture
def online(db, campaign) -> OnlineRound:
    return open_online_round(db, campaign)


BUNDLE_NETWORK = False  # the example year without its online round (tests/conftest.py)


@pytest.fixture
def held(db, campaign, bundle_dir) -> OnlineRound:
    """A whole daily stage (no online-round counts), its candidates fixed, an open
    round over them and five of its six evaluators' ballots cast."""
    return held_round(db, campaign, bundle_dir)


def text(response) -> str:
    return response.get_data(as_text=True)


def logged(db, action: str) -> list[dict]:
    db.rollback()
    db.expire_all()  # rollback() outside a transaction expires nothing
    return [e.detail for e in db.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))]


def status(db, online: OnlineRound) -> RoundStatus:
    db.rollback()
    db.expire_all()  # rollback() outside a transaction expires nothing
    return db.get(OnlineRound, online.id).status


def reminders(db) -> list[OutboxMessage]:
    db.rollback()
    db.expire_all()  # rollback() outside a transaction expires nothing
    return list(db.scalars(select(OutboxMessage).where(OutboxMessage.key.like("online-remind:%")).order_by(OutboxMessage.id)))


# ---- who may see and do what ------------------------------------------------------------------


def test_the_monitor_is_for_the_review_office(client, db, campaign, online):
    response = client.get(MONITOR)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    unit = db.scalar(select(Unit).where(Unit.campaign_id == campaign.id).limit(1))
    users.create_user(db, "liaison", PASSWORD, Role.liaison, unit)
    users.create_user(db, "operator", PASSWORD, Role.operator)
    users.create_user(db, "auditor", PASSWORD, Role.auditor)
    db.commit()
    login(client, "liaison")
    assert client.get(MONITOR).status_code == 403
    for action in ACTIONS:
        assert client.post(f"{MONITOR}/{action}").status_code == 403
    for reader in ("operator", "auditor"):
        client.post("/logout")
        login(client, reader)
        page = client.get(MONITOR)
        assert page.status_code == 200 and "各类评价人参评情况" in text(page)
        assert "结束网络评价" not in text(page)  # no buttons for readers
        for action in ACTIONS:
            assert client.post(f"{MONITOR}/{action}").status_code == 403
    assert status(db, online) is RoundStatus.open and reminders(db) == []


def test_actions_are_posts(admin_client, online):
    for action in ACTIONS:
        assert admin_client.get(f"{MONITOR}/{action}").status_code == 405


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_actions_need_the_csrf_token(client, db, admin, online, app_config):
    page = client.get("/login")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', text(page)).group(1)
    assert client.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token}).status_code == 302
    assert client.post(f"{MONITOR}/close").status_code == 400
    assert status(db, online) is RoundStatus.open
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', text(client.get(MONITOR))).group(1)
    assert client.post(f"{MONITOR}/close", data={"csrf_token": token, **CONFIRMED}).status_code == 303
    assert status(db, online) is RoundStatus.closed


# ---- turnout and reminders ----------------------------------------------------------------------


def turnout_rows(html: str) -> dict[str, tuple[int, ...]]:
    table = html.split('id="turnout"', 1)[1].split("</table>", 1)[0]
    rows = {}
    for kind, cells in re.findall(r'data-kind="(\w+)">(.*?)</tr>', table, re.S):
        numbers = re.findall(r'<td class="num">([^<]*)</td>', cells)
        rows[kind] = (int(numbers[0]), int(numbers[1]), int(numbers[3]))
    return rows


def test_turnout_is_counted_per_category_and_names_no_one(admin_client, db, online):
    voters = cast_ballots(db, online, 3)  # the two deputies and the cadre
    html = text(admin_client.get(MONITOR))
    assert turnout_rows(html) == {
        "deputy": (2, 2, 0), "cadre": (1, 1, 0), "service_object": (3, 0, 0), "total": (6, 3, 0),
    }
    assert "两代表一委员" in html and "服务对象" in html and "50.0%" in html
    for evaluator in evaluators(db, online):
        assert evaluator.name not in html and evaluator.login not in html and evaluator.phone not in html
    assert "网络评价得分" not in html  # no tallies while the round is open
    assert len(voters) == 3


def test_reminders_go_once_to_those_who_have_not_voted_without_a_password(admin_client, db, online):
    everyone = evaluators(db, online)
    cast_ballots(db, online, 2)
    locked = db.get(Evaluator, everyone[5].id)
    locked.locked_at = utcnow()
    db.commit()
    response = admin_client.post(f"{MONITOR}/remind", data=CONFIRMED)
    assert response.status_code == 303 and response.headers["Location"].endswith(MONITOR)
    sent = reminders(db)
    due = everyone[2:5]
    assert [m.key for m in sent] == [f"online-remind:{e.id}" for e in due]
    for message, evaluator in zip(sent, due):
        assert message.template == ONLINE_REMINDER and message.phone == evaluator.phone
        assert set(message.params) == {"sign", "year", "closes", "link", "login"}
        assert evaluator.login in message.text and message.params["link"].endswith("/e/login")
        assert EVALUATOR_PASSWORD not in message.text and "密码见此前的短信" in message.text
        assert db.get(Evaluator, evaluator.id).reminder_id == message.id
    # Once per evaluator: a second press sends nothing new.
    second = admin_client.post(f"{MONITOR}/remind", data=CONFIRMED, follow_redirects=True)
    assert "已为 0 位尚未评价的评价人写入提醒短信" in text(second)
    assert len(reminders(db)) == 3
    assert logged(db, "online.remind") == [{"reminded": 3}, {"reminded": 0}]
    assert turnout_rows(text(second))["total"] == (6, 2, 3)


def test_no_reminders_once_closed(admin_client, db, online):
    assert admin_client.post(f"{MONITOR}/close", data=CONFIRMED).status_code == 303
    response = admin_client.post(f"{MONITOR}/remind", data=CONFIRMED)
    assert response.status_code == 400 and "只有进行中的网络评价才能发送提醒" in text(response)
    assert reminders(db) == [] and logged(db, "online.remind") == []


# ---- the close and the online score --------------------------------------------------------------


def test_the_close_makes_the_ballots_the_online_score(admin_client, db, campaign, held):
    db.rollback()
    assert not scorecards.campaign_scorecard(db, campaign).network_held  # nothing counts while it is open
    tallies_before = counts(db)

    assert admin_client.post(f"{MONITOR}/close", data=CONFIRMED).status_code == 303
    assert status(db, held) is RoundStatus.closed
    assert logged(db, "online.close") == [{"ballots": 5, "evaluators": 6}]
    again = admin_client.post(f"{MONITOR}/close", data=CONFIRMED)
    assert again.status_code == 400 and "只有进行中的网络评价才能结束" in text(again)
    with pytest.raises(ballots.OnlineRoundClosedError):
        ballots.submit_ballot(db, evaluators(db, held)[-1], [])
    db.rollback()
    assert counts(db) == tallies_before

    card = scorecards.campaign_scorecard(db, campaign)
    assert card.network_held
    tallies = ballots.tallies(db, held)
    found = candidates(db, held)
    rows = card.sections.set_index("section_id")
    for candidate in found:
        t = tallies[candidate.section_id]
        s, b, u = t[Choice.satisfied], t[Choice.basic], t[Choice.unsatisfied]
        assert s + b + u == 5
        assert rows.at[candidate.section_id, C.VOTES_IN[C.NET]] == 5
        assert rows.at[candidate.section_id, C.NETWORK] == pytest.approx((s + 0.6 * b) / 5 * 15)
    assert (card.sections[C.RESULT] == C.SATISFIED).sum() == 10

    final = text(admin_client.get("/office/scores/final"))
    assert "网络评价尚未进行" not in final and "满意单位（10 个）" in final
    monitor = text(admin_client.get(MONITOR))
    assert "网络评价得分（共 5 张选票）" in monitor
    assert len(re.findall(r"<tr data-section=", monitor.split('id="online-scores"', 1)[1])) == len(found)
    report = excel_report(admin_client)
    assert report.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(report.data), read_only=True)
    assert any("网络" in str(cell) for sheet in book.worksheets for row in sheet.iter_rows(max_row=3, values_only=True)
               for cell in row if cell)
    # The decisions take the online round as held.
    proposed = int(card.sections.loc[card.sections[C.RESULT] == C.SATISFIED, "section_id"].iloc[0])
    scorecards.decide(db, campaign, proposed, None, "县评议领导小组决定", None)
    db.commit()


def score_rows(page: str) -> dict[int, tuple[list[int], str, str]]:
    """The monitor's score table: per section id, its counts (whole numbers, in the
    columns' order), its formula and its 网络评价 as shown."""
    table = page.split('id="online-scores"', 1)[1].split("</table>", 1)[0]
    body = table.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    rows = {}
    for section_id, cells in re.findall(r'<tr data-section="(\d+)">(.*?)</tr>', body, re.S):
        counted, rest = cells.split('<td class="formula">', 1)
        formula, rest = rest.split("</td>", 1)
        rows[int(section_id)] = ([int(n) for n in re.findall(r'<td class="num">(\d+)</td>', counted)],
                                 markup.unescape(formula), re.findall(r'<td class="num">([^<]*)</td>', rest)[0])
    return rows


def test_the_monitor_shows_the_counts_that_make_the_score_imported_ones_too(admin_client, db, campaign, bundle_dir):
    """NET counts imported as the vote-count component are scored with the round's
    ballots: the monitor shows both and their sum, which is the scorecard's NET votes,
    and each row's formula with the campaign's own weights gives the score shown."""
    campaign.settings = {**campaign.settings, "weight_basic": 0.5, "network_points": 20.0}  # not the defaults
    db.commit()
    online = held_round(db, campaign, bundle_dir)
    found = candidates(db, online)
    imported = {found[0].section_id: (40, 7, 3), found[1].section_id: (0, 0, 2), found[2].section_id: (120, 30, 10)}
    votes = pd.read_csv(bundle_dir / "votes.csv", encoding="utf-8-sig")
    names = {c.section_id: (c.unit, c.section) for c in found}
    net = pd.DataFrame([(*names[sid], C.NET, *n) for sid, n in imported.items()], columns=votes.columns)
    data = pd.concat([votes, net]).to_csv(index=False).encode("utf-8")
    components.import_component(db, campaign, ComponentKind.votes, data, "votes-with-net.csv")
    db.commit()
    assert admin_client.post(f"{MONITOR}/close", data=CONFIRMED).status_code == 303

    assert status(db, online) is RoundStatus.closed  # (and the session's objects as now stored)
    card = scorecards.campaign_scorecard(db, campaign)
    by_id = card.sections.set_index("section_id")
    tallies = ballots.tallies(db, online)
    page = text(admin_client.get(MONITOR))
    rows = score_rows(page)
    assert set(rows) == {c.section_id for c in found}
    for section_id, (numbers, formula, shown) in rows.items():
        own = [tallies[section_id][choice] for choice in Choice]
        other = list(imported.get(section_id, (0, 0, 0)))
        both = [a + b for a, b in zip(own, other)]
        assert numbers == [*own, *other, *both, sum(both)]
        assert sum(both) == by_id.at[section_id, C.VOTES_IN[C.NET]]
        s, b, _ = both
        score = (s + 0.5 * b) / sum(both) * 20
        assert formula == f"（满意 {s} + 0.5 × 基本满意 {b}） ÷ 票数 {sum(both)} × 20 = {display_text(score)}"
        assert shown == display_text(score) == display_text(by_id.at[section_id, C.NETWORK])
    total = int(card.sections[C.VOTES_IN[C.NET]].sum())
    assert sum(numbers[-1] for numbers, _, _ in rows.values()) == total == 5 * len(found) + 212  # 212 imported
    footer = page.split('id="online-scores"', 1)[1].split("<tfoot>", 1)[1].split("</tfoot>", 1)[0]
    assert f'<td class="num">{total}</td>' in footer
    source = markup.unescape(page.split('id="counts-source">', 1)[1].split("</p>", 1)[0])
    assert "本平台网络评价的 5 张选票" in source and "网络评价（NET）票数 212 票" in source and f"合计 {total} 票" in source
    assert "满意率 = （满意 + 0.5 × 基本满意） ÷ 票数" in page and "满意率 × 20 分" in page


def test_without_imported_counts_the_monitor_shows_the_ballots_alone(admin_client, db, campaign, held):
    assert admin_client.post(f"{MONITOR}/close", data=CONFIRMED).status_code == 303
    page = text(admin_client.get(MONITOR))
    assert "导入票数" not in page and "没有导入的网络评价票数" in page
    assert status(db, held) is RoundStatus.closed
    tallies = ballots.tallies(db, held)
    for section_id, (numbers, formula, _) in score_rows(page).items():
        own = [tallies[section_id][choice] for choice in Choice]
        assert numbers == [*own, 5]
        assert formula.startswith(f"（满意 {own[0]} + 0.6 × 基本满意 {own[1]}） ÷ 票数 5 × 15 = ")


def test_published_lists_are_public_and_stay_as_published(admin_client, client, db, campaign, held):
    assert client.get("/results/2021").status_code == 404
    early = admin_client.post(f"{MONITOR}/publish", data=CONFIRMED)
    assert early.status_code == 400 and "网络评价结束后才能公布" in text(early)
    assert admin_client.post(f"{MONITOR}/close", data=CONFIRMED).status_code == 303
    assert client.get("/results/2021").status_code == 404  # closed, not yet published
    assert admin_client.post(f"{MONITOR}/publish", data=CONFIRMED).status_code == 303
    assert logged(db, "online.publish") == [{"satisfied": 10, "unsatisfied": 10, "most_unsatisfied": 3}]

    db.rollback()
    card = scorecards.campaign_scorecard(db, campaign)
    page = client.get("/results/2021")  # anyone, no login
    html = text(page)
    assert page.status_code == 200 and page.headers.get("Cache-Control") == "no-store"
    sections = card.sections
    for code, label in ((C.SATISFIED, "满意单位"), (C.MOST_UNSATISFIED, "最不满意单位")):
        assert f"{label}（{(sections[C.RESULT] == code).sum()} 个）" in html
    assert "不满意单位（10 个）" in html
    block = html.split("不满意单位（10 个）", 1)[0]
    for unit, section in sections.loc[sections[C.RESULT] == C.SATISFIED, [C.UNIT, C.SECTION]].itertuples(index=False):
        assert f'<span class="unit">{unit}</span> {section}' in block
    for word in ("总成绩", "网络评价", "票"):
        assert word not in html.split("<main", 1)[1]  # lists only: no scores, no counts

    # A later decision shows only once published again.
    moved = sections.loc[sections[C.RESULT] == C.SATISFIED].iloc[0]
    scorecards.decide(db, campaign, int(moved["section_id"]), Result.unsatisfied, "县评议领导小组复议", None)
    db.commit()
    assert "满意单位（10 个）" in text(client.get("/results/2021"))
    assert admin_client.post(f"{MONITOR}/publish", data=CONFIRMED).status_code == 303
    republished = text(client.get("/results/2021"))
    assert "满意单位（9 个）" in republished and "不满意单位（11 个）" in republished
    assert client.get("/results/2020").status_code == 404


def test_a_campaign_without_an_online_round(admin_client, campaign):
    page = admin_client.get(MONITOR)
    assert page.status_code == 200 and "尚未设立网络评价" in text(page)
    assert admin_client.post(f"{MONITOR}/close", data=CONFIRMED).status_code == 404


def test_the_candidate_list_stays_fixed_once_the_round_is_open(db, campaign, online):
    with pytest.raises(DomainError, match="网络评价已经开始"):
        scorecards.unfix_candidates(db, campaign)
    db.rollback()
    assert len(candidates(db, online)) == 30
