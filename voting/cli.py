"""`pingyi`: the command line, over the same services as the web pages.

Each command commits once at the end; a domain error prints its Chinese message (every
bad row for a rejected file) and exits with status 1, never a stack trace.
"""
from __future__ import annotations

import contextlib
import functools
import logging
import sys
from pathlib import Path

import click
from alembic import command as alembic_command
from flask import current_app
from flask import Flask
from flask.cli import AppGroup, FlaskGroup, with_appcontext
from sqlalchemy import select
from tqdm import tqdm

from voting import create_app
from voting.checks import check_config
from voting.core.db import get_session
from voting.core.errors import DomainError, ImportRejected, NotFoundError, RowError
from voting.core.migrate import alembic_config
from voting.components.models import ComponentKind
from voting.staff.models import Role, User
from voting.lists.models import RoundKind, Unit
from voting.audit import audit
from voting.lists import campaigns, history, sections
from voting.staff import users

# Flask's own commands: listed apart, after the platform's (`pingyi --help`).
FLASK_COMMANDS = {"routes", "run", "shell", "limiter"}


class PingyiGroup(FlaskGroup):
    """`pingyi`: the platform's commands first, Flask's own (development and debugging)
    in a section of their own."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        found = [(name, self.get_command(ctx, name)) for name in self.list_commands(ctx)]
        found = [(name, command) for name, command in found if command is not None and not command.hidden]
        width = formatter.width - 6 - max((len(name) for name, _ in found), default=0)
        for title, rows in (("平台命令", [r for r in found if r[0] not in FLASK_COMMANDS]),
                            ("Flask 自带的命令（开发与排错用）", [r for r in found if r[0] in FLASK_COMMANDS])):
            if rows:
                with formatter.section(title):
                    formatter.write_dl([(name, command.get_short_help_str(width)) for name, command in rows])


cli = PingyiGroup(create_app=create_app, add_version_option=False,
                  help="千人评议平台（pingyi）。每个命令的用法：pingyi 命令 --help。")
cli.add_command(check_config)  # on the group itself: it runs when create_app refuses the configuration


def main() -> None:
    cli(prog_name="pingyi")


def init_app(app: Flask) -> None:
    """The commands live on `app.cli`, so `pingyi`, `flask --app voting` and the tests'
    CLI runner see the same ones."""
    for command in (db, campaign, import_group, users_group, bundle, sms_group, audit_group, retention_group, jobs_group,
                    rounds_group, demo, demo_year, check_config):
        app.cli.add_command(command)


def domain_errors(func):
    """Print a DomainError as the user should see it and exit 1."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except ImportRejected as error:
            click.echo(f"错误：{error}", err=True)
            _echo_rows(error)
            sys.exit(1)
        except DomainError as error:
            click.echo(f"错误：{error}", err=True)
            sys.exit(1)

    return wrapper


def _echo_rows(error: ImportRejected, indent: str = "  ") -> None:
    for row_error in error.errors:
        click.echo(f"{indent}{row_error}", err=True)


def _read(path: str) -> tuple[bytes, str]:
    file = Path(path)
    if not file.is_file():
        raise DomainError(f"找不到文件 {path}")
    return file.read_bytes(), file.name


# ---- db ----------------------------------------------------------------------------

db = AppGroup("db", help="数据库迁移（Alembic）。")


def _alembic():
    return alembic_config(current_app.config["DATABASE_URL"])


@db.command()
@click.argument("revision", default="head")
def upgrade(revision: str) -> None:
    """升级数据库结构到 REVISION（默认最新）。"""
    alembic_command.upgrade(_alembic(), revision)
    click.echo(f"数据库已升级到 {revision}。")


@db.command()
@click.argument("revision")
def downgrade(revision: str) -> None:
    """降级数据库结构到 REVISION。"""
    alembic_command.downgrade(_alembic(), revision)


@db.command()
def current() -> None:
    """显示数据库当前的版本。"""
    alembic_command.current(_alembic(), verbose=False)


@db.command()
@click.option("-m", "--message", required=True)
def revision(message: str) -> None:
    """（开发者）根据模型生成新的迁移脚本。"""
    alembic_command.revision(_alembic(), message=message, autogenerate=True)


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


year_option = click.option("--year", type=int, help="评议活动年度，默认最新的一个")


@import_group.command("sections")
@click.argument("file", type=click.Path(dir_okay=False))
@year_option
@click.option("--yes", is_flag=True, help="不询问，直接应用改动")
@domain_errors
def import_sections(file: str, year: int | None, yes: bool) -> None:
    """导入参评科室名单（整洁表格或附件1版式）。先显示改动，确认后应用。"""
    session = get_session()
    target = campaigns.get_campaign(session, year)
    data, filename = _read(file)
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
    data, filename = _read(file)
    summary = history.import_history(session, target, data, filename, actor="cli")
    session.commit()
    click.echo(f"{filename}：共 {summary.rows} 行，新增 {summary.added}，更新 {summary.updated}，未变 {summary.unchanged}。")
    for row, unit, section in summary.unmatched:
        click.echo(f"  提示：第 {row} 行“{unit} {section}”不在本年度参评科室名单中")


@import_group.command("component")
@click.argument("kind", type=click.Choice([k.value for k in ComponentKind]))
@click.argument("file", type=click.Path(dir_okay=False))
@year_option
@domain_errors
def import_component(kind: str, file: str, year: int | None) -> None:
    """导入评分数据（文件格式见 docs/rules.md §6）：votes、platform、supervisor、inspection 或 bonus。新文件替换同类旧文件的数据。"""
    from voting.components import components

    session = get_session()
    target = campaigns.get_campaign(session, year)
    data, filename = _read(file)
    summary = components.import_component(session, target, ComponentKind(kind), data, filename, actor="cli")
    session.commit()
    click.echo(f"{filename}：{ComponentKind(kind).label} 共 {summary.rows} 行，导入 {summary.stored} 行，替换原有 {summary.replaced} 行。")
    for warning in summary.warnings:
        click.echo(f"  提示：{warning}")


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
    from voting.lists.models import ObjectImport
    from voting.tasks import import_objects_job

    # The same job a big upload on the web runs, here in the foreground with a progress bar.
    job = import_objects_job(session, target, RoundKind(round_kind), path.name, path=str(path.resolve()),
                             section_id=section_id, all_penalized_reported=all_penalized_reported, actor="cli")
    session.commit()
    job = _run_job_here(job.id, unit="行")
    done = session.get(ObjectImport, (job.result or {}).get("import_id", 0))
    if done is None:
        return
    click.echo(f"读取 {done.rows_read} 行，保存 {done.stored} 人，重复 {done.duplicates} 行，拒绝 0 行。")
    for _section_id, label, count, penalized, _ in done.report.get("sections", []):
        click.echo(f"  {label}：{count} 人，处罚对象 {penalized}")
    for row, first, label in done.report.get("duplicates", []):
        click.echo(f"  重复：第 {row} 行与第 {first} 行（{label}）手机号码相同，只保存一次")


# ---- users ---------------------------------------------------------------------------

users_group = AppGroup("users", help="工作人员账号。")


@users_group.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--unit", help="单位联络员所属单位名称")
@click.option("--name", "display_name", default="", help="显示名")
@click.option("--password", help="不给出则随机生成并显示一次")
@year_option
@domain_errors
def users_create(username: str, role: str, unit: str | None, display_name: str,
                 password: str | None, year: int | None) -> None:
    """建立工作人员账号。"""
    session = get_session()
    unit_row = None
    if unit:
        target = campaigns.get_campaign(session, year)
        unit_row = session.scalar(select(Unit).where(Unit.campaign_id == target.id, Unit.name == unit))
        if unit_row is None:
            raise DomainError(f"{target.year} 年度没有单位“{unit}”")
    password = password or users.new_password()
    users.create_user(session, username, password, Role(role), unit_row, display_name)
    session.commit()
    click.echo(f"已建立 {username}（{Role(role).label}），密码：{password}")


@users_group.command("reset-2fa")
@click.argument("username")
@domain_errors
def users_reset_2fa(username: str) -> None:
    """取消账号的两步验证（手机丢失时）；下次登录只要密码，之后可重新启用。"""
    session = get_session()
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFoundError(f"没有账号 {username}")
    if not user.totp_secret:
        click.echo(f"{username} 没有启用两步验证。")
        return
    user.totp_secret = None
    user.totp_last_step = None
    session.commit()
    click.echo(f"已取消 {username} 的两步验证。")


@users_group.command("unlock")
@click.argument("username")
@domain_errors
def users_unlock(username: str) -> None:
    """解锁因连续登录失败被锁定（或需等待）的账号，失败次数清零（记入审计日志）。"""
    session = get_session()
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFoundError(f"没有账号 {username}")
    failures = user.failed_logins
    if not users.unlock(session, user, actor="cli"):
        click.echo(f"{username} 没有被锁定，无需解锁。")
        return
    session.commit()
    click.echo(f"已解锁 {username}（此前连续 {failures} 次登录失败），现在可以重新登录。")


# ---- bundle ----------------------------------------------------------------------------

bundle = AppGroup("bundle", help="离线评分：一个目录的评议数据文件（格式见 README 的 Offline scoring 一节），不需要网站和数据库。")


@bundle.command("score", with_appcontext=False)
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="输出 JSON（未取整的分数）而不是 Excel 报告")
@click.option("--year", type=int, help="评议年度（默认：history.csv 中最近年度的下一年）")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Excel 报告的路径（默认：评议结果-年度.xlsx）")
@domain_errors
def bundle_score(directory: Path, as_json: bool, year: int | None, out: Path | None) -> None:
    """给 DIRECTORY 中的评议数据评分：日常评价、候选名单、网络评价、综合评价、评议结果、单位考绩。"""
    import json

    from voting.components.bundle import BundleRejected, score_bundle, scorecard_json

    try:
        card = score_bundle(directory, year)
    except BundleRejected as error:
        # Every bad file, each with its rows: all there is to fix, in one run.
        click.echo(f"错误：{error}", err=True)
        for rejected in error.files:
            click.echo(f"  {rejected}", err=True)
            _echo_rows(rejected, "    ")
        for note in error.unchecked:
            click.echo(f"  另：{note}", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps(scorecard_json(card), ensure_ascii=False, indent=2))
        return
    from voting.scores.report import write_report

    out = out or Path(f"评议结果-{card.year}.xlsx")
    try:
        write_report(card, out)
    except OSError as error:
        raise DomainError(f"无法写入 {out}：{error.strerror or error}") from None
    for warning in card.warnings:
        click.echo(f"提示：{warning}", err=True)
    click.echo(f"已写入 {out}（{card.year} 年度，{len(card.sections)} 个科室）")


@bundle.command("example", with_appcontext=False)
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--seed", default=2021, show_default=True, type=int)
@click.option("--network/--no-network", default=True, show_default=True, help="是否包含网络评价票")
def bundle_example(directory: Path, seed: int, network: bool) -> None:
    """在 DIRECTORY 写一个示例评议数据目录：平阳 2021 年真实科室名单，合成的投票和事项。"""
    from voting.demo.synthetic import example_bundle

    directory.mkdir(parents=True, exist_ok=True)
    example_bundle(directory, seed=seed, network=network)
    click.echo(f"已写入示例目录 {directory}；评分：pingyi bundle score {directory}")


# ---- SMS ---------------------------------------------------------------------------------

sms_group = AppGroup("sms", help="短信发件箱。")


@sms_group.command("dispatch")
@click.option("--rate", type=float, help="每秒最多发送条数（默认取设置 SMS_RATE；0 为不限）")
@click.option("--batch", type=int, default=20, show_default=True, help="每次领取的条数")
@click.option("--lease", type=float, help="领取后多少秒未完成即可由其他发送进程接手（默认取设置 SMS_LEASE_SECONDS）")
@click.option("--forever", is_flag=True, help="发完后继续等待新短信（否则发完即退出）")
@click.option("--name", help="发送进程名称（默认 主机名:进程号）")
@with_appcontext
def sms_dispatch(rate: float | None, batch: int, lease: float | None, forever: bool, name: str | None) -> None:
    """发送发件箱中到期的短信：失败的暂时性错误按退避重试，永久性错误不重试；可同时运行多个。"""
    import os
    import socket
    from datetime import timedelta

    from voting import sms_sender
    from voting.outbox.outbox import DispatchSettings, dispatch, pending_count

    app = current_app._get_current_object()
    settings = DispatchSettings.from_config(
        app.config, rate=rate, batch=batch, lease=timedelta(seconds=lease) if lease is not None else None,
    )
    worker = name or f"{socket.gethostname()}:{os.getpid()}"
    sessions = app.extensions["pingyi.sessions"]
    with sessions() as session:
        total = pending_count(session)
    with tqdm(total=total, unit="条", desc="发送短信", disable=None) as bar:
        report = dispatch(sessions, sms_sender(app), worker, settings, drain=not forever, progress=bar.update)
    click.echo(
        f"已发送 {report.sent} 条，稍后重试 {report.retried} 条，失败 {report.failed} 条，"
        f"因发送时段或每日上限暂缓 {report.held} 条。"
    )


# ---- background jobs -----------------------------------------------------------------------

jobs_group = AppGroup("jobs", help="后台任务：开始调查、发放账号、生成报告等耗时较长的工作。")


@jobs_group.command("worker")
@with_appcontext
@click.option("--threads", default=2, show_default=True, type=click.IntRange(1, 32), help="同时运行的任务数")
def jobs_worker(threads: int) -> None:
    """运行后台任务进程，直到被停止（Ctrl-C 或 SIGTERM 后做完手头的任务再退出；被强行结束时，
    未完成的任务由下一个后台进程重新开始）。可在多台服务器上各运行一个。"""
    from voting.jobs.jobs import run_worker

    run_worker(current_app._get_current_object(), workers=threads)


@jobs_group.command("list")
@with_appcontext
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
def jobs_list(limit: int) -> None:
    """最近的后台任务及其状态。"""
    from voting.jobs.models import Job

    from sqlalchemy.orm import defer

    # Not their results: a report's carries its file.
    for job in get_session().scalars(select(Job).options(defer(Job.result)).order_by(Job.id.desc()).limit(limit)):
        progress = f"{job.done}/{job.total}" if job.total else ""
        click.echo(f"{job.id}\t{job.status.label}\t{progress}\t{job.title}\t{job.error}")


@contextlib.contextmanager
def _progress_bar(unit: str = "份"):  # yields a jobs.Progress
    """A terminal progress bar that follows a jobs.Progress (done of total, the stage
    as its description); hidden when the output is no terminal."""
    from voting.jobs.jobs import Progress

    with tqdm(total=0, unit=unit, desc="处理", disable=None) as bar:
        def show(progress: Progress) -> None:
            bar.total, bar.n = progress.total, progress.done
            bar.set_description(progress.stage or "处理", refresh=False)
            bar.refresh()

        yield Progress(on_change=show)


def _run_job_here(job_id: int, unit: str = "份"):  # the job's row
    """Run a submitted job in this process with a progress bar; exit 1 if it failed."""
    from voting.jobs.jobs import run_here
    from voting.jobs.models import JobStatus

    with _progress_bar(unit) as progress:
        job = run_here(current_app._get_current_object(), job_id, on_change=progress.on_change)
    if job.status is JobStatus.done:
        click.echo((job.result or {}).get("message", "已完成。"))
    elif job.status is JobStatus.failed:
        click.echo(f"错误：{job.error}", err=True)
        for row_error in (job.result or {}).get("errors", []):  # a refused file's bad rows
            click.echo(f"  {RowError(**row_error)}", err=True)
        if (job.result or {}).get("errors_left"):
            click.echo(f"  另有 {job.result['errors_left']} 处错误未列出", err=True)
        sys.exit(1)
    else:
        click.echo(f"任务 {job.id} 正由其他后台进程运行：pingyi jobs list 查看进度。")
    return job


# ---- survey rounds -----------------------------------------------------------------------

rounds_group = AppGroup("rounds", help="服务对象调查轮次。")


@rounds_group.command("open")
@with_appcontext
@click.option("--round", "round_kind", type=click.Choice([k.value for k in RoundKind]), required=True)
@click.option("--year", type=int, help="评议年度（默认：当前活动）")
@domain_errors
def rounds_open(round_kind: str, year: int | None) -> None:
    """开始一轮已建立的调查：抽样、生成邀请、写入短信发件箱（与网页上的“开始发送”是同一个后台任务，
    在这里前台运行并显示进度）。"""
    from voting.survey.models import SurveyRound
    from voting.tasks import open_round_job

    session = get_session()
    found = campaigns.get_campaign(session, year)
    survey = session.scalar(select(SurveyRound).where(SurveyRound.campaign_id == found.id,
                                                      SurveyRound.kind == RoundKind(round_kind)))
    if survey is None:
        raise NotFoundError(f"{found.year} 年度还没有 {round_kind} 轮调查：请先在网页上建立")
    job = open_round_job(session, survey, None, "cli")
    session.commit()
    _run_job_here(job.id)


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
        _run_job_here(job.id, unit="行")


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


# ---- demo ------------------------------------------------------------------------------

@click.command()
@with_appcontext
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="只准备演示数据，不启动网站")
def demo(host: str, port: int, no_serve: bool) -> None:
    """准备演示活动（2021 年平阳真实科室名单、合成的服务对象）并启动网站。"""
    from voting.demo.campaign import prepare_demo

    # The terminal shows the demo's own lines, not the libraries' (migrations, every
    # request, every job).
    for name in ("alembic", "werkzeug", "huey", "huey.consumer"):
        logging.getLogger(name).setLevel(logging.WARNING)
    alembic_command.upgrade(_alembic(), "head")
    if not current_app.config.get("PUBLIC_URL"):
        # The links and codes in the demo's messages lead to this server, its port included.
        current_app.config["PUBLIC_URL"] = f"http://{host}:{port}"
    logins = prepare_demo(get_session(), echo=click.echo)
    get_session().commit()
    click.echo("")
    click.echo(f"  网址：http://{host}:{port}/")
    for username, password, role in logins:
        click.echo(f"  {role}：用户名 {username} 密码 {password}")
    click.echo(f"  数据库：{current_app.config['DATABASE_URL']}")
    click.echo("")
    if not no_serve:
        # Not app.run(): Flask ignores it inside a CLI command.
        from werkzeug.serving import run_simple

        from voting.jobs.jobs import start_worker_thread

        app = current_app._get_current_object()
        _demo_dispatcher(app)
        start_worker_thread(app)
        click.echo("  短信：控制台发送方式，发出的短信显示在“短信发件箱”页面（演示中不限发送时段）。")
        run_simple(host, port, app, threaded=True)


@click.command("demo-year")
@with_appcontext
@click.option("--year", default=2021, show_default=True, type=int, help="模拟的评议年度")
@click.option("--seed", default=2021, show_default=True, type=int, help="随机种子：同一种子得到同样的一年")
@click.option("--database", "database_url", help="写入这个数据库（须无该年度活动）；默认新建一个临时 SQLite 文件")
@domain_errors
def demo_year(year: int, seed: int, database_url: str | None) -> None:
    """在命令行模拟完整的一年：导入名单、H1/H2 调查与模拟投票、其他评分项、候选名单、
    网络评价与模拟选票，最后打印评议结果名单。全年在一个事务中写入：中断时数据库中什么也不留。"""
    import tempfile

    from sqlalchemy.orm import sessionmaker

    from voting.core.db import make_engine
    from voting.core.migrate import upgrade
    from voting.lists.models import RESULT_LABELS, Result
    from voting.demo.simulate import simulate_year

    if database_url is None:
        folder = tempfile.mkdtemp(prefix="pingyi-demo-year-")
        database_url = f"sqlite:///{folder}/demo-year.sqlite"
    upgrade(database_url)
    engine = make_engine(database_url, current_app.config["PHONE_KEY"])
    session = sessionmaker(engine, expire_on_commit=False)()
    try:
        with _progress_bar("项") as progress:
            run = simulate_year(session, current_app._get_current_object(), year=year, seed=seed, echo=tqdm.write,
                                progress=progress)
        session.commit()
    finally:
        session.close()
        engine.dispose()
    click.echo("")
    click.echo(f"{year} 年度模拟：调查邀请 {run.invitations} 份、收回 {run.votes} 票；"
               f"网络评价 {run.evaluators} 位评价人、{run.ballots} 张选票。")
    for result in (Result.satisfied, Result.unsatisfied, Result.most_unsatisfied):
        rows = run.lists.get(result.value, [])
        click.echo(f"{RESULT_LABELS[result]}（{len(rows)} 个）：")
        for unit, section in rows:
            click.echo(f"  {unit} {section}")
    click.echo(f"数据库：{database_url}")
    click.echo(f"在网站上查看这一年：DATABASE_URL={database_url} pingyi demo")


def _demo_dispatcher(app: Flask) -> None:
    """The demo's SMS worker, in a thread beside the server: what a round sends shows on
    the outbox page within seconds, with no second command to run. Any time of day and
    no daily cap (it sends to nobody: the console sender only stores the messages)."""
    import threading
    import time as time_module
    from datetime import time

    from voting import sms_sender
    from voting.outbox.outbox import DispatchSettings, dispatch

    settings = DispatchSettings.from_config(app.config, window_start=time(0, 0), window_end=time(0, 0), daily_cap=0,
                                            campaign_limits=False)

    def work() -> None:
        while True:  # a database hiccup must not end the demo's sending for good
            try:
                dispatch(app.extensions["pingyi.sessions"], sms_sender(app), "demo", settings, drain=False)
            except Exception:
                app.logger.exception("demo SMS dispatch failed; retrying in 5 s")
                time_module.sleep(5)

    threading.Thread(target=work, name="demo-sms-dispatch", daemon=True).start()
