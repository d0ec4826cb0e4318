"""List integrity for the review office (docs/rules.md §3.11): load a campaign's lists, staff
phones, last year's lists and web votes as frames, run the pure checks
(voting/integrity/checks.py), store what they find as flags, and record the office's
decision on each. Nothing here changes a score: a flag is a hint to check.

**One flag per section, round and kind** (IntegrityFlag's unique key): its evidence
lists every item found (numbers, runs, names, bursts). The office decides per section
and kind, which is how it checks (one call to the unit about its list), and a re-run
cannot duplicate anything. `store` refreshes:
- found, no flag yet: a new flag 待核查;
- found, flag 待核查: its evidence replaced;
- found, flag decided (已排除/已处理): the decision stands while the evidence is about
  the same things (the fingerprint of its phone hashes and counts); otherwise the flag
  is 待核查 again, the old decision kept in `previous`;
- not found any more: a flag 待核查 is removed (nothing was decided on it); a decided
  one stays, marked as no longer found (`current` False), and comes back if found again.

Running the checks is a background job (voting/tasks.py, INTEGRITY_CHECK): one
transaction, audited (integrity.check); each decision is audited (integrity.decide).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from sms.phones import mask_phone
from voting.audit import audit
from voting.commitments.models import SectionCommitment, StaffContact
from voting.core.errors import DomainError, NotFoundError
from voting.core.models import utcnow
from voting.core.tables import fold
from voting.core.vault import PhoneVault, vault_of
from voting.integrity import checks
from voting.integrity.models import FlagKind, FlagStatus, IntegrityFlag
from voting.lists.models import Campaign, RoundKind, Section, ServiceObject, Unit
from voting.survey.models import SurveyRound, Vote

NOTE_MAX = 500
_BLOCK_PREFIX = "phone-block:"  # the keyed hash of a number's first seven digits (checks.py: runs)


# ---- the frames -----------------------------------------------------------------------------


def _block(vault: PhoneVault, cache: dict[str, int], phone: str) -> int:
    head = phone[:7]
    found = cache.get(head)
    if found is None:
        found = cache[head] = int(vault.lookup(_BLOCK_PREFIX + head)[:11], 16)
    return found


def objects_frame(session: Session, campaign: Campaign) -> pd.DataFrame:
    """The campaign's service objects (checks.OBJECT_COLUMNS): each phone opened once, to
    mask it and derive its block and tail; the numbers themselves are not kept."""
    vault = vault_of(session)
    cache: dict[str, int] = {}
    rows = []
    for section_id, unit_id, round_, phone_hash, name, row, phone in session.execute(
        select(ServiceObject.section_id, Section.unit_id, ServiceObject.round, ServiceObject.phone_hash,
               ServiceObject.name, ServiceObject.source_row, ServiceObject.phone)
        .join(Section, ServiceObject.section_id == Section.id).join(Unit)
        .where(Unit.campaign_id == campaign.id)
    ):
        if phone and len(phone) == 11 and phone.isdigit():
            block, tail = _block(vault, cache, phone), int(phone[7:])
        else:
            block = tail = -1
        rows.append((section_id, unit_id, round_.value, phone_hash, name, row, mask_phone(phone), block, tail))
    return pd.DataFrame(rows, columns=checks.OBJECT_COLUMNS)


def staff_frame(session: Session, campaign: Campaign) -> pd.DataFrame:
    """The units' staff phones as keyed hashes (checks.STAFF_COLUMNS): 工作人员联系表's
    mobiles and office phones, the 服务承诺表's heads' and liaisons' phones."""
    vault = vault_of(session)
    rows: list[tuple[int, str, str]] = []
    for unit_id, role, phone_hash, office in session.execute(
        select(StaffContact.unit_id, StaffContact.role, StaffContact.phone_hash, StaffContact.office_phone)
        .join(Unit, StaffContact.unit_id == Unit.id).where(Unit.campaign_id == campaign.id)
    ):
        if phone_hash:
            rows.append((unit_id, phone_hash, role.label))
        if office:
            rows.append((unit_id, vault.lookup(office), f"{role.label}（办公电话）"))
    for unit_id, *phones in session.execute(
        select(Section.unit_id, SectionCommitment.head_phone, SectionCommitment.head_short,
               SectionCommitment.liaison_phone, SectionCommitment.liaison_short)
        .join(Section, SectionCommitment.section_id == Section.id).join(Unit).where(Unit.campaign_id == campaign.id)
    ):
        for phone, label in zip(phones, ("科室负责人", "科室负责人（短号）", "科室联络员", "科室联络员（短号）"), strict=True):
            if phone:
                rows.append((unit_id, vault.lookup(phone), label))
    return pd.DataFrame(rows, columns=checks.STAFF_COLUMNS)


def previous_campaign(session: Session, campaign: Campaign) -> Campaign | None:
    return session.scalar(select(Campaign).where(Campaign.year == campaign.year - 1))


def last_year_frame(session: Session, campaign: Campaign) -> pd.DataFrame:
    """Last year's lists (the campaign of year − 1 in this database), each under this
    year's section of the same unit and section names (compared folded, as
    voting/lists/history.py matches earlier years); a section not matched is left out."""
    earlier = previous_campaign(session, campaign)
    if earlier is None:
        return pd.DataFrame(columns=checks.LAST_YEAR_COLUMNS)
    now = {(fold(u), fold(s)): i for i, u, s in session.execute(
        select(Section.id, Unit.name, Section.name).join(Unit).where(Unit.campaign_id == campaign.id))}
    then = {i: now.get((fold(u), fold(s))) for i, u, s in session.execute(
        select(Section.id, Unit.name, Section.name).join(Unit).where(Unit.campaign_id == earlier.id))}
    rows = [(then[section_id], round_.value, phone_hash) for section_id, round_, phone_hash in session.execute(
        select(ServiceObject.section_id, ServiceObject.round, ServiceObject.phone_hash)
        .join(Section, ServiceObject.section_id == Section.id).join(Unit)
        .where(Unit.campaign_id == earlier.id, ServiceObject.phone_hash.is_not(None))
    ) if then.get(section_id) is not None]
    return pd.DataFrame(rows, columns=checks.LAST_YEAR_COLUMNS)


def votes_frame(session: Session, campaign: Campaign) -> pd.DataFrame:
    """The campaign's web votes with their network (checks.VOTE_COLUMNS)."""
    rows = [(s, k.value, n, at, c.value) for s, k, n, at, c in session.execute(
        select(Vote.section_id, SurveyRound.kind, Vote.network, Vote.created_at, Vote.choice)
        .join(SurveyRound, Vote.round_id == SurveyRound.id)
        .where(SurveyRound.campaign_id == campaign.id, Vote.network.is_not(None))
    )]
    return pd.DataFrame(rows, columns=checks.VOTE_COLUMNS)


# ---- running the checks -------------------------------------------------------------------


@dataclass
class Checked:
    found: int = 0
    new: int = 0
    refreshed: int = 0
    kept: int = 0  # decided, evidence unchanged
    reopened: int = 0  # decided, evidence changed
    removed: int = 0  # open, no longer found
    stale: int = 0  # decided, no longer found
    by_kind: dict[str, int] = field(default_factory=dict)

    def as_detail(self) -> dict[str, Any]:
        return {"found": self.found, "new": self.new, "refreshed": self.refreshed, "kept": self.kept,
                "reopened": self.reopened, "removed": self.removed, "stale": self.stale, "by_kind": self.by_kind}


def store(session: Session, campaign: Campaign, found: list[checks.Found], now: datetime | None = None) -> Checked:
    """Refresh the campaign's flags with what the checks found (see the module's rules)."""
    now = now or utcnow()
    stored = {(f.section_id, f.round.value, f.kind.value): f for f in session.scalars(
        select(IntegrityFlag).where(IntegrityFlag.campaign_id == campaign.id))}
    result = Checked(found=len(found), by_kind=dict(Counter(f.kind for f in found)))
    for item in found:
        flag = stored.pop(item.key, None)
        if flag is None:
            session.add(IntegrityFlag(campaign_id=campaign.id, section_id=item.section_id, round=RoundKind(item.round),
                                      kind=FlagKind(item.kind), evidence=item.evidence, fingerprint=item.fingerprint,
                                      found_at=now, checked_at=now))
            result.new += 1
            continue
        same = flag.fingerprint == item.fingerprint
        if flag.status is FlagStatus.open:
            result.refreshed += 1
        elif same:
            result.kept += 1
        else:
            flag.previous = {"status": flag.status.value, "note": flag.note, "by": flag.decided_by,
                             "at": flag.decided_at.isoformat() if flag.decided_at else None}
            flag.status, flag.note, flag.decided_by, flag.decided_at = FlagStatus.open, "", None, None
            result.reopened += 1
        flag.evidence, flag.fingerprint, flag.current, flag.checked_at = item.evidence, item.fingerprint, True, now
        flag.times_found += 1
    gone_open = [f.id for f in stored.values() if f.status is FlagStatus.open]
    if gone_open:
        session.execute(delete(IntegrityFlag).where(IntegrityFlag.id.in_(gone_open)))
    result.removed = len(gone_open)
    for flag in stored.values():
        if flag.status is not FlagStatus.open:
            flag.current = False
            result.stale += 1
    session.flush()
    return result


def run_checks(session: Session, campaign: Campaign, *, actor: str,
               progress: Callable[..., None] | None = None) -> Checked:
    """Load, check, store and audit (flush; the caller commits once)."""
    report = progress or (lambda **_: None)
    report(done=0, total=5, stage="读取服务对象名单")
    objects = objects_frame(session, campaign)
    report(done=1, stage="读取工作人员号码和去年名单")
    staff = staff_frame(session, campaign)
    last_year = last_year_frame(session, campaign)
    report(done=2, stage="读取网上评价")
    votes = votes_frame(session, campaign)
    report(done=3, stage="检查")
    found = checks.find_all(objects, staff, last_year, votes, checks.Thresholds.of(campaign.rules))
    report(done=4, stage="保存提示")
    result = store(session, campaign, found)
    detail = result.as_detail() | {"objects": len(objects), "votes": len(votes),
                                   "last_year": campaign.year - 1 if len(last_year) else None}
    audit.record(session, "integrity.check", actor=actor, campaign_id=campaign.id, detail=detail)
    report(done=5, stage="已完成")
    return result


# ---- the office's page --------------------------------------------------------------------


@dataclass(frozen=True)
class FlagRow:
    flag: IntegrityFlag
    unit: str
    section: str


def listing(session: Session, campaign: Campaign, kind: FlagKind | None = None,
            status: FlagStatus | None = None) -> list[FlagRow]:
    """The campaign's flags (filtered), by unit, section, round and kind."""
    query = (select(IntegrityFlag, Unit.name, Section.name).join(Section, IntegrityFlag.section_id == Section.id)
             .join(Unit).where(IntegrityFlag.campaign_id == campaign.id))
    if kind is not None:
        query = query.where(IntegrityFlag.kind == kind)
    if status is not None:
        query = query.where(IntegrityFlag.status == status)
    rows = session.execute(query.order_by(Unit.number, Unit.name, Section.number, Section.name, IntegrityFlag.round,
                                          IntegrityFlag.kind)).all()
    return [FlagRow(flag, unit, section) for flag, unit, section in rows]


def counts(session: Session, campaign: Campaign) -> dict[tuple[str, str], int]:
    """(kind, status) → flags."""
    return {(k.value, s.value): n for k, s, n in session.execute(
        select(IntegrityFlag.kind, IntegrityFlag.status, func.count()).where(IntegrityFlag.campaign_id == campaign.id)
        .group_by(IntegrityFlag.kind, IntegrityFlag.status))}


def get_flag(session: Session, campaign: Campaign, flag_id: int) -> IntegrityFlag:
    flag = session.get(IntegrityFlag, flag_id)
    if flag is None or flag.campaign_id != campaign.id:
        raise NotFoundError("没有这条核查提示（可能已在重新检查后消失）")
    return flag


def decide(session: Session, campaign: Campaign, flag_id: int, status: FlagStatus, note: str, *,
           actor: str) -> IntegrityFlag:
    """Mark a flag 已排除 or 已处理 with the office's note (required), audited. A decided
    flag may be decided again (the audit log keeps each). No score changes."""
    if status is FlagStatus.open:
        raise DomainError("核查结论只能是“已排除”或“已处理”")
    note = (note or "").strip()
    if not note:
        raise DomainError("请填写核查说明：核查了什么、结论如何")
    if len(note) > NOTE_MAX:
        raise DomainError(f"核查说明不超过 {NOTE_MAX} 字（现在 {len(note)} 字）")
    flag = get_flag(session, campaign, flag_id)
    previous = flag.status
    flag.status, flag.note, flag.decided_by, flag.decided_at = status, note, actor, utcnow()
    section = session.get(Section, flag.section_id)
    audit.record(session, "integrity.decide", actor=actor, campaign_id=campaign.id, detail={
        "flag_id": flag.id, "section_id": flag.section_id,
        "section": f"{section.unit.name} {section.name}" if section else None, "round": flag.round.value,
        "kind": flag.kind.value, "status": status.value, "previous": previous.value, "note": note})
    session.flush()
    return flag
