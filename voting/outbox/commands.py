"""The outbox's commands: `pingyi sms` (sending the SMS outbox)."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from tqdm import tqdm


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


COMMANDS = (sms_group,)
