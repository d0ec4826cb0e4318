"""The list of evaluated sections (参评科室, Annex 1): parse, preview the change, apply.

Re-importing the same list changes nothing; a changed list is shown as additions,
removals and changes before it is applied, and the apply refuses if the database moved
since that preview (`fingerprint`).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import date

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from voting.core.errors import DomainError, ImportRejected, NotFoundError, RowError, StaleError
from voting.lists.models import Campaign, Section, SectionList, ServiceObject, Unit
from voting.survey.models import Invitation, Vote
from voting.staff.models import User
from voting.core.numbers import whole_number
from voting.audit import audit
from voting.core.tables import ROW, Column, fold, read_table

COLUMNS = [
    Column("unit_no", ("单位序号", "unitno", "unit_no", "unitnumber"), required=False),
    Column("unit", ("单位名称", "unit", "unitname", "单位")),
    Column("section_no", ("科室序号", "sectionno", "section_no", "sectionnumber"), required=False),
    Column("section", ("科室", "section", "sectionname", "科室名称")),
    Column("category", ("类别", "category"), required=False),
]
ENFORCEMENT = ("管理执法类", "管理执法")
MAX_UNIT_NAME = 100
MAX_SECTION_NAME = 200


@dataclass(frozen=True)
class ListedSection:
    unit_no: int | None
    unit: str
    section_no: int | None
    section: str
    is_enforcement: bool

    @property
    def key(self) -> tuple[str, str]:
        return (self.unit, self.section)


def _number(value: str) -> int | None | str:
    """An integer, None for blank, or the reason it is not one."""
    if value == "":
        return None
    text = fold(value)
    if text.endswith(".0"):
        text = text[:-2]
    number = whole_number(text, maximum=999_999)
    if not number:  # None or 0
        return "应为正整数"
    return number


def parse_sections(data: bytes, filename: str) -> list[ListedSection]:
    """The sections of a clean table or of the Annex-1 layout; ImportRejected listing
    every bad row otherwise."""
    table = read_table(data, filename, COLUMNS, fill_down=("unit_no", "unit"))
    errors: list[RowError] = []
    listed: list[ListedSection] = []
    first_row: dict[tuple[str, str], int] = {}
    unit_numbers: dict[str, tuple[int, int]] = {}  # unit -> (number, row)
    for record in table.frame.to_dict("records"):
        row = record[ROW]
        unit, section = fold(record["unit"]), fold(record["section"])
        bad = len(errors)
        if not unit:
            errors.append(RowError(row, table.where("unit"), "单位名称为空"))
        elif len(unit) > MAX_UNIT_NAME:
            errors.append(RowError(row, table.where("unit"), f"单位名称超过 {MAX_UNIT_NAME} 字"))
        if not section:
            errors.append(RowError(row, table.where("section"), "科室名称为空"))
        elif len(section) > MAX_SECTION_NAME:
            errors.append(RowError(row, table.where("section"), f"科室名称超过 {MAX_SECTION_NAME} 字"))
        numbers = {}
        for key in ("unit_no", "section_no"):
            value = _number(record[key])
            if isinstance(value, str):
                errors.append(RowError(row, table.where(key), f"“{record[key]}”{value}"))
            numbers[key] = value if not isinstance(value, str) else None
        category = fold(record["category"])
        if category and category not in ENFORCEMENT:
            errors.append(RowError(row, table.where("category"), f"类别“{record['category']}”无效：只能为空或“管理执法类”"))
        if unit and numbers["unit_no"] is not None:
            seen = unit_numbers.setdefault(unit, (numbers["unit_no"], row))
            if seen[0] != numbers["unit_no"]:
                errors.append(RowError(row, table.where("unit_no"), f"{unit} 的单位序号与第 {seen[1]} 行（{seen[0]}）不一致"))
        if unit and section:
            earlier = first_row.setdefault((unit, section), row)
            if earlier != row:
                errors.append(RowError(row, table.where("section"), f"{unit} {section} 与第 {earlier} 行重复"))
        if len(errors) == bad:
            listed.append(
                ListedSection(numbers["unit_no"], unit, numbers["section_no"], section, category in ENFORCEMENT)
            )
    if not listed and not errors:
        errors.append(RowError(0, "", "表头下没有任何科室"))
    if errors:
        raise ImportRejected(filename, errors)
    return listed


@dataclass
class SectionChange:
    before: ListedSection
    after: ListedSection


@dataclass
class SectionsDiff:
    added: list[ListedSection] = field(default_factory=list)
    removed: list[ListedSection] = field(default_factory=list)
    changed: list[SectionChange] = field(default_factory=list)
    unchanged: int = 0
    objects_lost: int = 0  # service objects of removed sections
    # Sections added late (应报未报补录) that the list leaves out: kept, not removed (their
    # unit's deduction hangs on them; undo the late listing to remove one).
    kept_late: list[ListedSection] = field(default_factory=list)
    fingerprint: str = ""  # of the database state the diff was computed against

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def _current(session: Session, campaign: Campaign) -> dict[tuple[str, str], tuple[Section, ListedSection]]:
    rows = session.execute(
        select(Section, Unit).join(Unit).where(Unit.campaign_id == campaign.id)
    ).all()
    return {
        (unit.name, section.name): (
            section,
            ListedSection(unit.number, unit.name, section.number, section.name, section.is_enforcement),
        )
        for section, unit in rows
    }


def _fingerprint(current: dict) -> str:
    state = sorted(json.dumps(asdict(listed), sort_keys=True, ensure_ascii=False) for _, listed in current.values())
    return hashlib.sha256("\n".join(state).encode()).hexdigest()


def diff_sections(session: Session, campaign: Campaign, listed: list[ListedSection]) -> SectionsDiff:
    current = _current(session, campaign)
    wanted = {s.key: s for s in listed}
    diff = SectionsDiff(fingerprint=_fingerprint(current))
    for key, new in wanted.items():
        if key not in current:
            diff.added.append(new)
        elif current[key][1] != new:
            diff.changed.append(SectionChange(current[key][1], new))
        else:
            diff.unchanged += 1
    removed_ids = []
    for key, (section, old) in current.items():
        if key not in wanted and section.listed_late_on is not None:
            diff.kept_late.append(old)
        elif key not in wanted:
            diff.removed.append(old)
            removed_ids.append(section.id)
    if removed_ids:
        diff.objects_lost = session.execute(
            select(func.count()).select_from(ServiceObject).where(ServiceObject.section_id.in_(removed_ids))
        ).scalar_one()
    return diff


def apply_sections(
    session: Session, campaign: Campaign, listed: list[ListedSection], fingerprint: str | None = None,
    *, filename: str = "", actor: str = "system",
) -> SectionsDiff:
    """Make the campaign's sections equal `listed`. With `fingerprint` (from a preview),
    refuse with StaleError if the database changed since. A change goes into the audit
    log (`actor`, `filename`: who applied which file)."""
    diff = diff_sections(session, campaign, listed)
    if fingerprint is not None and fingerprint != diff.fingerprint:
        raise StaleError("预览之后科室名单已被修改，请重新上传并核对。")
    current = _current(session, campaign)
    units = {u.name: u for u in session.scalars(select(Unit).where(Unit.campaign_id == campaign.id))}
    for new in listed:
        unit = units.get(new.unit)
        if unit is None:
            unit = units[new.unit] = Unit(campaign=campaign, name=new.unit, number=new.unit_no)
            session.add(unit)
        elif new.unit_no is not None:
            unit.number = new.unit_no
        if new.key in current:
            section = current[new.key][0]
            section.number, section.is_enforcement = new.section_no, new.is_enforcement
        else:
            session.add(Section(unit=unit, name=new.section, number=new.section_no,
                                is_enforcement=new.is_enforcement))
    wanted = {s.key for s in listed}
    doomed = [section for key, (section, _) in current.items() if key not in wanted and section.listed_late_on is None]
    invited = set(session.scalars(
        select(Invitation.section_id).where(Invitation.section_id.in_([s.id for s in doomed])).distinct()
    )) if doomed else set()
    if invited:
        names = "、".join(f"{s.unit.name} {s.name}" for s in doomed if s.id in invited)
        raise DomainError(f"以下科室已经发出评价邀请，不能从名单中删除：{names}")
    for section in doomed:
        session.delete(section)
    session.flush()
    # A unit left with no section goes too, unless a liaison account still names it.
    kept = {s.unit for s in listed} | {s.unit for s in diff.kept_late}
    liaison_units = set(session.scalars(select(User.unit_id).where(User.unit_id.is_not(None))))
    for name, unit in units.items():
        if name not in kept and unit.id not in liaison_units:
            session.delete(unit)
    session.flush()
    if not diff.is_empty:
        audit.record(session, "sections.import", actor=actor, campaign_id=campaign.id, detail={
            "filename": filename, "sections": len(listed), "added": len(diff.added), "removed": len(diff.removed),
            "changed": len(diff.changed), "unchanged": diff.unchanged, "objects_lost": diff.objects_lost,
            "removed_sections": [f"{s.unit} {s.section}" for s in diff.removed],
            "changed_sections": [f"{c.after.unit} {c.after.section}" for c in diff.changed],
        })
    return diff


def listed_to_json(listed: list[ListedSection]) -> list[list]:
    return [[s.unit_no, s.unit, s.section_no, s.section, s.is_enforcement] for s in listed]


def listed_from_json(rows: list[list]) -> list[ListedSection]:
    return [ListedSection(*row) for row in rows]


def sections_frame(session: Session, campaign: Campaign) -> pd.DataFrame:
    """The campaign's sections as a DataFrame (id, unit_id, unit_no, unit, section_no,
    section, is_enforcement, listed_late_on: the date a section found missing was added,
    else None), in list order."""
    rows = session.execute(
        select(Section.id, Unit.id, Unit.number, Unit.name, Section.number, Section.name, Section.is_enforcement,
               Section.listed_late_on)
        .join(Unit)
        .where(Unit.campaign_id == campaign.id)
        .order_by(Unit.number, Unit.name, Section.number, Section.name)
    ).all()
    return pd.DataFrame(
        rows, columns=["id", "unit_id", "unit_no", "unit", "section_no", "section", "is_enforcement", "listed_late_on"]
    )


def find_section_id(session: Session, campaign: Campaign, unit: str, section: str) -> int:
    section_id = session.scalar(
        select(Section.id).join(Unit).where(
            Unit.campaign_id == campaign.id, Unit.name == fold(unit), Section.name == fold(section)
        )
    )
    if section_id is None:
        raise NotFoundError(f"{campaign.year} 年度参评科室名单中没有“{fold(unit)} {fold(section)}”")
    return section_id


def get_section(session: Session, section_id: int) -> Section | None:
    return session.get(Section, section_id)


def get_unit(session: Session, unit_id: int) -> Unit | None:
    return session.get(Unit, unit_id)


def campaign_section_ids(session: Session, campaign: Campaign) -> set[int]:
    """The ids of every section of the campaign."""
    return set(session.scalars(select(Section.id).join(Unit).where(Unit.campaign_id == campaign.id)))


def unit_section_ids(session: Session, unit_id: int) -> list[int]:
    """The ids of the unit's sections."""
    return list(session.scalars(select(Section.id).where(Section.unit_id == unit_id)))


# ---- 应报未报: a section found missing from the list, added during the year -------------------


def add_late_section(
    session: Session, unit: Unit, name: str, is_enforcement: bool, found_on: date, reason: str
) -> Section:
    """Add a section found missing from the unit's list (应报未报, docs/rules.md §2.7) after
    the last in its unit, marked late (`listed_late_on`, `late_reason`). It takes part from
    then on like any other: it needs a service-object list; a round that closed before it
    has no votes of it (it takes the round's mean, §2.4). The deduction it costs its unit
    is recorded by voting/components/deductions.py, which calls this."""
    folded = fold(name)
    if not folded:
        raise DomainError("请填写科室名称")
    if len(folded) > MAX_SECTION_NAME:
        raise DomainError(f"科室名称超过 {MAX_SECTION_NAME} 字")
    existing = session.scalar(select(Section.id).where(Section.unit_id == unit.id, Section.name == folded))
    if existing is not None:
        error = DomainError(f"{unit.name} 已有科室“{folded}”，已在参评科室名单中，无需补录")
        error.status = 409
        raise error
    last = session.scalar(select(func.max(Section.number)).where(Section.unit_id == unit.id))
    section = Section(unit=unit, name=folded, number=(last or 0) + 1, is_enforcement=is_enforcement,
                      listed_late_on=found_on, late_reason=reason)
    session.add(section)
    session.flush()
    return section


def section_usage(session: Session, section_id: int) -> list[str]:
    """What the section already has that removing it would lose, in words: its
    service-object lists, the invitations sent and the votes cast about it (empty: none)."""
    found = []
    for model, what in ((SectionList, "服务对象名单"), (Invitation, "评价邀请"), (Vote, "投票")):
        count = session.scalar(select(func.count()).select_from(model).where(model.section_id == section_id))
        if count:
            found.append(f"{what} {count} {'份' if model is SectionList else '条'}")
    return found


def late_section_ids(session: Session, campaign: Campaign) -> set[int]:
    """The ids of the campaign's sections added late (应报未报补录)."""
    return set(session.scalars(
        select(Section.id).join(Unit).where(Unit.campaign_id == campaign.id, Section.listed_late_on.is_not(None))
    ))
