"""The jobs' commands: `pingyi jobs` (the background worker and the list of jobs)."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from voting.core.db import get_session


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
    from voting.jobs import jobs

    for job in jobs.recent(get_session(), limit):
        progress = f"{job.done}/{job.total}" if job.total else ""
        click.echo(f"{job.id}\t{job.status.label}\t{progress}\t{job.title}\t{job.error}")


COMMANDS = (jobs_group,)
