"""The online round's evaluator pool and accounts, on SQLite and PostgreSQL:
the representatives' import (a file with any bad row is rejected whole, every error
listed with its row and column, nothing stored), the 65/35 mix and why it is missed,
reproducible sampling over the candidate sections, accounts stored hashed only and
their passwords blanked from the outbox once sent, resend and reissue, and the review
office's pages (roles, masked phones, buttons)."""
from __future__ import annotations

import io
from collections import Counter
from datetime import timedelta

import pandas as pd
import pytest
from sqlalchemy import delete, func, select

from sms.senders import ConsoleSender, OneAtATime, PermanentSendError
from sms.templates import ONLINE_ACCOUNT, SCRUBBED
from tests.conftest import PASSWORD, login, xlsx_bytes
from tests.support.online_pool import (
    ANY_TIME, PUBLIC_URL, csv_of, fix_candidates, issue, make_round, passwords, pool_of, pooled_round, rep_phone,
    reps_frame, upload_lists,
)
from voting.core.errors import DomainError, ImportRejected
from voting.survey.links import wording
from voting.audit.models import AuditEntry
from voting.outbox.models import ConsoleMessage, OutboxMessage, OutboxStatus
from voting.online.models import Evaluator, EvaluatorKind, OnlineRound
from voting.staff.models import Role
from voting.survey.models import RoundStatus
from voting.lists.models import ServiceObject, Unit
from voting.core.models import utcnow
from voting.online import evaluators
from voting.lists import history
from voting.staff import users
from voting.online.evaluators import sample_order, target_service_objects
from voting.outbox.outbox import console_sink, dispatch
from voting.core.vault import vault_of

CONFIRMED = {"confirmed": "1"}  # the office's account buttons act only once confirmed


def check_password(db, stored: str, password: str) -> bool:
    return evaluators.check_password(vault_of(db), stored, password)


def sessions(app):
    return app.extensions["pingyi.sessions"]


def count(db, model=Evaluator) -> int:
    db.rollback()
    return db.scalar(select(func.count()).select_from(model))


def audit_entries(db, action: str) -> list[AuditEntry]:
    db.rollback()
    return list(db.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


# ---- the round ---------------------------------------------------------------------------------


def test_the_round_needs_a_fixed_candidate_list_and_a_closing_time_ahead(db, campaign):
    with pytest.raises(DomainError, match="候选名单尚未确定"):
        evaluators.create_round(db, campaign, utcnow() + timedelta(days=3))
    fix_candidates(db, campaign, 2)
    with pytest.raises(DomainError, match="截止时间必须晚于现在"):
        evaluators.create_round(db, campaign, utcnow() - timedelta(minutes=1))
    online = evaluators.create_round(db, campaign, utcnow() + timedelta(days=3), actor="admin")
    db.commit()
    assert online.status is RoundStatus.draft and online.seed > 0
    with pytest.raises(DomainError, match="已有网络评价"):
        evaluators.create_round(db, campaign, utcnow() + timedelta(days=3))
    [entry] = audit_entries(db, "online.create")
    assert entry.actor == "admin" and entry.detail["round_id"] == online.id and entry.campaign_id == campaign.id


# ---- representatives ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_representatives_are_imported_with_their_category_and_normalised_phone(db, campaign, kind):
    online = make_round(db, campaign)
    frame = reps_frame(10)
    data, name = (csv_of(frame), "reps.csv") if kind == "csv" else (xlsx_bytes(frame), "reps.xlsx")
    summary = evaluators.import_representatives(db, online, data, name, actor="admin")
    db.commit()
    assert summary.stored == summary.rows_read == 10
    assert summary.by_kind == {k: 2 for k in evaluators.REPRESENTATIVE_KINDS}
    pool = pool_of(db, online)
    assert [e.phone for e in pool] == [rep_phone(i) for i in range(10)]  # "+86 147…", "147-…" normalised
    assert [e.source_row for e in pool] == list(range(2, 12))  # the file's own rows, header on row 1
    assert pool[0].kind is EvaluatorKind.deputy and pool[1].kind is EvaluatorKind.cadre
    assert pool[4].kind is EvaluatorKind.business_monitor and pool[0].name == "代表0"
    logins = [e.login for e in pool]
    assert len(set(logins)) == 10 and all(len(x) == evaluators.LOGIN_LENGTH for x in logins)
    assert all(e.password_hash is None and e.message_id is None for e in pool)  # nothing sent on import
    [entry] = audit_entries(db, "online.import")
    assert entry.detail["rows"] == 10 and entry.detail["by_kind"]["deputy"] == 2
    assert rep_phone(0) not in str(entry.detail)


def test_a_file_with_bad_rows_is_rejected_whole_with_every_row_and_column(db, campaign):
    online = make_round(db, campaign)
    evaluators.import_representatives(db, online, csv_of(reps_frame(2)), "first.csv")
    db.commit()
    rows = [
        ("张三", "两代表一委员", "14700000010"),  # row 2: good
        ("", "基层干部", "14700000011"),  # row 3: no name
        ("李四" * 30, "基层干部", "14700000012"),  # row 4: name too long
        ("王五", "", "14700000013"),  # row 5: no category
        ("赵六", "人大代表", "14700000014"),  # row 6: not one of the five
        ("钱七", "民营企业家", "1470000"),  # row 7: too short
        ("孙八", "特约监察员", "02088886666"),  # row 8: not a mobile
        ("周九", "营商环境监督员", ""),  # row 9: no phone
        ("吴十", "基层干部", "147-0000-0010"),  # row 10: same phone as row 2
        ("郑一", "民营企业家", rep_phone(1)),  # row 11: already in the pool
    ]
    frame = pd.DataFrame(rows, columns=["姓名", "类别", "手机号码"])
    with pytest.raises(ImportRejected) as caught:
        evaluators.import_representatives(db, online, csv_of(frame), "bad.csv")
    db.rollback()
    error = caught.value
    found = {(e.row, e.column): e.reason for e in error.errors}
    assert found[(3, "A 列（姓名）")] == "姓名为空"
    assert found[(4, "A 列（姓名）")] == "超过 50 字"
    assert found[(5, "B 列（类别）")].startswith("类别为空")
    assert found[(6, "B 列（类别）")].startswith("“人大代表”无效：应为 两代表一委员、基层干部、民营企业家、特约监察员、营商环境监督员")
    assert "11 位" in found[(7, "C 列（手机号码）")]
    assert "不是大陆手机号码" in found[(8, "C 列（手机号码）")] and "020****6666" in found[(8, "C 列（手机号码）")]
    assert found[(9, "C 列（手机号码）")] == "手机号码为空"
    assert found[(10, "C 列（手机号码）")] == "手机号码与第 2 行重复（每个号码只能有一位评价人）"
    assert found[(11, "C 列（手机号码）")] == "手机号码已在本轮评价人名单中（基层干部 代表1）"
    assert not any(e.row == 2 for e in error.errors)
    assert error.bad_rows == 9 and "未导入任何数据" in str(error) and "第 3 行，A 列（姓名）：姓名为空" in [str(e) for e in error.errors]
    assert count(db) == 2  # nothing of the file, not even its good row
    assert audit_entries(db, "online.import") and len(audit_entries(db, "online.import")) == 1


def test_a_file_without_the_columns_or_rows_is_rejected(db, campaign):
    online = make_round(db, campaign)
    no_category = pd.DataFrame({"姓名": ["张三"], "手机号码": ["14700000010"]})
    with pytest.raises(ImportRejected) as caught:
        evaluators.import_representatives(db, online, csv_of(no_category), "reps.csv")
    assert "表头须包含：姓名、类别、手机号码" in caught.value.errors[0].reason
    empty = pd.DataFrame(columns=["姓名", "类别", "手机号码"])
    with pytest.raises(ImportRejected) as caught:
        evaluators.import_representatives(db, online, csv_of(empty), "reps.csv")
    assert caught.value.errors[0].reason == "表头下没有任何评价人"
    assert count(db) == 0


# ---- sampling and the mix ------------------------------------------------------------------------


def test_service_objects_are_sampled_to_65_percent(db, campaign):
    online = make_round(db, campaign, per_section=20)
    evaluators.import_representatives(db, online, csv_of(reps_frame(7)), "reps.csv")
    db.commit()
    before = evaluators.mix(db, online)
    assert before.target == 13 and before.service_objects == 0 and not before.reached
    assert "还差 13 名" in before.reasons[0]
    summary = evaluators.sample_service_objects(db, online, actor="admin")
    db.commit()
    mix = summary.mix
    assert summary.added == 13 and mix.service_objects == 13 and mix.representatives == 7
    assert mix.reached and mix.share == pytest.approx(0.65) and mix.reasons == []
    sampled = [e for e in pool_of(db, online) if e.kind is EvaluatorKind.service_object]
    listed = {o.id: o for o in db.scalars(select(ServiceObject))}
    assert all(listed[e.service_object_id].phone == e.phone and listed[e.service_object_id].name == e.name for e in sampled)
    per_section = Counter(listed[e.service_object_id].section_id for e in sampled)
    assert sorted(per_section.values()) == [4, 4, 5]  # spread over the candidate sections
    # Sampling again adds nobody: the mix is reached.
    assert evaluators.sample_service_objects(db, online).added == 0
    db.commit()
    entries = audit_entries(db, "online.sample")
    assert [e.detail["added"] for e in entries] == [13, 0] and entries[0].detail["target"] == 13


def test_the_mix_says_why_it_cannot_be_reached(db, campaign):
    online = make_round(db, campaign, per_section=10)  # 30 service objects in all
    with pytest.raises(DomainError, match="还没有导入代表"):
        evaluators.sample_service_objects(db, online)
    db.rollback()
    evaluators.import_representatives(db, online, csv_of(reps_frame(35)), "reps.csv")
    summary = evaluators.sample_service_objects(db, online)
    db.commit()
    mix = summary.mix
    assert summary.added == 30 and mix.target == 65 and not mix.reached and mix.available == 0
    assert mix.share == pytest.approx(30 / 65)
    [reason] = mix.reasons
    assert "35 名代表需要 65 名服务对象" in reason and "只剩 0 个" in reason and "最多只能达到 30 名" in reason
    assert "补报服务对象名单" in reason


def test_sections_without_a_list_are_named_in_the_mix(db, campaign):
    chosen = fix_candidates(db, campaign, 3)
    upload_lists(db, campaign, chosen[:2], 5)
    online = evaluators.create_round(db, campaign, utcnow() + timedelta(days=3))
    db.commit()
    mix = evaluators.mix(db, online)
    assert mix.candidate_sections == 3 and mix.sections_without_list == 1 and mix.available == 10
    assert any("1 个候选科室没有服务对象名单" in r for r in mix.reasons)


def test_only_the_candidate_sections_lists_are_sampled(db, campaign):
    candidates = fix_candidates(db, campaign, 2)
    # A list of a section that is not a candidate: never sampled.
    statuses = history.section_statuses(db, campaign)
    outsider = statuses[~statuses["id"].isin([c["id"] for c in candidates]) & ~statuses["is_enforcement"]].iloc[0]
    upload_lists(db, campaign, [*candidates, outsider.to_dict()], 4)
    online = evaluators.create_round(db, campaign, utcnow() + timedelta(days=3))
    evaluators.import_representatives(db, online, csv_of(reps_frame(20)), "reps.csv")
    evaluators.sample_service_objects(db, online)
    db.commit()
    sampled = {e.service_object_id for e in pool_of(db, online) if e.service_object_id}
    sections = set(db.scalars(select(ServiceObject.section_id).where(ServiceObject.id.in_(sampled))))
    assert len(sampled) == 8 and sections == {c["id"] for c in candidates}


def test_a_representatives_phone_is_not_sampled_again(db, campaign):
    online = make_round(db, campaign, per_section=5)
    listed = db.scalars(select(ServiceObject).order_by(ServiceObject.id)).all()
    frame = pd.DataFrame([{"姓名": "两栖人", "类别": "民营企业家", "手机号码": listed[0].phone}])
    frame = pd.concat([frame, reps_frame(30)], ignore_index=True)
    evaluators.import_representatives(db, online, csv_of(frame), "reps.csv")
    summary = evaluators.sample_service_objects(db, online)
    db.commit()
    assert summary.added == 14  # 15 on the lists, one of them already a representative
    same = [e for e in pool_of(db, online) if e.phone == listed[0].phone]
    assert len(same) == 1 and same[0].kind is EvaluatorKind.entrepreneur


def test_sampling_is_reproducible_from_the_seed(db, campaign):
    online = pooled_round(db, campaign, reps=7, seed=11)
    first = sorted(e.service_object_id for e in pool_of(db, online) if e.service_object_id)
    # The same seed and lists draw the same sample again.
    db.execute(delete(Evaluator).where(Evaluator.kind == EvaluatorKind.service_object))
    evaluators.sample_service_objects(db, online)
    db.commit()
    again = sorted(e.service_object_id for e in pool_of(db, online) if e.service_object_id)
    assert again == first
    # Another seed draws another sample.
    db.execute(delete(Evaluator).where(Evaluator.kind == EvaluatorKind.service_object))
    online.seed = 12
    evaluators.sample_service_objects(db, online)
    db.commit()
    other = sorted(e.service_object_id for e in pool_of(db, online) if e.service_object_id)
    assert len(other) == 13 and other != first
    # More representatives later: the sample grows by the same order (a top-up of the
    # smaller sample is the larger sample drawn at once).
    online.seed = 11
    db.execute(delete(Evaluator).where(Evaluator.kind == EvaluatorKind.service_object))
    evaluators.sample_service_objects(db, online)
    evaluators.import_representatives(db, online, csv_of(reps_frame(7, start=7)), "more.csv")
    evaluators.sample_service_objects(db, online)
    db.commit()
    topped = sorted(e.service_object_id for e in pool_of(db, online) if e.service_object_id)
    db.execute(delete(Evaluator).where(Evaluator.kind == EvaluatorKind.service_object))
    evaluators.sample_service_objects(db, online)
    db.commit()
    at_once = sorted(e.service_object_id for e in pool_of(db, online) if e.service_object_id)
    assert len(topped) == 26 and topped == at_once and set(first) <= set(topped)


def test_the_sample_order_is_a_function_of_seed_and_lists():
    lists = {1: [(10, "a"), (11, "b"), (12, "c")], 2: [(20, "d"), (21, "a")], 3: []}
    order = sample_order([1, 2, 3], lists, 5)
    assert sorted(p for _, p in order) == ["a", "b", "c", "d"]  # every phone once
    shuffled = {k: list(reversed(v)) for k, v in lists.items()}
    assert sample_order([3, 2, 1], shuffled, 5) == order  # not the order rows came in
    assert {tuple(sample_order([1, 2, 3], lists, s)) for s in range(20)} != {tuple(order)}
    assert [target_service_objects(r, 0.65) for r in (0, 1, 7, 35, 350)] == [None, 2, 13, 65, 650]


# ---- accounts ----------------------------------------------------------------------------------


def test_accounts_are_hashed_sent_through_the_outbox_and_the_password_blanked_once_sent(app, db, campaign):
    online = pooled_round(db, campaign, reps=7)
    secrets = issue(app, db, online)
    pool = pool_of(db, online)
    assert len(secrets) == len(pool) == 20 and db.get(OnlineRound, online.id).status is RoundStatus.open
    for evaluator in pool:
        password = secrets[evaluator.login]
        assert len(password) == evaluators.PASSWORD_LENGTH
        assert evaluator.password_hash.startswith("hmac-sha256$") and password not in evaluator.password_hash
        assert check_password(db, evaluator.password_hash, password)
        assert not check_password(db, evaluator.password_hash, password[::-1])
        message = db.get(OutboxMessage, evaluator.message_id)
        assert message.template == ONLINE_ACCOUNT and message.phone == evaluator.phone
        assert message.campaign_id == campaign.id and message.status is OutboxStatus.pending
        assert f"{PUBLIC_URL}/e/login" in message.text and evaluator.login in message.text and password in message.text
        assert "前登录" in message.text and str(campaign.year) in message.text
    assert len(set(secrets.values())) == 20
    [entry] = audit_entries(db, "online.issue")
    assert entry.detail == {"round_id": online.id, "accounts": 20}
    assert not any(p in str(entry.detail) for p in secrets.values())

    report = dispatch(sessions(app), ConsoleSender(console_sink(sessions(app), keep_secrets=True)), "w1", ANY_TIME)
    assert report.sent == 20
    db.expire_all()
    for evaluator in pool_of(db, online):
        message = db.get(OutboxMessage, evaluator.message_id)
        assert message.status is OutboxStatus.sent and message.params["password"] == SCRUBBED
        assert secrets[evaluator.login] not in message.text and f"密码 {SCRUBBED}" in message.text
        assert message.params["login"] == evaluator.login  # only the secret goes
    # The console sender (the demo's stand-in for a phone) did get the passwords.
    delivered = " ".join(db.scalars(select(ConsoleMessage.text)))
    assert all(p in delivered for p in secrets.values())


def test_a_message_that_fails_for_good_loses_its_password_too(app, db, campaign):
    online = pooled_round(db, campaign, reps=2)
    secrets = issue(app, db, online)

    class Refusing(OneAtATime):
        name = "refusing"

        def send(self, message):
            raise PermanentSendError("21211 invalid number")

    report = dispatch(sessions(app), Refusing(), "w1", ANY_TIME)
    assert report.failed == len(secrets)
    db.expire_all()
    for message in db.scalars(select(OutboxMessage)):
        assert message.status is OutboxStatus.failed and message.params["password"] == SCRUBBED
        assert not any(p in message.text for p in secrets.values())


def test_issuing_sends_only_to_those_without_an_account(app, db, campaign):
    online = pooled_round(db, campaign, reps=7)
    first = issue(app, db, online)
    with pytest.raises(DomainError, match="都已发过账号短信"):
        evaluators.issue_accounts(db, online, wording(app, PUBLIC_URL))
    db.rollback()
    evaluators.import_representatives(db, online, csv_of(reps_frame(3, start=7)), "more.csv")
    evaluators.sample_service_objects(db, online)
    assert evaluators.issue_accounts(db, online, wording(app, PUBLIC_URL)) == 3 + 6
    db.commit()
    second = passwords(db, online)
    assert {k: v for k, v in second.items() if k in first} == first  # the first accounts untouched
    assert count(db, OutboxMessage) == 20 + 9


def test_an_empty_pool_issues_nothing(app, db, campaign):
    online = make_round(db, campaign)
    with pytest.raises(DomainError, match="评价人名单是空的"):
        evaluators.issue_accounts(db, online, wording(app, PUBLIC_URL))
    db.rollback()
    assert db.get(OnlineRound, online.id).status is RoundStatus.draft


def test_resend_gives_a_new_password_and_withdraws_the_unsent_one(app, db, campaign):
    online = pooled_round(db, campaign, reps=2)
    old = issue(app, db, online)
    evaluator = pool_of(db, online)[0]
    first_message = evaluator.message_id
    evaluator.failed_logins = 3
    db.commit()
    evaluators.resend(db, online, evaluator, wording(app, PUBLIC_URL), actor="admin")
    db.commit()
    new = passwords(db, online)[evaluator.login]
    evaluator = db.get(Evaluator, evaluator.id)
    assert new != old[evaluator.login] and check_password(db, evaluator.password_hash, new)
    assert not check_password(db, evaluator.password_hash, old[evaluator.login])
    assert evaluator.failed_logins == 3 and evaluator.message_id != first_message  # the count stays
    withdrawn = db.get(OutboxMessage, first_message)
    assert withdrawn.status is OutboxStatus.failed and withdrawn.params["password"] == SCRUBBED
    assert old[evaluator.login] not in withdrawn.text
    [entry] = audit_entries(db, "online.resend")
    assert entry.detail == {"round_id": online.id, "evaluator_id": evaluator.id, "failed_logins": 3}


def test_a_locked_account_is_reissued_not_resent(app, db, campaign):
    online = pooled_round(db, campaign, reps=2)
    issue(app, db, online)
    evaluator = pool_of(db, online)[0]
    evaluator.failed_logins, evaluator.locked_at = 5, utcnow()
    db.commit()
    with pytest.raises(DomainError, match="已锁定"):
        evaluators.resend(db, online, evaluator, wording(app, PUBLIC_URL))
    db.rollback()
    evaluators.reissue(db, online, evaluator, wording(app, PUBLIC_URL), actor="admin")
    db.commit()
    evaluator = db.get(Evaluator, evaluator.id)
    assert evaluator.locked_at is None and evaluator.failed_logins == 0
    assert check_password(db, evaluator.password_hash, passwords(db, online)[evaluator.login])
    [entry] = audit_entries(db, "online.reissue")
    assert entry.detail["was_locked"] is True and entry.actor == "admin"


def test_nothing_changes_once_the_round_is_over(app, db, campaign):
    online = pooled_round(db, campaign, reps=2)
    issue(app, db, online)
    online.closes_at = utcnow() - timedelta(seconds=1)
    db.commit()
    evaluator = pool_of(db, online)[0]
    for act in (
        lambda: evaluators.import_representatives(db, online, csv_of(reps_frame(1, start=50)), "late.csv"),
        lambda: evaluators.sample_service_objects(db, online),
        lambda: evaluators.resend(db, online, evaluator, wording(app, PUBLIC_URL)),
        lambda: evaluators.reissue(db, online, evaluator, wording(app, PUBLIC_URL)),
    ):
        with pytest.raises(DomainError, match="已经截止"):
            act()
        db.rollback()


# ---- the review office's pages -----------------------------------------------------------------


def staff(db, client, role: Role, username: str) -> None:
    users.create_user(db, username, PASSWORD, role, db.scalars(select(Unit)).first() if role is Role.liaison else None)
    db.commit()
    assert login(client, username).status_code == 302


def test_office_pages_roles(app, db, campaign):
    online = pooled_round(db, campaign, reps=7)
    issue(app, db, online)
    evaluator = pool_of(db, online)[0]
    anonymous = app.test_client()
    assert anonymous.get("/office/online/").status_code == 302  # to the staff login
    assert anonymous.post("/office/online/sample").status_code == 302
    for role, name in ((Role.operator, "op"), (Role.auditor, "audit")):
        client = app.test_client()
        staff(db, client, role, name)
        page = client.get("/office/online/")
        assert page.status_code == 200 and "评价人构成" in page.get_data(as_text=True)
        assert "抽取服务对象</button>" not in page.get_data(as_text=True)  # no buttons to readers
        for path in ("/office/online/", "/office/online/sample", "/office/online/accounts", "/office/online/pool",
                     f"/office/online/evaluators/{evaluator.id}/resend", f"/office/online/evaluators/{evaluator.id}/reissue"):
            assert client.post(path).status_code == 403, path
    liaison = app.test_client()
    staff(db, liaison, Role.liaison, "unit")
    assert liaison.get("/office/online/").status_code == 403
    assert count(db, OutboxMessage) == 20 and audit_entries(db, "online.resend") == []


def test_the_office_page_masks_phones_and_shows_the_mix(admin_client, db, campaign):
    online = pooled_round(db, campaign, reps=7)
    body = admin_client.get("/office/online/").get_data(as_text=True)
    pool = pool_of(db, online)
    assert len(pool) == 20
    for evaluator in pool:
        assert evaluator.phone not in body and f"{evaluator.phone[:3]}****{evaluator.phone[-4:]}" in body
        assert evaluator.login in body
    assert 'id="mix-reached"' in body and "65.0%" in body
    assert "发送账号短信（20 人）并开始网络评价" in body


def test_the_office_runs_the_round_from_its_pages(admin_client, app, db, campaign):
    chosen = fix_candidates(db, campaign, 3)
    upload_lists(db, campaign, chosen, 10)
    assert "建立网络评价" in admin_client.get("/office/online/").get_data(as_text=True)
    assert admin_client.get("/office/online/").status_code == 200 and count(db, OnlineRound) == 0  # GET writes nothing
    closes = (utcnow() + timedelta(days=5)).astimezone().strftime("%Y-%m-%dT%H:%M")
    assert admin_client.post("/office/online/", data={"closes_at": closes}).status_code == 303
    assert admin_client.post("/office/online/", data={"closes_at": ""}).status_code == 422
    bad = pd.DataFrame([{"姓名": "", "类别": "基层干部", "手机号码": "14700000001"}])
    rejected = admin_client.post("/office/online/pool", data={"file": (io.BytesIO(csv_of(bad)), "reps.csv")},
                                 content_type="multipart/form-data")
    text = rejected.get_data(as_text=True)
    assert rejected.status_code == 422 and '<td class="num">2</td><td>A 列（姓名）</td><td>姓名为空</td>' in text
    assert "未导入任何数据" in text and count(db) == 0
    upload = admin_client.post("/office/online/pool", data={"file": (io.BytesIO(csv_of(reps_frame(7))), "reps.csv")},
                               content_type="multipart/form-data")
    assert upload.status_code == 303 and count(db) == 7
    assert admin_client.post("/office/online/sample").status_code == 303 and count(db) == 20
    page = admin_client.get("/office/online/").get_data(as_text=True)
    assert 'id="mix-reached"' in page
    assert admin_client.post("/office/online/accounts", data=CONFIRMED).status_code == 303
    assert count(db, OutboxMessage) == 20
    again = admin_client.post("/office/online/accounts", data=CONFIRMED, follow_redirects=True)
    assert "都已发过账号短信" in again.get_data(as_text=True)
    evaluator = db.scalars(select(Evaluator).order_by(Evaluator.id)).first()
    assert admin_client.post(f"/office/online/evaluators/{evaluator.id}/resend", data=CONFIRMED).status_code == 303
    assert admin_client.post(f"/office/online/evaluators/{evaluator.id}/reissue", data=CONFIRMED).status_code == 303
    assert count(db, OutboxMessage) == 22
    actions = [e.action for e in audit_entries(db, "online.create") + audit_entries(db, "online.import")
               + audit_entries(db, "online.sample") + audit_entries(db, "online.issue")
               + audit_entries(db, "online.resend") + audit_entries(db, "online.reissue")]
    assert actions == ["online.create", "online.import", "online.sample", "online.issue", "online.resend", "online.reissue"]
    assert all(e.actor == "admin" for e in audit_entries(db, "online.issue"))


def test_a_list_sampled_from_cannot_be_replaced(db, campaign):
    online = pooled_round(db, campaign, reps=7)
    statuses = history.section_statuses(db, campaign)
    sampled = db.get(ServiceObject, pool_of(db, online)[-1].service_object_id)
    section = statuses[statuses["id"] == sampled.section_id].iloc[0]
    with pytest.raises(DomainError, match="网络评价已从这些科室的 H1 轮名单中抽取了评价人"):
        upload_lists(db, campaign, [section.to_dict()], 5, seed=9)
    db.rollback()
    assert count(db) == 20
