"""Background jobs (voting/jobs/jobs.py): a job is claimed by one worker, reports its
progress, ends done or failed with a Chinese message, and a worker killed at any point
leaves nothing half done: the next worker starts the job again and it finishes once."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pandas as pd
import pytest
from sqlalchemy import func, select

from voting.jobs import jobs
from voting import tasks
from voting.demo.campaign import synth_objects
from voting.core.errors import DomainError
from voting.audit.models import AuditEntry
from voting.survey.models import Invitation, RoundStatus, SurveyRound
from voting.jobs.models import Job, JobStatus
from voting.outbox.models import OutboxMessage
from voting.lists.models import RoundKind
from voting.core.models import utcnow
from voting.lists import history, objects
from voting.survey import rounds


@pytest.fixture
def calls():
    """Two kinds of job for these tests only: one that records its calls, one that fails."""
    seen: list[dict] = []

    @jobs.kind("test_record")
    def record(app, params, progress):
        progress(done=0, total=4, stage="开始")
        for _ in range(4):
            progress.advance()
        seen.append(params)
        return {"message": f"记下了 {params['n']}"}

    @jobs.kind("test_refuse")
    def refuse(app, params, progress):
        progress(done=1, total=10)
        if params.get("domain"):
            raise DomainError("名单里没有科室，无法开始")
        raise RuntimeError("boom 13812345678")

    yield seen
    for name in ("test_record", "test_refuse"):
        jobs.KINDS.pop(name)


def job(db, job_id: int) -> Job:
    db.rollback()
    db.expire_all()
    return db.get(Job, job_id)


def test_a_job_runs_once_and_reports_its_outcome(app, db, calls):
    submitted = jobs.submit(db, "test_record", {"n": 1}, title="测试", key="test:1", actor="admin")
    db.commit()
    assert jobs.execute(app, submitted.id) is JobStatus.done
    done = job(db, submitted.id)
    assert (done.status, done.done, done.total, done.attempts, done.active_key) == (JobStatus.done, 4, 4, 1, None)
    assert done.result == {"message": "记下了 1"} and done.error == "" and done.finished_at is not None
    # Ended: nobody runs it again, and its key is free for a new job.
    assert jobs.execute(app, submitted.id) is None and calls == [{"n": 1}]
    again = jobs.submit(db, "test_record", {"n": 2}, title="测试", key="test:1")
    assert again.id != submitted.id


def test_a_second_submit_finds_the_unfinished_job(app, db, calls):
    first = jobs.submit(db, "test_record", {"n": 1}, title="测试", key="test:1")
    db.commit()
    assert jobs.submit(db, "test_record", {"n": 9}, title="测试", key="test:1").id == first.id
    db.commit()
    assert db.scalar(select(func.count()).select_from(Job)) == 1


def test_failures_are_said_in_chinese_and_leave_no_key(app, db, calls):
    told = jobs.submit(db, "test_refuse", {"domain": True}, title="测试")
    crashed = jobs.submit(db, "test_refuse", {}, title="测试")
    db.commit()
    assert jobs.execute(app, told.id) is JobStatus.failed
    assert job(db, told.id).error == "名单里没有科室，无法开始"
    assert jobs.execute(app, crashed.id) is JobStatus.failed
    failed = job(db, crashed.id)
    assert failed.error == jobs.CRASHED.format(id=crashed.id) and "boom" not in failed.error
    assert failed.active_key is None and failed.done == 1


def test_a_live_job_is_not_taken_and_a_dead_one_is(app, db, calls):
    running = jobs.submit(db, "test_record", {"n": 1}, title="测试")
    db.commit()
    now = utcnow()
    running.status, running.worker, running.attempts, running.heartbeat_at = JobStatus.running, "other", 1, now
    db.commit()
    stale = app.config["JOBS_STALE_SECONDS"]
    soon = now + timedelta(seconds=stale / 2)
    assert jobs.execute(app, running.id, now=lambda: soon) is None  # its worker is alive
    assert jobs.recover(app, now=soon) == []
    later = now + timedelta(seconds=stale + 1)
    assert jobs.recover(app, now=later) == [running.id]
    assert job(db, running.id).status is JobStatus.queued
    assert jobs.execute(app, running.id) is JobStatus.done
    finished = job(db, running.id)
    assert finished.status is JobStatus.done and finished.attempts == 2 and calls == [{"n": 1}]


def test_a_job_whose_worker_keeps_dying_is_failed_not_retried_for_ever(app, db, calls):
    dying = jobs.submit(db, "test_record", {"n": 1}, title="测试")
    db.commit()
    dying.attempts = jobs.MAX_ATTEMPTS
    db.commit()
    assert jobs.execute(app, dying.id) is JobStatus.failed
    failed = job(db, dying.id)
    assert failed.error == jobs.GAVE_UP.format(n=jobs.MAX_ATTEMPTS) and calls == []


def test_the_job_page_and_its_progress(admin_client, db, calls):
    queued = jobs.submit(db, "test_record", {"n": 1}, title="测试任务", actor="admin")
    db.commit()
    page = admin_client.get(f"/office/jobs/{queued.id}").get_data(as_text=True)
    assert "排队中" in page and "job.js" in page and 'data-finished="no"' in page and "刷新本页" in page
    state = admin_client.get(f"/office/jobs/{queued.id}/progress")
    assert state.json["status"] == "queued" and state.headers["Cache-Control"] == "no-store"
    jobs.execute(admin_client.application, queued.id)
    page = admin_client.get(f"/office/jobs/{queued.id}").get_data(as_text=True)
    assert "已完成" in page and "记下了 1" in page and 'value="4"' in page
    assert admin_client.get(f"/office/jobs/{queued.id}/progress").json["finished"] is True
    assert "测试任务" in admin_client.get("/office/jobs/").get_data(as_text=True)
    assert admin_client.get("/office/jobs/999999").status_code == 404


def test_a_job_nobody_takes_says_so(admin_client, db, calls):
    waiting = jobs.submit(db, "test_record", {"n": 1}, title="测试任务")
    db.commit()
    assert 'id="job-untaken" hidden' in admin_client.get(f"/office/jobs/{waiting.id}").get_data(as_text=True)
    waiting.created_at = utcnow() - timedelta(minutes=5)  # no worker took it since
    db.commit()
    page = admin_client.get(f"/office/jobs/{waiting.id}").get_data(as_text=True)
    assert 'id="job-untaken">' in page and "pingyi jobs worker" in page
    assert "pingyi jobs worker" in admin_client.get(f"/office/jobs/{waiting.id}/progress").json["untaken"]


def test_liaisons_see_no_jobs(client, db, campaign, calls):
    from tests.conftest import PASSWORD, login
    from voting.staff.models import Role
    from voting.lists.models import Unit
    from voting.staff import users

    unit = db.scalars(select(Unit)).first()
    users.create_user(db, "liaison", PASSWORD, Role.liaison, unit=unit)
    queued = jobs.submit(db, "test_record", {"n": 1}, title="测试")
    db.commit()
    login(client, "liaison")
    assert client.get(f"/office/jobs/{queued.id}").status_code == 403
    assert client.get("/office/jobs/").status_code == 403


def test_the_command_line_opens_a_round_as_the_same_job(app, db, campaign, runner):
    objects.import_objects(db, campaign, RoundKind.H1, _one_list(db, campaign), "o.csv")
    survey = rounds.create_round(db, campaign, RoundKind.H1, utcnow() + timedelta(days=7), 3)
    db.commit()
    result = runner.invoke(args=["rounds", "open", "--round", "H1"])
    assert result.exit_code == 0, result.output
    assert "1 个科室共 3 份邀请" in result.output
    db.rollback()
    db.expire_all()
    assert db.get(SurveyRound, survey.id).status is RoundStatus.open
    opened = db.scalar(select(Job))
    assert (opened.kind, opened.status, opened.created_by) == ("open_round", JobStatus.done, "cli")
    listed = runner.invoke(args=["jobs", "list"])
    assert listed.exit_code == 0 and f"{opened.id}\t已完成" in listed.output
    # Again: refused before any job, with the reason; a round that does not exist, named.
    again = runner.invoke(args=["rounds", "open", "--round", "H1"])
    assert again.exit_code == 1 and "不能再次开始" in again.output
    missing = runner.invoke(args=["rounds", "open", "--round", "H2"])
    assert missing.exit_code == 1 and "还没有 H2 轮调查" in missing.output
    assert db.scalar(select(func.count()).select_from(Job)) == 1


def test_the_command_line_opens_the_round_set_up_again_not_the_cancelled_one(app, db, campaign, runner):
    objects.import_objects(db, campaign, RoundKind.H1, _one_list(db, campaign), "o.csv")
    cancelled = rounds.create_round(db, campaign, RoundKind.H1, utcnow() + timedelta(days=7), 3)
    rounds.cancel_round(db, cancelled, actor="test")
    again = rounds.create_round(db, campaign, RoundKind.H1, utcnow() + timedelta(days=7), 3)
    db.commit()
    result = runner.invoke(args=["rounds", "open", "--round", "H1"])
    assert result.exit_code == 0, result.output
    db.rollback()
    db.expire_all()
    assert db.get(SurveyRound, again.id).status is RoundStatus.open
    assert db.get(SurveyRound, cancelled.id).status is RoundStatus.cancelled


def _one_list(db, campaign) -> bytes:
    """The first ordinary section's H1 list of 3 objects, as a CSV file."""
    row = next(r for r in history.section_statuses(db, campaign).to_dict("records") if not r["is_enforcement"])
    part = synth_objects(random.Random(5), 3)
    part.insert(0, "科室", row["section"])
    part.insert(0, "单位名称", row["unit"])
    return part.to_csv(index=False).encode()


# ---- a real worker, killed while it opens a county-sized round --------------------------

PER_SECTION = 111  # 363 sections: 40,293 invitations


@pytest.fixture
def app_config(tmp_path):
    return {"JOBS_URL": f"sqlite:///{tmp_path / 'jobs.sqlite'}", "JOBS_HEARTBEAT_SECONDS": 0.1,
            "JOBS_STALE_SECONDS": 1}


def county_lists(db, campaign) -> int:
    """Every section's H1 list, PER_SECTION objects each; the number of them."""
    rng = random.Random(7)
    parts = []
    for row in history.section_statuses(db, campaign).to_dict("records"):
        part = synth_objects(rng, PER_SECTION, penalized=100 if row["is_enforcement"] else 0)
        part.insert(0, "科室", row["section"])
        part.insert(0, "单位名称", row["unit"])
        parts.append(part)
    frame = pd.concat(parts)
    objects.import_objects(db, campaign, RoundKind.H1, frame.to_csv(index=False).encode(), "county.csv")
    db.commit()
    return len(frame)


def start_worker(app, tmp_path, n: int) -> subprocess.Popen:
    environment = {
        **os.environ,
        "DATABASE_URL": app.config["DATABASE_URL"],
        "PINGYI_INSTANCE_PATH": app.instance_path,  # the same PHONE_KEY file as the test's app
        "FLASK_SECRET_KEY": app.config["SECRET_KEY"],
        "FLASK_JOBS_URL": app.config["JOBS_URL"],
        "FLASK_JOBS_HEARTBEAT_SECONDS": "0.1",
        "FLASK_JOBS_STALE_SECONDS": "1",
    }
    out = (tmp_path / f"worker{n}.log").open("w")
    return subprocess.Popen([sys.executable, "-c", "from voting.cli import main; main()", "jobs", "worker", "--threads", "1"],
                            env=environment, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def wait_for(db, job_id: int, share: float, worker: subprocess.Popen, attempt: int, limit: float = 300) -> Job:
    """Poll the job until its `attempt` has done `share` of the work (or the job ended)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        found = job(db, job_id)
        if found.status in (JobStatus.done, JobStatus.failed):
            return found
        if found.attempts == attempt and found.total and found.done >= share * found.total:
            return found
        assert worker.poll() is None, "the worker stopped by itself"
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} did not reach {share:.0%} in {limit} s")


def kill(worker: subprocess.Popen) -> None:
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=30)


def nothing_visible(db, survey_id: int) -> None:
    db.rollback()
    assert db.get(SurveyRound, survey_id).status is RoundStatus.draft
    assert db.scalar(select(func.count()).select_from(Invitation)) == 0
    assert db.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_a_round_opened_by_a_killed_worker_opens_once(app, db, campaign, tmp_path, database_url):
    listed = county_lists(db, campaign)
    survey = rounds.create_round(db, campaign, RoundKind.H1, utcnow() + timedelta(days=14), PER_SECTION)
    submitted = tasks.open_round_job(db, survey, "https://pingyi.example.cn", "admin")
    db.commit()
    jobs.wake(app, submitted.id)
    # Killed while it makes the rows (30 %), then while it writes them (70 %: the rows
    # are a third of the work, their two inserts the rest). SQLite locks the whole
    # database for the writes, the progress reports too, so no report comes from them
    # and its writes are over in a moment: there both kills come while the rows are
    # made, well before the writes (a kill seen at 30 % could land after a commit that
    # came within the reports' lag), and SQLite's own journal undoes a write cut short.
    shares = (0.3, 0.7) if database_url.startswith("postgresql") else (0.1, 0.2)
    workers = []
    try:
        for n, share in enumerate(shares):
            workers.append(start_worker(app, tmp_path, n))
            reached = wait_for(db, submitted.id, share, workers[-1], attempt=n + 1)
            assert reached.status is JobStatus.running and reached.attempts == n + 1, (tmp_path / f"worker{n}.log").read_text()
            kill(workers[-1])
            nothing_visible(db, survey.id)
            time.sleep(1.5)  # the heartbeat goes stale: the next worker takes the job over
        workers.append(start_worker(app, tmp_path, 2))
        finished = wait_for(db, submitted.id, 2.0, workers[-1], attempt=3)
    finally:
        for worker in workers:
            if worker.poll() is None:
                kill(worker)
    assert finished.status is JobStatus.done, finished.error
    assert finished.attempts == 3 and finished.done == finished.total == 3 * listed
    db.rollback()
    assert db.get(SurveyRound, survey.id).status is RoundStatus.open
    invited = db.execute(select(func.count(), func.count(func.distinct(Invitation.service_object_id)),
                                func.count(func.distinct(Invitation.message_id)))).one()
    assert tuple(invited) == (listed, listed, listed)
    assert db.scalar(select(func.count()).select_from(OutboxMessage)) == listed
    assert db.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "round.open")) == 1
