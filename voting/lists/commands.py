"""The lists' commands: `pingyi campaign` (a year's campaign and its settings) and
`pingyi import` (the section list, past years' results, the service objects); the
components package adds `pingyi import component` to the same group."""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from voting.core.commands import domain_errors, read_file, run_job_here, year_option
from voting.core.db import get_session
from voting.core.errors import DomainError, NotFoundError
from voting.lists.models import RoundKind
from voting.lists import campaigns, history, sections


# ---- campaign ------------------------------------------------------------------------

campaign = AppGroup("campaign", help="评议活动（每年一个）。")


@campaign.command("create")
@click.argument("year", type=int)
@click.option("--name", help="活动名称，默认“YEAR年度千人评机关中层科室活动”")
@domain_errors
def campaign_create(year: int, name: str | None) -> None:
    """建立 YEAR 年度的评议活动（平阳 2021 规则为默认设置）。"""
    created = campaigns.create_campaign(get_session(), year, name)
    get_session().commit()
    click.echo(f"已建立：{created.name}")


@campaign.command("settings")
@click.argument("changes", nargs=-1, metavar="[NAME=VALUE]...")
@click.option("--year", type=int, help="评议活动年度，默认最新的一个")
@domain_errors
def campaign_settings(changes: tuple[str, ...], year: int | None) -> None:
    """显示评议活动的全部设置；给出 NAME=VALUE 时修改这些设置（如 sms_daily_cap=3）。"""
    found = campaigns.get_campaign(get_session(), year)
    if changes:
        pairs = {}
        for change in changes:
            name, sep, value = change.partition("=")
            if not sep or not name:
                raise DomainError(f"“{change}”应写成 名称=值，如 sms_daily_cap=3")
            pairs[name.strip()] = value.strip()
        campaigns.change_settings(get_session(), found, pairs, actor="cli")
        get_session().commit()
        click.echo(f"已修改 {found.year} 年度的设置：{', '.join(pairs)}")
    for name, value in found.rules.to_dict().items():
        click.echo(f"  {name} = {value}")


# ---- imports -------------------------------------------------------------------------

import_group = AppGroup("import", help="导入参评科室名单、往年结果、服务对象名单。")


@import_group.command("sections")
@click.argument("file", type=click.Path(dir_okay=False))
@year_option
@click.option("--yes", is_flag=True, help="不询问，直接应用改动")
@domain_errors
def import_sections(file: str, year: int | None, yes: bool) -> None:
    """导入参评科室名单（整洁表格或附件1版式）。先显示改动，确认后应用。"""
    session = get_session()
    target = campaigns.get_campaign(session, year)
    data, filename = read_file(file)
    listed = sections.parse_sections(data, filename)
    diff = sections.diff_sections(session, target, listed)
    click.echo(f"{filename}：{len(listed)} 个科室。")
    if diff.is_empty:
        click.echo("与现有名单完全相同，没有任何改动。")
        return
    for s in diff.added:
        click.echo(f"  + {s.unit} {s.section}{'(管理执法类)' if s.is_enforcement else ''}")
    for s in diff.removed:
        click.echo(f"  - {s.unit} {s.section}")
    for c in diff.changed:
        click.echo(f"  ~ {c.after.unit} {c.after.section}")
    click.echo(f"新增 {len(diff.added)}，删除 {len(diff.removed)}，修改 {len(diff.changed)}，不变 {diff.unchanged}。")
    if diff.objects_lost:
        click.echo(f"注意：被删除的科室已有 {diff.objects_lost} 名服务对象，将一并删除。")
    if not yes and not click.confirm("应用这些改动？", default=False):
        click.echo("未做任何改动。")
        return
    sections.apply_sections(session, target, listed, diff.fingerprint, filename=filename, actor="cli")
    session.commit()
    click.echo("已应用。")


@import_group.command("history")
@click.argument("file", type=click.Path(dir_okay=False))
@year_option
@domain_errors
def import_history(file: str, year: int | None) -> None:
    """导入往年评议结果（年度、单位名称、科室、结果）。"""
    session = get_session()
    try:
        target = campaigns.get_campaign(session, year)
    except NotFoundError:
        target = None  # history may come before the first campaign
    data, filename = read_file(file)
    summary = history.import_history(session, target, data, filename, actor="cli")
    session.commit()
    click.echo(f"{filename}：共 {summary.rows} 行，新增 {summary.added}，更新 {summary.updated}，未变 {summary.unchanged}。")
    for row, unit, section in summary.unmatched:
        click.echo(f"  提示：第 {row} 行“{unit} {section}”不在本年度参评科室名单中")


@import_group.command("objects")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--round", "round_kind", type=click.Choice([k.value for k in RoundKind]), required=True, help="轮次")
@click.option("--unit", help="单位名称（文件只含一个科室时）")
@click.option("--section", help="科室（文件只含一个科室时）")
@click.option("--all-penalized-reported", is_flag=True, help="确认管理执法类科室已全部上报处罚对象（不足 100 个时）")
@year_option
@domain_errors
def import_objects(file: str, round_kind: str, unit: str | None, section: str | None,
                   all_penalized_reported: bool, year: int | None) -> None:
    """导入服务对象名单：一个科室（--unit 和 --section）或多个（文件含单位名称和科室列）。"""
    session = get_session()
    target = campaigns.get_campaign(session, year)
    section_id = None
    if unit or section:
        if not (unit and section):
            raise DomainError("--unit 和 --section 要一起给出")
        section_id = sections.find_section_id(session, target, unit, section)
    path = Path(file)
    if not path.is_file():
        raise DomainError(f"找不到文件 {file}")
    from voting.lists import objects
    from voting.tasks import import_objects_job

    # The same job a big upload on the web runs, here in the foreground with a progress bar.
    job = import_objects_job(session, target, RoundKind(round_kind), path.name, path=str(path.resolve()),
                             section_id=section_id, all_penalized_reported=all_penalized_reported, actor="cli")
    session.commit()
    job = run_job_here(job.id, unit="行")
    done = objects.get_import(session, (job.result or {}).get("import_id", 0))
    if done is None:
        return
    click.echo(f"读取 {done.rows_read} 行，保存 {done.stored} 人，重复 {done.duplicates} 行，拒绝 0 行。")
    for _section_id, label, count, penalized, _ in done.report.get("sections", []):
        click.echo(f"  {label}：{count} 人，处罚对象 {penalized}")
    for row, first, label in done.report.get("duplicates", []):
        click.echo(f"  重复：第 {row} 行与第 {first} 行（{label}）手机号码相同，只保存一次")


COMMANDS = (campaign, import_group)
