"""The online round's irreversible steps ask first (voting/web/confirm.py), on SQLite
and PostgreSQL: 发送账号, 重发密码, 重新开通 (voting/online/round_views.py) and 提醒, 结束网络评价,
公布评议结果 (voting/online/monitor_views.py). A POST without `confirmed` answers with
the confirmation page, which says in numbers what the step will do, and changes
nothing; the page's own form (confirmed=1) acts. The button's page carries the same
facts in its dialog (the browser side: tests/online/test_browser_online_confirm.py)."""
from __future__ import annotations

import html
import re
from collections import Counter

import pytest
from sqlalchemy import func, select

from scoring import columns as C
from tests.support.ballots import cast_ballots, evaluators, held_round, open_online_round
from tests.conftest import PASSWORD
from tests.support.online_pool import csv_of, issue, pool_of, pooled_round, reps_frame
from voting.online.models import EVALUATOR_KIND_LABELS, Evaluator, EvaluatorKind, OnlineRound
from voting.audit.models import AuditEntry
from voting.jobs.models import Job
from voting.outbox.models import OutboxMessage
from voting.lists.models import Result
from voting.survey.models import RoundStatus
from voting.core.models import utcnow
from voting.online import ballots, evaluators as pool_service
from voting.scores import scorecards
from voting.core.vault import vault_of

ONLINE = "/office/online/"
MONITOR = "/office/online/monitor"
CONFIRMED = {"confirmed": "1"}


def text(response) -> str:
    return response.get_data(as_text=True)


def facts(page: str, dialog: str | None = None) -> list[str]:
    """The facts a confirmation lists: on the confirmation page, or in the dialog
    `dialog` of the button's page."""
    if dialog is not None:
        page = page.split(f'<dialog id="{dialog}"', 1)[1].split("</dialog>", 1)[0]
    block = page.split('<ul class="confirm-facts">', 1)[1].split("</ul>", 1)[0]
    return [html.unescape(item) for item in re.findall(r"<li>(.*?)</li>", block, re.S)]


def asked(response, title: str) -> list[str]:
    """The confirmation page's facts, after checking it is the one for `title`."""
    page = text(response)
    assert response.status_code == 200, response.status_code
    assert f"<h1>请确认：{title}</h1>" in page
    assert '<input type="hidden" name="confirmed" value="1">' in page
    return facts(page)


def fresh(db):
    db.rollback()
    db.expire_all()  # rollback() outside a transaction expires nothing
    return db


def count(db, model, *where) -> int:
    return fresh(db).scalar(select(func.count()).select_from(model).where(*where))


def audits(db, action: str) -> int:
    return count(db, AuditEntry, AuditEntry.action == action)


def local_time(app, moment) -> str:
    with app.app_context():  # the pages' own rendering of a time, in the app's zone
        return app.jinja_env.filters["local_time"](moment)


# ---- 发送账号 ---------------------------------------------------------------------------------


def test_issuing_the_accounts_asks_first_with_the_numbers(app, admin_client, db, campaign):
    online = pooled_round(db, campaign, reps=7)
    kinds = Counter(e.kind for e in pool_of(db, online))
    parts = "、".join(f"{EVALUATOR_KIND_LABELS[k]} {kinds[k]} 人" for k in EvaluatorKind if kinds[k])
    closes = local_time(app, online.closes_at)

    page = text(admin_client.get(ONLINE))
    shown = facts(page, "confirm-issue")
    assert 'data-confirm="confirm-issue"' in page and "发送账号短信（20 人）并开始网络评价" in page
    assert shown[0] == (f"为尚未发过账号的 20 位评价人（{parts}）各生成一个账号和一次性密码，"
                        "把含账号和密码的短信写入发件箱，由发送进程陆续发出。")
    assert "状态由“未开始”变为“进行中”" in shown[1] and f"截止时间 {closes}" in shown[1]

    for _ in range(2):  # asked twice: still nothing done
        assert asked(admin_client.post(f"{ONLINE}accounts"), "发送账号短信并开始网络评价") == shown
    assert count(db, OutboxMessage) == 0 and count(db, Job) == 0 and audits(db, "online.issue") == 0
    assert fresh(db).get(OnlineRound, online.id).status is RoundStatus.draft
    assert count(db, Evaluator, Evaluator.password_hash.is_not(None)) == 0

    done = admin_client.post(f"{ONLINE}accounts", data=CONFIRMED)
    assert done.status_code == 303 and "/office/jobs/" in done.headers["Location"]
    assert count(db, OutboxMessage) == 20 and audits(db, "online.issue") == 1
    assert fresh(db).get(OnlineRound, online.id).status is RoundStatus.open

    # Two more representatives once the round is open: only they are asked about.
    pool_service.import_representatives(db, fresh(db).get(OnlineRound, online.id), csv_of(reps_frame(2, start=50)),
                                        "more.csv")
    db.commit()
    more = asked(admin_client.post(f"{ONLINE}accounts"), "发送账号短信")
    assert more[0].startswith("为尚未发过账号的 2 位评价人（")
    assert more[1].startswith("网络评价已在进行中") and "已有账号的评价人不受影响" in more[1]
    assert count(db, OutboxMessage) == 20
    assert admin_client.post(f"{ONLINE}accounts", data=CONFIRMED).status_code == 303
    assert count(db, OutboxMessage) == 22


def test_nothing_to_issue_is_said_at_once_not_asked(admin_client, app, db, campaign):
    online = pooled_round(db, campaign, reps=7)
    issue(app, db, online)
    response = admin_client.post(f"{ONLINE}accounts")
    assert response.status_code == 303 and response.headers["Location"].endswith(ONLINE)
    assert "都已发过账号短信" in text(admin_client.get(ONLINE))
    assert 'data-confirm="confirm-issue"' not in text(admin_client.get(ONLINE))


# ---- 重发密码 and 重新开通 ------------------------------------------------------------------------


def test_a_reissue_asks_with_the_account_and_clears_the_lock_only_once_confirmed(admin_client, app, db, campaign):
    online = pooled_round(db, campaign, reps=7)
    old_passwords = issue(app, db, online)
    evaluator = pool_of(db, online)[0]
    evaluator.failed_logins, evaluator.locked_at = 5, utcnow()
    db.commit()
    masked = f"{evaluator.phone[:3]}****{evaluator.phone[-4:]}"
    before = (evaluator.password_hash, evaluator.message_id)

    page = text(admin_client.get(ONLINE))
    assert f'id="confirm-resend-{evaluator.id}"' not in page  # locked: a reissue only
    shown = facts(page, f"confirm-reissue-{evaluator.id}")
    assert shown[0] == f"账号 {evaluator.login}（{evaluator.name}，手机 {masked}）。"
    assert shown[1] == "解除锁定（该账号现已锁定）。"
    assert shown[2] == "密码输错次数由 5 次清零：重新有 5 次机会。"
    assert f"发往 {masked}；原密码立即作废" in shown[3]
    assert evaluator.phone not in page

    url = f"{ONLINE}evaluators/{evaluator.id}/reissue?page=1"
    assert asked(admin_client.post(url), f"重新开通账号 {evaluator.login}") == shown
    found = fresh(db).get(Evaluator, evaluator.id)
    assert (found.failed_logins, found.locked_at is not None) == (5, True)
    assert (found.password_hash, found.message_id) == before and count(db, OutboxMessage) == 20
    assert audits(db, "online.reissue") == 0

    done = admin_client.post(url, data=CONFIRMED)
    assert done.status_code == 303 and done.headers["Location"].endswith(f"{ONLINE}?page=1")
    found = fresh(db).get(Evaluator, evaluator.id)
    assert (found.failed_logins, found.locked_at) == (0, None)
    assert found.message_id != before[1] and count(db, OutboxMessage) == 21
    assert not pool_service.check_password(vault_of(db), found.password_hash, old_passwords[evaluator.login])
    assert audits(db, "online.reissue") == 1


def test_a_resend_asks_and_voids_the_old_password_only_once_confirmed(admin_client, app, db, campaign):
    online = pooled_round(db, campaign, reps=7)
    old_passwords = issue(app, db, online)
    evaluator, locked = pool_of(db, online)[1:3]
    evaluator.failed_logins = 2
    locked.failed_logins, locked.locked_at = 5, utcnow()
    db.commit()

    shown = facts(text(admin_client.get(ONLINE)), f"confirm-resend-{evaluator.id}")
    assert shown[0].startswith(f"账号 {evaluator.login}（")
    assert "原密码立即作废" in shown[1]
    assert shown[2] == "密码输错次数不清零：现为 2 次，再输错 3 次账号即锁定。"
    url = f"{ONLINE}evaluators/{evaluator.id}/resend"
    assert asked(admin_client.post(url), f"为账号 {evaluator.login} 重发密码") == shown
    found = fresh(db).get(Evaluator, evaluator.id)
    assert pool_service.check_password(vault_of(db), found.password_hash, old_passwords[evaluator.login])
    assert count(db, OutboxMessage) == 20 and audits(db, "online.resend") == 0

    assert admin_client.post(url, data=CONFIRMED).status_code == 303
    found = fresh(db).get(Evaluator, evaluator.id)
    assert not pool_service.check_password(vault_of(db), found.password_hash, old_passwords[evaluator.login])
    assert found.failed_logins == 2 and count(db, OutboxMessage) == 21 and audits(db, "online.resend") == 1

    # A locked account: refused at once (a reissue is what it needs), nothing asked.
    refused = admin_client.post(f"{ONLINE}evaluators/{locked.id}/resend", follow_redirects=True)
    assert "请确认" not in text(refused) and f"账号 {locked.login} 已锁定" in text(refused)
    assert count(db, OutboxMessage) == 21


# ---- 提醒 ---------------------------------------------------------------------------------------


def test_a_reminder_asks_with_how_many_it_goes_to(admin_client, db, campaign):
    online = open_online_round(db, campaign)
    everyone = evaluators(db, online)
    cast_ballots(db, online, 2)
    locked = db.get(Evaluator, everyone[5].id)
    locked.locked_at = utcnow()
    db.commit()

    shown = facts(text(admin_client.get(MONITOR)), "confirm-remind")
    assert shown[0] == "参评情况：6 位评价人中已有 2 位投票（参评率 33.3%），还有 4 位未投票。"
    assert shown[1].startswith("将给其中 3 位尚未投票、也未提醒过的评价人各写入一条提醒短信")
    assert asked(admin_client.post(f"{MONITOR}/remind"), "提醒尚未评价的评价人") == shown
    assert count(db, OutboxMessage) == 0 and fresh(db).get(OnlineRound, online.id).reminded_at is None
    assert audits(db, "online.remind") == 0

    assert admin_client.post(f"{MONITOR}/remind", data=CONFIRMED).status_code == 303
    assert count(db, OutboxMessage, OutboxMessage.key.like("online-remind:%")) == 3
    again = facts(text(admin_client.get(MONITOR)), "confirm-remind")
    assert again[1] == "没有需要提醒的评价人：这次不会写入任何短信。"


# ---- 结束网络评价 -----------------------------------------------------------------------------------


def test_the_close_asks_with_the_turnout_and_the_closing_time(app, admin_client, db, campaign):
    online = open_online_round(db, campaign)
    cast_ballots(db, online, 3)
    shown = facts(text(admin_client.get(MONITOR)), "confirm-close")
    assert shown[0] == "参评情况：6 位评价人中已有 3 位投票（参评率 50.0%），还有 3 位未投票。"
    assert shown[1] == f"原定截止时间 {local_time(app, online.closes_at)}：现在结束即提前截止。"
    assert "不再接受选票" in shown[2]
    assert shown[3].startswith("已收到的 3 张选票随即计票")

    assert asked(admin_client.post(f"{MONITOR}/close"), "结束网络评价") == shown
    found = fresh(db).get(OnlineRound, online.id)
    assert (found.status, found.closed_at) == (RoundStatus.open, None) and audits(db, "online.close") == 0
    assert ballots.is_open(found) and ballots.ballots_in(db, found) == 3  # ballots still taken

    assert admin_client.post(f"{MONITOR}/close", data=CONFIRMED).status_code == 303
    assert fresh(db).get(OnlineRound, online.id).status is RoundStatus.closed
    assert audits(db, "online.close") == 1
    # Closed: not asked again, refused with the reason.
    again = admin_client.post(f"{MONITOR}/close")
    assert again.status_code == 400 and "只有进行中的网络评价才能结束" in text(again)
    assert 'data-confirm="confirm-close"' not in text(admin_client.get(MONITOR))


# ---- 公布评议结果 / 重新公布 ---------------------------------------------------------------------------


BUNDLE_NETWORK = False  # the example year without its online round (tests/conftest.py)


def test_publishing_asks_with_the_lists_sizes_and_publishes_only_once_confirmed(admin_client, client, db, campaign,
                                                                                 bundle_dir):
    online = held_round(db, campaign, bundle_dir)
    early = admin_client.post(f"{MONITOR}/publish")
    assert early.status_code == 400 and "网络评价结束后才能公布" in text(early)
    assert admin_client.post(f"{MONITOR}/close", data=CONFIRMED).status_code == 303

    card = scorecards.campaign_scorecard(fresh(db), campaign)
    lists = scorecards.final_lists(db, campaign, card)
    sizes = tuple(len(lists[name]) for name in ("satisfied", "unsatisfied", "most_unsatisfied"))
    assert sizes == (10, 10, 3)
    shown = facts(text(admin_client.get(MONITOR)), "confirm-publish")
    assert shown[0] == "公布的名单：满意单位 10 个、不满意单位 10 个、最不满意单位 3 个（最不满意单位同时列在不满意单位中）。"
    assert "/results/2021" in shown[1] and "任何人不用登录即可查看" in shown[1]

    assert asked(admin_client.post(f"{MONITOR}/publish"), "公布评议结果") == shown
    found = fresh(db).get(OnlineRound, online.id)
    assert (found.published, found.published_at) == (None, None) and audits(db, "online.publish") == 0
    assert client.get("/results/2021").status_code == 404

    assert admin_client.post(f"{MONITOR}/publish", data=CONFIRMED).status_code == 303
    assert client.get("/results/2021").status_code == 200
    published_at = fresh(db).get(OnlineRound, online.id).published_at

    # Publishing again says what it replaces, and whether the lists changed.
    same = asked(admin_client.post(f"{MONITOR}/publish"), "重新公布评议结果")
    assert same[2].endswith("（满意单位 10 个、不满意单位 10 个、最不满意单位 3 个）：名单没有变化。")
    section_id = int(card.sections.loc[card.sections[C.RESULT] == C.SATISFIED, "section_id"].iloc[0])
    scorecards.decide(db, campaign, section_id, Result.unsatisfied, "县评议领导小组复议", None)
    db.commit()
    changed = asked(admin_client.post(f"{MONITOR}/publish"), "重新公布评议结果")
    assert changed[0].startswith("公布的名单：满意单位 9 个、不满意单位 11 个、最不满意单位 3 个")
    assert changed[2].endswith("：名单有变化。")
    assert fresh(db).get(OnlineRound, online.id).published_at == published_at
    assert "满意单位（10 个）" in text(client.get("/results/2021"))  # unchanged until confirmed
    assert admin_client.post(f"{MONITOR}/publish", data=CONFIRMED).status_code == 303
    assert "满意单位（9 个）" in text(client.get("/results/2021"))
    assert audits(db, "online.publish") == 2


# ---- the confirmation page's own form, with CSRF on --------------------------------------------


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_the_confirmation_pages_form_acts(client, db, admin, campaign, app_config):
    online = open_online_round(db, campaign)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', text(client.get("/login"))).group(1)
    assert client.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token}).status_code == 302
    assert client.post(f"{MONITOR}/close").status_code == 400  # no token: refused before anything is asked
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', text(client.get(MONITOR))).group(1)
    page = client.post(f"{MONITOR}/close", data={"csrf_token": token})
    assert asked(page, "结束网络评价")
    assert fresh(db).get(OnlineRound, online.id).status is RoundStatus.open
    # What the page's form sends: its action, its token and its hidden fields.
    form = text(page).split('<div class="confirm-page">', 1)[1].split("</form>", 1)[0]
    action = html.unescape(re.search(r'<form method="post" action="([^"]+)"', form).group(1))
    fields = dict(re.findall(r'<input[^>]*name="(\w+)"[^>]*value="([^"]*)"', form))
    assert action == f"{MONITOR}/close" and fields["confirmed"] == "1" and fields["csrf_token"]
    assert client.post(action, data=fields).status_code == 303
    assert fresh(db).get(OnlineRound, online.id).status is RoundStatus.closed
