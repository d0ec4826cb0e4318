"""`pingyi scheme`: window-performance assessments offline (docs/schemes.md): check a
scheme, score a folder of its data, reproduce a seed document's published figures."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from voting.core.commands import domain_errors, echo_rows
from voting.core.errors import DomainError

scheme_group = AppGroup("scheme", help="窗口绩效考核方案（格式见 docs/schemes.md）：检查方案、离线评分、复现示例文件的公布结果。")


def _scheme(reference: str):
    from scoring.schemes.scheme import SchemeError
    from voting.schemes.files import read_scheme

    try:
        return read_scheme(reference)
    except SchemeError as error:
        click.echo(f"错误：方案 {error.source} 有 {len(error.problems)} 处错误：", err=True)
        for line in error.lines():
            click.echo(f"  {line}", err=True)
        sys.exit(1)


def _scored(reference: str, directory: Path, period: str | None):
    """The scheme, its data from `directory`, the period and the period's result; every
    bad file listed and exit 1."""
    from scoring.schemes.engine import score
    from voting.components.bundle import BundleRejected
    from voting.schemes.files import period_label, read_data

    scheme = _scheme(reference)
    if period is not None:
        try:
            period = period_label(period)
        except ValueError as error:
            raise DomainError(str(error)) from None
    try:
        data = read_data(scheme, directory, period)
    except BundleRejected as error:
        click.echo(f"错误：{error}", err=True)
        for rejected in error.files:
            click.echo(f"  {rejected}", err=True)
            echo_rows(rejected, "    ")
        sys.exit(1)
    found = sorted(set(data.records["period"]))
    if period is None:
        if len(found) != 1:
            raise DomainError("数据中有多个期间（" + "、".join(found) + "）：请用 --period 指定一个" if found
                              else "数据中没有任何记录：请用 --period 指定期间")
        period = found[0]
    return scheme, data, period, score(scheme, data.entities, data.records, data.comparison, periods=[period])


def _score_and_print(reference: str, directory: Path, period: str | None, as_json: bool,
                     out: Path | None) -> None:
    from scoring.schemes.engine import score
    from scoring.schemes.output import as_json as result_json

    scheme, data, period, result = _scored(reference, directory, period)
    found = sorted(set(data.records["period"]))
    if as_json:
        click.echo(json.dumps(result_json(result, period), ensure_ascii=False, indent=2))
        return
    from scoring.schemes.output import period_text
    from voting.schemes.tables import write_tables

    out = out or Path(f"{scheme.name}-{period}.xlsx")
    months = score(scheme, data.entities, data.records, data.comparison) if len(found) > 1 else None
    try:
        write_tables(result, period, out, months)
    except OSError as error:
        raise DomainError(f"无法写入 {out}：{error.strerror or error}") from None
    for warning in result.warnings:
        click.echo(f"提示：{warning}", err=True)
    click.echo(f"已写入 {out}（{scheme.name}，{period_text(period)}，{len(result.table)} 个对象）")


@scheme_group.command("check", with_appcontext=False)
@click.argument("scheme")
def scheme_check(scheme: str) -> None:
    """检查方案 SCHEME（内置方案名或 YAML 文件）并列出其模块和指标。"""
    from scoring.schemes import exact
    from scoring.schemes.scheme import RULE_LABELS

    loaded = _scheme(scheme)
    click.echo(f"{loaded.name}：{len(loaded.modules)} 个模块，{len(loaded.indicators)} 项指标，没有错误。")
    for module in loaded.modules:
        most = f"（{exact.text(module.max)} 分）" if module.max is not None else ""
        click.echo(f"  {module.name}{most}")
        for indicator in module.indicators:
            most = f" {exact.text(indicator.max)} 分" if indicator.max is not None else ""
            click.echo(f"    {indicator.name}{most}：{RULE_LABELS[indicator.rule.kind]}")


@scheme_group.command("score", with_appcontext=False)
@click.argument("scheme")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--period", help="期间：2020-07（月）、2023-Q1（季度）、2021-H2（半年）或 2021（年度）")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON（总分未取整和取整），不写 Excel")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Excel 的路径（默认：方案名-期间.xlsx）")
@domain_errors
def scheme_score(scheme: str, directory: Path, period: str | None, as_json: bool, out: Path | None) -> None:
    """按方案 SCHEME（内置方案名或 YAML 文件）给 DIRECTORY 中的数据评分，写出汇总表、名次表、加减分明细、指标表和图表（Excel）。"""
    _score_and_print(scheme, directory, period, as_json, out)


@scheme_group.command("reproduce", with_appcontext=False)
@click.argument("seed", type=click.Choice(["enyang", "miyi", "jinjiang", "genhe"]))
@click.option("--json", "as_json", is_flag=True, help="输出 JSON（总分未取整和取整），不写 Excel")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Excel 的路径（默认：方案名-期间.xlsx）")
@domain_errors
def scheme_reproduce(seed: str, as_json: bool, out: Path | None) -> None:
    """用内置方案给示例文件自己的加扣分事项评分，复现其公布的得分和排名。"""
    from voting.schemes.files import builtin_folder

    _score_and_print(seed, builtin_folder() / seed, None, as_json, out)


@scheme_group.command("report", with_appcontext=False)
@click.argument("scheme")
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--period", help="期间（默认：数据中唯一的期间）")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Word 文件的路径（默认：政务服务月报-期间.docx）")
@domain_errors
def scheme_report(scheme: str, directory: Path | None, period: str | None, out: Path | None) -> None:
    """写出政务服务月报（Word）：办件情况、好差评情况、窗口考核、人员考核、工作动态和附件表格。DIRECTORY 省略时用内置方案自带的示例数据；目录中的 report.yaml 提供办公室自己写的段落。"""
    from scoring.schemes.output import period_text
    from voting.schemes.files import BUILTIN, builtin_folder
    from voting.schemes.report import read_texts, write_report

    if directory is None:
        if scheme not in BUILTIN:
            raise DomainError("请给出数据目录（只有内置方案自带示例数据）")
        directory = builtin_folder() / scheme
    loaded, data, period, result = _scored(scheme, directory, period)
    out = out or Path(f"政务服务月报-{period}.docx")
    try:
        write_report(result, period, read_texts(directory), out)
    except OSError as error:
        raise DomainError(f"无法写入 {out}：{error.strerror or error}") from None
    click.echo(f"已写入 {out}（{loaded.name}，{period_text(period)}）")


COMMANDS = (scheme_group,)
