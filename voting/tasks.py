"""The kinds of background job (voting/jobs/jobs.py): each opens its own session, calls the
services, commits once, and returns what the job's page shows. Each is restartable: a
worker killed before the commit left nothing, and one killed after it finds its work
done and says so.

The web views and the CLI submit these jobs; the CLI can also run one in the
foreground with a progress bar (`pingyi rounds open`, `pingyi retention erase`). A job
that makes a file (the Excel report) keeps it in its result, for its page to offer.
"""
from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import func, select, update

from voting.core.errors import DomainError
from voting.jobs.jobs import Progress, kind, later, submit, sweep, task
from voting.survey.links import link_tokens, wording
from voting.survey.models import Invitation, RoundStatus, SurveyRound
from voting.core.models import utcnow
from voting.online import ballots
from voting.survey import rounds, votes

OPEN_ROUND = "open_round"
MOVE_BALLOTS = "move_ballots"


def open_round_job(session, survey: SurveyRound, public_url: str | None, actor: str):
    """Submit the opening of `survey` (in the caller's transaction): the job, or the one
    already under way for this round. A round no longer a draft is refused at once."""
    if survey.status is not RoundStatus.draft:
        raise DomainError(f"{survey.kind.value} 轮调查已{survey.status.label}，不能再次开始")
    return submit(session, OPEN_ROUND, {"round_id": survey.id, "public_url": public_url, "actor": actor},
                  title=f"{survey.campaign.year} 年度 {survey.kind.value} 轮调查：抽样并写入邀请短信",
                  key=f"{OPEN_ROUND}:{survey.id}", campaign_id=survey.campaign_id, actor=actor)


@kind(OPEN_ROUND)
def open_round(app: Flask, params: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """Sample, invite and write every SMS to the outbox, and audit it (rounds.open_round): one
    transaction."""
    with app.extensions["pingyi.sessions"]() as session:
        survey = session.get(SurveyRound, int(params["round_id"]))
        if survey is None:
            raise DomainError("没有这个调查轮次（可能已被删除）")
        if survey.status is not RoundStatus.draft:
            # An earlier attempt committed and its worker died before recording the end.
            invited = session.scalar(select(func.count()).select_from(Invitation)
                                     .where(Invitation.round_id == survey.id))
            if survey.status is RoundStatus.open and invited:
                progress(done=invited, total=invited, stage="已完成")
                return {"invitations": invited, "message": f"本轮调查已开始：共 {invited} 份邀请，短信已写入发件箱。"}
            raise DomainError(f"{survey.kind.value} 轮调查已{survey.status.label}，不能再次开始")
        summary = rounds.open_round(session, survey.campaign, survey, link_tokens(app),
                                    wording(app, params.get("public_url")), progress=progress,
                                    actor=params.get("actor") or "system")  # audited by the service
        session.commit()
    message = f"已开始：{summary.sections} 个科室共 {summary.invitations} 份邀请，短信已写入发件箱，由发送进程发出。"
    return {"invitations": summary.invitations, "sections": summary.sections, "message": message,
            "without_list": summary.without_list, "round_id": int(params["round_id"])}


# ---- lists that come in while a round is open ------------------------------------------

INVITE_LATE = "invite_late"


@task(INVITE_LATE)
def invite_late(app: Flask, round_id: int) -> None:
    """Invite the sections whose list came in after `round_id` opened (rounds.invite_late,
    which audits it): one transaction. Queued by the list upload; the sweep catches up."""
    with app.extensions["pingyi.sessions"]() as session:
        survey = session.get(SurveyRound, int(round_id))
        if survey is None or not votes.is_open(survey):
            return
        rounds.invite_late(session, survey.campaign, survey, link_tokens(app), wording(app, survey.link_base))
        session.commit()


@sweep
def late_lists_and_ended_rounds(app: Flask) -> None:
    """Every minute: invite late lists whose task was lost; void the waiting messages of
    rounds past their closing time that nobody closed."""
    with app.extensions["pingyi.sessions"]() as session:
        due = rounds.rounds_with_late_lists(session)
        rounds.void_ended(session)
        session.commit()
    for round_id in due:
        invite_late(app, round_id)


# ---- the office's deadlines ----------------------------------------------------------------


def login_url(app: Flask, fallback_url: str | None = None) -> str:
    """The staff login page at the platform's public address (what a reminder links)."""
    return wording(app, fallback_url).link_base + "/login"


@sweep
def deadline_reminders(app: Flask) -> None:
    """Every minute: the automatic reminder of each deadline whose day has come, once
    (deadlines.remind_automatically), one transaction per deadline."""
    from voting.deadlines import deadlines

    sessions = app.extensions["pingyi.sessions"]
    today = deadlines.local_today(app.config["TIMEZONE"], utcnow())
    with sessions() as session:
        due = deadlines.due_automatic(session, today)
    for deadline_id in due:
        with sessions() as session:
            deadlines.remind_automatically(session, deadline_id, today=today, sign=app.config["SMS_SIGN"],
                                           login_url=login_url(app))
            session.commit()


# ---- the ballot box ---------------------------------------------------------------------


@task(MOVE_BALLOTS)
def move_ballots(app: Flask, round_id: int) -> None:
    """Move the round's sealed ballots into the ballot box once BATCH or more wait
    (ballots.move_pending): queued by the ballot page, one transaction."""
    with app.extensions["pingyi.sessions"]() as session:
        ballots.move_pending(session, int(round_id))
        session.commit()


@sweep
def move_waiting_ballots(app: Flask) -> None:
    """Every minute: the moves whose message was lost, or that no worker took."""
    with app.extensions["pingyi.sessions"]() as session:
        due = ballots.rounds_to_move(session)
    for round_id in due:
        move_ballots(app, round_id)


# ---- the online round's accounts --------------------------------------------------------

ISSUE_ACCOUNTS = "issue_accounts"


def issue_accounts_job(session, online, public_url: str | None, actor: str):
    """Submit the issuing of the online round's accounts (in the caller's transaction):
    the job, or the one already under way for this round. Nothing to issue (everyone
    has an account, an empty pool, the round over) is refused at once."""
    from voting.online import evaluators

    waiting = evaluators.check_issuable(session, online)
    return submit(session, ISSUE_ACCOUNTS, {"round_id": online.id, "public_url": public_url, "actor": actor},
                  title=f"{online.campaign.year} 年度网络评价：为 {waiting} 位评价人生成账号并写入短信",
                  key=f"{ISSUE_ACCOUNTS}:{online.id}", campaign_id=online.campaign_id, actor=actor)


@kind(ISSUE_ACCOUNTS)
def issue_accounts(app: Flask, params: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """Every waiting evaluator's account and SMS, the round open, the audit entry: one
    transaction (evaluators.issue_accounts)."""
    from voting.online.models import Evaluator, OnlineRound
    from voting.online import evaluators

    with app.extensions["pingyi.sessions"]() as session:
        online = session.get(OnlineRound, int(params["round_id"]))
        if online is None:
            raise DomainError("没有这个网络评价（可能已被删除）")
        if online.status is RoundStatus.open and not evaluators.waiting_accounts(session, online):
            # An earlier attempt committed and its worker died before recording the end.
            issued = session.scalar(select(func.count()).select_from(Evaluator)
                                    .where(Evaluator.round_id == online.id, Evaluator.message_id.is_not(None)))
            progress(done=issued, total=issued, stage="已完成")
            return {"accounts": 0, "round_id": online.id,
                    "message": f"每位评价人都已有账号：共 {issued} 位，账号短信已写入发件箱；网络评价已开始。"}
        sent = evaluators.issue_accounts(session, online, wording(app, params.get("public_url")),
                                         actor=params.get("actor") or "system", progress=progress)
        session.commit()
    return {"accounts": sent, "round_id": int(params["round_id"]),
            "message": f"已为 {sent} 位评价人生成账号和一次性密码，短信已写入发件箱，由发送进程发出；网络评价已开始。"}


# ---- the Excel report ---------------------------------------------------------------------

REPORT = "report"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SUPERSEDED = "这份报告已被之后生成的一份取代，文件已删除：请打开最新的报告，或重新生成。"


def report_job(session, campaign, actor: str):
    """Submit the campaign's Excel report (in the caller's transaction): the job, or the
    one already under way for this campaign (a second click makes no second report)."""
    return submit(session, REPORT, {"campaign_id": campaign.id, "actor": actor},
                  title=f"{campaign.year} 年度评议结果 Excel 报告", key=f"{REPORT}:{campaign.id}",
                  campaign_id=campaign.id, actor=actor)


@kind(REPORT)
def make_report(app: Flask, params: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """Score the campaign as it stands and write its Excel report (services.report),
    kept in the job's result (base64), so that every web server finds it whichever
    worker made it; the page of the job offers it to the review office (views.jobs).
    Only the latest report of a campaign is kept: the earlier ones' files are dropped
    in the same transaction. Nothing else is written, so a restart simply makes it
    again."""
    import base64
    import io

    from voting.lists.models import Campaign
    from voting.jobs.models import Job, JobStatus
    from voting.scores import scorecards
    from voting.scores.report import write_report

    with app.extensions["pingyi.sessions"]() as session:
        campaign = session.get(Campaign, int(params["campaign_id"]))
        if campaign is None:
            raise DomainError("没有这个评议活动（可能已被删除）")
        progress(done=0, total=2, stage="评分")
        card = scorecards.campaign_scorecard(session, campaign)
        progress(done=1, stage="写入 Excel")
        buffer = io.BytesIO()
        write_report(card, buffer)
        progress(done=2, stage="保存")
        session.execute(update(Job).where(Job.kind == REPORT, Job.campaign_id == campaign.id,
                                          Job.status == JobStatus.done).values(result={"message": SUPERSEDED}))
        session.commit()
        year, sections = campaign.year, len(card.sections)
    data = buffer.getvalue()
    return {"campaign_id": int(params["campaign_id"]),
            "message": f"已生成 {year} 年度评议结果 Excel 报告（{sections} 个科室，按生成时的数据），请下载。",
            "file": {"name": f"评议结果-{year}.xlsx", "mimetype": XLSX, "size": len(data),
                     "data": base64.b64encode(data).decode("ascii")}}


# ---- retention -----------------------------------------------------------------------------

RETENTION_ERASE = "retention_erase"


def retention_erase_job(session, due, actor: str, now=None):
    """Submit the erasing of a campaign's personal data (in the caller's transaction;
    `due`: retention.campaigns_due's entry for it): the job, or the one under way. A
    campaign not due is refused at once."""
    from voting.core.models import utcnow

    now = now or utcnow()
    if not due.is_due(now):
        raise DomainError(f"{due.campaign.year} 年度不能删除：{due.state(now)}")
    campaign = due.campaign
    return submit(session, RETENTION_ERASE, {"campaign_id": campaign.id, "actor": actor},
                  title=f"{campaign.year} 年度：按保存期限删除个人信息", key=f"{RETENTION_ERASE}:{campaign.id}",
                  campaign_id=campaign.id, actor=actor)


@kind(RETENTION_ERASE)
def retention_erase(app: Flask, params: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """Blank the campaign's personal data and audit it: one transaction (retention.erase)."""
    from voting.lists.models import Campaign
    from voting.office import retention

    with app.extensions["pingyi.sessions"]() as session:
        campaign = session.get(Campaign, int(params["campaign_id"]))
        if campaign is None:
            raise DomainError("没有这个评议活动（可能已被删除）")
        if campaign.personal_data_erased_at is not None:
            # Done already: by an earlier attempt whose worker died before recording the end.
            progress(stage="已完成")
            return {"campaign_id": campaign.id, "counts": {},
                    "message": f"{campaign.year} 年度的个人信息已于 {campaign.personal_data_erased_at:%Y-%m-%d} 删除。"}
        erased = retention.erase(session, campaign, actor=params.get("actor") or "system", progress=progress)
        session.commit()
    counts = ",".join(f"{retention.STEP_LABELS[k]} {v}" for k, v in erased.counts.items())
    return {"campaign_id": int(params["campaign_id"]), "counts": erased.counts,
            "message": f"已删除 {erased.year} 年度的个人信息：{counts}。"}


# ---- service-object lists ---------------------------------------------------------------

IMPORT_OBJECTS = "import_objects"
SHOWN_ERRORS = 5000  # a refused file's bad rows kept on its job (the upload page shows as many)


def import_objects_job(session, campaign, round_kind, filename: str, *, upload: str | None = None,
                       path: str | None = None, section_id: int | None = None, unit_id: int | None = None,
                       all_penalized_reported: bool = False, uploaded_by_id: int | None = None, actor: str = ""):
    """Submit the import of a service-object file (in the caller's transaction): a big
    upload saved by voting/core/uploads.py (`upload`, removed when the job ends), or a file
    of the command line's (`path`, left alone)."""
    import uuid

    marker = upload or f"cli-{uuid.uuid4().hex}"
    params = {"upload": upload, "path": path, "marker": marker, "filename": filename, "campaign_id": campaign.id,
              "round": round_kind.value, "section_id": section_id, "unit_id": unit_id,
              "all_penalized_reported": bool(all_penalized_reported), "uploaded_by_id": uploaded_by_id,
              "actor": actor}
    return submit(session, IMPORT_OBJECTS, params,
                  title=f"{campaign.year} 年度 {round_kind.value} 轮服务对象名单导入：{filename}"[:200],
                  key=f"{IMPORT_OBJECTS}:{marker}"[:64], campaign_id=campaign.id, actor=actor)


def _objects_result(found) -> dict[str, Any]:  # an ObjectImport
    message = f"已导入 {found.filename}：读取 {found.rows_read} 行，保存 {found.stored} 人，重复 {found.duplicates} 行。"
    return {"message": message, "import_id": found.id, "rows_read": found.rows_read, "stored": found.stored,
            "duplicates": found.duplicates}


@kind(IMPORT_OBJECTS)
def import_objects(app: Flask, params: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """Read, check and store the file (objects.import_objects, one transaction). A
    restart after the commit finds the import by its marker and reports it; a refused
    file fails the job with every bad row (up to SHOWN_ERRORS) on its page."""
    import os

    from voting.core import uploads
    from voting.core.errors import ImportRejected
    from voting.lists.models import Campaign, ObjectImport, RoundKind
    from voting.staff.models import User
    from voting.lists import objects

    upload = params.get("upload")
    try:
        with app.extensions["pingyi.sessions"]() as session:
            campaign = session.get(Campaign, int(params["campaign_id"]))
            if campaign is None:
                raise DomainError("没有这个评议活动（可能已被删除）")
            done = objects.import_of_upload(session, campaign, params["marker"])
            if done is None:
                path = uploads.path_of(app, upload) if upload else params["path"]
                if not path or not os.path.isfile(path):
                    raise DomainError("上传的文件已不在服务器上（可能已超过保存期限），请重新上传。")
                user_id = params.get("uploaded_by_id")
                try:
                    summary = objects.import_objects(
                        session, campaign, RoundKind(params["round"]), path, params["filename"],
                        section_id=params.get("section_id"), unit_id=params.get("unit_id"),
                        all_penalized_reported=bool(params.get("all_penalized_reported")),
                        uploaded_by=session.get(User, user_id) if user_id else None,
                        progress=progress, actor=params.get("actor") or "system", upload=params["marker"],
                    )
                except ImportRejected as error:
                    rows = [{"row": int(e.row), "column": e.column, "reason": e.reason} for e in error.errors]
                    error.job_result = {"errors": rows[:SHOWN_ERRORS], "errors_left": max(0, len(rows) - SHOWN_ERRORS),
                                        "filename": error.filename}
                    raise
                session.commit()
                if summary.late_round_id is not None:
                    later(app, INVITE_LATE, round_id=summary.late_round_id)
                done = session.get(ObjectImport, summary.import_id)
            progress(stage="已完成")
            result = _objects_result(done)
    except Exception:
        if upload:
            uploads.discard(app, upload)
        raise
    if upload:  # not on a killed worker (nor a stopped one): the restart needs the file
        uploads.discard(app, upload)
    return result


# ---- list integrity ---------------------------------------------------------------------

INTEGRITY_CHECK = "integrity_check"


def integrity_check_job(session, campaign, actor: str):
    """Submit the list-integrity checks of `campaign` (in the caller's transaction): the
    job, or the one already under way for this campaign."""
    return submit(session, INTEGRITY_CHECK, {"campaign_id": campaign.id, "actor": actor},
                  title=f"{campaign.year} 年度名单真实性检查", key=f"{INTEGRITY_CHECK}:{campaign.id}",
                  campaign_id=campaign.id, actor=actor)


@kind(INTEGRITY_CHECK)
def integrity_check(app: Flask, params: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """Run the checks and refresh the flags, audited: one transaction (integrity.run_checks).
    Running it again refreshes the same flags, so a restart needs no care."""
    from voting.integrity import integrity
    from voting.lists.models import Campaign

    with app.extensions["pingyi.sessions"]() as session:
        campaign = session.get(Campaign, int(params["campaign_id"]))
        if campaign is None:
            raise DomainError("没有这个评议活动（可能已被删除）")
        checked = integrity.run_checks(session, campaign, actor=params.get("actor") or "system", progress=progress)
        session.commit()
    message = (f"检查完成：发现 {checked.found} 条提示（新增 {checked.new} 条，更新 {checked.refreshed} 条，"
               f"已有结论且证据未变 {checked.kept} 条，证据变化、重新待核查 {checked.reopened} 条）。")
    return {"campaign_id": int(params["campaign_id"]), "message": message, **checked.as_detail()}
