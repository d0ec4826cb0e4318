"""The staff's commands: `pingyi users` (staff accounts: create, reset 2FA, unlock)."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from voting.core.commands import domain_errors, year_option
from voting.core.db import get_session
from voting.core.errors import DomainError
from voting.staff.models import Role
from voting.lists import campaigns
from voting.staff import users


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
        unit_row = users.find_unit(session, target.id, unit)
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
    user = users.user_named(session, username)
    if not users.reset_second_factor(session, user):
        click.echo(f"{username} 没有启用两步验证。")
        return
    session.commit()
    click.echo(f"已取消 {username} 的两步验证。")


@users_group.command("unlock")
@click.argument("username")
@domain_errors
def users_unlock(username: str) -> None:
    """解锁因连续登录失败被锁定（或需等待）的账号，失败次数清零（记入审计日志）。"""
    session = get_session()
    user = users.user_named(session, username)
    failures = user.failed_logins
    if not users.unlock(session, user, actor="cli"):
        click.echo(f"{username} 没有被锁定，无需解锁。")
        return
    session.commit()
    click.echo(f"已解锁 {username}（此前连续 {failures} 次登录失败），现在可以重新登录。")


COMMANDS = (users_group,)
