"""What the office's rating-code pages list and the posters name: the places a code
can be for (the current campaign's sections, by unit; each window assessment's
entities), the live code of each, and a code's place in words (its name and unit).

A few queries per page whatever the county's size: the places of a listing are read
together, and so are their live codes and the names behind a batch of codes (a
county's ~400 posters read their names in three queries, not one per poster)."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session, aliased

from voting.core.db import single_statement_connection
from voting.core.errors import DomainError, NotFoundError
from voting.lists.models import Section, Unit
from voting.ratings import codes
from voting.ratings.models import CodeKind, RatingCode
from voting.schemes.models import AssessedEntity, Assessment


@dataclass(frozen=True)
class Place:
    """A code's place in words: the section's or the window's name, and its unit (for
    a window without a unit: its assessment's name)."""

    name: str
    unit: str
    kind: CodeKind  # section or window: the place's own kind, whatever the code's
    case_ref: str | None = None  # a case code's 办件编号, shown under the place


def sections_by_unit(session: Session, campaign_id: int) -> list[tuple[Unit, list[Section]]]:
    """The campaign's units, in their order, each with its sections."""
    rows = session.execute(select(Unit, Section).join(Section, Section.unit_id == Unit.id)
                           .where(Unit.campaign_id == campaign_id)
                           .order_by(Unit.number, Unit.id, Section.number, Section.id)).all()
    grouped: dict[int, tuple[Unit, list[Section]]] = {}
    for unit, section in rows:
        grouped.setdefault(unit.id, (unit, []))[1].append(section)
    return list(grouped.values())


def unit_sections(session: Session, campaign_id: int, unit_id: int) -> tuple[Unit, list[Section]]:
    """A unit of the campaign with its sections; NotFoundError for another campaign's."""
    unit = session.get(Unit, unit_id)
    if unit is None or unit.campaign_id != campaign_id:
        raise NotFoundError(f"本年度没有编号为 {unit_id} 的单位。")
    return unit, list(session.scalars(select(Section).where(Section.unit_id == unit.id)
                                      .order_by(Section.number, Section.id)))


def assessments_with_entities(session: Session) -> list[tuple[Assessment, list[AssessedEntity]]]:
    """Every window assessment, the newest first, each with its entities in order."""
    found = list(session.scalars(select(Assessment).order_by(Assessment.created_at.desc(), Assessment.id.desc())))
    entities: dict[int, list[AssessedEntity]] = {a.id: [] for a in found}
    for entity in session.scalars(select(AssessedEntity).order_by(AssessedEntity.position, AssessedEntity.id)):
        entities.setdefault(entity.assessment_id, []).append(entity)
    return [(a, entities[a.id]) for a in found]


def assessment_entities(session: Session, assessment_id: int) -> tuple[Assessment, list[AssessedEntity]]:
    assessment = session.get(Assessment, assessment_id)
    if assessment is None:
        raise NotFoundError(f"没有编号为 {assessment_id} 的考核。")
    return assessment, list(session.scalars(select(AssessedEntity).where(AssessedEntity.assessment_id == assessment.id)
                                            .order_by(AssessedEntity.position, AssessedEntity.id)))


def live_codes(session: Session, *, section_ids: Iterable[int] = (), entity_ids: Iterable[int] = ()
               ) -> tuple[dict[int, RatingCode], dict[int, RatingCode]]:
    """The live counter codes (not the cases') of the sections and of the windows: two
    dicts by the place's id (the newest, should a place have more than one)."""
    sections, entities = list(section_ids), list(entity_ids)
    by_section: dict[int, RatingCode] = {}
    by_entity: dict[int, RatingCode] = {}
    live = select(RatingCode).where(RatingCode.revoked_at.is_(None), RatingCode.kind != CodeKind.case)
    if sections:
        for code in session.scalars(live.where(RatingCode.section_id.in_(sections)).order_by(RatingCode.id)):
            by_section[code.section_id] = code  # type: ignore[index]
    if entities:
        for code in session.scalars(live.where(RatingCode.entity_id.in_(entities)).order_by(RatingCode.id)):
            by_entity[code.entity_id] = code  # type: ignore[index]
    return by_section, by_entity


def live_case_codes(session: Session, limit: int = 50) -> list[RatingCode]:
    """The newest live case codes (办件二维码)."""
    return list(session.scalars(select(RatingCode).where(RatingCode.revoked_at.is_(None), RatingCode.kind == CodeKind.case)
                                .order_by(RatingCode.id.desc()).limit(limit)))


def places_of(session: Session, codes: Sequence[RatingCode]) -> dict[int, Place]:
    """Each code's place in words, by the code's id (three queries for any number)."""
    section_ids = {c.section_id for c in codes if c.section_id is not None}
    entity_ids = {c.entity_id for c in codes if c.entity_id is not None}
    sections = {s.id: (s.name, u.name) for s, u in session.execute(
        select(Section, Unit).join(Unit, Unit.id == Section.unit_id).where(Section.id.in_(section_ids)))} \
        if section_ids else {}
    windows: dict[int, tuple[str, str]] = {}
    if entity_ids:
        rows = session.execute(select(AssessedEntity, Assessment.name, Unit.name)
                               .join(Assessment, Assessment.id == AssessedEntity.assessment_id)
                               .outerjoin(Unit, Unit.id == AssessedEntity.unit_id)
                               .where(AssessedEntity.id.in_(entity_ids)))
        windows = {entity.id: (entity.name, unit_name or assessment_name) for entity, assessment_name, unit_name in rows}
    found: dict[int, Place] = {}
    for code in codes:
        if code.section_id is not None and code.section_id in sections:
            name, unit = sections[code.section_id]
            found[code.id] = Place(name, unit, CodeKind.section, code.case_ref)
        elif code.entity_id is not None and code.entity_id in windows:
            name, unit = windows[code.entity_id]
            found[code.id] = Place(name, unit, CodeKind.window, code.case_ref)
    return found


def _scan_statement() -> Select:
    """The rating page's one query (`scanned`), built once: a code's nonce and stop by
    its id, with the names of its place, a section's and its unit's or a window's and its
    unit's (or, without a unit, its assessment's)."""
    window_unit = aliased(Unit)
    return (select(RatingCode.nonce, RatingCode.revoked_at, RatingCode.case_ref, Section.name, Unit.name, AssessedEntity.name,
                   window_unit.name, Assessment.name)
            .outerjoin(Section, Section.id == RatingCode.section_id).outerjoin(Unit, Unit.id == Section.unit_id)
            .outerjoin(AssessedEntity, AssessedEntity.id == RatingCode.entity_id)
            .outerjoin(Assessment, Assessment.id == AssessedEntity.assessment_id)
            .outerjoin(window_unit, window_unit.id == AssessedEntity.unit_id)
            .where(RatingCode.id == bindparam("code_id")))


_SCAN = _scan_statement()


def scanned(session: Session, token: str) -> Place:
    """The place of the live code a scanned address names (the checks of
    codes.code_from_token: 404, 410), in one statement on the request's autocommit
    connection (voting.core.db.single_statement_connection): the rating page, the
    busiest of them, reads nothing else."""
    code_id, nonce = codes.rating_tokens().read(token)
    row = single_statement_connection(session).execute(_SCAN, {"code_id": code_id}).first()
    if row is None:
        raise codes.UnknownCodeError()
    own_nonce, revoked_at, case_ref, section, unit, window, window_unit_name, assessment = row
    codes.check_live(nonce, own_nonce, revoked_at)
    if section is not None:
        return Place(section, unit, CodeKind.section, case_ref)
    if window is not None:
        return Place(window, window_unit_name or assessment, CodeKind.window, case_ref)
    raise codes.UnknownCodeError()  # the foreign keys cascade: a code outlives no place


def place_of(session: Session, code: RatingCode) -> Place:
    place = places_of(session, [code]).get(code.id)
    if place is None:  # the foreign keys cascade: a code outlives no place
        raise NotFoundError(f"评议二维码 {code.id} 的科室或窗口已不存在。")
    return place


def find_section(session: Session, campaign_id: int | None, section_id: int) -> Section:
    """A section of the campaign `campaign_id` (NotFoundError for another year's, or
    before there is a campaign)."""
    section = session.get(Section, section_id)
    if section is None or campaign_id is None or section.unit.campaign_id != campaign_id:
        raise NotFoundError(f"本年度没有编号为 {section_id} 的科室。")
    return section


def find_entity(session: Session, entity_id: int) -> AssessedEntity:
    entity = session.get(AssessedEntity, entity_id)
    if entity is None:
        raise NotFoundError(f"没有编号为 {entity_id} 的窗口。")
    return entity


class StoppedCodeError(DomainError):
    status = 410


def live_code(session: Session, code_id: int) -> RatingCode:
    """A live code by its id, for its poster: NotFoundError for none, StoppedCodeError
    (410) for a stopped one, whose poster must not be printed again."""
    code = codes.find_code(session, code_id)
    if code.revoked_at is not None:
        raise StoppedCodeError(f"评议二维码 {code_id} 已停用，它的海报不能再打印。")
    return code
