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
@click.option("--parallel", type=click.IntRange(1, 32), help="同时向服务商发出的请求数（默认取设置 SMS_PARALLEL）")
@click.option("--forever", is_flag=True, help="发完后继续等待新短信（否则发完即退出）")
@click.option("--name", help="发送进程名称（默认 主机名:进程号）")
@with_appcontext
def sms_dispatch(rate: float | None, batch: int, lease: float | None, parallel: int | None, forever: bool,
                 name: str | None) -> None:
    """发送发件箱中到期的短信：失败的暂时性错误按退避重试，永久性错误不重试；可同时运行多个。"""
    import os
    import socket
    from datetime import timedelta

    from voting import sms_sender
    from voting.outbox.outbox import DispatchSettings, dispatch, pending_count

    app = current_app._get_current_object()
    settings = DispatchSettings.from_config(
        app.config, rate=rate, batch=batch, lease=timedelta(seconds=lease) if lease is not None else None,
        parallel=parallel,
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


@sms_group.command("pull")
@click.option("--after", type=int, default=15, show_default=True,
              help="阿里云：发送多少分钟后仍无回执的短信才逐条查询")
@with_appcontext
def sms_pull(after: int) -> None:
    """取回服务商未推送到的送达回执和市民回复（推送是主要方式，此命令由定时任务补充运行）：腾讯云用
    PullSmsSendStatus、PullSmsReplyStatus 拉取；阿里云对发送后 --after 分钟至 2 天内仍无回执的短信逐条
    QuerySendDetails（阿里云的上行回复只能推送）。"""
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from sms.senders import SendError
    from voting import sms_sender
    from voting.core.models import utcnow
    from voting.outbox import outbox
    from voting.survey import sms_replies

    app = current_app._get_current_object()
    sender = sms_sender(app)
    sessions = app.extensions["pingyi.sessions"]
    if sender.name == "tencent":
        # Tencent hands each item over once: each batch is recorded and committed at once.
        while receipts := sender.pull_receipts():
            with sessions() as session:
                found = outbox.record_receipts(session, sender.name, receipts)
                session.commit()
            click.echo(f"送达回执 {len(receipts)} 条：送达 {found.delivered}，未送达 {found.undelivered}，"
                       f"无变化 {found.unchanged}，未找到对应短信 {found.unknown}。")
        while replies := sender.pull_replies():
            with sessions() as session:
                voted = sms_replies.record_replies(session, replies)
                session.commit()
            click.echo(f"回复短信 {len(replies)} 条：计入评价 {voted.voted}，未计入 {voted.refused}。")
    elif sender.name == "aliyun":
        zone = ZoneInfo(app.config["TIMEZONE"])
        with sessions() as session:
            waiting = outbox.awaiting_receipts(session, sender.name, utcnow(), after=timedelta(minutes=after),
                                               within=timedelta(days=2))
        asked = 0
        for message in waiting:
            try:
                receipts = sender.query_receipts(message.phone, message.provider_id,
                                                 message.sent_at.astimezone(zone).date())
            except SendError as error:
                raise click.ClickException(f"查询阿里云送达回执失败（已查询 {asked} 条）：{error.reason}") from None
            asked += 1
            with sessions() as session:
                outbox.record_receipts(session, sender.name, receipts)
                session.commit()
        click.echo(f"已向阿里云查询 {asked} 条短信的送达回执。")
    else:
        click.echo(f"短信发送方式 {sender.name} 没有可拉取的回执或回复。")


@sms_group.command("test-send")
@click.argument("phone")
@click.option("--kind", type=click.Choice(["invitation", "reminder", "account", "account_reminder", "liaison",
                                           "verification", "follow_up"]),
              default="invitation", show_default=True, help="短信类别（其模板按 PINGYI_SMS_TEMPLATE_<类别> 设置）")
@with_appcontext
def sms_test_send(phone: str, kind: str) -> None:
    """向 PHONE 发送一条该类别的测试短信（示例内容），并显示服务商的答复；不经过发件箱。"""
    from sms.mainland import KIND_LABELS, SAMPLE_VALUES
    from sms.phones import PhoneError, mask_phone, normalize_phone
    from sms.senders import Message, SendError
    from voting import sms_sender

    try:
        number = normalize_phone(phone)
    except PhoneError as error:
        raise click.UsageError(f"PHONE：{error}") from None
    sender = sms_sender(current_app._get_current_object())
    text = f"【测试】{KIND_LABELS[kind]}短信测试：{SAMPLE_VALUES['unit']}{SAMPLE_VALUES['section']}"
    message = Message(to=number, template=kind, params=dict(SAMPLE_VALUES), text=text, key=f"test:{kind}")
    (outcome,) = sender.send_batch([message])
    where = f"{sender.name} → {mask_phone(number)}（{KIND_LABELS[kind]}）"
    if isinstance(outcome, SendError):
        click.echo(f"未发出：{where}：{type(outcome).__name__}：{outcome.reason}")
        raise SystemExit(1)
    click.echo(f"已交给服务商：{where}：编号 {outcome.provider_id}，状态 {outcome.status}")


COMMANDS = (sms_group,)
