"""The review office's commands: `pingyi retention` (erasing personal data when its
retention period is over) and `pingyi audit` (the audit log's hash chain, its entries, the
online ballot box)."""
from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from voting.core.commands import domain_errors, run_job_here, year_option
from voting.core.db import get_session
from voting.core.errors import DomainError, NotFoundError
from voting.audit import audit
from voting.lists import campaigns


# ---- retention ---------------------------------------------------------------------------

retention_group = AppGroup("retention", help="个人信息保存期限：结果公布满期限后，删除服务对象和评价人的个人信息，保留统计与评分。")


def _retention_days(days: int | None) -> int:
    return int(current_app.config["RETENTION_DAYS"]) if days is None else days


@retention_group.command("list")
@click.option("--days", type=click.IntRange(min=0), help="保存期限（天），默认取配置 RETENTION_DAYS")
@domain_errors
def retention_list(days: int | None) -> None:
    """列出每个年度评议活动的个人信息保存情况。"""
    from voting.core.models import utcnow
    from voting.office import retention

    now = utcnow()
    for due in retention.campaigns_due(get_session(), _retention_days(days)):
        click.echo(f"{due.campaign.year} 年度 {due.campaign.name}：{due.state(now)}")


@retention_group.command("erase")
@click.option("--days", type=click.IntRange(min=0), help="保存期限（天），默认取配置 RETENTION_DAYS")
@click.option("--year", type=int, help="只处理该年度")
@click.option("--yes", is_flag=True, help="确认删除；不加时只列出将删除哪些年度")
@domain_errors
def retention_erase(days: int | None, year: int | None, yes: bool) -> None:
    """删除已到期年度（结果公布后满保存期限）的服务对象、调查邀请、评价人和短信中的个人信息
    （姓名、手机号码、办理事项、留言、短信内容），保留投票、选票、评分和统计；不可恢复。
    每个年度一个后台任务，在这里前台运行并显示进度；中断后再运行一次即可（每个年度一次完成或完全不做）。"""
    from voting.core.models import utcnow
    from voting.office import retention

    session = get_session()
    now = utcnow()
    listed = retention.campaigns_due(session, _retention_days(days))
    if year is not None:
        listed = [d for d in listed if d.campaign.year == year]
        if not listed:
            raise NotFoundError(f"没有 {year} 年度的评议活动")
        if not listed[0].is_due(now):
            raise DomainError(f"{year} 年度不能删除：{listed[0].state(now)}")
    due = [d for d in listed if d.is_due(now)]
    if not due:
        click.echo("没有到期的年度。")
        return
    if not yes:
        for d in due:
            click.echo(f"将删除 {d.campaign.year} 年度的个人信息（结果公布于 {d.published_at:%Y-%m-%d}）")
        click.echo("确认后加 --yes 执行；删除后不可恢复。")
        return
    from voting.tasks import retention_erase_job

    for d in due:  # each year its own job, run here with a progress bar (the same job a worker would run)
        job = retention_erase_job(session, d, "cli", now=now)
        session.commit()
        run_job_here(job.id, unit="行")


# ---- audit log ---------------------------------------------------------------------------

audit_group = AppGroup("audit", help="审计：审计日志（每一项影响评分的操作，逐条以哈希相连）和网络评价票箱的核对。")


@audit_group.command("verify")
@domain_errors
def audit_verify() -> None:
    """逐条核对审计日志的哈希链；有记录被改动、删除或插入时，指出第一条出问题的记录并以状态 1 退出。"""
    result = audit.verify(get_session())
    if result.broken is not None:
        click.echo(f"审计日志已被破坏：{result.broken.message}（核对到第 {result.checked} 条时发现）", err=True)
        sys.exit(1)
    click.echo(f"审计日志完整：共 {result.checked} 条")


@audit_group.command("list")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="显示最近多少条")
@click.option("--year", type=int, help="只显示该年度评议活动的记录")
@click.option("--raw", is_flag=True, help="每条附上记录中存储的原始内容（JSON），供核对")
@domain_errors
def audit_list(limit: int, year: int | None, raw: bool) -> None:
    """显示最近的审计日志记录（新的在前），每条一句话，与审计日志页面相同。"""
    import json

    from voting.office import audit_text
    from voting.web.common import local_time  # the pages' own rendering of a time

    session = get_session()
    campaign_id = campaigns.get_campaign(session, year).id if year else None
    page = audit.entries(session, campaign_id=campaign_id, per_page=limit)
    if not page.entries:
        click.echo("审计日志中还没有记录。")
        return
    names = audit_text.look_up(session, page.entries, local_time)
    for entry in page.entries:
        click.echo(f"#{entry.id}  {local_time(entry.at)}  {audit_text.actor_label(entry.actor)}  "
                   f"{audit.action_label(entry.action)}：{audit_text.describe(entry, names)}")
        if raw:
            click.echo(f"    {entry.action}  {json.dumps(entry.detail, ensure_ascii=False, sort_keys=True)}")
    click.echo(f"共 {page.total} 条，显示最近 {len(page.entries)} 条。")


@audit_group.command("ballots")
@year_option
@domain_errors
def audit_ballots(year: int | None) -> None:
    """核对网络评价票箱：用每张选票的选择和盐值重新计算回执码，与保存的回执码比对；有选票在投入票箱后被改动过时以状态 1 退出。"""
    from voting.online import ballots, evaluators

    session = get_session()
    campaign = campaigns.get_campaign(session, year)
    found = ballots.audit_box(session, evaluators.require_round(session, campaign))
    waiting = f"另有 {found.sealed} 张选票仍加密封存、等待放入票箱，未核对。" if found.sealed else ""
    if found.altered:
        click.echo(f"{campaign.year} 年度网络评价票箱中的 {found.ballots} 张选票里，有 {found.altered} 张的选择与回执码不符："
                   f"这些选票在投入票箱后被改动过。{waiting}", err=True)
        sys.exit(1)
    if found.ballots:
        click.echo(f"{campaign.year} 年度网络评价票箱核对无误：{found.ballots} 张选票的选择都与回执码相符。{waiting}")
    else:
        click.echo(f"{campaign.year} 年度网络评价票箱中还没有选票。{waiting}")


COMMANDS = (audit_group, retention_group)
