"""The demo's commands: `pingyi demo` (a demo campaign and the website) and `pingyi
demo-year` (a whole simulated year on the command line)."""
from __future__ import annotations

import logging

import click
from alembic import command as alembic_command
from flask import current_app
from flask import Flask
from flask.cli import with_appcontext
from tqdm import tqdm

from voting.core.commands import domain_errors, progress_bar
from voting.core.db import get_session
from voting.core.migrate import alembic_config


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
    alembic_command.upgrade(alembic_config(current_app.config["DATABASE_URL"]), "head")
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
        with progress_bar("项") as progress:
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


COMMANDS = (demo, demo_year)
