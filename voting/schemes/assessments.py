"""The office's window assessments (docs/schemes.md): an assessment run by a scheme,
its entities, periods and records, and their results. Services: they take the session,
flush and never commit (the request or the command commits once); each change is
audited; a bad file or form changes nothing and says what is wrong and where."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scoring.engine import InputError
from scoring.schemes import columns as S
from scoring.schemes.engine import COMPARISON_COLUMNS, ENTITY_COLUMNS, RECORD_COLUMNS, Result, check_inputs, score
from scoring.schemes.exact import NotExact, to_milli
from scoring.schemes.rollup import LEVELS, months_of, roll_up
from scoring.schemes.scheme import PERIODS, Scheme, SchemeError, load_scheme
from voting.audit import audit
from voting.core.errors import DomainError, ImportRejected, NotFoundError, RowError
from voting.core.models import utcnow
from voting.lists.models import Campaign, Unit
from voting.schemes.files import (BUILTIN, UNIT, builtin_folder, figure_of, parse_comparison, parse_entities,
                                  parse_items, period_label)
from voting.schemes.models import AssessedEntity, Assessment, AssessmentPeriod, AssessmentRecord, ComparisonFigure

MAX_NAME = 200


class SchemeRejected(DomainError):
    """A scheme file that cannot be used: each problem with its line and field."""

    status = 422

    def __init__(self, error: SchemeError):
        self.lines = error.lines()
        super().__init__(f"方案 {error.source} 有 {len(error.problems)} 处错误，未建立考核。")


class AssessmentError(DomainError):
    status = 400


class PeriodClosed(DomainError):
    status = 409


@lru_cache(maxsize=32)
def _load(text: str, source: str) -> Scheme:
    return load_scheme(text, source)


def scheme_of(assessment: Assessment) -> Scheme:
    """The assessment's scheme (its stored text, read once per text)."""
    return _load(assessment.scheme_text, assessment.scheme_source)


def create_assessment(session: Session, name: str, *, builtin: str | None = None, text: str | None = None,
                      filename: str = "", with_examples: bool = False, actor: str) -> Assessment:
    """A new assessment by a built-in scheme (`builtin`, optionally with its seed's
    entities and records as examples) or by the office's own YAML `text`."""
    name = (name or "").strip()
    if not name:
        raise AssessmentError("请填写考核名称")
    if len(name) > MAX_NAME:
        raise AssessmentError(f"考核名称最多 {MAX_NAME} 个字")
    if session.scalar(select(Assessment.id).where(Assessment.name == name)) is not None:
        raise AssessmentError(f"已有名为“{name}”的考核")
    if builtin is not None:
        if builtin not in BUILTIN:
            raise AssessmentError(f"没有内置方案“{builtin}”")
        text, source = (builtin_folder() / f"{builtin}.yaml").read_text(encoding="utf-8"), f"builtin:{builtin}"
    elif text is None:
        raise AssessmentError("请选择内置方案或上传方案文件（YAML）")
    else:
        source = filename or "方案.yaml"
    try:
        scheme = _load(text, source)
    except SchemeError as error:
        raise SchemeRejected(error) from None
    assessment = Assessment(name=name, scheme_text=text, scheme_source=source, created_by=actor)
    session.add(assessment)
    session.flush()
    audit.record(session, "assessment.create", actor=actor, detail={
        "assessment": name, "scheme": scheme.name, "source": source, "examples": bool(with_examples and builtin)})
    if with_examples and builtin is not None:
        _load_examples(session, assessment, scheme, builtin, actor)
    return assessment


def _load_examples(session: Session, assessment: Assessment, scheme: Scheme, builtin: str, actor: str) -> None:
    folder = builtin_folder() / builtin
    entities = (folder / "entities.csv").read_bytes()
    import_entities(session, assessment, entities, "entities.csv", actor)
    items = parse_items(scheme, (folder / "items.csv").read_bytes(), "items.csv", None)
    comparison = folder / "comparison.csv"
    for label in sorted(set(items[S.PERIOD])):
        period = open_period(session, assessment, label, actor)
        import_records(session, assessment, period, (folder / "items.csv").read_bytes(), "items.csv", actor,
                       comparison=comparison.read_bytes() if comparison.is_file() else None, skip_others=True)


def find_assessment(session: Session, assessment_id: int) -> Assessment | None:
    """The assessment, or None (the page answers 404)."""
    return session.get(Assessment, assessment_id)


def assessments(session: Session) -> list[Assessment]:
    return list(session.scalars(select(Assessment).order_by(Assessment.created_at.desc(), Assessment.id.desc())))


def entities(session: Session, assessment: Assessment) -> list[AssessedEntity]:
    return list(session.scalars(select(AssessedEntity).where(AssessedEntity.assessment_id == assessment.id)
                                .order_by(AssessedEntity.position, AssessedEntity.id)))


def import_entities(session: Session, assessment: Assessment, data: bytes, filename: str, actor: str, *,
                    campaign: Campaign | None = None) -> int:
    """The entities of an Excel/CSV file (序号, 分组, 对象, 类型, 所属窗口, 单位): new names
    added, known ones updated; every bad row listed and nothing stored. A 单位 is the
    exact name of a unit of `campaign` (the pages' current one), empty for none; a file
    without that column leaves the entities' units as they are. How many."""
    scheme = scheme_of(assessment)
    units = {unit.name: unit for unit in campaign.units} if campaign is not None else {}
    frame = parse_entities(scheme, data, filename, units=units)
    problems = [RowError(0, "", message) for _, message in _entity_problems(scheme, frame)]
    if problems:
        raise ImportRejected(filename, problems, len(frame))
    known = {entity.name: entity for entity in entities(session, assessment)}
    before = _unit_names(session, [e.unit_id for e in known.values() if e.unit_id is not None])
    moved = []
    for row in frame.to_dict("records"):
        entity = known.get(row[S.ENTITY])
        if entity is None:
            entity = AssessedEntity(assessment_id=assessment.id, name=row[S.ENTITY])
            session.add(entity)
        entity.group_id, entity.kind, entity.position = row[S.GROUP], row[S.KIND], int(row[S.ORDER])
        entity.window = row[S.WINDOW]
        if UNIT in row:
            unit = units.get(row[UNIT]) if row[UNIT] else None
            if entity.unit_id != (unit.id if unit else None):
                moved.append({"entity": entity.name, "unit": unit.name if unit else None,
                              "previous_unit": before.get(entity.unit_id) if entity.unit_id else None})
                entity.unit_id = unit.id if unit else None
    session.flush()
    detail: dict[str, object] = {"assessment": assessment.name, "filename": filename, "rows": len(frame),
                                 "added": len(set(frame[S.ENTITY]) - set(known))}
    if UNIT in frame.columns:
        detail["units"] = moved
    audit.record(session, "assessment.entities", actor=actor, detail=detail)
    return len(frame)


def _entity_problems(scheme: Scheme, frame: pd.DataFrame) -> list[tuple[int | None, str]]:
    try:
        check_inputs(scheme, frame, pd.DataFrame(columns=RECORD_COLUMNS))
    except InputError as error:
        return error.problems
    return []


# ---- an entity's unit: its liaison sees its results (voting/schemes/unit_views.py) -----------------


def _unit_names(session: Session, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {unit_id: name for unit_id, name in session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(ids)))}


def find_entity(session: Session, assessment: Assessment, entity_id: int) -> AssessedEntity | None:
    """The assessment's entity, or None (the page answers 404)."""
    found = session.get(AssessedEntity, entity_id)
    return found if found is not None and found.assessment_id == assessment.id else None


def entity_units(session: Session, assessment: Assessment) -> dict[int, Unit]:
    """Each entity's unit (by the entity's id), for those that have one."""
    query = (select(AssessedEntity.id, Unit).join(Unit, Unit.id == AssessedEntity.unit_id)
             .where(AssessedEntity.assessment_id == assessment.id))
    return {entity_id: unit for entity_id, unit in session.execute(query).all()}


def set_unit(session: Session, assessment: Assessment, entity: AssessedEntity, unit: Unit | None, actor: str) -> None:
    """Give the entity to `unit`, whose liaison then sees its scores, rank and items (and
    nothing of the other entities), or to none (None: the office alone sees it)."""
    if entity.assessment_id != assessment.id:
        raise NotFoundError(f"考核“{assessment.name}”没有对象“{entity.name}”")
    previous = session.get(Unit, entity.unit_id) if entity.unit_id is not None else None
    if unit is None and previous is None:
        raise AssessmentError(f"对象“{entity.name}”没有指定单位，不需要取消")
    if unit is not None and previous is not None and unit.id == previous.id:
        raise AssessmentError(f"对象“{entity.name}”已经属于单位“{unit.name}”")
    entity.unit_id = unit.id if unit is not None else None
    session.flush()
    if unit is None and previous is not None:
        audit.record(session, "assessment.unit_unlink", actor=actor, detail={
            "assessment": assessment.name, "entity": entity.name, "unit_id": previous.id, "unit": previous.name})
    elif unit is not None:
        audit.record(session, "assessment.unit_link", actor=actor, detail={
            "assessment": assessment.name, "entity": entity.name, "unit_id": unit.id, "unit": unit.name,
            "previous_unit": previous.name if previous is not None else None})


def unit_assessments(session: Session, unit_id: int) -> list[tuple[Assessment, list[AssessedEntity]]]:
    """The assessments with at least one entity of the unit, newest first, each with
    those entities (what the unit's liaison may see; never the others)."""
    query = (select(Assessment, AssessedEntity).join(AssessedEntity, AssessedEntity.assessment_id == Assessment.id)
             .where(AssessedEntity.unit_id == unit_id)
             .order_by(Assessment.created_at.desc(), Assessment.id.desc(), AssessedEntity.position, AssessedEntity.id))
    found: dict[int, tuple[Assessment, list[AssessedEntity]]] = {}
    for assessment, entity in session.execute(query).all():
        found.setdefault(assessment.id, (assessment, []))[1].append(entity)
    return list(found.values())


def unit_entities(session: Session, assessment: Assessment, unit_id: int) -> list[AssessedEntity]:
    """The assessment's entities of the unit, in their order."""
    return list(session.scalars(select(AssessedEntity).where(AssessedEntity.assessment_id == assessment.id,
                                                             AssessedEntity.unit_id == unit_id)
                                .order_by(AssessedEntity.position, AssessedEntity.id)))


# ---- periods, records, results --------------------------------------------------------------------


def periods(session: Session, assessment: Assessment) -> list[AssessmentPeriod]:
    return list(session.scalars(select(AssessmentPeriod).where(AssessmentPeriod.assessment_id == assessment.id)
                                .order_by(AssessmentPeriod.label)))


def get_period(session: Session, assessment: Assessment, label: str) -> AssessmentPeriod:
    found = session.scalar(select(AssessmentPeriod).where(AssessmentPeriod.assessment_id == assessment.id,
                                                          AssessmentPeriod.label == label))
    if found is None:
        raise DomainError(f"没有期间 {label}")
    return found


def find_period(session: Session, assessment: Assessment, label: str) -> AssessmentPeriod | None:
    """The assessment's period `label` exactly as written (2023-Q1), or None; a label
    written any other way is none, without a query (an address's label, for a page's 404)."""
    try:
        if period_label(label) != label:
            return None
    except ValueError:
        return None
    return session.scalar(select(AssessmentPeriod).where(AssessmentPeriod.assessment_id == assessment.id,
                                                         AssessmentPeriod.label == label))


def period_kind(label: str) -> str:
    """month, quarter, half-year or year, by the label's form."""
    return {1: "month", 3: "quarter", 6: "half-year", 12: "year"}[len(months_of(label))]


def open_period(session: Session, assessment: Assessment, label: str, actor: str) -> AssessmentPeriod:
    """A period of the scheme's own kind (its records are entered) or a longer one
    (rolled up from those): checked, unique."""
    try:
        label = period_label(label)
    except ValueError as error:
        raise AssessmentError(str(error)) from None
    scheme = scheme_of(assessment)
    if LEVELS[period_kind(label)] < LEVELS[scheme.period]:
        raise AssessmentError(f"方案按{PERIODS[scheme.period]}考核：期间 {label} 比考核期短")
    if session.scalar(select(AssessmentPeriod.id).where(AssessmentPeriod.assessment_id == assessment.id,
                                                        AssessmentPeriod.label == label)) is not None:
        raise AssessmentError(f"期间 {label} 已经建立")
    period = AssessmentPeriod(assessment_id=assessment.id, label=label)
    session.add(period)
    session.flush()
    audit.record(session, "assessment.period_open", actor=actor, detail={"assessment": assessment.name, "period": label})
    return period


def is_rolled_up(assessment: Assessment, period: AssessmentPeriod) -> bool:
    """A period longer than the scheme's: its results are its periods', rolled up."""
    return period_kind(period.label) != scheme_of(assessment).period


def finished(assessment: Assessment, period: AssessmentPeriod, every: list[AssessmentPeriod]) -> bool:
    """Whether the period's results are final: it is closed, or (a longer one) every one
    of the scheme's periods inside it is among `every` (the assessment's) and closed."""
    if not is_rolled_up(assessment, period):
        return period.closed_at is not None
    kind, months = scheme_of(assessment).period, set(months_of(period.label))
    inside = [p for p in every if period_kind(p.label) == kind and set(months_of(p.label)) <= months]
    return len(inside) == LEVELS[period_kind(period.label)] // LEVELS[kind] and all(p.closed_at for p in inside)


def _writable(assessment: Assessment, period: AssessmentPeriod) -> None:
    if period.closed_at is not None:
        raise PeriodClosed(f"期间 {period.label} 已结束考核：请先重新开启，再修改记录")
    if is_rolled_up(assessment, period):
        raise AssessmentError(f"期间 {period.label} 由各考核期汇总而成，记录请录入各考核期")


def _entity_frame(session: Session, assessment: Assessment) -> pd.DataFrame:
    rows = [{S.ENTITY: e.name, S.GROUP: e.group_id, S.KIND: e.kind, S.ORDER: e.position, S.WINDOW: e.window}
            for e in entities(session, assessment)]
    return pd.DataFrame(rows, columns=ENTITY_COLUMNS)


def import_records(session: Session, assessment: Assessment, period: AssessmentPeriod, data: bytes, filename: str,
                   actor: str, *, comparison: bytes | None = None, skip_others: bool = False) -> int:
    """A period's records from an Excel/CSV file (items.csv's columns; 期间 may be left
    out): checked against the scheme and the entities, every bad row listed and nothing
    stored; all stored in this transaction otherwise. How many."""
    _writable(assessment, period)
    scheme = scheme_of(assessment)
    people = _entity_frame(session, assessment)
    frame = parse_items(scheme, data, filename, period.label, strict=not skip_others, known=set(people[S.ENTITY]))
    try:
        check_inputs(scheme, people, frame)
    except InputError as error:
        raise ImportRejected(filename, [RowError(row or 0, "", message) for row, message in error.problems],
                             len(frame)) from None
    ids = {entity.name: entity.id for entity in entities(session, assessment)}
    now = utcnow()
    session.add_all([AssessmentRecord(
        period_id=period.id, entity_id=ids[row[S.ENTITY]], indicator=row[S.INDICATOR], count=int(row[S.COUNT]),
        value=row[S.LEVEL], points=None if pd.isna(row[S.POINTS]) else int(row[S.POINTS]), note=row[S.NOTE],
        recorded_by=actor, recorded_at=now) for row in frame.to_dict("records")])
    if comparison is not None:
        figures = parse_comparison(scheme, comparison, "comparison.csv", period.label)
        session.add_all([ComparisonFigure(period_id=period.id, entity_id=ids[row[S.ENTITY]], indicator=row[S.INDICATOR],
                                          place=row[S.PLACE], figure=int(row[S.OTHER]))
                         for row in figures.to_dict("records") if row[S.ENTITY] in ids])
    session.flush()
    audit.record(session, "assessment.records_import", actor=actor, detail={
        "assessment": assessment.name, "period": period.label, "filename": filename, "records": len(frame)})
    return len(frame)


@dataclass(frozen=True)
class RecordInput:
    """One record as a form gives it."""

    entity: str
    indicator: str
    count: int = 1
    value: str = ""
    points: str = ""
    note: str = ""
    on: date | None = None


def add_record(session: Session, assessment: Assessment, period: AssessmentPeriod, given: RecordInput,
               actor: str) -> AssessmentRecord:
    """One record, checked as a file's row would be; AssessmentError says what is wrong."""
    _writable(assessment, period)
    scheme = scheme_of(assessment)
    indicator = scheme.indicator(given.indicator.strip())
    if indicator is None:
        raise AssessmentError(f"方案中没有指标“{given.indicator}”")
    try:
        points = to_milli(given.points) if given.points.strip() else None
    except NotExact as error:
        raise AssessmentError(f"分值{error}") from None
    value = given.value.strip()
    figure = figure_of(value)
    frame = pd.DataFrame([{S.PERIOD: period.label, S.ENTITY: given.entity.strip(), S.INDICATOR: indicator.id,
                           S.COUNT: given.count, S.VALUE: figure, S.LEVEL: value, S.POINTS: points,
                           S.NOTE: given.note.strip(), S.ROW: 0}], columns=RECORD_COLUMNS)
    frame = frame.astype({S.VALUE: "Int64", S.POINTS: "Int64"})
    try:
        check_inputs(scheme, _entity_frame(session, assessment), frame)
    except InputError as error:
        raise AssessmentError("；".join(message for _, message in error.problems)) from None
    entity_id = session.scalar(select(AssessedEntity.id).where(AssessedEntity.assessment_id == assessment.id,
                                                               AssessedEntity.name == given.entity.strip()))
    found = AssessmentRecord(period_id=period.id, entity_id=entity_id, indicator=indicator.id, on=given.on,
                             count=given.count, value=value, points=points, note=given.note.strip(), recorded_by=actor)
    session.add(found)
    session.flush()
    audit.record(session, "assessment.record_add", actor=actor, detail={
        "assessment": assessment.name, "period": period.label, "record": found.id, "entity": given.entity.strip(),
        "indicator": indicator.name, "count": given.count, "value": value, "points": given.points.strip(),
        "note": given.note.strip()})
    return found


def delete_record(session: Session, assessment: Assessment, period: AssessmentPeriod, record_id: int, reason: str,
                  actor: str) -> None:
    """Remove a wrong record, with the reason (a correction is a removal and a new
    record: the audit log keeps both)."""
    _writable(assessment, period)
    reason = (reason or "").strip()
    if not reason:
        raise AssessmentError("请写明删除的原因")
    found = session.get(AssessmentRecord, record_id)
    if found is None or found.period_id != period.id:
        raise DomainError("没有这条记录")
    entity = session.get(AssessedEntity, found.entity_id)
    audit.record(session, "assessment.record_delete", actor=actor, detail={
        "assessment": assessment.name, "period": period.label, "record": found.id,
        "entity": entity.name if entity else "", "indicator": found.indicator, "count": found.count,
        "value": found.value, "points": found.points, "note": found.note, "reason": reason})
    session.delete(found)
    session.flush()


def records(session: Session, period: AssessmentPeriod, entity: str | None = None) -> list[tuple[AssessmentRecord, str]]:
    query = (select(AssessmentRecord, AssessedEntity.name).join(AssessedEntity)
             .where(AssessmentRecord.period_id == period.id).order_by(AssessmentRecord.id))
    if entity is not None:
        query = query.where(AssessedEntity.name == entity)
    return [(row[0], row[1]) for row in session.execute(query).all()]


def close_period(session: Session, assessment: Assessment, period: AssessmentPeriod, actor: str) -> None:
    if period.closed_at is not None:
        raise AssessmentError(f"期间 {period.label} 已经结束考核")
    period.closed_at, period.closed_by = utcnow(), actor
    session.flush()
    audit.record(session, "assessment.period_close", actor=actor, detail={"assessment": assessment.name,
                                                                   "period": period.label})


def reopen_period(session: Session, assessment: Assessment, period: AssessmentPeriod, reason: str, actor: str) -> None:
    if period.closed_at is None:
        raise AssessmentError(f"期间 {period.label} 没有结束考核")
    if not (reason or "").strip():
        raise AssessmentError("请写明重新开启的原因")
    period.closed_at = period.closed_by = None
    session.flush()
    audit.record(session, "assessment.period_reopen", actor=actor, detail={
        "assessment": assessment.name, "period": period.label, "reason": reason.strip()})


def _frames(session: Session, assessment: Assessment, labels: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    query = (select(AssessmentPeriod.label, AssessedEntity.name, AssessmentRecord)
             .join(AssessmentRecord, AssessmentRecord.period_id == AssessmentPeriod.id)
             .join(AssessedEntity, AssessedEntity.id == AssessmentRecord.entity_id)
             .where(AssessmentPeriod.assessment_id == assessment.id, AssessmentPeriod.label.in_(labels)))
    rows = []
    for label, name, found in session.execute(query).all():
        rows.append({S.PERIOD: label, S.ENTITY: name, S.INDICATOR: found.indicator, S.COUNT: found.count,
                     S.VALUE: figure_of(found.value), S.LEVEL: found.value, S.POINTS: found.points, S.NOTE: found.note,
                     S.ROW: found.id})
    frame = pd.DataFrame(rows, columns=RECORD_COLUMNS).astype({S.VALUE: "Int64", S.POINTS: "Int64", S.COUNT: "int64"})
    others = session.execute(
        select(AssessmentPeriod.label, AssessedEntity.name, ComparisonFigure.indicator, ComparisonFigure.place,
               ComparisonFigure.figure)
        .join(ComparisonFigure, ComparisonFigure.period_id == AssessmentPeriod.id)
        .join(AssessedEntity, AssessedEntity.id == ComparisonFigure.entity_id)
        .where(AssessmentPeriod.assessment_id == assessment.id, AssessmentPeriod.label.in_(labels))).all()
    comparison = pd.DataFrame([dict(zip(COMPARISON_COLUMNS, row)) for row in others], columns=COMPARISON_COLUMNS)
    return frame, comparison


def results(session: Session, assessment: Assessment, period: AssessmentPeriod) -> Result:
    """The period's results: scored from its records, or (a longer period) rolled up
    from the results of the scheme's periods inside it that the assessment has. The
    records' ROW is the record's id, which the explanations quote."""
    return results_and_parts(session, assessment, period)[0]


def results_and_parts(session: Session, assessment: Assessment,
                      period: AssessmentPeriod) -> tuple[Result, Result | None]:
    """The period's results and, for a longer period, the results of the scheme's
    periods inside it, scored together: what it is rolled up from (the trend of its
    months on the page and in the workbook). None for a period of the scheme's own kind."""
    scheme = scheme_of(assessment)
    people = _entity_frame(session, assessment)
    if not is_rolled_up(assessment, period):
        frame, comparison = _frames(session, assessment, [period.label])
        return score(scheme, people, frame, comparison, periods=[period.label]), None
    inside = [p.label for p in periods(session, assessment)
              if period_kind(p.label) == scheme.period and set(months_of(p.label)) <= set(months_of(period.label))]
    if not inside:
        raise AssessmentError(f"{period.label} 之内还没有任何考核期")
    frame, comparison = _frames(session, assessment, inside)
    parts = score(scheme, people, frame, comparison, periods=inside)
    return roll_up(parts, period.label), parts


def record_count(session: Session, period: AssessmentPeriod) -> int:
    return session.scalar(select(func.count()).select_from(AssessmentRecord)
                          .where(AssessmentRecord.period_id == period.id)) or 0


def record_in(session: Session, period: AssessmentPeriod, record_id: int) -> tuple[str, str] | None:
    """The entity's name and the indicator's id of the period's record `record_id`; None
    when the period has no such record."""
    row = session.execute(select(AssessedEntity.name, AssessmentRecord.indicator)
                          .join(AssessedEntity, AssessedEntity.id == AssessmentRecord.entity_id)
                          .where(AssessmentRecord.id == record_id, AssessmentRecord.period_id == period.id)).first()
    return (row[0], row[1]) if row is not None else None

