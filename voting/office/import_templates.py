"""The import templates (下载模板): for each file the platform imports, an .xlsx an
office fills in instead of guessing the columns.

Each template holds two sheets:

- the data sheet (first, the one the importer reads): the header row, exactly the
  importer's own column definitions (`Column.label`, imported from the service that
  reads the file, so a template cannot drift from what is accepted), bold, frozen, the
  columns sized, phone and date columns text-formatted ("@": Excel keeps 13800000000 as
  typed instead of 1.38E+10), a drop-down of the allowed values where a column has a
  short list of them, and one example row of obviously made-up data;
- 填写说明: every column (required or not, what it takes, limits, the example), and
  the file's rules, the numbers taken from the campaign's rule settings (500 service
  objects per section and round, 100 penalized, the supervisor tiers, the deduction
  ranges, the bonus and case window).

The example row is valid in every cell but starts one cell with `EXAMPLE_MARK`
(【示例】): the reader refuses a file that still holds it (voting/core/tables.py),
naming the row, so an untouched template uploaded by mistake never stores a made-up
section, service object or evaluator, nor replaces a real list with it. The round
trip (a template filled in and imported) is covered by tests/office/test_import_templates.py.

Every text cell is neutralised against formulas (`report.safe_text`) and typed a
string.
"""
from __future__ import annotations

import io
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from scoring import columns as C
from scoring import labels as L
from scoring.components import fmt
from scoring.settings import RuleSettings
from scoring.supervisor import EXCELLENT, FAIR, GOOD
from voting.online.models import EVALUATOR_KIND_LABELS
from voting.lists.models import RESULT_LABELS, Campaign
from voting.components.models import ComponentKind
from voting.components import bundle
from voting.online import evaluators
from voting.lists import history, objects, sections
from voting.components.components import FILE_COLUMNS
from voting.scores.report import safe_text
from voting.core.tables import EXAMPLE_MARK, HEADER_SEARCH_ROWS, Column

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NOTES_SHEET = "填写说明"
TEXT = "@"  # Excel's text format
REQUIRED, OPTIONAL = "必填", "可省略"

_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_EXAMPLE_FONT = Font(italic=True, color="7F7F7F")
_TITLE_FONT = Font(bold=True, size=13)
_WRAP = Alignment(wrap_text=True, vertical="top")


@dataclass
class Spec:
    """What one template holds, by the importer's column keys."""

    name: str  # its address: /office/templates/<name>.xlsx
    title: str  # the list, as the import page names it
    page: str  # where it is imported
    columns: list[Column]  # the importer's own
    example: dict[str, object]  # the example row; the first required text cell gets EXAMPLE_MARK
    rules: dict[str, str]  # what each column takes
    general: list[str]  # the file's rules
    text: frozenset[str] = frozenset()  # columns typed as text
    choices: dict[str, list[str]] = field(default_factory=dict)  # drop-down values
    need: dict[str, str] = field(default_factory=dict)  # "required?" where it depends

    @property
    def marked(self) -> str:
        """The column whose example cell carries EXAMPLE_MARK: the first required one
        holding text (the name a person overwrites first)."""
        return next(c.key for c in self.columns
                    if c.required and isinstance(self.example.get(c.key), str) and c.key not in self.text)

    def example_row(self) -> list[object]:
        marked = self.marked
        return [EXAMPLE_MARK + str(self.example[c.key]) if c.key == marked else self.example.get(c.key, "")
                for c in self.columns]


def _or(names: list[str]) -> str:
    return names[0] if len(names) == 1 else "、".join(names[:-1]) + " 或 " + names[-1]


def _labels(table: dict) -> list[str]:
    return [L.label(table, code) for code in table]


def _common() -> list[str]:
    return [
        f"第 2 行是示例（灰色斜体，以“{EXAMPLE_MARK}”开头）：请删除或直接改写为真实数据。原样留在文件中时，"
        f"导入会拒绝整个文件，并指出“这是导入模板中的示例行”。",
        "第 1 行是表头：列名请勿修改；表头上方可以加标题行（表头须在前 "
        f"{HEADER_SEARCH_ROWS} 行内），列的顺序可以调整，标“可省略”的列可以删除。",
        "数据从第 2 行起每行一条；空行会被忽略。",
        "导入时读取第一个工作表（本表“填写说明”不会被读取）；也可另存为 CSV（UTF-8 或 GBK 编码）后上传。",
        "文件中有任何一行有误，整个文件不导入，并列出每一处错误（第几行、哪一列、原因）；改正后重新上传即可。",
    ]


_PHONE_RULE = ("大陆手机号码，11 位，13–19 开头；可带 +86、空格或短横线。本列已设为文本格式，"
               "请勿改为数字格式（否则 Excel 可能显示为 1.38E+10）")
_UNIT_RULE = "与参评科室名单中的单位名称一致"
_SECTION_RULE = "与参评科室名单中的科室名称一致"
_ALLOWED = "只能填："


def _date_rule(year: int, rules: RuleSettings) -> str:
    start = f"{year - 1} 年 {rules.window_start_month} 月 {rules.window_start_day} 日"
    end = f"{year} 年 {rules.window_end_month} 月 {rules.window_end_day} 日"
    return f"如 {year}-03-15（也可写 {year}/3/15 或 {year}年3月15日）；只计 {start}至 {end}之间的事项"


# ---- one spec per file -------------------------------------------------------------------

def _sections(rules: RuleSettings, year: int) -> Spec:
    return Spec(
        "sections", "参评科室名单", "导入参评科室名单", sections.COLUMNS,
        # 类别 left empty: a row overwritten but for this cell would silently become 管理执法类.
        example={"unit_no": 1, "unit": "县示例局", "section_no": 1, "section": "示例科", "category": ""},
        rules={
            "unit_no": "正整数；同一单位各行须相同。可只在单位的第一行填写，下面留空的行沿用上一行（与附件1的合并单元格一样）",
            "unit": f"不超过 {sections.MAX_UNIT_NAME} 字；可只在单位的第一行填写，下面留空的行沿用上一行",
            "section_no": "正整数",
            "section": f"不超过 {sections.MAX_SECTION_NAME} 字；同一单位的科室不能重复",
            "category": f"留空（普通科室），或填“{sections.ENFORCEMENT[0]}”；管理执法类科室的服务对象名单须含至少 "
                        f"{rules.min_penalized_objects} 个处罚对象",
        },
        choices={"category": [sections.ENFORCEMENT[0]]},
        general=[
            f"本文件是 {year} 年度的完整名单：导入后先预览将新增、删除和修改的科室，确认后替换现有名单"
            "（已发出评价邀请的科室不能删除）。",
        ],
    )


def _history(rules: RuleSettings, year: int) -> Spec:
    results = list(RESULT_LABELS.values())
    return Spec(
        "history", "往年评议结果", "导入往年评议结果", history.COLUMNS,
        example={"year": year - 1, "unit": "县示例局", "section": "示例科", "result": results[0]},
        rules={
            "year": "2000–2100 之间的年份（也可写 2020年、2020年度）",
            "unit": _UNIT_RULE + "（不在本年度名单中的行照样保存，并提示核对名称）",
            "section": _SECTION_RULE,
            "result": _ALLOWED + _or(results),
        },
        choices={"result": results},
        general=[
            "同一年度同一科室在文件中只能有一行；再次导入时以新结果为准。",
            f"连续 {rules.exemption_years} 年为满意单位的科室本年度免评；上年度不满意单位直接进入网络评价。",
        ],
    )


def _objects(rules: RuleSettings, year: int) -> Spec:
    cap, minimum = rules.max_objects_per_section, rules.min_penalized_objects
    limits = objects.LIMITS
    return Spec(
        "objects", "服务对象名单", "上传服务对象名单", objects.COLUMNS,
        example={"unit": "县示例局", "section": "示例科", "name": "张三", "org_title": "示例商贸有限公司（法定代表人）",
                 "phone": "13800000000", "matter": "咨询价格政策", "penalized": "否"},
        rules={
            "unit": _UNIT_RULE + "；一个文件含多个科室时必填。只含一个科室时可删除“单位名称”“科室”两列，在上传页面选择科室",
            "section": _SECTION_RULE + "；一个文件含多个科室时必填（同上）。免评科室不需要报送；单位联络员只能报送本单位的科室",
            "name": f"不超过 {limits['name']} 字",
            "org_title": f"服务对象所在单位和职务，不超过 {limits['org_title']} 字",
            "phone": _PHONE_RULE + "；同一科室中同一号码只保留一次（重复的行会在导入报告中列出）",
            "matter": f"所办事项；处罚对象填处罚类案件名称。不超过 {limits['matter']} 字",
            "penalized": "是 或 否；留空按“否”",
        },
        need={"unit": "多个科室时必填", "section": "多个科室时必填"},
        text=frozenset({"phone"}),
        choices={"penalized": ["是", "否"]},
        general=[
            f"每个科室每轮最多 {cap} 人（按不同的手机号码计）；超过的文件不导入。",
            f"管理执法类科室须至少含 {minimum} 个本年被处罚的服务对象；不足 {minimum} 个的，须全部上报，"
            "并在上传页面勾选“已全部上报处罚对象”。",
            "每个文件对应一轮（H1 半年度或 H2 年终，在上传页面选择）；新上传的名单替换文件中各科室本轮原有的名单。",
        ],
    )


def _votes(rules: RuleSettings, year: int) -> Spec:
    return Spec(
        "votes", ComponentKind.votes.label, "评分数据 · " + ComponentKind.votes.label, FILE_COLUMNS[ComponentKind.votes],
        example={"unit": "县示例局", "section": "示例科", "round": L.label(L.ROUNDS, next(iter(L.ROUNDS))),
                 "satisfied": 12, "basic": 3, "unsatisfied": 1},
        rules={
            "unit": _UNIT_RULE, "section": _SECTION_RULE,
            "round": _ALLOWED + _or(_labels(L.ROUNDS)) + "（NET 为网络评价）",
            "satisfied": "票数，非负整数（没有票填 0）", "basic": "票数，非负整数（没有票填 0）",
            "unsatisfied": "票数，非负整数（没有票填 0）",
        },
        choices={"round": _labels(L.ROUNDS)},
        general=[
            "每个科室每个轮次一行。",
            "新文件替换此前导入的全部票数，以及手工录入的、与文件中同一科室同一轮次的票数；免评科室的行不导入。",
        ],
    )


def _platform(rules: RuleSettings, year: int) -> Spec:
    s = rules
    items = "；".join(f"{L.label(L.PLATFORMS, p)}：{_or([L.label(L.ITEMS, i) for i in its])}"
                     for p, its in L.PLATFORM_ITEMS.items())
    handling = L.label(L.ITEMS, C.HANDLING)
    return Spec(
        "platform", ComponentKind.platform.label, "评分数据 · " + ComponentKind.platform.label,
        FILE_COLUMNS[ComponentKind.platform],
        example={"unit": "县示例局", "section": "示例科", "platform": _labels(L.PLATFORMS)[0], "item": handling,
                 "deduction": s.handling_late, "role": _labels(L.ROLES)[0]},
        rules={
            "unit": _UNIT_RULE, "section": _SECTION_RULE,
            "platform": _ALLOWED + _or(_labels(L.PLATFORMS)),
            "item": items,
            "deduction": f"作风投诉 {fmt(s.conduct_deduction_min)}–{fmt(s.conduct_deduction_max)} 分；"
                         f"办理评价 {fmt(s.handling_late)}–{fmt(s.handling_poor_max)} 分；"
                         f"有效投诉大于 0 且不超过 {fmt(s.network_supervision_points)} 分，可不填（每件按 "
                         f"{fmt(s.network_supervision_per_complaint)} 分扣）",
            "role": f"{_or(_labels(L.ROLES))}；不填为主办。协办只用于办理评价（按 {fmt(s.cohandling_share * 100)}% 扣分）",
        },
        need={"deduction": f"{L.label(L.ITEMS, C.COMPLAINT)}以外必填"},
        choices={"platform": _labels(L.PLATFORMS), "item": _labels(L.ITEMS), "role": _labels(L.ROLES)},
        general=[
            "每次扣分一行。",
            "新文件替换此前导入的同类文件的全部数据；手工录入的保留。免评科室的行不导入。",
        ],
    )


def _supervisor(rules: RuleSettings, year: int) -> Spec:
    s = rules
    return Spec(
        "supervisor", ComponentKind.supervisor.label, "评分数据 · " + ComponentKind.supervisor.label,
        FILE_COLUMNS[ComponentKind.supervisor],
        example={"unit": "县示例局", "section": "示例科",
                 "score": round((s.supervisor_excellent_min + s.supervisor_points) / 2, 1)},
        rules={
            "unit": _UNIT_RULE, "section": _SECTION_RULE + "；每个科室一行",
            "score": f"0–{fmt(s.supervisor_points)} 分，保留一位小数：{EXCELLENT} {fmt(s.supervisor_excellent_min)}–"
                     f"{fmt(s.supervisor_points)}，{GOOD} {fmt(s.supervisor_good_min)}–{fmt(s.supervisor_good_max)}，"
                     f"{FAIR} 低于 {fmt(s.supervisor_good_min)}",
        },
        general=[
            "每个单位须评完本单位全部参评科室；一个单位有 n 个参评科室时，优秀、良好、一般每档各 ⌊n/3⌋ 或 ⌊n/3⌋+1 个"
            "（如 3 个科室：每档 1 个；4 个：每档 1 到 2 个）。不符合档次比例的，整个文件不导入。",
            "新文件替换文件中各单位原有的全部评分（包括在“主管单位评价”页面填报的）；免评科室的行不导入。",
        ],
    )


def _inspection(rules: RuleSettings, year: int) -> Spec:
    s = rules
    kinds = _labels(L.INSPECTION_KINDS)
    case = L.label(L.INSPECTION_KINDS, C.CASE)
    persons = _labels(L.PERSONS)
    return Spec(
        "inspection", ComponentKind.inspection.label, "评分数据 · " + ComponentKind.inspection.label,
        FILE_COLUMNS[ComponentKind.inspection],
        example={"unit": "县示例局", "section": "示例科", "type": case, "serious": "否", "person": persons[2],
                 "current_year": "是", "date": f"{year}-03-15"},
        rules={
            "unit": _UNIT_RULE, "section": _SECTION_RULE,
            "type": _ALLOWED + _or(kinds),
            "serious": f"是 或 否，不填为否；只用于查实问题（情节严重的扣分 × {fmt(s.inspection_serious_factor)}），"
                       f"{case}不填或填否",
            "person": f"{_or(persons)}；{case}必填，其他类型留空",
            "current_year": f"是 或 否：问题是否发生在评议年度；{case}必填，其他类型留空",
            "date": _date_rule(year, s) + f"；{case}必填（立案日期），其他类型可不填",
            # The review office's own deductions (docs/rules.md §6.8): one row per section deducted.
            "deduction": f"只用于影响评议工作（必填）：每个科室扣的分，大于 0、不超过 {fmt(s.inspection_points)}，"
                         f"最多两位小数；应报未报按规则设置每个科室扣 {fmt(s.unreported_deduction)} 分，留空；其他类型留空",
            "reason": "只用于应报未报和影响评议工作（必填，最多 300 字）；其他类型留空",
            "missing": "只用于应报未报（必填）：被发现应报未报、已补录参评的本单位科室（须在参评科室名单中）；"
                       "本单位每个参评科室各一行",
        },
        need={key: f"{case}必填" for key in ("person", "current_year", "date")},
        text=frozenset({"date"}),
        choices={"type": kinds, "serious": ["是", "否"], "person": persons, "current_year": ["是", "否"]},
        general=[
            "每件问题或案件一行。",
            "新文件替换此前导入的同类文件的全部数据；手工录入的保留。免评科室的行不导入。",
        ],
    )


def _bonus(rules: RuleSettings, year: int) -> Spec:
    s = rules
    kinds = _labels(L.BONUS_KINDS)
    levels = "；".join(f"{L.label(L.BONUS_KINDS, k)}：{_or(_labels(table))}" for k, table in L.BONUS_LEVELS.items())
    first_kind = next(iter(L.BONUS_LEVELS))
    return Spec(
        "bonus", ComponentKind.bonus.label, "评分数据 · " + ComponentKind.bonus.label, FILE_COLUMNS[ComponentKind.bonus],
        example={"unit": "县示例局", "section": "示例科", "type": L.label(L.BONUS_KINDS, first_kind),
                 "level": _labels(L.BONUS_LEVELS[first_kind])[-1], "matter": "获评示例市级文明窗口",
                 "date": f"{year}-03-15"},
        rules={
            "unit": _UNIT_RULE, "section": _SECTION_RULE,
            "type": _ALLOWED + _or(kinds),
            "level": levels,
            "matter": f"必填，不超过 {bundle.MATTER_MAX} 字；同一事项只按最高级别加分一次",
            "date": _date_rule(year, s),
        },
        text=frozenset({"date"}),
        choices={"type": kinds, "level": list(dict.fromkeys(x for t in L.BONUS_LEVELS.values() for x in _labels(t)))},
        general=[
            "每项表彰或报道一行。",
            f"加分项在 100 分之外，合计最多 {fmt(s.bonus_cap)} 分。",
            "新文件替换此前导入的同类文件的全部数据；手工录入的保留。免评科室的行不导入。",
        ],
    )


def _representatives(rules: RuleSettings, year: int) -> Spec:
    kinds = [EVALUATOR_KIND_LABELS[k] for k in evaluators.REPRESENTATIVE_KINDS]
    share = 100 * rules.evaluator_service_object_share
    return Spec(
        "representatives", "代表名单", "网络评价 · 导入代表名单", evaluators.COLUMNS,
        example={"name": "李四", "kind": kinds[0], "phone": "13900000000"},
        rules={
            "name": f"不超过 {evaluators.NAME_MAX} 字",
            "kind": _ALLOWED + _or(kinds),
            "phone": _PHONE_RULE + "；账号和密码以短信发到这个号码。文件中每个号码只能有一行，已在本轮评价人名单中的号码不能再导入",
        },
        text=frozenset({"phone"}),
        choices={"kind": kinds},
        general=[
            f"每个文件最多 {evaluators.MAX_ROWS} 行；每次导入都加入本轮评价人名单（不替换已导入的）。",
            f"评价人中服务对象占 {fmt(share)}%，代表合占 {fmt(100 - share)}%：导入代表后在网络评价页面点“抽取服务对象”补足比例。",
        ],
    )


SPECS: dict[str, Callable[[RuleSettings, int], Spec]] = {
    "sections": _sections,
    "history": _history,
    "objects": _objects,
    "votes": _votes,
    "platform": _platform,
    "inspection": _inspection,
    "bonus": _bonus,
    "supervisor": _supervisor,
    "representatives": _representatives,
}


def spec(name: str, campaign: Campaign) -> Spec:
    """The template `name` (a key of SPECS) for the campaign's year and rules."""
    return SPECS[name](campaign.rules, campaign.year)


# ---- writing ---------------------------------------------------------------------------------

def _put(sheet: Worksheet, row: int, column: int, value: object) -> Cell:
    """A cell: text neutralised against formulas and typed a string; numbers as they are."""
    cell = sheet.cell(row=row, column=column)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        cell.value = value
    else:
        cell.value = ILLEGAL_CHARACTERS_RE.sub("", safe_text(value))
        cell.data_type = "s"  # never a formula
    return cell


def _width(value: object) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in str(value))


def _data_sheet(sheet: Worksheet, template: Spec) -> None:
    example = template.example_row()
    for j, (column, value) in enumerate(zip(template.columns, example), start=1):
        letter = get_column_letter(j)
        header = _put(sheet, 1, j, column.label)
        header.font, header.fill = _HEADER_FONT, _HEADER_FILL
        header.alignment = Alignment(horizontal="center", vertical="center")
        if column.key in template.text:
            sheet.column_dimensions[letter].number_format = TEXT  # every cell typed in later, too
        if value != "":
            cell = _put(sheet, 2, j, value)
            cell.font = _EXAMPLE_FONT
            if column.key in template.text:
                cell.number_format = TEXT
        width = max(_width(column.label), _width(value), 11 if column.key in template.text else 0)
        sheet.column_dimensions[letter].width = min(max(width + 4, 10), 50)
        if column.key in template.choices:
            # A drop-down; a warning (not a stop) for other text, since the reader also
            # takes aliases (是/yes, H1/上半年).
            options = ",".join(template.choices[column.key])
            check = DataValidation(type="list", formula1=f'"{options}"', allow_blank=True, errorStyle="warning",
                                   error="不是列表中的值，请参考“填写说明”", errorTitle=column.label)
            check.add(f"{letter}2:{letter}1048576")
            sheet.add_data_validation(check)
    sheet.freeze_panes = "A2"


def _notes_sheet(sheet: Worksheet, template: Spec) -> None:
    _put(sheet, 1, 1, f"{template.title}导入模板 · 填写说明").font = _TITLE_FONT
    _put(sheet, 2, 1, f"填好后在“{template.page}”页面上传。")
    headers = ("列名", "是否必填", "填写要求", "示例", "也接受的列名")
    for j, text in enumerate(headers, start=1):
        cell = _put(sheet, 4, j, text)
        cell.font, cell.fill = _HEADER_FONT, _HEADER_FILL
    example = dict(zip((c.key for c in template.columns), template.example_row()))
    row = 5
    for column in template.columns:
        need = template.need.get(column.key) or (REQUIRED if column.required else OPTIONAL)
        values = (column.label, need, template.rules[column.key], example[column.key],
                  "、".join(column.headers[1:]))
        for j, value in enumerate(values, start=1):
            _put(sheet, row, j, value).alignment = _WRAP
        row += 1
    row += 1
    _put(sheet, row, 1, "注意事项").font = _HEADER_FONT
    for number, text in enumerate([*template.general, *_common()], start=1):
        row += 1
        _put(sheet, row, 1, f"{number}. {text}")
    for letter, width in zip("ABCDE", (24, 16, 70, 30, 30)):
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = "A5"


def build(template: Spec) -> bytes:
    """The template as .xlsx bytes."""
    workbook = Workbook()
    data = workbook.active
    data.title = template.title
    _data_sheet(data, template)
    _notes_sheet(workbook.create_sheet(NOTES_SHEET), template)
    workbook.properties.title = f"{template.title}导入模板"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
