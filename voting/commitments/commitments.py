"""附件4 服务承诺表 and 附件5 工作人员联系表 (docs/rules.md §3.10): each unit's liaison fills
them for the unit's sections, in forms or by an Excel file; the office sees who has.

- 附件4, one per section (SectionCommitment): address, head and liaison with their
  phones and 纪委短号, duties (工作职责) and service commitment (服务承诺). The duties and
  the commitment are shown to the citizens on the voting page (`for_citizens`).
- 附件5, the unit's people (StaffContact): 分管领导 (of the unit), 主要负责人 and 工作人员
  (of a section), 联络员 (of the unit, or of a section); name, post, office phone,
  mobile, QQ.

Every number is sealed at rest and shown to no one in full (phones.mask_number): a
number field left empty keeps the stored value; a ticked 清除 removes it. The audit
log says who changed which unit's or section's form, and which fields, never a value
of a number, nor a staff member's name (the log outlives the retention of personal
data).
"""
from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from voting.commitments.models import SectionCommitment, StaffContact, StaffRole
from voting.commitments.phones import Kind, mask_number
from voting.core.db import QuickRead, single_statement_connection
from voting.core.errors import DomainError
from voting.lists.models import Campaign, Section, Unit
from voting.audit import audit

# 附件4's text fields: (label, longest).
TEXTS = {
    "address": ("办公地址", 200),
    "head_name": ("主要负责人", 50),
    "liaison_name": ("联络员", 50),
    "duties": ("工作职责", 2000),
    "commitment": ("服务承诺", 2000),
}
# 附件4's numbers: (label, kind).
NUMBERS = {
    "head_phone": ("主要负责人联系电话", Kind.contact),
    "head_short": ("主要负责人纪委短号", Kind.short),
    "liaison_phone": ("联络员联系电话", Kind.contact),
    "liaison_short": ("联络员纪委短号", Kind.short),
}
# 附件5's: (label, longest) and (label, kind).
CONTACT_TEXTS = {"name": ("姓名", 50), "post": ("职务", 100)}
CONTACT_NUMBERS = {
    "office_phone": ("办公电话", Kind.office),
    "phone": ("手机号码", Kind.mobile),
    "qq": ("QQ号码", Kind.qq),
}
ROLE_ORDER = {StaffRole.leader: 0, StaffRole.head: 1, StaffRole.liaison: 2, StaffRole.staff: 3}
# The roles that belong to one section (责任科室), and the one that never does.
SECTION_ROLES = (StaffRole.head, StaffRole.staff)
# The duties and the commitment on the citizens' page: this many characters show at
# once; a longer text is folded under a <details>.
CITIZEN_SHORT = 120


@dataclass
class Change:
    """What a form or a row sets: text fields as given, numbers to store (already
    read by phones.read_number), numbers to remove. A number not named keeps its value."""

    texts: dict[str, str] = field(default_factory=dict)
    numbers: dict[str, str] = field(default_factory=dict)
    cleared: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Shown:
    """A stored number as a person sees it."""

    masked: str
    present: bool


@dataclass
class SectionForm:
    """A section's 附件4 as the pages show it: texts, numbers masked."""

    section_id: int
    section: str
    unit_id: int
    unit: str
    texts: dict[str, str]
    numbers: dict[str, Shown]
    filled: bool  # a commitment is written

    @property
    def stored(self) -> bool:
        return any(self.texts.values()) or any(n.present for n in self.numbers.values())


@dataclass
class ContactRow:
    id: int
    role: StaffRole
    section_id: int | None
    section: str
    name: str
    post: str
    numbers: dict[str, Shown]


@dataclass
class UnitForms:
    """A unit's two forms as its page shows them."""

    unit_id: int
    unit: str
    sections: list[SectionForm]
    contacts: list[ContactRow]

    @property
    def lacking(self) -> list[SectionForm]:
        return [s for s in self.sections if not s.filled]

    @property
    def staff_missing(self) -> list[str]:
        return staff_missing(self.sections, self.contacts)


@dataclass
class UnitStatus:
    """One unit on the office's overview."""

    unit_id: int
    unit: str
    sections: int
    committed: int  # sections with a 服务承诺
    lacking: list[str]  # the other sections' names
    contacts: int
    staff_missing: list[str]  # what 附件5 lacks: 分管领导, 联络员, each section's 主要负责人

    @property
    def commitments_done(self) -> bool:
        return self.sections > 0 and not self.lacking

    @property
    def staff_done(self) -> bool:
        return self.contacts > 0 and not self.staff_missing

    @property
    def done(self) -> bool:
        return self.commitments_done and self.staff_done


def shown(value: str | None) -> Shown:
    return Shown(mask_number(value), bool(value))


def _limits(change: Change, texts: dict[str, tuple[str, int]]) -> None:
    for name, value in change.texts.items():
        label, longest = texts[name]
        if len(value) > longest:
            raise DomainError(f"{label}不超过 {longest} 字（现在 {len(value)} 字）")


# ---- reading ---------------------------------------------------------------------------------


def get_unit(session: Session, campaign: Campaign, unit_id: int) -> Unit | None:
    """The campaign's unit `unit_id`, or None (another campaign's is None too)."""
    unit = session.get(Unit, unit_id)
    return unit if unit is not None and unit.campaign_id == campaign.id else None


def get_section(session: Session, campaign: Campaign, section_id: int) -> Section | None:
    section = session.get(Section, section_id)
    return section if section is not None and section.unit.campaign_id == campaign.id else None


def get_contact(session: Session, campaign: Campaign, contact_id: int) -> StaffContact | None:
    contact = session.get(StaffContact, contact_id)
    return contact if contact is not None and contact.unit.campaign_id == campaign.id else None


def _section_form(section: Section, stored: SectionCommitment | None) -> SectionForm:
    texts = {name: getattr(stored, name) or "" if stored else "" for name in TEXTS}
    numbers = {name: shown(getattr(stored, name) if stored else None) for name in NUMBERS}
    return SectionForm(section.id, section.name, section.unit_id, section.unit.name, texts, numbers,
                       bool(texts["commitment"].strip()))


def section_form(session: Session, section: Section) -> SectionForm:
    return _section_form(section, session.get(SectionCommitment, section.id))


def _contact_row(contact: StaffContact) -> ContactRow:
    return ContactRow(contact.id, contact.role, contact.section_id, contact.section.name if contact.section else "",
                      contact.name, contact.post, {name: shown(getattr(contact, name)) for name in CONTACT_NUMBERS})


def contact_row(contact: StaffContact) -> ContactRow:
    return _contact_row(contact)


def _contacts(session: Session, unit_ids: Iterable[int]) -> list[StaffContact]:
    ids = list(unit_ids)
    if not ids:
        return []
    found = session.scalars(select(StaffContact).where(StaffContact.unit_id.in_(ids))).all()
    return sorted(found, key=lambda c: (c.unit_id, ROLE_ORDER[c.role], c.section.number or 0 if c.section else -1,
                                        c.section_id or 0, c.id))


def unit_forms(session: Session, unit: Unit) -> UnitForms:
    sections = list(unit.sections)
    stored = {c.section_id: c for c in session.scalars(
        select(SectionCommitment).where(SectionCommitment.section_id.in_([s.id for s in sections])))} if sections else {}
    return UnitForms(unit.id, unit.name, [_section_form(s, stored.get(s.id)) for s in sections],
                     [_contact_row(c) for c in _contacts(session, [unit.id])])


def staff_missing(sections: list[SectionForm], contacts: list[ContactRow]) -> list[str]:
    """What the unit's 附件5 lacks of the seed's rows: a 分管领导, a 联络员, and a
    主要负责人 of each section."""
    roles = {c.role for c in contacts}
    heads = {c.section_id for c in contacts if c.role is StaffRole.head}
    missing = [role.label for role in (StaffRole.leader, StaffRole.liaison) if role not in roles]
    return missing + [f"{s.section}的主要负责人" for s in sections if s.section_id not in heads]


def campaign_status(session: Session, campaign: Campaign) -> list[UnitStatus]:
    """Every unit of the campaign: how far its two forms are filled (a few queries)."""
    units = list(session.scalars(select(Unit).where(Unit.campaign_id == campaign.id).order_by(Unit.number, Unit.id)))
    sections = session.execute(select(Section.id, Section.unit_id, Section.name).join(Unit)
                               .where(Unit.campaign_id == campaign.id).order_by(Section.number, Section.id)).all()
    committed = set(session.scalars(select(SectionCommitment.section_id).join(Section).join(Unit).where(
        Unit.campaign_id == campaign.id, SectionCommitment.commitment != "")))
    people = session.execute(select(StaffContact.unit_id, StaffContact.role, StaffContact.section_id)
                             .join(Unit).where(Unit.campaign_id == campaign.id)).all()
    rows = []
    for unit in units:
        own = [s for s in sections if s.unit_id == unit.id]
        forms = [SectionForm(s.id, s.name, unit.id, unit.name, {}, {}, s.id in committed) for s in own]
        contacts = [ContactRow(0, role, section_id, "", "", "", {}) for unit_id, role, section_id in people
                    if unit_id == unit.id]
        rows.append(UnitStatus(unit.id, unit.name, len(own), sum(f.filled for f in forms),
                               [f.section for f in forms if not f.filled], len(contacts), staff_missing(forms, contacts)))
    return rows


# ---- the citizens' page ----------------------------------------------------------------------


@dataclass(frozen=True)
class CitizenText:
    """What the voting page shows of a section's 附件4: its duties and commitment."""

    duties: str
    commitment: str

    @staticmethod
    def long(text: str) -> bool:
        return len(text) > CITIZEN_SHORT or text.count("\n") >= 4


_CITIZEN = QuickRead(select(SectionCommitment.duties, SectionCommitment.commitment)
                     .where(SectionCommitment.section_id == bindparam("section_id")))


# The voting page is the platform's busiest (bench/vote_bench.py): a section's text is
# read once a minute per process, not at every page. A change made in this process is
# seen at once (`_forget`); one made in another process within CACHE_SECONDS.
CACHE_SECONDS = 60.0
_CACHE_SIZE = 5000
_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # engine: {section id: (until, text)}
_cache_lock = threading.Lock()


def _forget(session: Session, section_ids: Iterable[int]) -> None:
    with _cache_lock:
        held = _cache.get(session.get_bind())
        if held:
            for section_id in section_ids:
                held.pop(section_id, None)


def for_citizens(session: Session, section_id: int, now: float | None = None) -> CitizenText | None:
    """A section's duties and commitment for the voting page, or None when neither is
    written. One statement on the request's autocommit connection (as the page's own
    read, voting.core.db.single_statement_connection), at most once a CACHE_SECONDS per
    process and section."""
    engine = session.get_bind()
    moment = time.monotonic() if now is None else now
    with _cache_lock:
        held = _cache.setdefault(engine, {})
        found = held.get(section_id)
    if found is not None and found[0] > moment:
        return found[1]
    row = _CITIZEN.first(single_statement_connection(session), {"section_id": section_id})
    text = None
    if row is not None:
        duties, commitment = (row[0] or "").strip(), (row[1] or "").strip()
        text = CitizenText(duties, commitment) if duties or commitment else None
    with _cache_lock:
        if len(held) >= _CACHE_SIZE:
            held.clear()
        held[section_id] = (moment + CACHE_SECONDS, text)
    return text


# ---- writing: 附件4 --------------------------------------------------------------------------


def _apply(target: object, change: Change, numbers: dict[str, tuple[str, Kind]], texts: dict[str, tuple[str, int]]
           ) -> list[str]:
    """Set `change` on `target`; the labels of the fields whose value changed."""
    changed = []
    for name, value in change.texts.items():
        if (getattr(target, name) or "") != value:
            setattr(target, name, value)
            changed.append(texts[name][0])
    for name in numbers:
        if name in change.numbers:
            number: str | None = change.numbers[name]
        elif name in change.cleared:
            number = None
        else:
            continue
        if getattr(target, name) != number:
            setattr(target, name, number)
            changed.append(numbers[name][0])
    return changed


def _where(section: Section) -> dict:
    return {"unit_id": section.unit_id, "unit": section.unit.name, "section_id": section.id, "section": section.name}


def save_commitment(session: Session, section: Section, change: Change, *, actor: str, user_id: int | None
                    ) -> list[str]:
    """Save a section's 附件4 from its form; the labels of the fields changed (none:
    nothing stored, nothing audited). Audited with the fields' names, never a value."""
    _limits(change, TEXTS)
    stored = session.get(SectionCommitment, section.id, with_for_update=True)
    if stored is None:
        stored = SectionCommitment(section_id=section.id, **dict.fromkeys(TEXTS, ""))
        session.add(stored)
    changed = _apply(stored, change, NUMBERS, TEXTS)
    if not changed:
        if stored in session.new:
            session.expunge(stored)
        return []
    stored.updated_by_id = user_id
    session.flush()
    _forget(session, [section.id])
    audit.record(session, "commitment.save", actor=actor, campaign_id=section.unit.campaign_id,
                 detail={**_where(section), "fields": changed})
    return changed


# ---- writing: 附件5 --------------------------------------------------------------------------


@dataclass
class ContactChange(Change):
    role: StaffRole = StaffRole.staff
    section_id: int | None = None


def _check_contact(unit: Unit, change: ContactChange) -> Section | None:
    _limits(change, CONTACT_TEXTS)
    if not change.texts.get("name", "").strip():
        raise DomainError("请填写姓名")
    section = next((s for s in unit.sections if s.id == change.section_id), None)
    if change.section_id is not None and section is None:
        raise DomainError("所选科室不是本单位的参评科室")
    if change.role in SECTION_ROLES and section is None:
        raise DomainError(f"{change.role.label}须选择所在的责任科室")
    if change.role is StaffRole.leader and section is not None:
        raise DomainError("分管领导不属于某个科室：请将责任科室留空")
    return section


def _contact_detail(contact: StaffContact, section: Section | None) -> dict:
    return {"unit_id": contact.unit_id, "unit": contact.unit.name, "contact_id": contact.id, "role": contact.role.label,
            "section_id": section.id if section else None, "section": section.name if section else None}


def add_contact(session: Session, unit: Unit, change: ContactChange, *, actor: str, user_id: int | None
                ) -> StaffContact:
    section = _check_contact(unit, change)
    contact = StaffContact(unit_id=unit.id, section_id=section.id if section else None, role=change.role, name="",
                           post="", updated_by_id=user_id)
    contact.unit = unit
    changed = _apply(contact, change, CONTACT_NUMBERS, CONTACT_TEXTS)
    session.add(contact)
    session.flush()
    audit.record(session, "staff_contact.add", actor=actor, campaign_id=unit.campaign_id,
                 detail={**_contact_detail(contact, section), "fields": changed})
    return contact


def edit_contact(session: Session, contact: StaffContact, change: ContactChange, *, actor: str,
                 user_id: int | None) -> list[str]:
    section = _check_contact(contact.unit, change)
    changed = []
    if contact.role is not change.role:
        contact.role = change.role
        changed.append("有关人员")
    if contact.section_id != change.section_id:
        contact.section_id = change.section_id
        contact.section = section
        changed.append("责任科室")
    changed += _apply(contact, change, CONTACT_NUMBERS, CONTACT_TEXTS)
    if not changed:
        return []
    contact.updated_by_id = user_id
    session.flush()
    audit.record(session, "staff_contact.edit", actor=actor, campaign_id=contact.unit.campaign_id,
                 detail={**_contact_detail(contact, section), "fields": changed})
    return changed


def delete_contact(session: Session, contact: StaffContact, *, actor: str) -> None:
    detail = _contact_detail(contact, contact.section)
    campaign_id = contact.unit.campaign_id
    session.delete(contact)
    session.flush()
    audit.record(session, "staff_contact.delete", actor=actor, campaign_id=campaign_id, detail=detail)


# ---- files: replacing a unit's rows ----------------------------------------------------------


@dataclass
class CommitmentRow:
    """A checked row of a 附件4 file."""

    row: int
    section: Section
    change: Change


@dataclass
class ContactRowIn:
    """A checked row of a 附件5 file; `keep` names the numbers left blank (the stored
    value of the same person, if any, is kept)."""

    row: int
    unit: Unit
    section: Section | None
    change: ContactChange


@dataclass
class Replaced:
    units: list[str]
    rows: int
    removed: int  # stored rows the file no longer has


def replace_commitments(session: Session, campaign: Campaign, units: list[Unit], rows: list[CommitmentRow], *,
                        filename: str, actor: str, user_id: int | None) -> Replaced:
    """The units' 附件4 replaced by the file's rows: a section the file names takes its
    texts, and its numbers where a cell is filled (a blank number keeps the stored one);
    a section of those units the file does not name loses its 附件4. One audit entry."""
    unit_ids = [u.id for u in units]
    section_ids = [s.id for u in units for s in u.sections]
    stored = {c.section_id: c for c in session.scalars(select(SectionCommitment).where(
        SectionCommitment.section_id.in_(section_ids)).with_for_update())} if section_ids else {}
    named = {r.section.id for r in rows}
    removed = [sid for sid in stored if sid not in named]
    if removed:
        session.execute(delete(SectionCommitment).where(SectionCommitment.section_id.in_(removed))
                        .execution_options(synchronize_session="fetch"))
    for row in rows:
        target = stored.get(row.section.id)
        if target is None:
            target = SectionCommitment(section_id=row.section.id, **dict.fromkeys(TEXTS, ""))
            session.add(target)
        _apply(target, row.change, NUMBERS, TEXTS)
        target.updated_by_id = user_id
    session.flush()
    _forget(session, section_ids)
    names = [u.name for u in units]
    audit.record(session, "commitment.import", actor=actor, campaign_id=campaign.id, detail={
        "filename": filename, "unit_ids": unit_ids, "unit_names": names, "rows": len(rows), "removed": len(removed)})
    return Replaced(names, len(rows), len(removed))


def _person(unit_id: int, role: StaffRole, section_id: int | None, name: str) -> tuple:
    return (unit_id, role, section_id, name)


def replace_contacts(session: Session, campaign: Campaign, units: list[Unit], rows: list[ContactRowIn], *,
                     filename: str, actor: str, user_id: int | None) -> Replaced:
    """The units' 附件5 replaced by the file's rows. A number left blank keeps the one
    stored for the same person (same unit, role, section and name), if any."""
    unit_ids = [u.id for u in units]
    old = list(session.scalars(select(StaffContact).where(StaffContact.unit_id.in_(unit_ids)).with_for_update())) \
        if unit_ids else []
    kept = {_person(c.unit_id, c.role, c.section_id, c.name): {n: getattr(c, n) for n in CONTACT_NUMBERS} for c in old}
    for contact in old:
        session.delete(contact)
    session.flush()
    for row in rows:
        change = row.change
        numbers = kept.get(_person(row.unit.id, change.role, row.section.id if row.section else None,
                                   change.texts["name"]), {})
        contact = StaffContact(unit_id=row.unit.id, section_id=row.section.id if row.section else None,
                               role=change.role, name="", post="", source_row=row.row, updated_by_id=user_id)
        for name in CONTACT_NUMBERS:
            if name not in change.numbers and numbers.get(name):
                change.numbers[name] = numbers[name]
        _apply(contact, change, CONTACT_NUMBERS, CONTACT_TEXTS)
        session.add(contact)
    session.flush()
    names = [u.name for u in units]
    audit.record(session, "staff_contact.import", actor=actor, campaign_id=campaign.id, detail={
        "filename": filename, "unit_ids": unit_ids, "unit_names": names, "rows": len(rows), "removed": len(old)})
    return Replaced(names, len(rows), len(old))


def stored_numbers(session: Session, section_ids: Iterable[int]) -> dict[int, SectionCommitment]:
    ids = list(section_ids)
    return {c.section_id: c for c in session.scalars(
        select(SectionCommitment).where(SectionCommitment.section_id.in_(ids)))} if ids else {}


def campaign_units(session: Session, campaign: Campaign) -> list[Unit]:
    return list(session.scalars(select(Unit).where(Unit.campaign_id == campaign.id).order_by(Unit.number, Unit.id)))


def contacts_of(session: Session, units: list[Unit]) -> list[StaffContact]:
    return _contacts(session, [u.id for u in units])
