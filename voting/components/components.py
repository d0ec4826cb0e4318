"""The daily-stage components in the database: files (docs/rules.md §6) and single entries.

A component file replaces the rows of the earlier file of the same kind in the
campaign (offices keep one spreadsheet per component and send it again when it
changes); rows entered one by one in a form stay. Rows about exempt sections are not
stored, and the import says so. Supervisor scores are per unit: a file or a form
replaces the scores of the units it holds, and each unit's set must keep the tiers.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import pandas as pd
from openpyxl.utils import get_column_letter
from sqlalchemy import CursorResult, Row, delete, func, select
from sqlalchemy.orm import Session

from scoring import columns as C
from scoring import labels as L
from scoring.supervisor import score_problem, tier_problems
from voting.core.errors import DomainError, ImportRejected, NotFoundError, RowError
from voting.components.models import (
    BonusItem,
    ComponentImport,
    ComponentKind,
    InspectionEvent,
    PlatformEvent,
    SupervisorScore,
    VoteCount,
)
from voting.lists.models import Campaign, Section, Unit
from voting.staff.models import User
from voting.audit import audit
from voting.components import bundle
from voting.lists.history import section_statuses
from voting.core.tables import fold

# A row of a kind entered row by row: each model has id, section_id, import_id and
# created_by_id, and _Entry's source_row, note and created_at.
Entry = VoteCount | PlatformEvent | InspectionEvent | BonusItem
MODELS: dict[ComponentKind, type[Entry]] = {
    ComponentKind.votes: VoteCount,
    ComponentKind.platform: PlatformEvent,
    ComponentKind.inspection: InspectionEvent,
    ComponentKind.bonus: BonusItem,
}
# Frame column -> model attribute, per kind (besides section and row).
FIELDS = {
    ComponentKind.votes: {C.ROUND: "round", C.VOTES_S: "satisfied", C.VOTES_B: "basic", C.VOTES_U: "unsatisfied"},
    ComponentKind.platform: {C.PLATFORM: "platform", C.ITEM: "item", C.DEDUCTION: "deduction", C.ROLE: "role"},
    ComponentKind.supervisor: {C.SCORE: "score"},
    ComponentKind.inspection: {
        C.KIND: "kind", C.SERIOUS: "serious", C.PERSON: "person", C.CURRENT_YEAR: "current_year", C.DATE: "date",
        C.DEDUCTION: "deduction", C.REASON: "reason",  # C.MISSING: a name, stored as missing_section_id
    },
    ComponentKind.bonus: {C.KIND: "kind", C.LEVEL: "level", C.MATTER: "matter", C.DATE: "date"},
}


class TierError(DomainError):
    """Supervisor scores that break the tier rule; `problems` name unit and tier."""

    status = 422

    def __init__(self, messages: list[str]):
        self.messages = messages
        super().__init__("主管单位评分不符合档次比例：" + "；".join(messages))


@dataclass
class ComponentSummary:
    kind: ComponentKind
    rows: int = 0
    stored: int = 0
    replaced: int = 0
    warnings: list[str] = field(default_factory=list)
    import_id: int | None = None


@dataclass
class _Sections:
    ids: dict[tuple[str, str], int]
    exempt: set[tuple[str, str]]
    units: dict[int, str]  # section id -> unit name


def _sections(session: Session, campaign: Campaign) -> _Sections:
    frame = section_statuses(session, campaign)
    keys = list(zip(frame["unit"], frame["section"]))
    return _Sections(
        ids=dict(zip(keys, frame["id"].astype(int))),
        exempt={k for k, e in zip(keys, frame[C.EXEMPT]) if e},
        units=dict(zip(frame["id"].astype(int), frame["unit"])),
    )


def _parse(kind: ComponentKind, data: bytes, filename: str, campaign: Campaign, known: _Sections) -> pd.DataFrame:
    rules = campaign.rules
    if kind is ComponentKind.votes:
        return bundle.parse_votes(data, filename, known.ids)
    if kind is ComponentKind.platform:
        return bundle.parse_platform(data, filename, known.ids, settings=rules)
    if kind is ComponentKind.supervisor:
        return bundle.parse_supervisor(data, filename, known.ids, settings=rules, exempt=known.exempt)
    if kind is ComponentKind.inspection:
        return bundle.parse_inspection(data, filename, known.ids, settings=rules)
    return bundle.parse_bonus(data, filename, known.ids)


def _value(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.date()
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def _lock(session: Session, campaign: Campaign) -> None:
    """One component import or entry at a time per campaign: replacing rows while
    another request adds some would lose them."""
    session.execute(select(Campaign.id).where(Campaign.id == campaign.id).with_for_update())


def import_component(
    session: Session, campaign: Campaign, kind: ComponentKind, data: bytes, filename: str,
    uploaded_by: User | None = None, *, actor: str = "system",
) -> ComponentSummary:
    """Check a component file (every bad row listed, nothing stored) and store it."""
    known = _sections(session, campaign)
    frame = _parse(kind, data, filename, campaign, known)
    if frame.empty:
        raise ImportRejected(filename, [RowError(0, "", "表头下没有任何数据")], rows_read=0)
    summary = ComponentSummary(kind, rows=len(frame))
    keys = list(zip(frame[C.UNIT], frame[C.SECTION]))
    exempt = [k in known.exempt for k in keys]
    for (unit, section), row, is_exempt in zip(keys, frame[C.ROW], exempt):
        if is_exempt:
            summary.warnings.append(f"第 {row} 行：{unit} {section} 免评（连续两年满意单位），未导入")
    frame = frame[[not e for e in exempt]]
    section_ids = [known.ids[k] for k, e in zip(keys, exempt) if not e]

    _lock(session, campaign)
    upload = ComponentImport(
        campaign_id=campaign.id, kind=kind, filename=filename[:255],
        uploaded_by_id=uploaded_by.id if uploaded_by else None, rows=len(keys),
        report={"warnings": summary.warnings},
    )
    session.add(upload)
    session.flush()
    fields = FIELDS[kind]
    records = [
        {"section_id": sid, "source_row": int(row), **{attr: _value(rec[col]) for col, attr in fields.items()}}
        for sid, row, rec in zip(section_ids, frame[C.ROW], frame.to_dict("records"))
    ]
    if kind is ComponentKind.inspection:
        # 应报未报 rows name the section found missing (of the same unit, on the list: the
        # reader checked it); stored by its id.
        for record, (unit, missing) in zip(records, zip(frame[C.UNIT], frame[C.MISSING])):
            record["missing_section_id"] = known.ids[(unit, missing)] if missing else None
    if kind is ComponentKind.supervisor:
        summary.replaced = _replace_supervisor(session, known, records, upload, uploaded_by)
    else:
        model = MODELS[kind]
        campaign_sections = select(Section.id).join(Unit).where(Unit.campaign_id == campaign.id)
        if kind is ComponentKind.votes:
            # Counts are per section and round: the new file's rows replace any earlier
            # counts of those sections and rounds, imported or entered.
            pairs = {(r["section_id"], r["round"]) for r in records}
            earlier = list(session.scalars(
                select(VoteCount).where(VoteCount.section_id.in_(campaign_sections), VoteCount.import_id.is_not(None))
            ).all())
            earlier += session.scalars(
                select(VoteCount).where(VoteCount.section_id.in_({p[0] for p in pairs}), VoteCount.import_id.is_(None))
            ).all()
            doomed = {v.id for v in earlier if v.import_id is not None or (v.section_id, v.round) in pairs}
            summary.replaced = len(doomed)
            if doomed:
                session.execute(delete(VoteCount).where(VoteCount.id.in_(doomed)))
        else:
            # A DELETE's result is a CursorResult, which has the rowcount.
            result = cast(CursorResult, session.execute(
                delete(model).where(model.section_id.in_(campaign_sections), model.import_id.is_not(None))
            ))
            summary.replaced = result.rowcount or 0
        session.flush()
        session.add_all(model(import_id=upload.id, created_by_id=upload.uploaded_by_id, **r) for r in records)
    session.flush()
    summary.stored = len(records)
    summary.import_id = upload.id
    audit.record(session, "component.import", actor=actor, campaign_id=campaign.id, detail={
        "kind": kind.value, "import_id": upload.id, "filename": filename, "rows": summary.rows,
        "stored": summary.stored, "replaced": summary.replaced, "exempt_skipped": sum(exempt),
    })
    return summary


def _replace_supervisor(
    session: Session, known: _Sections, records: list[dict[str, Any]], upload: ComponentImport, user: User | None
) -> int:
    units = {known.units[r["section_id"]] for r in records}
    unit_sections = [sid for sid, unit in known.units.items() if unit in units]
    result = cast(CursorResult, session.execute(  # a DELETE's result: a CursorResult, with the rowcount
        delete(SupervisorScore).where(SupervisorScore.section_id.in_(unit_sections))
    ))
    session.add_all(
        SupervisorScore(section_id=r["section_id"], score=r["score"], import_id=upload.id, entered_by_id=user.id if user else None)
        for r in records
    )
    return result.rowcount or 0


# ---- supervisor scores from the unit's form -----------------------------------------


def unit_supervisor_sheet(session: Session, campaign: Campaign, unit_id: int) -> list[dict]:
    """The unit's participating sections with their current scores, for the form."""
    frame = section_statuses(session, campaign)
    frame = frame[(frame["unit_id"] == unit_id) & ~frame[C.EXEMPT]]
    scores = dict(session.execute(
        select(SupervisorScore.section_id, SupervisorScore.score).where(SupervisorScore.section_id.in_(frame["id"].tolist()))
    ).all())
    return [
        {"id": int(sid), "section": name, "score": scores.get(int(sid))}
        for sid, name in zip(frame["id"], frame["section"])
    ]


def save_supervisor_scores(
    session: Session, campaign: Campaign, unit_id: int, scores: dict[int, float], entered_by: User | None,
    *, actor: str = "system",
) -> int:
    """A unit's scores of all its participating sections, checked and stored together."""
    unit = session.get(Unit, unit_id)
    if unit is None or unit.campaign_id != campaign.id:
        raise NotFoundError("没有这个单位")
    sheet = unit_supervisor_sheet(session, campaign, unit_id)
    expected = {row["id"]: row["section"] for row in sheet}
    missing = [expected[sid] for sid in expected if sid not in scores]
    unknown = [sid for sid in scores if sid not in expected]
    if unknown:
        raise DomainError("提交了不属于本单位参评科室的评分")
    if missing:
        raise DomainError(f"以下科室没有评分：{'、'.join(missing)}（须一次评完本单位全部参评科室）")
    rules = campaign.rules
    problems = [f"{expected[sid]}:{p}" for sid, value in scores.items() if (p := score_problem(value, rules))]
    if problems:
        raise DomainError(";".join(problems))
    tiers = tier_problems(pd.DataFrame({C.UNIT: unit.name, C.SCORE: list(scores.values())}), rules)
    if tiers:
        raise TierError([p.message for p in tiers])
    _lock(session, campaign)
    session.execute(delete(SupervisorScore).where(SupervisorScore.section_id.in_(list(expected))))
    session.add_all(
        SupervisorScore(section_id=sid, score=round(float(v), 1), entered_by_id=entered_by.id if entered_by else None)
        for sid, v in scores.items()
    )
    session.flush()
    audit.record(session, "supervisor.save", actor=actor, campaign_id=campaign.id, detail={
        "unit_id": unit.id, "unit": unit.name,
        "scores": [{"section_id": sid, "section": expected[sid], "score": round(float(v), 1)} for sid, v in scores.items()],
    })
    return len(scores)



@dataclass
class UnitSupervisorStatus:
    """One unit's row on the review office's overview of supervisor scores."""

    unit_id: int
    unit: str
    sections: int  # participating (non-exempt) sections
    scored: int
    problems: list[str]  # tier messages of the stored set, once every section is scored
    last_entered: datetime | None

    @property
    def complete(self) -> bool:
        return self.sections > 0 and self.scored == self.sections


def supervisor_overview(session: Session, campaign: Campaign) -> list[UnitSupervisorStatus]:
    """Every unit of the campaign: its participating sections, how many hold a score,
    whether the stored set keeps the tiers, and when a score was last entered."""
    frame = section_statuses(session, campaign)
    frame = frame[~frame[C.EXEMPT]]
    stored = session.execute(
        select(SupervisorScore.section_id, SupervisorScore.score, SupervisorScore.entered_at)
        .where(SupervisorScore.section_id.in_([int(i) for i in frame["id"]]))
    ).all()
    by_section = {sid: (score, at) for sid, score, at in stored}
    units = session.execute(
        select(Unit.id, Unit.name).where(Unit.campaign_id == campaign.id).order_by(Unit.number, Unit.name)
    ).all()
    ids_of = frame.groupby("unit_id")["id"].agg(list).to_dict()
    scored_of, complete = {}, []
    for unit_id, name in units:
        ids = [int(i) for i in ids_of.get(unit_id, [])]
        scored_of[unit_id] = [by_section[sid] for sid in ids if sid in by_section]
        if ids and len(scored_of[unit_id]) == len(ids):
            complete += [(name, score) for score, _ in scored_of[unit_id]]
    # The tiers of every complete unit checked at once (one crosstab, not one per unit).
    problems: dict[str, list[str]] = {}
    for problem in tier_problems(pd.DataFrame(complete, columns=[C.UNIT, C.SCORE]), campaign.rules):
        problems.setdefault(problem.unit, []).append(problem.message)
    return [
        UnitSupervisorStatus(
            unit_id=unit_id, unit=name, sections=len(ids_of.get(unit_id, [])), scored=len(scored_of[unit_id]),
            problems=problems.get(name, []), last_entered=max((at for _, at in scored_of[unit_id]), default=None),
        )
        for unit_id, name in units
    ]


# ---- single entries -------------------------------------------------------------------


def add_entry(
    session: Session, campaign: Campaign, kind: ComponentKind, section_id: int, values: dict, entered_by: User | None,
    note: str = "", *, actor: str = "system",
) -> Entry:
    """One event from a form; `values` holds the model's attributes, already checked by
    the form. Exempt sections take no events."""
    if kind is ComponentKind.supervisor:
        raise DomainError("主管单位评分请在“主管单位评价”页面按单位整体填写")
    statuses = section_statuses(session, campaign).set_index("id")
    if section_id not in statuses.index:
        raise NotFoundError("没有这个参评科室")
    if statuses.at[section_id, C.EXEMPT]:
        raise DomainError(f"{statuses.at[section_id, 'unit']} {statuses.at[section_id, 'section']} 免评，不计入此项")
    model = MODELS[kind]
    _lock(session, campaign)
    if kind is ComponentKind.votes:
        existing = session.scalar(select(VoteCount).where(VoteCount.section_id == section_id, VoteCount.round == values["round"]))
        if existing is not None:
            session.delete(existing)
            session.flush()
    entry = model(section_id=section_id, created_by_id=entered_by.id if entered_by else None, note=note.strip(), **values)
    session.add(entry)
    session.flush()
    audit.record(session, "component.entry_add", actor=actor, campaign_id=campaign.id, detail={
        "kind": kind.value, "entry_id": entry.id, "section_id": section_id,
        "section": f"{statuses.at[section_id, 'unit']} {statuses.at[section_id, 'section']}",
        "values": values, "note": entry.note,
    })
    return entry


def get_entry(session: Session, campaign: Campaign, kind: ComponentKind, entry_id: int) -> Entry:
    """One stored row of a kind in the campaign (from a file or a form)."""
    model = MODELS.get(kind)
    # session.get gives an instance of `model` (typed as their common base class).
    entry = cast("Entry | None", session.get(model, entry_id) if model else None)
    # get_one: the entry's foreign key holds a section.
    if entry is None or session.get_one(Section, entry.section_id).unit.campaign_id != campaign.id:
        raise NotFoundError("没有这条记录")
    return entry


def delete_entry(
    session: Session, campaign: Campaign, kind: ComponentKind, entry_id: int, *, actor: str = "system"
) -> None:
    entry = get_entry(session, campaign, kind, entry_id)
    # What the entry said, as the log's record of what was taken away.
    removed = {c.key: getattr(entry, c.key) for c in entry.__table__.columns if c.key not in ("id", "section_id")}
    section = session.get_one(Section, entry.section_id)  # the entry's foreign key holds a section
    session.delete(entry)
    session.flush()
    audit.record(session, "component.entry_delete", actor=actor, campaign_id=campaign.id, detail={
        "kind": kind.value, "entry_id": entry_id, "section_id": section.id,
        "section": f"{section.unit.name} {section.name}", "values": removed,
    })


def imports(session: Session, campaign: Campaign) -> Sequence[ComponentImport]:
    return session.scalars(
        select(ComponentImport).where(ComponentImport.campaign_id == campaign.id).order_by(ComponentImport.created_at.desc())
    ).all()


# ---- reading for the review office's pages ---------------------------------------------

# The file columns of each kind that a form can enter one row of (supervisor scores are
# entered per unit, see save_supervisor_scores).
ENTRY_COLUMNS = {
    ComponentKind.votes: bundle.VOTES_COLUMNS,
    ComponentKind.platform: bundle.PLATFORM_COLUMNS,
    ComponentKind.inspection: bundle.INSPECTION_COLUMNS,
    ComponentKind.bonus: bundle.BONUS_COLUMNS,
}
FILE_COLUMNS = {**ENTRY_COLUMNS, ComponentKind.supervisor: bundle.SUPERVISOR_COLUMNS}


class EntryRejected(DomainError):
    """A single entry that the kind's file reader refuses. `reasons` maps the reader's
    column key (as in bundle.*_COLUMNS) to its messages; "" holds the row's own."""

    status = 422

    def __init__(self, reasons: dict[str, list[str]]):
        self.reasons = reasons
        super().__init__("录入的内容有误：" + "；".join(r for rs in reasons.values() for r in rs))


def entry_values(
    session: Session, campaign: Campaign, kind: ComponentKind, section_id: int, cells: dict[str, str]
) -> dict:
    """The model attributes of one event typed into a form (`cells`: the text of each
    file column by its key), for `add_entry`.

    The row goes through the very reader of the kind's file (docs/rules.md §6), written as a
    one-row CSV, so a form and a file accept exactly the same values; a refused row
    raises EntryRejected with the reader's reasons by column."""
    columns = ENTRY_COLUMNS.get(kind)
    if columns is None:
        raise DomainError("主管单位评分请在“主管单位评价”页面按单位整体填写")
    typed = L.lookup(L.INSPECTION_KINDS).get(fold(cells.get("type") or "").lower())
    if kind is ComponentKind.inspection and typed in L.OFFICE_DEDUCTIONS:
        # Recorded for a unit with their confirmation: 补录应报未报科室 on the sections page,
        # 影响评议工作 on this page's own form (voting/components/deductions.py).
        raise EntryRejected({"type": ["应报未报请在“参评科室”页面补录，影响评议工作扣分请用本页的“影响评议工作扣分”表单"]})
    known = _sections(session, campaign)
    names = {sid: key for key, sid in known.ids.items()}
    if section_id not in names:
        raise NotFoundError("没有这个参评科室")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([column.label for column in columns])
    writer.writerow([*names[section_id], *((cells.get(column.key) or "") for column in columns[2:])])
    # The reader names a column as "C 列(轮次)": its letter and header in the file.
    keys = {f"{get_column_letter(i + 1)} 列（{column.label}）": column.key for i, column in enumerate(columns)}
    try:
        frame = _parse(kind, buffer.getvalue().encode(), f"{kind.value}.csv", campaign, known)
    except ImportRejected as error:
        reasons: dict[str, list[str]] = {}
        for row_error in error.errors:
            reasons.setdefault(keys.get(row_error.column, ""), []).append(row_error.reason)
        raise EntryRejected(reasons) from None
    record = frame.to_dict("records")[0]
    values = {attr: _value(record[col]) for col, attr in FIELDS[kind].items()}
    # A file may list a round nobody voted in (0, 0, 0); typed by hand, that is a slip.
    if kind is ComponentKind.votes and not (values["satisfied"] or values["basic"] or values["unsatisfied"]):
        raise EntryRejected({"": ["满意、基本满意、不满意不能都为 0（没有票的轮次无需录入）"]})
    return values


def stored_counts(session: Session, campaign: Campaign) -> dict[ComponentKind, tuple[int, int]]:
    """Rows stored per kind: (from files, entered in a form)."""
    campaign_sections = select(Section.id).join(Unit).where(Unit.campaign_id == campaign.id)
    counts = {}
    for kind, model in {**MODELS, ComponentKind.supervisor: SupervisorScore}.items():
        total, from_files = session.execute(
            select(func.count(), func.count(model.import_id)).where(model.section_id.in_(campaign_sections))
        ).one()
        counts[kind] = (from_files, total - from_files)
    return counts


# (entry, unit name, section name, file name or None, entering user or None)
EntryRow = Row[Entry, str, str, str | None, User | None]


def entries_with_sources(session: Session, campaign: Campaign, kind: ComponentKind, *, limit: int | None = None,
                         offset: int = 0) -> Sequence[EntryRow]:
    """(entry, unit name, section name, file name or None, entering user or None) of a
    kind, newest first; with `limit`, that many from `offset` (a page of the list: a
    county's platform file alone is thousands of rows)."""
    model = MODELS[kind]
    # The rows' first item is an instance of `model` (select() types it as their base class).
    return cast(Sequence[EntryRow], session.execute(
        select(model, Unit.name, Section.name, ComponentImport.filename, User)
        .join(Section, model.section_id == Section.id)
        .join(Unit, Section.unit_id == Unit.id)
        .outerjoin(ComponentImport, model.import_id == ComponentImport.id)
        .outerjoin(User, model.created_by_id == User.id)
        .where(Unit.campaign_id == campaign.id)
        .order_by(model.created_at.desc(), model.id.desc())
        .limit(limit).offset(offset)
    ).all())


def count_entries(session: Session, campaign: Campaign, kind: ComponentKind) -> int:
    """How many rows of a kind the campaign holds (files and forms)."""
    model = MODELS[kind]
    campaign_sections = select(Section.id).join(Unit).where(Unit.campaign_id == campaign.id)
    return session.execute(
        select(func.count()).select_from(model).where(model.section_id.in_(campaign_sections))
    ).scalar_one()


def supervisor_scores(
    session: Session, campaign: Campaign
) -> Sequence[Row[SupervisorScore, str, str, str | None, User | None]]:
    """(score, unit name, section name, file name or None, entering user or None), by
    unit and section in list order."""
    return session.execute(
        select(SupervisorScore, Unit.name, Section.name, ComponentImport.filename, User)
        .join(Section, SupervisorScore.section_id == Section.id)
        .join(Unit, Section.unit_id == Unit.id)
        .outerjoin(ComponentImport, SupervisorScore.import_id == ComponentImport.id)
        .outerjoin(User, SupervisorScore.entered_by_id == User.id)
        .where(Unit.campaign_id == campaign.id)
        .order_by(Unit.number, Unit.name, Section.number, Section.name)
    ).all()
