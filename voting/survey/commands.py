"""The survey's commands: `pingyi rounds` (opening a survey round)."""
from __future__ import annotations

import click
from flask.cli import AppGroup, with_appcontext

from voting.core.commands import domain_errors, run_job_here
from voting.core.db import get_session
from voting.core.errors import NotFoundError
from voting.lists.models import RoundKind
from voting.lists import campaigns


rounds_group = AppGroup("rounds", help="服务对象调查轮次。")


@rounds_group.command("open")
@with_appcontext
@click.option("--round", "round_kind", type=click.Choice([k.value for k in RoundKind]), required=True)
@click.option("--year", type=int, help="评议年度（默认：当前活动）")
@domain_errors
def rounds_open(round_kind: str, year: int | None) -> None:
    """开始一轮已建立的调查：抽样、生成邀请、写入短信发件箱（与网页上的“开始发送”是同一个后台任务，
    在这里前台运行并显示进度）。"""
    from voting.survey import rounds
    from voting.tasks import open_round_job

    session = get_session()
    found = campaigns.get_campaign(session, year)
    survey = rounds.live_round(session, found, RoundKind(round_kind))  # not a cancelled one
    if survey is None:
        raise NotFoundError(f"{found.year} 年度还没有 {round_kind} 轮调查：请先在网页上建立")
    job = open_round_job(session, survey, None, "cli")
    session.commit()
    run_job_here(job.id)


COMMANDS = (rounds_group,)
