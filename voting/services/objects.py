"""Service-object lists (服务对象名单, SPEC §3).

A file holds one section (chosen on the form or the command line) or many (单位名称 and
科室 columns). Every row is checked; a file with any bad row is rejected whole, with
every bad row listed, and nothing of it is stored. An accepted file replaces the
sections' lists for that round. Duplicates (the same phone twice in a section) are kept
once and reported.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from scoring import columns as C
from sms.phones import mask_phone_text, normalize_phones
from voting.db import bulk_insert
from voting.errors import DomainError, ImportRejected, RowError
from scoring.settings import RuleSettings
from voting.models import (
    Campaign, Evaluator, ObjectImport, RoundKind, RoundStatus, Section, SectionList, ServiceObject, SurveyRound, Unit,
    User,
)
from voting.services import audit
from voting.services.history import section_statuses
from voting.services.tables import ROW, Column, Table, fold_series, read_table
from voting.vault import vault_of

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


def import_objects(
    session: Session,
    campaign: Campaign,
    round_kind: RoundKind,
    data: bytes,
    filename: str,
    *,
    section_id: int | None = None,
    unit_id: int | None = None,
    all_penalized_reported: bool | set[int] = False,
    uploaded_by: User | None = None,
    progress: Callable[[int], None] | None = None,
    actor: str = "system",
) -> ObjectsSummary:
    """Check and store one service-object file.

    `section_id`: the file is that one section's. `unit_id`: the uploader may only send
    that unit's sections (a liaison). `all_penalized_reported`: the uploader confirms
    that a 管理执法类 section has reported every penalized object it has (all sections
    when True, or the ids in the set).
    """
    table = read_table(data, filename, COLUMNS)
    if len(table.frame) > MAX_ROWS:
        raise ImportRejected(filename, [RowError(0, "", f"文件有 {len(table.frame)} 行,超过 {MAX_ROWS} 行的上限")])
    if table.frame.empty:
        raise ImportRejected(filename, [RowError(0, "", "表头下没有任何服务对象")])
    check = _Check(table, section_statuses(session, campaign))
    check.assign_sections(section_id, unit_id)
    check.cells()
    first, summary = check.sections(campaign.rules, all_penalized_reported)
    if check.errors:
        raise ImportRejected(filename, check.errors, rows_read=len(table.frame))
    _store(session, campaign, round_kind, filename, uploaded_by, first, summary, progress)
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


class _Check:
    """The checks of one file, each adding to `errors` every row it finds bad."""

    def __init__(self, table: Table, statuses: pd.DataFrame):
        self.table = table
        self.frame = table.frame
        statuses["label"] = statuses["unit"] + " " + statuses["section"]
        self.statuses = statuses
        self.info = statuses.set_index("id")
        self.errors: list[RowError] = []

    def flag(self, mask: pd.Series, key: str, reason: str | Callable[[dict], str]) -> None:
        for record in self.frame.loc[mask].to_dict("records"):
            text = reason(record) if callable(reason) else reason
            self.errors.append(RowError(record[ROW], self.table.where(key), text))

    def label(self, record: dict) -> str:
        return self.info.at[record["section_id"], "label"]

    def assign_sections(self, section_id: int | None, unit_id: int | None) -> None:
        """`section_id` of every row: the chosen section, or the one its names give."""
        frame, flag = self.frame, self.flag
        frame["unit_key"] = fold_series(frame["unit"])
        frame["section_key"] = fold_series(frame["section"])
        if section_id is not None:
            chosen = self.statuses[self.statuses["id"] == section_id]
            if chosen.empty:
                raise DomainError("所选科室不属于本次评议活动")
            chosen_row = chosen.iloc[0]
            # A file for one section may name it; a name left out (often the whole unit
            # column) is no mismatch.
            other = ((frame["unit_key"] != "") & (frame["unit_key"] != chosen_row["unit"])) | (
                (frame["section_key"] != "") & (frame["section_key"] != chosen_row["section"])
            )
            flag(other, "section", lambda r: f"本行属于“{r['unit']} {r['section']}”,与所选科室“{chosen_row['label']}”不符")
            frame["section_id"] = section_id
        else:
            if not ((frame["unit"] != "").any() or (frame["section"] != "").any()):
                raise ImportRejected(
                    self.table.filename,
                    [RowError(0, "", "文件没有“单位名称”和“科室”两列:请在页面上选择科室,或在文件中加上这两列")],
                )
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
        flag(exempt, "section", lambda r: f"“{self.label(r)}”本年度免评,不需要报送服务对象")
        if unit_id is not None:
            foreign = self.resolved & (known["unit_id"].to_numpy() != unit_id)
            flag(foreign, "section", lambda r: f"“{self.label(r)}”不属于本单位,不能上传")

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
        flag(~penalized.isin(_YES | _NO), "penalized", lambda r: f"“{r['penalized']}”无效:应填“是”或“否”")
        frame["is_penalized"] = penalized.isin(_YES)

    def sections(self, rules: RuleSettings, confirmation: bool | set[int]) -> tuple[pd.DataFrame, ObjectsSummary]:
        """Duplicates, then the per-section rules (500 cap, 100 penalized), over the rows
        whose section and phone are good. The rows to store, and the summary."""
        summary = ObjectsSummary(rows_read=len(self.frame))
        good = self.frame[self.resolved & ~self.bad_phone]
        first = good.drop_duplicates(["section_id", "phone_norm"], keep="first")
        repeated = good.duplicated(["section_id", "phone_norm"], keep="first")
        if repeated.any():
            first_rows = first.set_index(["section_id", "phone_norm"])[ROW]
            for record in good[repeated].to_dict("records"):
                first_row = int(first_rows[(record["section_id"], record["phone_norm"])])
                summary.duplicates.append((record[ROW], first_row, self.label(record)))
        cap, minimum = rules.max_objects_per_section, rules.min_penalized_objects
        for sid, rows in first.groupby("section_id", sort=False):
            label = self.info.at[sid, "label"]
            enforcement = bool(self.info.at[sid, "is_enforcement"])
            if len(rows) > cap:
                over = int(rows[ROW].iloc[cap])
                self.errors.append(RowError(over, "", f"“{label}”共 {len(rows)} 人,超过每轮 {cap} 人的上限(从本行起超出);超过 {cap} 人的只报 {cap} 人"))
            penalized = int(rows["is_penalized"].sum())
            if enforcement and penalized < minimum and not _confirmed(confirmation, sid):
                self.errors.append(RowError(0, self.table.where("penalized"), f"“{label}”是管理执法类科室,只报了 {penalized} 个处罚对象,少于 {minimum} 个;如已全部上报本年被处罚的服务对象,请勾选“已全部上报处罚对象”"))
            summary.sections.append(SectionCount(int(sid), label, len(rows), penalized, enforcement))
        summary.confirmed = {c.section_id for c in summary.sections if c.is_enforcement and _confirmed(confirmation, c.section_id)}
        return first, summary


def _store(
    session: Session,
    campaign: Campaign,
    round_kind: RoundKind,
    filename: str,
    uploaded_by: User | None,
    first: pd.DataFrame,
    summary: ObjectsSummary,
    progress: Callable[[int], None] | None,
) -> None:
    """The new lists replace the sections' lists for this round."""
    section_ids = [s.section_id for s in summary.sections]
    started = session.scalar(
        select(SurveyRound.id).where(SurveyRound.campaign_id == campaign.id, SurveyRound.kind == round_kind,
                                     SurveyRound.status != RoundStatus.draft)
    )
    if started is not None:
        # Invitations name these service objects: replacing the list would orphan them.
        raise DomainError(f"{round_kind.value} 轮调查已经开始,服务对象名单不能再替换")
    sampled = session.scalar(
        select(Evaluator.id).join(ServiceObject, Evaluator.service_object_id == ServiceObject.id)
        .where(ServiceObject.section_id.in_(section_ids), ServiceObject.round == round_kind).limit(1)
    )
    if sampled is not None:
        # The online round's evaluators name these service objects too.
        raise DomainError(f"网络评价已从这些科室的 {round_kind.value} 轮名单中抽取了评价人,服务对象名单不能再替换")
    # Two uploads for the same section at once: the second waits for the first and then
    # replaces its list, instead of colliding with it on the unique phone constraint.
    session.execute(select(Section.id).where(Section.id.in_(section_ids)).with_for_update())
    session.execute(delete(SectionList).where(SectionList.section_id.in_(section_ids), SectionList.round == round_kind))
    session.execute(delete(ServiceObject).where(ServiceObject.section_id.in_(section_ids), ServiceObject.round == round_kind))
    upload = ObjectImport(
        campaign_id=campaign.id,
        round=round_kind,
        filename=filename[:255],
        uploaded_by_id=uploaded_by.id if uploaded_by else None,
        rows_read=summary.rows_read,
        stored=len(first),
        duplicates=len(summary.duplicates),
        report={
            "sections": [[c.section_id, c.label, c.objects, c.penalized, c.is_enforcement] for c in summary.sections],
            "duplicates": [list(d) for d in summary.duplicates],
        },
    )
    session.add(upload)
    session.flush()
    # bulk_insert seals the numbers (the column's type) but applies no default: hash them here.
    phones = first["phone_norm"].tolist()
    vault = vault_of(session)
    hashes = [vault.lookup(p) for p in phones]
    columns = ["section_id", "round", "import_id", "name", "org_title", "phone", "phone_hash", "matter", "penalized",
               "source_row"]
    rows = list(zip(
        first["section_id"].astype(int).tolist(),
        [round_kind.value] * len(first),
        [upload.id] * len(first),
        first["name"].tolist(),
        first["org_title"].tolist(),
        phones,
        hashes,
        first["matter"].tolist(),
        first["is_penalized"].astype(bool).tolist(),
        first[ROW].astype(int).tolist(),
    ))
    bulk_insert(session, ServiceObject.__table__, columns, rows, progress=progress)
    session.add_all(
        SectionList(
            section_id=c.section_id, round=round_kind, import_id=upload.id, objects=c.objects,
            penalized=c.penalized, all_penalized_reported=c.section_id in summary.confirmed,
        )
        for c in summary.sections
    )
    session.flush()
    summary.stored = len(rows)
    summary.import_id = upload.id


def section_lists(session: Session, campaign: Campaign) -> dict[tuple[int, RoundKind], SectionList]:
    """The current list of every section and round that has one."""
    rows = session.scalars(
        select(SectionList).join(Section).join(Unit).where(Unit.campaign_id == campaign.id)
    )
    return {(sl.section_id, sl.round): sl for sl in rows}
