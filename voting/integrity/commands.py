"""`pingyi integrity check --campaign YEAR`: the list-integrity checks (voting/integrity)
as the same background job the page submits, run here with a progress bar."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from voting.core.commands import domain_errors, run_job_here
from voting.core.db import get_session
from voting.lists import campaigns

integrity_group = AppGroup("integrity", help="名单真实性检查：工作人员号码、重复号码、沿用去年名单、连号、同名、集中作答（只提示，不改变评分）。")


@integrity_group.command("check")
@click.option("--campaign", "year", type=int, help="评议年度，默认最近的年度")
@domain_errors
def integrity_check(year: int | None) -> None:
    """运行名单真实性检查并更新核查提示（在这里前台运行并显示进度）；结果在“名单核查”页查看。"""
    from voting.tasks import integrity_check_job

    session = get_session()
    campaign = campaigns.get_campaign(session, year)
    job = integrity_check_job(session, campaign, "cli")
    session.commit()
    run_job_here(job.id, unit="步")


COMMANDS = (integrity_group,)
