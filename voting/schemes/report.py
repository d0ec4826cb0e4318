"""The monthly report (政务服务月报, Miyi's shape) as a Word document: its sections
一、办件情况 二、好差评情况 三、窗口（单位）考核情况 四、窗口人员考核情况 五、工作动态,
then the appendices' tables (the windows' ranking, each window's 加减分明细, the
staff's ranking). Sections 三 and 四 and the tables come from the scores; the rest is
the office's own text, from the data folder's report.yaml (the keys 期号, 编者, 日期,
办件情况, 好差评情况, 窗口考核补充, 工作动态; each a text or a list of paragraphs)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any

import yaml
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Pt

from scoring.schemes import exact
from scoring.schemes.columns import ENTITY, GROUP, INDICATOR, NOTE, ORDER, POINTS, WINDOW
from scoring.schemes.engine import FLAGS, RANK, ROUNDED, Result
from scoring.schemes.output import period_text
from voting.core.documents import official_font, ruled_table
from voting.core.errors import DomainError

REPORT_FILE = "report.yaml"
SECTIONS = ("办件情况", "好差评情况", "窗口考核补充", "工作动态")


def read_texts(folder: Path) -> dict[str, Any]:
    """The office's text of the report (report.yaml in the data folder), or none."""
    path = folder / REPORT_FILE
    if not path.is_file():
        return {}
    try:
        found = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise DomainError(f"{REPORT_FILE} 第 {mark.line + 1 if mark else 1} 行：YAML 格式错误") from None
    if not isinstance(found, dict):
        raise DomainError(f"{REPORT_FILE} 应为映射，键为 期号、编者、日期、{'、'.join(SECTIONS)}")
    return {str(key): value for key, value in found.items()}


def _paragraphs(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(item) for item in value] if isinstance(value, list) else [str(value)]


def write_report(result: Result, period: str, texts: dict[str, Any],
                 target: str | os.PathLike[str] | IO[bytes]) -> None:
    one = result.period(period)
    scheme = one.scheme
    document = Document()
    official_font(document)
    heading = document.add_paragraph()
    heading.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = heading.add_run("政务服务月报")
    run.bold, run.font.size = True, Pt(26)
    for key in ("期号", "编者", "日期"):
        if texts.get(key):
            document.add_paragraph(str(texts[key])).alignment = WD_ALIGN_PARAGRAPH.CENTER
    title = document.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    title.add_run(f"{period_text(period)}政务服务月报").bold = True

    flags = {flag.id: flag for flag in scheme.flags}
    table = one.table.sort_values([GROUP, RANK, ORDER], kind="stable")
    windows = table[table["kind"] == "window"].sort_values([RANK, ORDER], kind="stable")
    staff = table[table["kind"] == "staff"].sort_values([RANK, ORDER], kind="stable")
    window_of = dict(zip(table[ENTITY], table[WINDOW]))

    document.add_heading("一、办件情况", level=2)
    for text in _paragraphs(texts.get("办件情况")) or ["（本月办件情况由办公室填写。）"]:
        document.add_paragraph(text)
    document.add_heading("二、好差评情况", level=2)
    for text in _paragraphs(texts.get("好差评情况")) or ["（本月好差评情况由办公室填写。）"]:
        document.add_paragraph(text)
    document.add_heading("三、窗口（单位）考核情况", level=2)
    for flag in scheme.flags:
        if flag.of is not None and "window" not in flag.of:
            continue
        named = [f"{name}窗口" for name, found in zip(windows[ENTITY], windows[FLAGS]) if flag.id in found]
        if named:
            document.add_paragraph(f"经考核，{'、'.join(named)}被评为{flag.name}。")
    for text in _paragraphs(texts.get("窗口考核补充")):
        document.add_paragraph(text)
    document.add_heading("四、窗口人员考核情况", level=2)
    for flag in scheme.flags:
        if flag.of is None or "staff" not in flag.of:
            continue
        named = [f"{name}（{window_of.get(name) or '—'}）" for name, found in zip(staff[ENTITY], staff[FLAGS])
                 if flag.id in found]
        if named:
            document.add_paragraph(f"经考核，以下人员被评为{flag.name}：")
            pairs = [named[i:i + 2] for i in range(0, len(named), 2)]
            ruled_table(document, ["", ""], [pair + [""] * (2 - len(pair)) for pair in pairs])
    if any(f.skip_deducted for f in flags.values()):
        document.add_paragraph("（注：排名不分先后，当月有扣分情况的取消评优资格）")
    document.add_heading("五、工作动态", level=2)
    for number, text in enumerate(_paragraphs(texts.get("工作动态")), 1):
        document.add_paragraph(f"{number}.{text}")

    appendices = [f"{period_text(period)}常驻窗口（单位）综合考核排名表",
                  f"{period_text(period)}各窗口（单位）考核加减分明细表"]
    if not staff.empty:
        appendices.append(f"{period_text(period)}窗口工作人员综合考核排名表")
    document.add_paragraph("附件：" + "；".join(f"{n}.{name}" for n, name in enumerate(appendices, 1)))

    document.add_page_break()
    document.add_heading(f"附件1　{appendices[0]}", level=2)
    ranked = [[str(r), name, exact.text(total)] for r, name, total in
              zip(windows[RANK], windows[ENTITY], windows[ROUNDED])]
    ruled_table(document, ["名次", "窗口名称", "得分", "名次", "窗口名称", "得分"],
           [ranked[i] + (ranked[i + 1] if i + 1 < len(ranked) else ["", "", ""]) for i in range(0, len(ranked), 2)])
    document.add_heading(f"附件2　{appendices[1]}", level=2)
    indicators = {i.id: i for i in scheme.indicators}
    items = one.items
    for number, (name, total) in enumerate(zip(windows[ENTITY], windows[ROUNDED]), 1):
        document.add_paragraph(f"{number}　{name}　{exact.text(total)} 分").runs[0].bold = True
        own = items[items[ENTITY] == name]
        rows = [[indicators[i].content or indicators[i].name if i in indicators else "", note,
                 exact.text(int(points), signed=True)] for i, note, points in
                zip(own[INDICATOR], own[NOTE], own[POINTS])]
        if rows:
            ruled_table(document, ["考核内容", "加减分事由", "分值"], rows)
    if not staff.empty:
        document.add_heading(f"附件3　{appendices[2]}", level=2)
        people = [[str(r), name, window_of.get(name) or "", exact.text(total)] for r, name, total in
                  zip(staff[RANK], staff[ENTITY], staff[ROUNDED])]
        ruled_table(document, ["排名", "姓名", "单位", "得分", "排名", "姓名", "单位", "得分"],
               [people[i] + (people[i + 1] if i + 1 < len(people) else ["", "", "", ""])
                for i in range(0, len(people), 2)])
    document.save(target)

