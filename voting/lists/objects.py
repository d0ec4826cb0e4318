"""Service-object lists (服务对象名单, docs/rules.md §3).

A file holds one section (chosen on the form or the command line) or many (单位名称 and
科室 columns). Every row is checked; a file with any bad row is rejected whole, with
every bad row listed, and nothing of it is stored. An accepted file replaces the
sections' lists for that round. Duplicates (the same phone twice in a section) are kept
once and reported.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import cast

import pandas as pd
from sqlalchemy import Table, delete, select
from sqlalchemy.orm import Session

from scoring import columns as C
from sms.phones import mask_phone_text, normalize_phones
from voting.core.db import bulk_insert
from voting.core.errors import DomainError, ImportRejected, RowError
from scoring.settings import RuleSettings
from voting.lists.models import Campaign, ObjectImport, RoundKind, Section, SectionList, ServiceObject, Unit
from voting.online.models import Evaluator
from voting.survey.models import Invitation, RoundStatus, SurveyRound
from voting.staff.models import User
from voting.audit import audit
from voting.survey import rounds, votes
from voting.lists.history import section_statuses
from voting.core.tables import ROW, Column, Source, TableStream, fold_series, stream_table
from voting.core.vault import vault_of

COLUMNS = [
    Column("unit", ("单位名称", "unit", "unitname"), required=False),
    Column("section", ("科室", "科室名称", "section", "sectionname"), required=False),
    Column("name", ("姓名", "name")),
    Column("org_title", ("单位(职务)", "单位职务", "职务", "organization", "title"), required=False),
    Column("phone", ("手机号码", "手机", "手机号", "phone", "mobile")),
    Column("matter", ("事项内容(处罚类案件名称)", "事项内容", "事项", "matter")),
    Column("penalized", ("是否处罚对象", "处罚对象", "penalized"), required=False),
]
LIMITS = {"name": 50, "org_title": 200, "matter": 500}
_YES = {"是", "y", "yes", "1", "true", "t", "√"}
_NO = {"否", "", "n", "no", "0", "false", "f"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Rows in a file at most: a year's lists of all 363 sections, twice over.
MAX_ROWS = 400_000


@dataclass
class SectionCount:
    section_id: int
    label: str
    objects: int
    penalized: int
    is_enforcement: bool


@dataclass
class ObjectsSummary:
    rows_read: int = 0
    stored: int = 0
    duplicates: list[tuple[int, int, str]] = field(default_factory=list)  # row, first row, section
    sections: list[SectionCount] = field(default_factory=list)
    confirmed: set[int] = field(default_factory=set)  # enforcement sections confirmed complete
    import_id: int | None = None
    # The open round these lists came in late for: its invitations go out next
    # (tasks.invite_late, queued by the caller once this is committed).
    late_round_id: int | None = None


def import_objects(
    session: Session,
    campaign: Campaign,
    round_kind: RoundKind,
    data: Source,
    filename: str,
    *,
    section_id: int | None = None,
    unit_id: int | None = None,
    all_penalized_reported: bool | set[int] = False,
    uploaded_by: User | None = None,
    progress: Callable[..., None] | None = None,
    actor: str = "system",
    upload: str | None = None,
) -> ObjectsSummary:
    """Check and store one service-object file.

    `data`: the file's bytes, or the path of the file it was saved to (a big upload,
    read by a background job: voting/tasks.py). The rows are read, checked and let go
    a chunk at a time; only the rows to store stay in memory (at most the per-section
    cap for each section), and nothing is written before every row was checked.
    `section_id`: the file is that one section's. `unit_id`: the uploader may only send
    that unit's sections (a liaison). `all_penalized_reported`: the uploader confirms
    that a 管理执法类 section has reported every penalized object it has (all sections
    when True, or the ids in the set). `progress(done=, total=, stage=)` hears how far
    it got (a job's progress bar). `upload`: the saved upload's name, kept in the
    import's report so that a restarted job finds the import it already stored.
    """
    report = progress or (lambda **_: None)
    stream = stream_table(data, filename, COLUMNS)
    check = _Check(stream, section_statuses(session, campaign), section_id, unit_id, campaign.rules)
    report(done=0, total=stream.total, stage="检查")
    for chunk in stream.chunks():
        if stream.rows_read <= MAX_ROWS:
            check.chunk(chunk)
        else:
            check.stop()  # refused whole below: the rest of the file is only counted
        report(done=stream.rows_seen)
    rows_read = stream.rows_read
    if rows_read > MAX_ROWS:
        raise ImportRejected(filename, [RowError(0, "", f"文件有 {rows_read} 行，超过 {MAX_ROWS} 行的上限")])
    if rows_read == 0:
        raise ImportRejected(filename, [RowError(0, "", "表头下没有任何服务对象")])
    summary = check.finish(all_penalized_reported, rows_read)
    if check.errors:
        raise ImportRejected(filename, check.errors, rows_read=rows_read)
    total = check.table.total
    report(done=total, total=total + len(check.keep), stage="写入")
    _store(session, campaign, round_kind, filename, uploaded_by, check.keep, summary,
           lambda n: report(done=total + n), upload)
    audit.record(session, "objects.import", actor=actor, campaign_id=campaign.id, detail={
        "import_id": summary.import_id, "filename": filename, "round": round_kind.value,
        "rows_read": summary.rows_read, "stored": summary.stored, "duplicates": len(summary.duplicates),
        "sections": [{"section_id": c.section_id, "objects": c.objects, "penalized": c.penalized}
                     for c in summary.sections],
        "all_penalized_reported": sorted(summary.confirmed),
    })
    return summary


def _confirmed(confirmation: bool | set[int], section_id: int) -> bool:
    return confirmation is True or (isinstance(confirmation, set) and section_id in confirmation)


_SECTIONS = 10_000_000  # section ids stay below this (the key of (section, phone))
# What `_Check.keep` holds of each row to store.
_KEPT = ["section_id", "name", "org_title", "phone_norm", "matter", "is_penalized", ROW]


class _Check:
    """The checks of one file, a chunk of rows at a time, each adding to `errors` every
    row it finds bad. Across chunks it keeps only what the per-section rules need: each
    section's phones seen (duplicates), its counts, and the rows to store (`keep`, in
    the file's order), which stop growing at the first error."""

    def __init__(self, table: TableStream, statuses: pd.DataFrame, section_id: int | None, unit_id: int | None,
                 rules: RuleSettings):
        self.table = table
        statuses["label"] = statuses["unit"] + " " + statuses["section"]
        self.statuses = statuses
        self.info = statuses.set_index("id")
        self.section_id, self.unit_id, self.rules = section_id, unit_id, rules
        self.chosen = None
        if section_id is not None:
            chosen = statuses[statuses["id"] == section_id]
            if chosen.empty:
                raise DomainError("所选科室不属于本次评议活动")
            self.chosen = chosen.iloc[0]
        self.errors: list[RowError] = []
        self.named = False  # some row names its unit or section
        self.first_rows: dict[int, int] = {}  # (section, phone) -> the row it is first in
        self.over_cap = False
        self.counts: dict[int, list] = {}  # section -> [objects, penalized, the row past the cap]
        self.duplicates: list[tuple[int, int, str]] = []
        self.keep: list[tuple] = []
        self.stopped = False

    def flag(self, mask: pd.Series, key: str, reason: str | Callable[[dict], str]) -> None:
        for record in self.frame.loc[mask].to_dict("records"):
            text = reason(record) if callable(reason) else reason
            self.errors.append(RowError(record[ROW], self.table.where(key), text))

    def label(self, record: dict) -> str:
        return self.info.at[record["section_id"], "label"]

    def stop(self) -> None:
        self.stopped = True
        self.keep = []

    def chunk(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.assign_sections()
        self.cells()
        self.dedupe()

    def assign_sections(self) -> None:
        """`section_id` of every row: the chosen section, or the one its names give."""
        frame, flag = self.frame, self.flag
        frame["unit_key"] = fold_series(frame["unit"])
        frame["section_key"] = fold_series(frame["section"])
        if self.chosen is not None:
            chosen_row = self.chosen
            # A file for one section may name it; a name left out (often the whole unit
            # column) is no mismatch.
            other = ((frame["unit_key"] != "") & (frame["unit_key"] != chosen_row["unit"])) | (
                (frame["section_key"] != "") & (frame["section_key"] != chosen_row["section"])
            )
            flag(other, "section", lambda r: f"本行属于“{r['unit']} {r['section']}”，与所选科室“{chosen_row['label']}”不符")
            frame["section_id"] = self.section_id
        else:
            self.named = self.named or bool((frame["unit"] != "").any() or (frame["section"] != "").any())
            keys = pd.MultiIndex.from_frame(frame[["unit_key", "section_key"]])
            frame["section_id"] = self.statuses.set_index(["unit", "section"])["id"].reindex(keys).to_numpy()
            flag(frame["unit_key"] == "", "unit", "单位名称为空")
            flag((frame["unit_key"] != "") & (frame["section_key"] == ""), "section", "科室为空")
            unknown = frame["section_id"].isna() & (frame["section_key"] != "") & (frame["unit_key"] != "")
            flag(unknown, "section", lambda r: f"“{r['unit']} {r['section']}”不在参评科室名单中")
        self.resolved = frame["section_id"].notna()
        frame["section_id"] = frame["section_id"].fillna(-1).astype(int)
        known = self.info.reindex(frame["section_id"])
        exempt = self.resolved & known[C.EXEMPT].fillna(False).astype(bool).to_numpy()
        flag(exempt, "section", lambda r: f"“{self.label(r)}”本年度免评，不需要报送服务对象")
        if self.unit_id is not None:
            foreign = self.resolved & (known["unit_id"].to_numpy() != self.unit_id)
            flag(foreign, "section", lambda r: f"“{self.label(r)}”不属于本单位，不能上传")

    def cells(self) -> None:
        frame, flag = self.frame, self.flag
        flag(frame["name"] == "", "name", "姓名为空")
        flag(frame["matter"] == "", "matter", "事项内容为空")
        for key, limit in LIMITS.items():
            flag(frame[key].str.len() > limit, key, f"超过 {limit} 字")
        for key in ("name", "org_title", "matter"):
            flag(frame[key].str.contains(_CONTROL.pattern, regex=True), key, "含有不可见的控制字符")
        frame["phone_norm"], problems = normalize_phones(frame["phone"])
        self.bad_phone = problems.notna()
        for record, problem in zip(frame.loc[self.bad_phone].to_dict("records"), problems[self.bad_phone]):
            shown = f"“{mask_phone_text(record['phone'])}”" if record["phone"] else ""
            self.errors.append(RowError(record[ROW], self.table.where("phone"), f"{shown}{problem}"))
        penalized = fold_series(frame["penalized"]).str.lower()
        flag(~penalized.isin(_YES | _NO), "penalized", lambda r: f"“{r['penalized']}”无效：应填“是”或“否”")
        frame["is_penalized"] = penalized.isin(_YES)

    def dedupe(self) -> None:
        """Over the rows whose section and phone are good: the first row of each phone in
        its section counts (and is kept to store), a later one is a duplicate."""
        good = self.frame[self.resolved & ~self.bad_phone]
        cap = self.rules.max_objects_per_section
        first_rows, counts, firsts = self.first_rows, self.counts, []
        for position, (sid, phone, row, penalized) in enumerate(zip(
            good["section_id"].tolist(), good["phone_norm"].tolist(), good[ROW].tolist(),
            good["is_penalized"].tolist(),
        )):
            # One int for (section, phone), not a tuple of two: a file's 400,000 rows.
            # A good phone is the digits of a mobile number, none with a leading 0.
            first = first_rows.setdefault(int(phone) * _SECTIONS + sid, row)
            if first != row:
                self.duplicates.append((row, first, self.info.at[sid, "label"]))
                continue
            count = counts.setdefault(sid, [0, 0, 0])
            count[0] += 1
            count[1] += bool(penalized)
            if count[0] == cap + 1:
                count[2] = row
                self.over_cap = True  # refused in `finish`, with the section's total
            firsts.append(position)
        if self.errors or self.stopped or self.over_cap:
            self.keep = []  # the file is refused: nothing to store
        else:
            kept = good.iloc[firsts][_KEPT]
            self.keep.extend(zip(*(kept[key].tolist() for key in _KEPT)))

    def finish(self, confirmation: bool | set[int], rows_read: int) -> ObjectsSummary:
        """The per-section rules (500 cap, 100 penalized) once every row was seen; the
        summary."""
        if self.chosen is None and not self.named:
            raise ImportRejected(
                self.table.filename,
                [RowError(0, "", "文件没有“单位名称”和“科室”两列：请在页面上选择科室，或在文件中加上这两列")],
            )
        summary = ObjectsSummary(rows_read=rows_read, duplicates=self.duplicates)
        cap, minimum = self.rules.max_objects_per_section, self.rules.min_penalized_objects
        for sid, (objects, penalized, over) in self.counts.items():
            label = self.info.at[sid, "label"]
            enforcement = bool(self.info.at[sid, "is_enforcement"])
            if objects > cap:
                self.errors.append(RowError(over, "", f"“{label}”共 {objects} 人，超过每轮 {cap} 人的上限（从本行起超出）；超过 {cap} 人的只报 {cap} 人"))
            if enforcement and penalized < minimum and not _confirmed(confirmation, sid):
                self.errors.append(RowError(0, self.table.where("penalized"), f"“{label}”是管理执法类科室，只报了 {penalized} 个处罚对象，少于 {minimum} 个；如已全部上报本年被处罚的服务对象，请勾选“已全部上报处罚对象”"))
            summary.sections.append(SectionCount(int(sid), label, objects, penalized, enforcement))
        summary.confirmed = {c.section_id for c in summary.sections if c.is_enforcement and _confirmed(confirmation, c.section_id)}
        return summary


_STORE_CHUNK = 20_000  # rows sealed, hashed and inserted at a time


def _store(
    session: Session,
    campaign: Campaign,
    round_kind: RoundKind,
    filename: str,
    uploaded_by: User | None,
    keep: list[tuple],
    summary: ObjectsSummary,
    progress: Callable[[int], None],
    upload: str | None,
) -> None:
    """The new lists replace the sections' lists for this round."""
    section_ids = [s.section_id for s in summary.sections]
    _check_round_allows(session, campaign, round_kind, summary)
    sampled = session.scalar(
        select(Evaluator.id).join(ServiceObject, Evaluator.service_object_id == ServiceObject.id)
        .where(ServiceObject.section_id.in_(section_ids), ServiceObject.round == round_kind).limit(1)
    )
    if sampled is not None:
        # The online round's evaluators name these service objects too.
        raise DomainError(f"网络评价已从这些科室的 {round_kind.value} 轮名单中抽取了评价人，服务对象名单不能再替换")
    # Two uploads for the same section at once: the second waits for the first and then
    # replaces its list, instead of colliding with it on the unique phone constraint.
    session.execute(select(Section.id).where(Section.id.in_(section_ids)).with_for_update())
    # A cancelled round's invitations name the old objects too: they go with them (such
    # a round took no answer that counts: rounds.cancel_round).
    cancelled = select(SurveyRound.id).where(SurveyRound.campaign_id == campaign.id, SurveyRound.kind == round_kind,
                                             SurveyRound.status == RoundStatus.cancelled)
    session.execute(delete(Invitation).where(Invitation.round_id.in_(cancelled), Invitation.section_id.in_(section_ids)))
    session.execute(delete(SectionList).where(SectionList.section_id.in_(section_ids), SectionList.round == round_kind))
    session.execute(delete(ServiceObject).where(ServiceObject.section_id.in_(section_ids), ServiceObject.round == round_kind))
    record = ObjectImport(
        campaign_id=campaign.id,
        round=round_kind,
        filename=filename[:255],
        uploaded_by_id=uploaded_by.id if uploaded_by else None,
        rows_read=summary.rows_read,
        stored=len(keep),
        duplicates=len(summary.duplicates),
        report={
            "sections": [[c.section_id, c.label, c.objects, c.penalized, c.is_enforcement] for c in summary.sections],
            "duplicates": [list(d) for d in summary.duplicates],
            **({"upload": upload} if upload else {}),
        },
    )
    session.add(record)
    session.flush()
    vault = vault_of(session)
    columns = ["section_id", "round", "import_id", "name", "org_title", "phone", "phone_hash", "matter", "penalized",
               "source_row"]
    written = 0
    for start in range(0, len(keep), _STORE_CHUNK):
        # bulk_insert seals the numbers (the column's type) but applies no default: hash them here.
        rows = [
            (int(sid), round_kind.value, record.id, name, org_title, phone, vault.lookup(phone), matter,
             bool(penalized), int(row))
            for sid, name, org_title, phone, matter, penalized, row in keep[start : start + _STORE_CHUNK]
        ]
        # A mapped class's __table__ is its Table (typed as the FromClause it may be).
        bulk_insert(session, cast(Table, ServiceObject.__table__), columns, rows, chunk=_STORE_CHUNK)
        written += len(rows)
        progress(written)
    session.add_all(
        SectionList(
            section_id=c.section_id, round=round_kind, import_id=record.id, objects=c.objects,
            penalized=c.penalized, all_penalized_reported=c.section_id in summary.confirmed,
        )
        for c in summary.sections
    )
    session.flush()
    summary.stored = len(keep)
    summary.import_id = record.id


def round_refusal(session: Session, campaign: Campaign, round_kind: RoundKind, section_ids: Iterable[int] = ()) -> str | None:
    """Why lists for this round (and these sections) cannot come in now, or None (the
    upload page asks before the file is read; `_store` asks again, under the round's
    row lock)."""
    return _refusal(session, campaign, rounds.live_round(session, campaign, round_kind), round_kind, section_ids)


def _refusal(session: Session, campaign: Campaign, survey: SurveyRound | None, round_kind: RoundKind,
             section_ids: Iterable[int]) -> str | None:
    """A list may come in before its round opens, and while it is open for a section it
    has not invited yet (a late list: rounds.invite_late invites it); never once the
    round ended, nor for a section whose invitations name the old list. The 复评's lists
    are for last year's 不满意单位 only."""
    if round_kind is RoundKind.R:
        others = _not_reevaluated(session, campaign, section_ids)
        if others:
            return "复评只调查上年不满意单位，这些科室不在复评之列：" + "、".join(others)
    if survey is None or survey.status is RoundStatus.draft:
        return None
    if not votes.is_open(survey):
        return f"{round_kind.value} 轮调查已结束，不能再上传这一轮的服务对象名单"
    wanted = [int(i) for i in section_ids]
    invited = session.execute(
        select(Invitation.section_id, Unit.name, Section.name).distinct()
        .join(Section, Invitation.section_id == Section.id).join(Unit)
        .where(Invitation.round_id == survey.id, Invitation.section_id.in_(wanted))
        .order_by(Invitation.section_id)
    ).all() if wanted else []
    if invited:
        names = "、".join(f"{unit} {section}" for _, unit, section in invited)
        # Invitations name these service objects: replacing the list would orphan them.
        return f"{round_kind.value} 轮调查已向这些科室发出邀请，名单不能再替换：{names}"
    return None


def _not_reevaluated(session: Session, campaign: Campaign, section_ids: Iterable[int]) -> list[str]:
    """The names of the sections among `section_ids` that are not last year's
    不满意单位 (the 复评's sections: rounds.surveyed)."""
    wanted = {int(i) for i in section_ids}
    if not wanted:
        return []
    statuses = section_statuses(session, campaign)
    others = statuses[statuses["id"].isin(wanted) & ~statuses[C.PREVIOUS_UNSATISFIED].astype(bool)]
    return [f"{unit} {section}" for unit, section in zip(others["unit"], others["section"])]


def _check_round_allows(session: Session, campaign: Campaign, round_kind: RoundKind, summary: ObjectsSummary) -> None:
    """Refuse the lists if their round takes none now; note the open round they came in
    late for. The round's row stays locked until the caller commits, so no late
    invitation is made meanwhile."""
    survey = rounds.live_round(session, campaign, round_kind, lock=True)
    refusal = _refusal(session, campaign, survey, round_kind, [c.section_id for c in summary.sections])
    if refusal:
        raise DomainError(refusal)
    if survey is not None and survey.status is RoundStatus.open:
        summary.late_round_id = survey.id


def import_of_upload(session: Session, campaign: Campaign, upload: str) -> ObjectImport | None:
    """The import that stored the saved upload `upload` (a job that committed it and
    was stopped before it could say so), if any."""
    recent = session.scalars(
        select(ObjectImport).where(ObjectImport.campaign_id == campaign.id)
        .order_by(ObjectImport.id.desc()).limit(200)
    )
    return next((i for i in recent if (i.report or {}).get("upload") == upload), None)


def recent_imports(session: Session, campaign: Campaign, limit: int) -> list[ObjectImport]:
    """The campaign's latest `limit` imports of lists, newest first."""
    return list(session.scalars(
        select(ObjectImport).where(ObjectImport.campaign_id == campaign.id)
        .order_by(ObjectImport.created_at.desc()).limit(limit)
    ))


def get_import(session: Session, import_id: int) -> ObjectImport | None:
    """The import with this id, if there is one (of whichever campaign)."""
    return session.get(ObjectImport, import_id)


def import_units(session: Session, upload: ObjectImport) -> set[int]:
    """The units whose sections the import `upload` stored lists for."""
    ids = [row[0] for row in upload.report.get("sections", [])]
    if not ids:
        return set()
    return set(session.scalars(select(Section.unit_id).where(Section.id.in_(ids))))


def section_lists(session: Session, campaign: Campaign) -> dict[tuple[int, RoundKind], SectionList]:
    """The current list of every section and round that has one."""
    rows = session.scalars(
        select(SectionList).join(Section).join(Unit).where(Unit.campaign_id == campaign.id)
    )
    return {(sl.section_id, sl.round): sl for sl in rows}


def section_objects(session: Session, section_id: int, round_kind: RoundKind) -> list[ServiceObject]:
    """One section's list for one round, in the order of the file it came from."""
    return list(session.scalars(
        select(ServiceObject)
        .where(ServiceObject.section_id == section_id, ServiceObject.round == round_kind)
        .order_by(ServiceObject.source_row)
    ))
