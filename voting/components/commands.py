"""The components' commands: `pingyi import component` (a scoring component's file, added
to the lists' import group) and `pingyi bundle` (offline scoring of a directory)."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from voting.core.commands import domain_errors, echo_rows, read_file, year_option
from voting.core.db import get_session
from voting.core.errors import DomainError
from voting.components.models import ComponentKind
from voting.lists import campaigns
from voting.lists.commands import import_group


# ---- import component ----------------------------------------------------------------

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
    data, filename = read_file(file)
    summary = components.import_component(session, target, ComponentKind(kind), data, filename, actor="cli")
    session.commit()
    click.echo(f"{filename}：{ComponentKind(kind).label} 共 {summary.rows} 行，导入 {summary.stored} 行，替换原有 {summary.replaced} 行。")
    for warning in summary.warnings:
        click.echo(f"  提示：{warning}")


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
            echo_rows(rejected, "    ")
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


# `import component` is on the lists' import group, added by the decorator above.
COMMANDS = (bundle,)
