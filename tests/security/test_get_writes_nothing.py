"""Votes and actions by GET, on SQLite and PostgreSQL: every route that
takes a POST, asked with GET (the form's fields in the query string, as a link or an
<img> would send them), answers 405, or a page that changes nothing; no row of any
table changes. GET /v?choice=satisfied records no vote."""
from __future__ import annotations

from urllib.parse import urlencode

import pytest
from werkzeug.exceptions import MethodNotAllowed

from tests.support.citizens import link_path, vote_count
from tests.security.common import changed, snapshot
from tests.support.web import text
from tests.security.world import build, form_for, post_rules, session_for, url_of

NOT_ALLOWED = "这个地址不接受这种请求方式。"
INVALID_LINK = "链接无效"
# The POST routes whose path also answers GET: (status, text on the page).
PAGES = {
    "/v": (200, "满意"),  # the voting page, nothing chosen
    "/v/seen": (400, INVALID_LINK),  # read as /v/<token>: not a link
    "/e/ballot": (200, "基本满意"),
    "/login": (200, "用户名"),
    "/receipt": (200, "回执码"),
    "/office/users/": (200, "operator1"),
    "/office/rounds/": (200, "新建调查轮次"),
    "/office/online/": (200, "网络评价"),
    "/office/import/history": (200, "导入往年评议结果"),
    "/office/import/objects": (200, "上传服务对象名单"),
    "/office/import/sections": (200, "导入参评科室名单"),
    "/office/sections/late": (200, "补录应报未报科室"),  # the form; its POST confirms, then adds
    "/c": (200, "评价码"),
    "/e/login": (200, "网络评价登录"),
    "/office/phone/<int:invitation_id>": (200, "满意"),
    "/office/supervisor/<int:unit_id>": (200, "主管单位"),
    "/office/scores/report": (200, "Excel 报告"),
    "/office/assessments/": (200, "新建考核"),
    # The world's token is a vote link's: not a verdict link, nor a rating code's address
    # (tests/ratings/test_verdict.py and tests/ratings/test_rating_page.py have the real ones).
    "/r/case/<token>": (404, "没有找到这个评价链接"),
    "/r/<token>": (404, "没有找到这个评议二维码"),
}


@pytest.fixture
def world(app, db, campaign, admin):
    return build(app, db, campaign, admin)


def answers_get(app, path: str) -> bool:
    try:
        app.url_map.bind("localhost").match(path, method="GET")
    except MethodNotAllowed:
        return False
    return True


def test_a_get_on_every_post_route_is_405_or_a_harmless_page(app, db, world):
    params = world.params(db)
    failures, pages = [], set()
    for rule in post_rules(app):
        path = url_of(app, rule, params)
        client, _ = session_for(app, db, world, rule.rule)
        query = urlencode(form_for(world, rule.rule))
        expected = PAGES.get(rule.rule) if answers_get(app, path) else (405, NOT_ALLOWED)
        if expected is None:
            failures.append(f"GET {path} answers GET and is not in PAGES")
            continue
        if expected[0] != 405:
            pages.add(rule.rule)
        before = snapshot(db)
        response = client.get(f"{path}?{query}" if query else path)
        after = snapshot(db)
        status, message = expected
        if response.status_code != status or message not in text(response):
            failures.append(f"GET {path}: {response.status_code}, expected {status} {message}")
        if "Traceback" in text(response):
            failures.append(f"GET {path}: a traceback")
        if changed(before, after):
            failures.append(f"GET {path} changed {changed(before, after)}")
    assert failures == [], "\n".join(failures)
    assert pages == set(PAGES)  # every page listed was met


def test_a_get_with_the_choice_in_the_query_records_no_vote(app, client, db, world):
    invitation = world.invitations[0]
    before = snapshot(db)
    assert client.get(link_path(db, invitation) + "?choice=satisfied&comment=x").status_code == 303
    for path in ("/v?choice=satisfied", "/v?choice=satisfied&comment=%E5%BE%88%E5%A5%BD&csrf_token=x",
                 "/v/thanks?choice=satisfied", "/v/seen?choice=satisfied"):
        response = client.get(path)
        assert response.status_code in (200, 400) and " checked" not in text(response), path
    with client.session_transaction() as session:
        assert session["invitation"] == invitation.id and "voted" not in session
    assert vote_count(db) == 0 and changed(before, snapshot(db)) == []
    # The invitation is still open: the POST that follows is the one vote.
    assert client.post("/v", data={"choice": "basic"}).status_code == 303 and vote_count(db) == 1
