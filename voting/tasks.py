"""The kinds of background job (voting/jobs.py): each opens its own session, calls the
services, commits once, and returns what the job's page shows. Each is restartable: a
worker killed before the commit left nothing, and one killed after it finds its work
done and says so.

The web views and the CLI submit these jobs; the CLI can also run one in the
foreground with a progress bar (`pingyi rounds open`).
"""
from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import func, select

from voting.errors import DomainError
from voting.jobs import Progress, kind, submit, sweep, task
from voting.links import link_tokens, wording
from voting.models import Invitation, RoundStatus, SurveyRound
from voting.services import audit, ballots, rounds

OPEN_ROUND = "open_round"
MOVE_BALLOTS = "move_ballots"


def open_round_job(session, survey: SurveyRound, public_url: str | None, actor: str):  # noqa: ANN001, ANN201
    """Submit the opening of `survey` (in the caller's transaction): the job, or the one
    already under way for this round. A round no longer a draft is refused at once."""
    if survey.status is not RoundStatus.draft:
        raise DomainError(f"{survey.kind.value} 轮调查已{survey.status.label},不能再次开始")
    return submit(session, OPEN_ROUND, {"round_id": survey.id, "public_url": public_url, "actor": actor},
                  title=f"{survey.campaign.year} 年度 {survey.kind.value} 轮调查:抽样并写入邀请短信",
                  key=f"{OPEN_ROUND}:{survey.id}", campaign_id=survey.campaign_id, actor=actor)


@kind(OPEN_ROUND)
def open_round(app: Flask, params: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """Sample, invite and write every SMS to the outbox, and audit it: one transaction."""
    with app.extensions["pingyi.sessions"]() as session:
        survey = session.get(SurveyRound, int(params["round_id"]))
        if survey is None:
            raise DomainError("没有这个调查轮次(可能已被删除)")
        if survey.status is not RoundStatus.draft:
            # An earlier attempt committed and its worker died before recording the end.
            invited = session.scalar(select(func.count()).select_from(Invitation)
                                     .where(Invitation.round_id == survey.id))
            if survey.status is RoundStatus.open and invited:
                progress(done=invited, total=invited, stage="已完成")
                return {"invitations": invited, "message": f"本轮调查已开始:共 {invited} 份邀请,短信已写入发件箱。"}
            raise DomainError(f"{survey.kind.value} 轮调查已{survey.status.label},不能再次开始")
        summary = rounds.open_round(session, survey.campaign, survey, link_tokens(app),
                                    wording(app, params.get("public_url")), progress=progress)
        audit.record(session, "round.open", actor=params.get("actor") or "system", campaign_id=survey.campaign_id,
                     detail={"round_id": survey.id, "round": survey.kind.value, "sections": summary.sections,
                             "invitations": summary.invitations,
                             "sections_without_list": len(summary.without_list)})
        session.commit()
    message = f"已开始:{summary.sections} 个科室共 {summary.invitations} 份邀请,短信已写入发件箱,由发送进程发出。"
    return {"invitations": summary.invitations, "sections": summary.sections, "message": message,
            "without_list": summary.without_list, "round_id": int(params["round_id"])}


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

