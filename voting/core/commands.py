"""What every package's `pingyi` commands share: the handling of domain errors, reading a
file, the --year option, a job run here with a progress bar; and core's own `db` group.

voting/cli.py puts the packages' commands together. The jobs package is imported inside
the functions that run a job, so that core imports no feature at module level.
"""
from __future__ import annotations

import contextlib
import functools
import sys
from pathlib import Path

import click
from alembic import command as alembic_command
from flask import current_app
from flask.cli import AppGroup
from tqdm import tqdm

from voting.core.errors import DomainError, ImportRejected, RowError
from voting.core.migrate import alembic_config


def domain_errors(func):
    """Print a DomainError as the user should see it and exit 1."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except ImportRejected as error:
            click.echo(f"错误：{error}", err=True)
            echo_rows(error)
            sys.exit(1)
        except DomainError as error:
            click.echo(f"错误：{error}", err=True)
            sys.exit(1)

    return wrapper


def echo_rows(error: ImportRejected, indent: str = "  ") -> None:
    """Print each bad row of a rejected file to stderr, one a line."""
    for row_error in error.errors:
        click.echo(f"{indent}{row_error}", err=True)


def read_file(path: str) -> tuple[bytes, str]:
    """The bytes and name of the file at `path`; a DomainError when there is none."""
    file = Path(path)
    if not file.is_file():
        raise DomainError(f"找不到文件 {path}")
    return file.read_bytes(), file.name


# The --year option of the commands that work on one campaign (default: the latest).
year_option = click.option("--year", type=int, help="评议活动年度，默认最新的一个")


@contextlib.contextmanager
def progress_bar(unit: str = "份"):  # yields a jobs.Progress
    """A terminal progress bar that follows a jobs.Progress (done of total, the stage
    as its description); hidden when the output is no terminal."""
    from voting.jobs.jobs import Progress

    with tqdm(total=0, unit=unit, desc="处理", disable=None) as bar:
        def show(progress: Progress) -> None:
            bar.total, bar.n = progress.total, progress.done
            bar.set_description(progress.stage or "处理", refresh=False)
            bar.refresh()

        yield Progress(on_change=show)


def run_job_here(job_id: int, unit: str = "份"):  # the job's row
    """Run a submitted job in this process with a progress bar; exit 1 if it failed."""
    from voting.jobs.jobs import run_here
    from voting.jobs.models import JobStatus

    with progress_bar(unit) as progress:
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


COMMANDS = (db,)
