"""The office's long work as background jobs (voting/tasks.py): issuing the online
round's accounts, the Excel report, the retention erase. Each view submits its job and
sends the office to the job's page; each job ends with its result in Chinese, and a
job run again (a worker that died after its commit) or cut short before its commit
leaves nothing doubled and nothing half done. The demo year's progress is in
test_demo_year.py."""
from __future__ import annotations

import io
import re
from datetime import timedelta

import openpyxl
import pytest
from sqlalchemy import event, func, select

from tests.conftest import PASSWORD, login
from tests.support.online_pool import PUBLIC_URL, csv_of, issue, passwords, pool_of, pooled_round, reps_frame
from voting.jobs import jobs
from voting import tasks
from voting.core.errors import DomainError
from voting.jobs.jobs import Progress
from voting.survey.links import wording
from voting.audit.models import AuditEntry
from voting.lists.models import Campaign, ServiceObject, Unit
from voting.online.models import Evaluator, OnlineRound
from voting.jobs.models import Job, JobStatus
from voting.outbox.models import OutboxMessage
from voting.staff.models import Role
from voting.survey.models import RoundStatus
from voting.core.models import utcnow
from voting.audit import audit
from voting.online import evaluators
from voting.office import retention
from voting.staff import users
from voting.scores.report import SHEETS


def count(db, model, *where) -> int:
    db.rollback()
    return db.scalar(select(func.count()).select_from(model).where(*where))


def audits(db, action: str) -> int:
    return count(db, AuditEntry, AuditEntry.action == action)


def the_job(db, job_id: int) -> Job:
    db.rollback()
    db.expire_all()
    return db.get(Job, job_id)


def job_id_of(response) -> int:
    """The job a view sent the office to (303 to its page)."""
    assert response.status_code == 303, response.status_code
    found = re.fullmatch(r"(?:http://localhost)?/office/jobs/(\d+)", response.headers["Location"])
    assert found, response.headers["Location"]
    return int(found.group(1))


class Crash(RuntimeError):
    """A worker dying at the last moment before its commit."""


# ---- issuing the online round's accounts -----------------------------------------------------


def test_issuing_accounts_is_a_job_with_its_page(admin_client, app, db, campaign):
    online = pooled_round(db, campaign, reps=7)
    job_id = job_id_of(admin_client.post("/office/online/accounts", data={"confirmed": "1"}))
    done = the_job(db, job_id)
    assert (done.kind, done.status, done.created_by) == ("issue_accounts", JobStatus.done, "admin")
    assert done.done == done.total == 2 * 20 and done.result["accounts"] == 20
    page = admin_client.get(f"/office/jobs/{job_id}").get_data(as_text=True)
    assert "已为 20 位评价人生成账号和一次性密码" in page and "/office/online/" in page
    assert db.get(OnlineRound, online.id).status is RoundStatus.open
    assert count(db, OutboxMessage) == 20 and audits(db, "online.issue") == 1
    assert count(db, Evaluator, Evaluator.message_id.is_(None)) == 0
    # Nothing left to issue: said on the round's page at once, and no job.
    again = admin_client.post("/office/online/accounts", data={"confirmed": "1"})
    assert again.status_code == 303 and again.headers["Location"].endswith("/office/online/")
    assert "都已发过账号短信" in admin_client.get("/office/online/").get_data(as_text=True)
    assert count(db, Job) == 1


def test_an_issuing_job_run_again_after_its_commit_finds_its_work_done(app, db, campaign):
    online = pooled_round(db, campaign, reps=7)
    params = {"round_id": online.id, "public_url": PUBLIC_URL, "actor": "admin"}
    first = tasks.issue_accounts(app, params, Progress())
    before = passwords(db, online)
    # The worker died after the commit, before recording the end: the job runs again.
    again = tasks.issue_accounts(app, params, Progress())
    assert first["accounts"] == 20 and again["accounts"] == 0 and "都已有账号" in again["message"]
    assert passwords(db, online) == before and len(before) == 20
    assert count(db, OutboxMessage) == 20 and audits(db, "online.issue") == 1


def test_an_issuing_job_cut_short_before_its_commit_leaves_nothing(app, db, campaign, monkeypatch):
    online = pooled_round(db, campaign, reps=7)
    real = audit.record

    def dies(session, action, **kwargs):  # the last write before the commit
        if action == "online.issue":
            raise Crash("killed")
        return real(session, action, **kwargs)

    monkeypatch.setattr(evaluators.audit, "record", dies)
    submitted = tasks.issue_accounts_job(db, online, PUBLIC_URL, "admin")
    db.commit()
    assert jobs.execute(app, submitted.id) is JobStatus.failed
    assert db.get(OnlineRound, online.id).status is RoundStatus.draft
    assert count(db, OutboxMessage) == 0 and count(db, Evaluator, Evaluator.password_hash.is_not(None)) == 0
    monkeypatch.setattr(evaluators.audit, "record", real)
    retried = tasks.issue_accounts_job(db, online, PUBLIC_URL, "admin")  # the key is free again
    db.commit()
    assert retried.id != submitted.id and jobs.execute(app, retried.id) is JobStatus.done
    assert count(db, OutboxMessage) == 20 and audits(db, "online.issue") == 1


def test_a_second_click_while_issuing_finds_the_same_job(app, db, campaign):
    online = pooled_round(db, campaign, reps=2)
    first = tasks.issue_accounts_job(db, online, PUBLIC_URL, "admin")
    db.commit()
    assert tasks.issue_accounts_job(db, online, PUBLIC_URL, "admin").id == first.id


def test_issuing_writes_in_bulk_not_row_by_row(app, db, campaign):
    """The statements sent do not grow with the number of accounts (before: a SELECT,
    an INSERT and an UPDATE for each, and a slow hash each)."""
    online = pooled_round(db, campaign, reps=2, per_section=40)  # 2 + 4 evaluators

    def statements() -> int:
        sent: list[str] = []

        def seen(conn, cursor, statement, *args):
            sent.append(statement)

        engine = db.get_bind()
        event.listen(engine, "before_cursor_execute", seen)
        try:
            issued = evaluators.issue_accounts(db, db.get(OnlineRound, online.id), wording(app, PUBLIC_URL))
        finally:
            event.remove(engine, "before_cursor_execute", seen)
        db.commit()
        return issued, len(sent)

    first = statements()
    evaluators.import_representatives(db, online, csv_of(reps_frame(33, start=2)), "more.csv")
    evaluators.sample_service_objects(db, online)
    db.commit()
    second = statements()  # a top-up of 33 + 61
    assert first[0] == 6 and second[0] == 94 and first[1] == second[1] < 20


def test_accounts_hashed_before_the_keyed_hash_still_log_in(app, db, campaign):
    """An account whose password was hashed with scrypt (before the keyed hash) still
    logs in with it; a new password is stored with the keyed hash."""
    from werkzeug.security import generate_password_hash

    online = pooled_round(db, campaign, reps=2)
    secrets = issue(app, db, online)
    evaluator = pool_of(db, online)[0]
    assert evaluator.password_hash.startswith("hmac-sha256$")
    evaluator.password_hash = generate_password_hash(secrets[evaluator.login], method=evaluators.PASSWORD_METHOD)
    db.commit()
    assert evaluators.authenticate(db, evaluator.login, secrets[evaluator.login]).id == evaluator.id
    with pytest.raises(evaluators.LoginFailedError):
        evaluators.authenticate(db, evaluator.login, "ABCDEFGHJK")


# ---- the Excel report -----------------------------------------------------------------------


def test_the_excel_report_is_made_by_a_job_and_downloaded_from_its_page(admin_client, app, db, year):
    # The old address leads to the report's page; GET makes nothing.
    old = admin_client.get("/office/scores/report.xlsx")
    assert old.status_code == 303 and old.headers["Location"].endswith("/office/scores/report")
    page = admin_client.get("/office/scores/report").get_data(as_text=True)
    assert "还没有生成过报告" in page and count(db, Job) == 0
    job_id = job_id_of(admin_client.post("/office/scores/report"))
    made = the_job(db, job_id)
    assert (made.kind, made.status, made.campaign_id) == ("report", JobStatus.done, year.id)
    page = admin_client.get(f"/office/jobs/{job_id}").get_data(as_text=True)
    assert "已生成 2021 年度评议结果 Excel 报告" in page and f"/office/jobs/{job_id}/file" in page
    download = admin_client.get(f"/office/jobs/{job_id}/file")
    assert download.status_code == 200 and download.headers["Cache-Control"] == "no-store"
    assert download.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in download.headers["Content-Disposition"]
    book = openpyxl.load_workbook(io.BytesIO(download.data), read_only=True)
    assert book.sheetnames[: len(SHEETS)] == list(SHEETS)
    assert f"/office/jobs/{job_id}/file" in admin_client.get("/office/scores/report").get_data(as_text=True)
    # The job list does not load the file; the page of a job with none has no link.
    assert admin_client.get("/office/jobs/").status_code == 200


def test_only_the_latest_report_is_kept(admin_client, app, db, year):
    first = job_id_of(admin_client.post("/office/scores/report"))
    second = job_id_of(admin_client.post("/office/scores/report"))
    assert first != second
    assert admin_client.get(f"/office/jobs/{first}/file").status_code == 404
    assert "已被之后生成的一份取代" in admin_client.get(f"/office/jobs/{first}").get_data(as_text=True)
    assert admin_client.get(f"/office/jobs/{second}/file").status_code == 200
    # Run again by a worker taking over: the same one report, nothing else written.
    result = tasks.make_report(app, {"campaign_id": year.id, "actor": "admin"}, Progress())
    assert result["file"]["name"] == "评议结果-2021.xlsx" and count(db, Job) == 2


def test_a_report_is_for_the_review_office_only(client, app, db, year):
    submitted = tasks.report_job(db, year, "admin")
    db.commit()
    jobs.execute(app, submitted.id)
    path = f"/office/jobs/{submitted.id}/file"
    assert client.get(path).status_code == 302  # to the staff login
    assert client.post("/office/scores/report").status_code == 302
    unit = db.scalar(select(Unit).where(Unit.name == "县公安局"))
    users.create_user(db, "liaison", PASSWORD, Role.liaison, unit)
    users.create_user(db, "auditor", PASSWORD, Role.auditor)
    db.commit()
    login(client, "liaison")
    assert client.get(path).status_code == 403 and client.post("/office/scores/report").status_code == 403
    client.post("/logout")
    login(client, "auditor")
    assert client.get(path).status_code == 200


# ---- retention --------------------------------------------------------------------------------


@pytest.fixture
def finished(app, db, campaign):
    """An online round with its accounts sent, its lists published 200 days ago."""
    online = pooled_round(db, campaign, reps=7)
    issue(app, db, online)
    online = db.get(OnlineRound, online.id)
    online.status, online.published_at = RoundStatus.closed, utcnow() - timedelta(days=200)
    db.commit()
    return online


def test_the_retention_command_runs_a_job(runner, db, finished):
    done = runner.invoke(args=["retention", "erase", "--yes"])
    assert done.exit_code == 0, done.output
    assert "已删除 2021 年度的个人信息：服务对象" in done.output
    job = db.scalar(select(Job))
    assert (job.kind, job.status, job.created_by) == ("retention_erase", JobStatus.done, "cli")
    assert job.done == job.total > 0 and job.result["counts"]["evaluators"] == 20
    assert count(db, ServiceObject, ServiceObject.phone_hash.is_not(None)) == 0
    assert "没有到期的年度" in runner.invoke(args=["retention", "erase", "--yes"]).output


def test_a_retention_job_run_again_after_its_commit_finds_its_work_done(app, db, finished):
    params = {"campaign_id": finished.campaign_id, "actor": "cli"}
    first = tasks.retention_erase(app, params, Progress())
    again = tasks.retention_erase(app, params, Progress())
    assert first["counts"]["evaluators"] == 20 and again["counts"] == {} and "已于" in again["message"]
    assert audits(db, "retention.erase") == 1


def test_a_retention_job_cut_short_before_its_commit_erases_nothing(app, db, finished, monkeypatch):
    real = audit.record

    def dies(session, action, **kwargs):
        if action == "retention.erase":
            raise Crash("killed")
        return real(session, action, **kwargs)

    monkeypatch.setattr(retention.audit, "record", dies)
    due = next(d for d in retention.campaigns_due(db, 180) if d.campaign.id == finished.campaign_id)
    submitted = tasks.retention_erase_job(db, due, "cli")
    db.commit()
    assert jobs.execute(app, submitted.id) is JobStatus.failed
    assert count(db, ServiceObject, ServiceObject.phone_hash.is_(None)) == 0
    assert db.get(Campaign, finished.campaign_id).personal_data_erased_at is None
    monkeypatch.setattr(retention.audit, "record", real)
    retried = tasks.retention_erase_job(db, due, "cli")
    db.commit()
    assert jobs.execute(app, retried.id) is JobStatus.done
    assert count(db, ServiceObject, ServiceObject.phone_hash.is_not(None)) == 0 and audits(db, "retention.erase") == 1


def test_a_campaign_not_due_gets_no_retention_job(db, finished):
    due = next(d for d in retention.campaigns_due(db, 365) if d.campaign.id == finished.campaign_id)
    with pytest.raises(DomainError, match="不能删除"):
        tasks.retention_erase_job(db, due, "cli")
