"""`pingyi`: the command line, over the same services as the web pages.

Each command commits once at the end; a domain error prints its Chinese message (every
bad row for a rejected file) and exits with status 1, never a stack trace.

Each package holds its own commands (its commands.py, ending with the tuple COMMANDS of
what it adds to `pingyi`); what they share is in voting/core/commands.py. This module
puts them together.
"""
from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup

from voting import create_app
from voting.checks import check_config
from voting.core import commands as core_commands
from voting.components import commands as components_commands
from voting.demo import commands as demo_commands
from voting.integrity import commands as integrity_commands
from voting.jobs import commands as jobs_commands
from voting.lists import commands as lists_commands
from voting.office import commands as office_commands
from voting.outbox import commands as outbox_commands
from voting.schemes import commands as schemes_commands
from voting.staff import commands as staff_commands
from voting.survey import commands as survey_commands

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
    for package in (core_commands, lists_commands, staff_commands, components_commands, outbox_commands,
                    office_commands, jobs_commands, survey_commands, demo_commands, schemes_commands,
                    integrity_commands):
        for command in package.COMMANDS:
            app.cli.add_command(command)
    app.cli.add_command(check_config)
