"""The review office's long tables searched, filtered and paged through their GET forms
(voting/web/listing.py), on SQLite and PostgreSQL: 参评科室 (/office/sections), the
outbox (/office/outbox), the online round's evaluators (/office/online/); and the
objects upload's typed section picker (/office/import/objects). Each filter narrows to
the rows it names; the pager's links keep the filters; a bad parameter never fails the
page (a number that is none, a choice the page does not offer: left out and named on
the page; the online page's `page` keeps its 400); a liaison sees the own unit only."""
from __future__ import annotations

import html
import io
import re
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from sqlalchemy import func, select

from sms.phones import mask_phone
from sms.templates import ONLINE_ACCOUNT, REMINDER_LINK
from tests.support.ballots import cast_ballots, open_online_round
from tests.conftest import PASSWORD, login
from tests.security.test_hostile_numbers import BAD as HOSTILE
from tests.lists.test_objects_import import SINGLE_HEADER, make_exempt, objects_rows, set_enforcement, table_bytes
from tests.survey.test_sms_inbound import PLANNING, REFORM, invitation_of, open_survey
from voting.online.models import BallotCast, Evaluator, EvaluatorKind
from voting.survey.models import Invitation
from voting.lists.models import ObjectImport, RoundKind, ServiceObject, Unit
from voting.outbox.models import OutboxStatus
from voting.staff.models import Role
from voting.core.models import utcnow
from voting.lists import objects
from voting.outbox import outbox
from voting.staff import users
from voting.lists.sections import sections_frame
from voting.lists import views as office

SECTIONS = "/office/sections"
OUTBOX = "/office/outbox"
ONLINE = "/office/online/"
OBJECTS = "/office/import/objects"
PRICE = ("县发改局", "价格科")  # unit 1's section 6 in the 2021 list
POLICE = "县公安局"  # 25 sections, all on one page
IGNORED = "不是本页可选的值，已忽略"


def text(response) -> str:
    assert response.status_code == 200, response.status_code
    return html.unescape(response.get_data(as_text=True))


def table(page: str, table_id: str) -> str:
    return page.split(f'<table id="{table_id}">', 1)[1].split("</table>", 1)[0]


def sections_shown(page: str) -> list[tuple[str, str]]:
    """(unit, section) of each row of the sections table."""
    if '<table id="sections">' not in page:
        return []
    return re.findall(r'<tr>\s*<td class="num">[^<]*</td><td>([^<]*)</td>\s*<td class="num">[^<]*</td><td>([^<]*)</td>',
                      table(page, "sections"))


def pager_links(page: str) -> dict[str, dict[str, list[str]]]:
    """The pager's links by their text, each as its query's parameters."""
    found = re.search(r'<p class="pager">(.*?)</p>', page, re.S)
    if not found:
        return {}
    return {label.strip(): parse_qs(urlsplit(href).query)
            for href, label in re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', found.group(1))}


def unit_id(db, name: str) -> int:
    return db.scalar(select(Unit.id).where(Unit.name == name))


@pytest.fixture
def frame(db, campaign):
    """The campaign's sections (sections_frame), in list order."""
    return sections_frame(db, campaign)


def section_of(frame, unit: str, section: str) -> dict:
    return frame[(frame["unit"] == unit) & (frame["section"] == section)].to_dict("records")[0]


def liaison_client(app, db, unit_name: str):
    unit = db.scalar(select(Unit).where(Unit.name == unit_name))
    users.create_user(db, "liaison", PASSWORD, Role.liaison, unit)
    db.commit()
    client = app.test_client()
    assert login(client, "liaison").status_code == 302
    return client


# ---- 参评科室 ------------------------------------------------------------------------------------


def test_the_sections_search_finds_names_and_numbers(admin_client, frame):
    assert sections_shown(text(admin_client.get(f"{SECTIONS}?q=价格科"))) == [PRICE]
    # The unit and the section together, however spaced or written (full width).
    for typed in ("县发改局 价格科", "县发改局价格科", "县发改局　价格科", "价格"):
        assert PRICE in sections_shown(text(admin_client.get(f"{SECTIONS}?{urlencode({'q': typed})}"))), typed
    # Numbers: "1-6" is unit 1's section 6; "6" a unit's or a section's number 6.
    assert sections_shown(text(admin_client.get(f"{SECTIONS}?q=1-6"))) == [PRICE]
    page = text(admin_client.get(f"{SECTIONS}?q=6"))
    named = (frame["unit"] + frame["section"]).str.contains("6")
    wanted = frame[(frame["unit_no"] == 6) | (frame["section_no"] == 6) | named]
    assert f"共 <b>{len(wanted)}</b> 个科室" in page
    assert {POLICE} <= {unit for unit, _ in sections_shown(page)}
    # A unit's name: all its sections, nobody else's.
    police = frame[frame["unit"] == POLICE]
    assert sections_shown(text(admin_client.get(f"{SECTIONS}?q={POLICE}"))) == list(
        zip(police["unit"], police["section"]))
    empty = text(admin_client.get(f"{SECTIONS}?q=没有这个科室"))
    assert sections_shown(empty) == [] and 'id="sections-empty"' in empty and "共 <b>0</b> 个科室" in empty


def test_the_sections_filters_narrow_to_the_rows_they_name(admin_client, db, campaign, frame):
    police = frame[frame["unit"] == POLICE]
    page = text(admin_client.get(f"{SECTIONS}?unit={unit_id(db, POLICE)}"))
    assert sections_shown(page) == list(zip(police["unit"], police["section"]))
    assert f'<option value="{unit_id(db, POLICE)}" selected>{POLICE}</option>' in page

    price, planning = section_of(frame, *PRICE), section_of(frame, *PLANNING)
    objects.import_objects(db, campaign, RoundKind.H1, table_bytes(SINGLE_HEADER, objects_rows(3)), "a.xlsx",
                           section_id=price["id"])
    db.commit()
    set_enforcement(db, price["id"])
    make_exempt(db, campaign, planning)
    assert sections_shown(text(admin_client.get(f"{SECTIONS}?kind=enforcement"))) == [PRICE]
    others = sections_shown(text(admin_client.get(f"{SECTIONS}?kind=other&page=1")))
    assert PRICE not in others and len(others) == 50
    assert sections_shown(text(admin_client.get(f"{SECTIONS}?status=exempt"))) == [PLANNING]
    evaluated = text(admin_client.get(f"{SECTIONS}?status=evaluated"))
    assert "共 <b>362</b> 个科室" in evaluated and PLANNING not in sections_shown(evaluated)
    # H1 未报: not exempt, no H1 list; H1 已报: the one list; H2: all but the exempt one.
    missing = text(admin_client.get(f"{SECTIONS}?list=H1-missing"))
    assert "共 <b>361</b> 个科室" in missing
    assert PRICE not in sections_shown(missing) and PLANNING not in sections_shown(missing)
    assert sections_shown(text(admin_client.get(f"{SECTIONS}?list=H1-listed"))) == [PRICE]
    assert "共 <b>362</b> 个科室" in text(admin_client.get(f"{SECTIONS}?list=H2-missing"))
    # Filters together: the 管理执法类 sections of 县发改局 that sent H1.
    both = f"{SECTIONS}?unit={unit_id(db, PRICE[0])}&kind=enforcement&list=H1-listed&q=价格"
    assert sections_shown(text(admin_client.get(both))) == [PRICE]
    assert sections_shown(text(admin_client.get(f"{SECTIONS}?unit={unit_id(db, POLICE)}&list=H1-listed"))) == []


def test_the_sections_pages_count_and_keep_the_filters(admin_client, frame):
    first = text(admin_client.get(SECTIONS))
    assert "共 <b>363</b> 个科室，第 1 / 8 页（每页 50 个）" in first
    assert sections_shown(first) == list(zip(frame["unit"], frame["section"]))[:50]
    links = pager_links(first)
    assert set(links) == {"下一页 →", "最后一页 »"} and links["下一页 →"] == {"page": ["2"]}
    last = text(admin_client.get(f"{SECTIONS}?page=8"))
    assert "第 8 / 8 页" in last and sections_shown(last) == list(zip(frame["unit"], frame["section"]))[350:]
    assert set(pager_links(last)) == {"« 第一页", "← 上一页"}
    # Past the end: the last page; 0: the first.
    assert sections_shown(text(admin_client.get(f"{SECTIONS}?page=9"))) == sections_shown(last)
    assert sections_shown(text(admin_client.get(f"{SECTIONS}?page=99999999999"))) == sections_shown(first)  # not a page
    assert sections_shown(text(admin_client.get(f"{SECTIONS}?page=0"))) == sections_shown(first)

    # A filtered list pages through its own rows, every link keeping the filters.
    query = {"q": "科", "kind": "other", "status": "evaluated"}
    wanted = frame[frame["section"].str.contains("科") | frame["unit"].str.contains("科")]
    page = text(admin_client.get(f"{SECTIONS}?{urlencode(query)}"))
    pages = -(-len(wanted) // 50)
    assert pages > 2 and f"共 <b>{len(wanted)}</b> 个科室，第 1 / {pages} 页" in page
    for label, params in pager_links(page).items():
        assert {k: v[0] for k, v in params.items() if k != "page"} == query, label
    second = text(admin_client.get(f"{SECTIONS}?{urlencode({**query, 'page': 2})}"))
    assert sections_shown(second) == list(zip(wanted["unit"], wanted["section"]))[50:100]
    assert 'value="科"' in second and '<option value="other" selected>' in second
    assert pager_links(second)["← 上一页"] == {**{k: [v] for k, v in query.items()}, "page": ["1"]}


@pytest.mark.parametrize("query, named", [
    ({"unit": "999999"}, "unit"), ({"unit": "abc"}, "unit"), ({"unit": "-1"}, "unit"), ({"unit": str(2**64)}, "unit"),
    ({"kind": "police"}, "kind"), ({"status": "free"}, "status"), ({"list": "H3-missing"}, "list"),
    ({"list": "H1"}, "list"), ({"page": "abc"}, "page"), ({"page": "٣"}, "page"), ({"page": "-2"}, "page"),
])
def test_a_bad_sections_parameter_is_left_out_and_named(admin_client, campaign, query, named):
    page = text(admin_client.get(f"{SECTIONS}?{urlencode(query)}"))
    assert f"地址中的参数 {named}（“" in page and IGNORED in page
    assert "共 <b>363</b> 个科室，第 1 / 8 页" in page


def test_odd_search_text_never_fails_the_sections_page(admin_client, campaign):
    for typed in ("%", "_", "\\", "'", '"<b>', "9" * 5000, "1-" + "9" * 30, "٣", "(", "[a-", "*"):
        response = admin_client.get(f"{SECTIONS}?{urlencode({'q': typed})}")
        assert response.status_code == 200, typed
    assert 'value="&#34;&lt;b&gt;"' in admin_client.get(f"{SECTIONS}?q=%22%3Cb%3E").get_data(as_text=True)


def test_a_liaison_searches_only_the_own_unit(app, db, campaign, frame):
    client = liaison_client(app, db, POLICE)
    police = frame[frame["unit"] == POLICE]
    page = text(client.get(SECTIONS))
    assert sections_shown(page) == list(zip(police["unit"], police["section"]))
    assert "（25 个）" in page and 'id="unit"' not in page and PRICE[0] not in page  # no unit choice
    assert sections_shown(text(client.get(f"{SECTIONS}?q=价格科"))) == []
    other = text(client.get(f"{SECTIONS}?unit={unit_id(db, PRICE[0])}"))
    assert "地址中的参数 unit（“" in other and sections_shown(other) == sections_shown(page)
    assert len(sections_shown(text(client.get(f"{SECTIONS}?unit={unit_id(db, POLICE)}")))) == 25
    assert sections_shown(text(client.get(f"{SECTIONS}?q=治安大队"))) == [(POLICE, "治安大队")]


# ---- 短信发件箱 -----------------------------------------------------------------------------------

A, B, C = "13812345678", "13987654321", "15011112222"
PRICES = ("县经信局", "投资规划科")


def outbox_ids(page: str) -> list[int]:
    if '<table id="outbox">' not in page:
        return []
    return [int(i) for i in re.findall(r"<tr><td>(\d+)</td>", table(page, "outbox"))]


@pytest.fixture
def messages(app, db, campaign):
    """An open round's three invitations (two of 县发改局, one of 县经信局), a reminder
    of the first, and 60 account messages of the online round, one failed."""
    survey = open_survey(app, db, campaign, [(PLANNING, "张三", A), (REFORM, "李四", B), (PRICES, "王五", C)])
    first = invitation_of(db, A, PLANNING)
    reminder = outbox.enqueue(db, key=f"remind:{survey.id}:{first.id}", phone=A, template=REMINDER_LINK,
                              params={"sign": "平阳县评议办", "unit": PLANNING[0], "section": PLANNING[1],
                                      "closes": "6月30日", "link": "https://p.example.cn/v/x", "reply_hint": ""},
                              campaign_id=campaign.id)
    reminder.round_id = survey.id
    first.reminder_id = reminder.id
    accounts = [outbox.enqueue(db, key=f"account:{i}", phone=f"1470000{i:04d}", template=ONLINE_ACCOUNT,
                               params={"sign": "平阳县评议办", "year": "2021", "closes": "12月20日",
                                       "link": "https://p.example.cn/e/login", "login": f"L{i:07d}",
                                       "password": "PASSWORD"}, campaign_id=campaign.id)
                for i in range(60)]
    accounts[7].status = OutboxStatus.failed
    db.commit()
    invites = [db.get(Invitation, i.id).message_id for i in (first, invitation_of(db, B, REFORM),
                                                             invitation_of(db, C, PRICES))]
    return {"survey": survey, "invites": invites, "reminder": reminder.id, "accounts": [m.id for m in accounts]}


def test_the_outbox_filters_by_status_kind_round_unit_and_section(admin_client, db, messages):
    invites, reminder, accounts = messages["invites"], messages["reminder"], messages["accounts"]
    everything = text(admin_client.get(OUTBOX))
    assert "共 <b>64</b> 条短信，第 1 / 2 页（每页 50 条，最新的在前）" in everything
    assert outbox_ids(everything) == sorted(invites + [reminder] + accounts, reverse=True)[:50]
    assert outbox_ids(text(admin_client.get(f"{OUTBOX}?status=failed"))) == [accounts[7]]
    assert outbox_ids(text(admin_client.get(f"{OUTBOX}?kind=invite"))) == sorted(invites, reverse=True)
    assert outbox_ids(text(admin_client.get(f"{OUTBOX}?kind=remind"))) == [reminder]
    assert len(outbox_ids(text(admin_client.get(f"{OUTBOX}?kind=account&status=pending")))) == 50
    survey = messages["survey"].id
    assert outbox_ids(text(admin_client.get(f"{OUTBOX}?round={survey}"))) == sorted(invites + [reminder], reverse=True)
    # By unit and section: an invitation's message and its reminder's.
    planning_unit = unit_id(db, PLANNING[0])
    page = text(admin_client.get(f"{OUTBOX}?unit={planning_unit}"))
    assert outbox_ids(page) == sorted([reminder, invites[0], invites[1]], reverse=True)
    assert f"{PLANNING[0]} · {PLANNING[1]}" in page and f"{REFORM[0]} · {REFORM[1]}" in page and PRICES[1] not in page
    section = db.get(Invitation, db.scalar(select(Invitation.id).where(Invitation.message_id == invites[1]))).section_id
    assert f'<option value="{section}">{REFORM[1]}</option>' in page  # the unit's sections, offered once it is chosen
    assert outbox_ids(text(admin_client.get(f"{OUTBOX}?unit={planning_unit}&section={section}"))) == [invites[1]]
    # Another unit's section, as the form sends it once its unit was changed: dropped.
    other = text(admin_client.get(f"{OUTBOX}?unit={unit_id(db, PRICES[0])}&section={section}"))
    assert outbox_ids(other) == [invites[2]] and IGNORED not in other
    assert outbox_ids(text(admin_client.get(f"{OUTBOX}?unit={planning_unit}&kind=remind"))) == [reminder]
    assert outbox_ids(text(admin_client.get(f"{OUTBOX}?unit={planning_unit}&status=failed"))) == []
    # Phones masked everywhere.
    for number in (A, B, C):
        assert number not in everything and number not in page
    assert mask_phone(A) in page


def test_the_outbox_pages_keep_the_filters_and_end_on_the_last_page(admin_client, db, messages):
    accounts = messages["accounts"]
    page = text(admin_client.get(f"{OUTBOX}?kind=account"))
    assert "共 <b>60</b> 条短信，第 1 / 2 页" in page
    assert pager_links(page)["下一页 →"] == {"kind": ["account"], "page": ["2"]}
    second = text(admin_client.get(f"{OUTBOX}?kind=account&page=2"))
    assert outbox_ids(second) == sorted(accounts, reverse=True)[50:]
    assert pager_links(second)["← 上一页"] == {"kind": ["account"], "page": ["1"]}
    assert outbox_ids(text(admin_client.get(f"{OUTBOX}?kind=account&page=7"))) == outbox_ids(second)
    assert outbox_ids(text(admin_client.get(f"{OUTBOX}?kind=account&page=0"))) == outbox_ids(page)


@pytest.mark.parametrize("query, named", [
    ({"status": "lost"}, "status"), ({"kind": "letter"}, "kind"), ({"round": "999999"}, "round"),
    ({"round": "x"}, "round"), ({"unit": "999999"}, "unit"), ({"unit": str(2**31)}, "unit"), ({"page": "two"}, "page"),
])
def test_a_bad_outbox_parameter_is_left_out_and_named(admin_client, messages, query, named):
    page = text(admin_client.get(f"{OUTBOX}?{urlencode(query)}"))
    assert f"地址中的参数 {named}（“" in page and IGNORED in page and "共 <b>64</b> 条短信" in page


def test_a_section_of_another_campaign_or_none_is_named(admin_client, db, messages):
    planning_unit = unit_id(db, PLANNING[0])
    page = text(admin_client.get(f"{OUTBOX}?unit={planning_unit}&section=999999"))
    assert "地址中的参数 section（“999999”）" in page and len(outbox_ids(page)) == 3
    # Without a unit the form offers no section: the parameter is not read.
    assert "共 <b>64</b> 条短信" in text(admin_client.get(f"{OUTBOX}?section=999999"))


# ---- 网络评价 · 评价人 ------------------------------------------------------------------------------


def logins(page: str) -> list[str]:
    if '<table id="evaluators">' not in page:
        return []
    return re.findall(r"<td><code>(\w+)</code></td>", table(page, "evaluators"))


@pytest.fixture
def pool(db, campaign):
    """An open round of 30 deputies (LOGIN001–030, 评价人1–30) and 40 service objects
    (LOGIN031–070); LOGIN005 and LOGIN040 locked, the first three voted."""
    online = open_online_round(db, campaign, candidates=30,
                               kinds={EvaluatorKind.deputy: 30, EvaluatorKind.service_object: 40})
    cast_ballots(db, online, 3)
    for login_name in ("LOGIN005", "LOGIN040"):
        found = db.scalar(select(Evaluator).where(Evaluator.login == login_name))
        found.failed_logins, found.locked_at = 5, utcnow()
    db.commit()
    return online


def test_the_evaluators_are_searched_and_filtered(admin_client, db, pool):
    page = text(admin_client.get(ONLINE))
    assert "共 <b>70</b> 人，第 1 / 2 页（每页 50 人）" in page
    assert logins(page) == [f"LOGIN{n:03d}" for n in range(1, 51)]
    assert logins(text(admin_client.get(f"{ONLINE}?kind=service_object"))) == [f"LOGIN{n:03d}" for n in range(31, 71)]
    assert logins(text(admin_client.get(f"{ONLINE}?kind=cadre"))) == []
    # A name's part, a login in any case.
    assert logins(text(admin_client.get(f"{ONLINE}?q=评价人1"))) == [f"LOGIN{n:03d}" for n in (1, *range(10, 20))]
    assert logins(text(admin_client.get(f"{ONLINE}?q=login042"))) == ["LOGIN042"]
    assert logins(text(admin_client.get(f"{ONLINE}?q=%25"))) == []  # LIKE's wildcard is a character here
    assert logins(text(admin_client.get(f"{ONLINE}?status=voted"))) == ["LOGIN001", "LOGIN002", "LOGIN003"]
    assert len(logins(text(admin_client.get(f"{ONLINE}?status=not_voted&page=2")))) == 17
    assert logins(text(admin_client.get(f"{ONLINE}?status=locked"))) == ["LOGIN005", "LOGIN040"]
    assert logins(text(admin_client.get(f"{ONLINE}?status=locked&kind=deputy"))) == ["LOGIN005"]
    assert logins(text(admin_client.get(f"{ONLINE}?status=voted&q=评价人3"))) == ["LOGIN003"]
    empty = text(admin_client.get(f"{ONLINE}?q=nobody"))
    assert 'id="evaluators-empty"' in empty and "共 <b>0</b> 人" in empty and "评价人（70 人）" in empty


def test_the_evaluator_pages_keep_the_filters(admin_client, pool):
    page = text(admin_client.get(f"{ONLINE}?status=not_voted"))
    assert "共 <b>67</b> 人，第 1 / 2 页" in page
    assert pager_links(page)["下一页 →"] == {"status": ["not_voted"], "page": ["2"]}
    last = text(admin_client.get(f"{ONLINE}?status=not_voted&page=5"))  # past the end: the last page
    assert "第 2 / 2 页" in last and logins(last)[-1] == "LOGIN070"
    assert pager_links(last)["← 上一页"] == {"status": ["not_voted"], "page": ["1"]}


def test_bad_evaluator_parameters(admin_client, pool):
    for query, named in (({"kind": "mayor"}, "kind"), ({"status": "asleep"}, "status")):
        page = text(admin_client.get(f"{ONLINE}?{urlencode(query)}"))
        assert f"地址中的参数 {named}（“" in page and "共 <b>70</b> 人" in page
    # `page` keeps the 400 it had (common.query_number), named.
    refused = admin_client.get(f"{ONLINE}?page=abc&status=locked")
    assert refused.status_code == 400 and "地址中的参数 page 不是有效的整数" in refused.get_data(as_text=True)


def dialog_form(page: str, dialog_id: str) -> tuple[str, dict[str, list[str]]]:
    """The path and query a button's dialog posts to."""
    block = page.split(f'<dialog id="{dialog_id}"', 1)[1].split("</dialog>", 1)[0]
    action = urlsplit(re.search(r'<form method="post" action="([^"]+)"', block).group(1))
    return action.path, parse_qs(action.query)


def test_a_button_on_a_filtered_page_asks_and_returns_to_that_page(admin_client, db, pool):
    locked = db.scalar(select(Evaluator).where(Evaluator.login == "LOGIN040"))
    page = text(admin_client.get(f"{ONLINE}?status=locked&kind=service_object"))
    assert logins(page) == ["LOGIN040"]
    assert re.findall(r'<dialog id="(confirm-re\w+-\d+)"', page) == [f"confirm-reissue-{locked.id}"]  # the row's own
    path, query = dialog_form(page, f"confirm-reissue-{locked.id}")
    assert path == f"{ONLINE}evaluators/{locked.id}/reissue"
    assert query == {"page": ["1"], "status": ["locked"], "kind": ["service_object"]}
    action = f"{path}?{urlencode({k: v[0] for k, v in query.items()})}"
    # Without JavaScript: the confirmation page, whose 取消 goes back to the filtered list.
    asked = text(admin_client.post(action))
    assert "请确认：重新开通账号 LOGIN040" in asked
    back = re.search(r'<a class="button secondary" href="([^"]+)"', asked).group(1)
    assert parse_qs(urlsplit(back).query) == query
    assert db.get(Evaluator, locked.id).locked_at is not None
    done = admin_client.post(action, data={"confirmed": "1"})
    assert done.status_code == 303 and parse_qs(urlsplit(done.headers["Location"]).query) == query
    db.expire_all()
    assert db.get(Evaluator, locked.id).locked_at is None
    # Back on the list of locked ones it is gone; the page is the last there is.
    assert logins(text(admin_client.get(done.headers["Location"]))) == []
    # A resend on page 2 of the unvoted returns there.
    row = db.scalar(select(Evaluator).where(Evaluator.login == "LOGIN060"))
    second = text(admin_client.get(f"{ONLINE}?status=not_voted&page=2"))
    path, query = dialog_form(second, f"confirm-resend-{row.id}")
    assert query == {"page": ["2"], "status": ["not_voted"]}
    done = admin_client.post(f"{path}?{urlencode({k: v[0] for k, v in query.items()})}", data={"confirmed": "1"})
    assert done.status_code == 303 and parse_qs(urlsplit(done.headers["Location"]).query) == query
    assert db.scalar(select(func.count()).select_from(BallotCast)) == 3


# ---- every parameter at once ----------------------------------------------------------------------

PARAMETERS = ("q", "unit", "section", "round", "kind", "status", "list", "page")


def test_hostile_values_in_every_parameter_never_fail_the_pages(admin_client, messages, pool):
    """The security review's hostile numbers (tests/security/test_hostile_numbers.py) in
    every parameter these pages read: the pages answer, naming what they left out; the
    online page's `page` is refused with 400, as before."""
    for path in (SECTIONS, OUTBOX, ONLINE):
        for kind, value in HOSTILE.items():
            query = dict.fromkeys(PARAMETERS, value)
            response = admin_client.get(f"{path}?{urlencode(query)}")
            body = response.get_data(as_text=True)
            assert "Traceback" not in body and response.status_code == (400 if path == ONLINE else 200), (path, kind)
            if path == ONLINE:
                del query["page"]
                assert IGNORED in text(admin_client.get(f"{path}?{urlencode(query)}")), kind
            else:
                assert IGNORED in body, (path, kind)


# ---- the objects upload's section picker ------------------------------------------------------------


def upload(client, **fields):
    form = {"round_kind": "H1", "file": (io.BytesIO(table_bytes(SINGLE_HEADER, objects_rows(3))), "list.xlsx"),
            **fields}
    return client.post(OBJECTS, data=form, content_type="multipart/form-data")


def stored_for(db) -> set[int]:
    db.rollback()
    return set(db.scalars(select(ServiceObject.section_id)))


def field_errors(page: str) -> list[str]:
    return re.findall(r'<p class="field-error">([^<]*)</p>', page)


def test_the_office_types_the_section_and_the_server_resolves_it(admin_client, db, frame):
    page = text(admin_client.get(OBJECTS))
    assert '<option value="typed">' in page and 'list="section_name-labels"' in page
    offered = re.findall(r'<option value="([^"]+)">', page.split('<datalist id="section_name-labels">', 1)[1])
    assert len(offered) == 363 and f"{PRICE[0]} · {PRICE[1]}" in offered
    price = section_of(frame, *PRICE)
    response = upload(admin_client, section="typed", section_name=" 县发改局 价格科 ")
    assert response.status_code == 302, field_errors(response.get_data(as_text=True))
    assert stored_for(db) == {price["id"]}
    # The section's own name, when no other unit has one so named; full width and case folded.
    police = section_of(frame, POLICE, "治安大队")
    assert (frame["section"] == police["section"]).sum() == 1
    assert upload(admin_client, section="typed", section_name=police["section"]).status_code == 302
    assert upload(admin_client, section="typed", section_name=f"{POLICE}·{police['section']}").status_code == 302
    assert stored_for(db) == {price["id"], police["id"]}


def test_an_unknown_or_ambiguous_section_name_is_refused_before_the_file_is_read(admin_client, db, frame):
    garbage = {"file": (io.BytesIO(b"not a list at all"), "bad.xlsx")}
    response = upload(admin_client, section="typed", section_name="县发改局 · 没有这个科", **garbage)
    page = text_of(response, 400)
    assert field_errors(page)[0].startswith("没有名为“县发改局 · 没有这个科”的科室。")
    assert 'id="import-errors"' not in page  # the file was never read
    assert 'value="县发改局 · 没有这个科"' in page  # what was typed stays in the box
    near = text_of(upload(admin_client, section="typed", section_name="价格"), 400)
    assert "没有名为“价格”的科室。名称中含“价格”的有：“县发改局 · 价格科”" in near
    approvals = frame[frame["section"] == "行政审批科"]
    assert len(approvals) > 1
    many = field_errors(text_of(upload(admin_client, section="typed", section_name="行政审批科"), 400))[0]
    assert many.startswith(f"“行政审批科”对应 {len(approvals)} 个科室：“{approvals.iloc[0]['unit']} · 行政审批科”")
    assert "请输入单位和科室名称" in field_errors(text_of(upload(admin_client, section="typed", section_name=""), 400))[0]
    # A name beside "the file names its sections": which was meant is asked, not guessed.
    both = field_errors(text_of(upload(admin_client, section="0", section_name="县发改局 价格科"), 400))[0]
    assert both.startswith("已选择“文件内含“单位名称”和“科室”列")
    assert "不是有效的选择" in field_errors(text_of(upload(admin_client, section="typo"), 400))[0]
    db.rollback()
    assert db.scalar(select(func.count()).select_from(ObjectImport)) == 0 and stored_for(db) == set()


def text_of(response, status: int) -> str:
    assert response.status_code == status, response.status_code
    return html.unescape(response.get_data(as_text=True))


def test_the_exempt_sections_are_not_offered(admin_client, db, campaign, frame):
    planning = section_of(frame, *PLANNING)
    make_exempt(db, campaign, planning)
    page = text(admin_client.get(OBJECTS))
    assert f'<option value="{PLANNING[0]} · {PLANNING[1]}">' not in page
    refused = text_of(upload(admin_client, section="typed", section_name=f"{PLANNING[0]} · {PLANNING[1]}"), 400)
    assert "没有名为" in field_errors(refused)[0]


def test_a_liaisons_picker_lists_the_own_unit_only(app, db, campaign, frame, monkeypatch):
    client = liaison_client(app, db, POLICE)
    police = frame[frame["unit"] == POLICE].to_dict("records")
    # Up to SHORT_LIST sections: the <select> of old, the own unit's sections in it.
    page = text(client.get(OBJECTS))
    assert 'list="section_name-labels"' not in page
    assert re.findall(r'<option value="(\d+)"', page.split('name="section"', 1)[1].split("</select>", 1)[0]) == \
        ["0"] + [str(r["id"]) for r in police]
    # Typed (a unit with more sections): the datalist holds the own unit's only.
    monkeypatch.setattr(office, "SHORT_LIST", 3)
    page = text(client.get(OBJECTS))
    offered = re.findall(r'<option value="([^"]+)">', page.split('<datalist id="section_name-labels">', 1)[1])
    assert offered == [f"{POLICE} · {r['section']}" for r in police]
    refused = text_of(upload(client, section="typed", section_name=f"{PRICE[0]} · {PRICE[1]}"), 400)
    assert field_errors(refused)[0].startswith(f"没有名为“{PRICE[0]} · {PRICE[1]}”的科室")
    assert upload(client, section="typed", section_name=police[2]["section"]).status_code == 302
    assert stored_for(db) == {police[2]["id"]}
