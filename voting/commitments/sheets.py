"""附件4 and 附件5 as Excel files: downloaded as the unit's (or the county's) rows to fill,
the numbers left blank (no number leaves the platform), and read back whole or not at
all, every bad row listed with its column and reason (voting/core/tables.py).

Columns: the seed's (Pingyang's rules, 附件4 and 附件5), one row per section (附件4) or
per person (附件5), each with its unit's name (单位名称; a unit's own file may leave the
column out). A blank number cell keeps the number stored for that section, or for the
same person (same role, section and name); a file replaces the rows of the units it is
for: a section (附件4) or a person (附件5) it does not have is removed.
"""
from __future__ import annotations

import io
import unicodedata

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy.orm import Session

from voting.commitments import commitments
from voting.commitments.commitments import (
    CONTACT_NUMBERS,
    CONTACT_TEXTS,
    NUMBERS,
    SECTION_ROLES,
    TEXTS,
    Change,
    CommitmentRow,
    ContactChange,
    ContactRowIn,
)
from voting.commitments.models import StaffRole
from voting.commitments.phones import RULES, NumberError, read_number
from voting.core.errors import ImportRejected, RowError
from voting.core.tables import ROW, Column, Table, fold, read_table
from voting.lists.models import Campaign, Section, Unit
from voting.scores.report import safe_text

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
UNIT = Column("unit", ("单位名称", "县机关(含国有企业)名称(盖章)", "县机关(含国有企业)名称", "unit"), required=False)
COMMITMENT_COLUMNS = [
    UNIT,
    Column("section", ("参评科室名称", "参评科室", "科室", "section")),
    Column("address", ("办公地址(具体门牌)", "办公地址", "address"), required=False),
    Column("head_name", ("主要负责人", "head"), required=False),
    Column("head_phone", ("主要负责人联系电话",), required=False),
    Column("head_short", ("主要负责人纪委短号",), required=False),
    Column("liaison_name", ("联络员", "liaison"), required=False),
    Column("liaison_phone", ("联络员联系电话",), required=False),
    Column("liaison_short", ("联络员纪委短号",), required=False),
    Column("duties", ("工作职责", "duties"), required=False),
    Column("commitment", ("服务承诺", "commitment"), required=False),
]
STAFF_COLUMNS = [
    UNIT,
    Column("role", ("有关人员", "role")),
    Column("section", ("责任科室", "科室", "section"), required=False),
    Column("name", ("姓名", "name")),
    Column("post", ("职务", "post"), required=False),
    Column("office_phone", ("办公电话",), required=False),
    Column("phone", ("手机号码", "mobile"), required=False),
    Column("qq", ("QQ号码", "QQ", "qq"), required=False),
]
ROLES = {fold(role.label): role for role in StaffRole} | {"责任科室主要负责人": StaffRole.head,
                                                          **{role.value: role for role in StaffRole}}
COMMITMENT_TITLE = "附件4 县机关（含国有企业）参评科室服务承诺表"
STAFF_TITLE = "附件5 县机关（含国有企业）工作人员联系表"
STAFF_NOTE = "备注：分管领导是指参评的中层科室所在单位或主管部门的工作分管（联系）领导。"
NUMBER_NOTE = "电话号码、短号和QQ号码不导出：留空的单元格保留已保存的号码，填写的替换已保存的号码。"

_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_WRAP = Alignment(wrap_text=True, vertical="top")


# ---- writing ----------------------------------------------------------------------------------


def _put(sheet: Worksheet, row: int, column: int, value: object) -> Cell:
    cell = sheet.cell(row=row, column=column)
    cell.value = ILLEGAL_CHARACTERS_RE.sub("", safe_text(value))
    cell.data_type = "s"  # never a formula
    return cell


def _width(value: object) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in str(value))


def _book(title: str, columns: list[Column], rows: list[list[str]], numbers: set[str], notes: list[str],
          choices: dict[str, list[str]] | None = None) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title[:3]  # 附件4 / 附件5
    for j, column in enumerate(columns, start=1):
        header = _put(sheet, 1, j, column.label)
        header.font, header.fill = _HEADER_FONT, _HEADER_FILL
        letter = get_column_letter(j)
        if column.key in numbers:
            sheet.column_dimensions[letter].number_format = "@"  # Excel keeps 0577… as typed
        longest = max([_width(column.label), *(_width(r[j - 1]) for r in rows)], default=10)
        sheet.column_dimensions[letter].width = min(max(longest + 2, 10 if column.key not in numbers else 16), 60)
        if choices and column.key in choices:
            options = ",".join(choices[column.key])
            check = DataValidation(type="list", formula1=f'"{options}"', allow_blank=True,
                                   errorStyle="warning", error="不是列表中的值", errorTitle=column.label)
            check.add(f"{letter}2:{letter}1048576")
            sheet.add_data_validation(check)
    for i, values in enumerate(rows, start=2):
        for j, value in enumerate(values, start=1):
            cell = _put(sheet, i, j, value)
            if columns[j - 1].key in ("duties", "commitment", "address"):
                cell.alignment = _WRAP
    sheet.freeze_panes = "A2"
    about = workbook.create_sheet("填写说明")
    _put(about, 1, 1, title).font = Font(bold=True, size=13)
    for i, note in enumerate(notes, start=2):
        _put(about, i, 1, note)
    about.column_dimensions["A"].width = 100
    workbook.properties.title = title
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def commitments_workbook(session: Session, units: list[Unit]) -> bytes:
    """附件4 of the units, one row per section, the numbers blank."""
    rows = []
    for unit in units:
        forms = commitments.unit_forms(session, unit)
        for form in forms.sections:
            values = {"unit": unit.name, "section": form.section, **form.texts}
            rows.append([values.get(c.key, "") for c in COMMITMENT_COLUMNS])
    notes = [
        "每个参评科室一行；“单位名称”“参评科室名称”与参评科室名单一致，请勿改动。",
        NUMBER_NOTE,
        *(f"{label}：{RULES[kind]}。" for label, kind in NUMBERS.values()),
        f"工作职责、服务承诺各不超过 {TEXTS['duties'][1]} 字；服务承诺和工作职责将在群众的评价页面上显示。",
        "上传后替换文件中各单位的服务承诺表：文件中没有的科室，其服务承诺表将被删除。",
        "文件中有任何一行有误，整个文件不导入，并列出每一处错误（第几行、哪一列、原因）。",
    ]
    return _book(COMMITMENT_TITLE, COMMITMENT_COLUMNS, rows, set(NUMBERS), notes)


def staff_workbook(session: Session, units: list[Unit]) -> bytes:
    """附件5 of the units, one row per person, the numbers blank; a unit with nobody yet
    gets the seed's rows to fill: 分管领导, each section's 主要负责人, 联络员."""
    rows = []
    people = commitments.contacts_of(session, units)
    for unit in units:
        own = [c for c in people if c.unit_id == unit.id]
        if own:
            rows += [[unit.name, c.role.label, c.section.name if c.section else "", c.name, c.post, "", "", ""]
                     for c in own]
            continue
        rows.append([unit.name, StaffRole.leader.label, "", "", "", "", "", ""])
        rows += [[unit.name, StaffRole.head.label, s.name, "", "", "", "", ""] for s in unit.sections]
        rows.append([unit.name, StaffRole.liaison.label, "", "", "", "", "", ""])
    notes = [
        "每人一行。有关人员：分管领导、主要负责人、联络员或工作人员；主要负责人和工作人员须填责任科室，分管领导不填。",
        STAFF_NOTE,
        NUMBER_NOTE + "（按同一单位、有关人员、责任科室和姓名对应。）",
        *(f"{label}：{RULES[kind]}。" for label, kind in CONTACT_NUMBERS.values()),
        "工作人员的手机号码只用于核查服务对象名单（服务对象中不应有本单位工作人员），任何页面都不显示完整号码。",
        "只填了有关人员和责任科室、没有姓名和号码的行不导入。",
        "上传后替换文件中各单位的工作人员联系表：文件中没有的人员将被删除。",
        "文件中有任何一行有误，整个文件不导入，并列出每一处错误（第几行、哪一列、原因）。",
    ]
    return _book(STAFF_TITLE, STAFF_COLUMNS, rows, set(CONTACT_NUMBERS), notes,
                 {"role": [role.label for role in StaffRole]})


# ---- reading ----------------------------------------------------------------------------------


class _Reader:
    """What both files share: the units a row may name, its unit and section found."""

    def __init__(self, table: Table, units: list[Unit], unit: Unit | None) -> None:
        self.table = table
        self.unit = unit  # a unit's own file: every row is its own
        self.units = {fold(u.name): u for u in units}
        self.errors: list[RowError] = []
        if unit is None and "unit" not in table.letters:
            self.errors.append(RowError(0, "", "全县的文件须有“单位名称”列"))

    def error(self, row: int, key: str, reason: str) -> None:
        self.errors.append(RowError(row, self.table.where(key), reason))

    def unit_of(self, record: dict) -> Unit | None:
        row, named = record[ROW], fold(record.get("unit", ""))
        if self.unit is not None:
            if named and named != fold(self.unit.name):
                self.error(row, "unit", f"单位名称“{record['unit'][:50]}”不是本单位（{self.unit.name}）：只能上传本单位的表")
                return None
            return self.unit
        if not named:
            self.error(row, "unit", "单位名称为空")
            return None
        found = self.units.get(named)
        if found is None:
            self.error(row, "unit", f"没有名为“{record['unit'][:50]}”的单位")
        return found

    def section_of(self, record: dict, unit: Unit, key: str = "section") -> Section | None:
        named = fold(record.get(key, ""))
        found = next((s for s in unit.sections if fold(s.name) == named), None)
        if found is None:
            self.error(record[ROW], key, f"{unit.name}没有名为“{record[key][:50]}”的参评科室")
        return found

    def texts(self, record: dict, change: Change, texts: dict[str, tuple[str, int]]) -> None:
        for name, (label, longest) in texts.items():
            value = (record.get(name) or "").replace("\r\n", "\n").strip()
            if len(value) > longest:
                self.error(record[ROW], name, f"{label}不超过 {longest} 字（现在 {len(value)} 字）")
            change.texts[name] = value

    def numbers(self, record: dict, change: Change, numbers: dict) -> None:
        for name, (label, kind) in numbers.items():
            value = record.get(name) or ""
            if not value.strip():
                continue
            try:
                change.numbers[name] = read_number(value, kind, label)
            except NumberError as error:
                self.error(record[ROW], name, str(error))

    def rejected(self, filename: str) -> ImportRejected:
        return ImportRejected(filename, self.errors, rows_read=len(self.table.frame))


def _units_of(campaign_units: list[Unit], unit: Unit | None, found: list[Unit]) -> list[Unit]:
    """The units a file replaces: the unit's own, or each unit the county's file names."""
    if unit is not None:
        return [unit]
    seen = {u.id for u in found}
    return [u for u in campaign_units if u.id in seen]


def read_commitments(data: bytes, filename: str, units: list[Unit], unit: Unit | None = None
                     ) -> tuple[list[Unit], list[CommitmentRow]]:
    """A 附件4 file's rows, checked; the units it replaces. ImportRejected listing every
    bad row otherwise."""
    table = read_table(data, filename, COMMITMENT_COLUMNS)
    reader = _Reader(table, units, unit)
    rows: list[CommitmentRow] = []
    first: dict[int, int] = {}
    for record in table.frame.to_dict("records"):
        row = record[ROW]
        bad = len(reader.errors)
        owner = reader.unit_of(record)
        section = reader.section_of(record, owner) if owner is not None else None
        change = Change()
        reader.texts(record, change, TEXTS)
        reader.numbers(record, change, NUMBERS)
        if section is not None:
            earlier = first.setdefault(section.id, row)
            if earlier != row:
                reader.error(row, "section", f"{section.name}与第 {earlier} 行重复：每个科室一行")
        if len(reader.errors) == bad and section is not None:
            rows.append(CommitmentRow(row, section, change))
    if not rows and not reader.errors:
        reader.errors.append(RowError(0, "", "表头下没有任何科室"))
    if reader.errors:
        raise reader.rejected(filename)
    return _units_of(units, unit, [r.section.unit for r in rows]), rows


def read_staff(data: bytes, filename: str, units: list[Unit], unit: Unit | None = None
               ) -> tuple[list[Unit], list[ContactRowIn]]:
    """A 附件5 file's rows, checked (a row with a role and a section only is the
    template's, left unfilled: skipped); the units it replaces."""
    table = read_table(data, filename, STAFF_COLUMNS)
    reader = _Reader(table, units, unit)
    rows: list[ContactRowIn] = []
    named: list[Unit] = []
    for record in table.frame.to_dict("records"):
        row = record[ROW]
        if not any((record.get(key) or "").strip() for key in ("name", "post", *CONTACT_NUMBERS)):
            owner = reader.unit_of(record)
            if owner is not None:
                named.append(owner)
            continue
        bad = len(reader.errors)
        owner = reader.unit_of(record)
        role = ROLES.get(fold(record["role"]))
        if role is None:
            reader.error(row, "role", f"有关人员“{record['role'][:50]}”无效：应为"
                         + "、".join(r.label for r in StaffRole))
        section = None
        if owner is not None and (record.get("section") or "").strip():
            section = reader.section_of(record, owner)
            if role is StaffRole.leader:
                reader.error(row, "section", "分管领导不属于某个科室：请将责任科室留空")
        elif role in SECTION_ROLES:
            reader.error(row, "section", f"{role.label}须填写责任科室")
        change = ContactChange(role=role or StaffRole.staff, section_id=section.id if section else None)
        reader.texts(record, change, CONTACT_TEXTS)
        if not change.texts["name"]:
            reader.error(row, "name", "姓名为空")
        reader.numbers(record, change, CONTACT_NUMBERS)
        if len(reader.errors) == bad and owner is not None:
            rows.append(ContactRowIn(row, owner, section, change))
            named.append(owner)
    if not named and not reader.errors:
        reader.errors.append(RowError(0, "", "表头下没有任何人员"))
    if reader.errors:
        raise reader.rejected(filename)
    return _units_of(units, unit, named), rows


def import_commitments(session: Session, campaign: Campaign, data: bytes, filename: str, *, unit: Unit | None,
                       actor: str, user_id: int | None) -> commitments.Replaced:
    units = commitments.campaign_units(session, campaign) if unit is None else [unit]
    replaced, rows = read_commitments(data, filename, units, unit)
    return commitments.replace_commitments(session, campaign, replaced, rows, filename=filename, actor=actor,
                                           user_id=user_id)


def import_staff(session: Session, campaign: Campaign, data: bytes, filename: str, *, unit: Unit | None, actor: str,
                 user_id: int | None) -> commitments.Replaced:
    units = commitments.campaign_units(session, campaign) if unit is None else [unit]
    replaced, rows = read_staff(data, filename, units, unit)
    return commitments.replace_contacts(session, campaign, replaced, rows, filename=filename, actor=actor,
                                        user_id=user_id)
