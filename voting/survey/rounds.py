"""Citizen survey rounds (docs/rules.md §1 step 3, §4): sampling, invitations, and the
invitation's pages.

A round (H1 or H2) is set up as a draft, then opened: its sample is drawn from the
sections' service-object lists (reproducibly, from the round's recorded seed), one
invitation is made per sampled object and section, and each invitation's SMS is
written to the outbox in the same transaction. Citizens then vote by link, by typed
code, by SMS reply, or an operator records a phone survey answer; whatever the
channel, the vote is voting/survey/votes.py's `cast_vote`, and the database takes
one vote per invitation.

The round's steps (create, open, invite late lists, remind, close, cancel) put
themselves in the audit log, in the caller's transaction, naming `actor`.
"""
from __future__ import annotations

import hmac
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

import pandas as pd
from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Row,
    String,
    Table,
    and_,
    bindparam,
    case,
    func,
    or_,
    select,
    text,
    type_coerce,
    update,
)
from sqlalchemy.orm import Session

from scoring import columns as C
from scoring import labels
from sms.templates import (
    INVITE_CODE, INVITE_CODE_SHORT, INVITE_LINK, MATTER_MAX, REMINDER_CODE, REMINDER_CODE_SHORT, REMINDER_LINK, fit,
    render,
)
from sms.tokens import LinkTokens, new_code, new_nonce
from voting.core.clock import aware, short_local_time
from voting.core.db import QuickRead, bulk_insert, single_statement_connection
from voting.core.errors import DomainError, NotFoundError
from voting.survey.models import (
    CallAttempt,
    CallOutcome,
    Choice,
    InviteMode,
    Invitation,
    RoundStatus,
    SurveyRound,
    Vote,
)
from voting.lists.models import Campaign, RoundKind, Section, SectionList, ServiceObject, Unit
from voting.outbox.models import OutboxMessage, OutboxStatus
from voting.staff.models import User
from voting.core.models import utcnow
from voting.audit import audit
from voting.lists.history import section_statuses
from voting.survey.votes import RoundState, check_votable, is_open
from voting.core.vault import vault_of

# The period each kind of round surveys (上半年, 下半年; 复评), as scoring names it. (RoundKind.label,
# 半年度 and 年终, is the name of the evaluation round itself; `period` says it to a citizen.)
ROUND_NAMES = {kind: labels.ROUND_NAMES[kind.value] for kind in RoundKind}
SCORED_KINDS = tuple(kind for kind in RoundKind if kind.scored)  # the year's rounds: H1, H2

SENT_STATES = (OutboxStatus.sent, OutboxStatus.delivered, OutboxStatus.undelivered)
FAILED_STATES = (OutboxStatus.failed, OutboxStatus.undelivered)
# A unit sees its sections' counts of answers below this as "<5": a small count could
# reveal a person's vote (docs/rules.md §4.13).
UNIT_MIN_COUNT = 5


def period(year: int, kind: RoundKind) -> str:
    """The period a round of the `year` campaign asks the citizen about, as the SMS and
    the voting page say it: 2022年上半年, 2022年下半年; the 复评, held in June 2022 (of the
    2022 campaign) on 2021's 不满意单位, asks about the service since the results:
    2022年上半年 too."""
    return f"{year}年{ROUND_NAMES[RoundKind.H1 if kind is RoundKind.R else kind]}"


@dataclass(frozen=True)
class Wording:
    """What the SMS says about the sender and where to go (settings of the platform)."""

    sign: str  # the 【signature】 registered with the carriers
    link_base: str  # e.g. "https://pingyi.example.gov.cn" (links: {link_base}/v/{token})
    code_address: str  # e.g. "pingyi.example.gov.cn/c" (code mode)
    timezone: str = "Asia/Shanghai"
    # Code mode's messages in one SMS of 70 characters (sms.templates.fit): for providers
    # that bill per 70; the message then drops the reply hint and the matter.
    single: bool = False


@dataclass
class OpenSummary:
    invitations: int = 0
    sections: int = 0
    without_list: list[str] = field(default_factory=list)  # participating sections with no list for the round


# ---- sampling --------------------------------------------------------------------------


def sample_section(objects: list[tuple[int, bool]], size: int, seed: int, section_id: int, keep_penalized_share: bool) -> list[int]:
    """The sampled object ids of one section: all when there are `size` or fewer;
    otherwise a random `size`, drawn from a generator seeded by the round's seed and
    the section (so a section's sample does not move when another section's list
    changes). For a 管理执法类 section the penalized share of the list is kept."""
    ids = sorted(i for i, _ in objects)
    if len(ids) <= size:
        return ids
    rng = random.Random(f"pingyi:{seed}:{section_id}")
    if not keep_penalized_share:
        return sorted(rng.sample(ids, size))
    penalized = sorted(i for i, p in objects if p)
    others = sorted(i for i, p in objects if not p)
    n_penalized = min(len(penalized), round(size * len(penalized) / len(ids)))
    n_others = min(len(others), size - n_penalized)
    n_penalized = size - n_others
    return sorted(rng.sample(penalized, n_penalized) + rng.sample(others, n_others))


# ---- rounds ----------------------------------------------------------------------------


def get_round(session: Session, campaign: Campaign, round_id: int) -> SurveyRound:
    found = session.get(SurveyRound, round_id)
    if found is None or found.campaign_id != campaign.id:
        raise NotFoundError("没有这个调查轮次")
    return found


def rounds(session: Session, campaign: Campaign) -> list[SurveyRound]:
    """The campaign's rounds, cancelled ones included (after the live one of their kind)."""
    return list(session.scalars(
        select(SurveyRound).where(SurveyRound.campaign_id == campaign.id)
        .order_by(SurveyRound.kind, SurveyRound.status == RoundStatus.cancelled, SurveyRound.id.desc())
    ))


def live_round(session: Session, campaign: Campaign, kind: RoundKind, *, lock: bool = False) -> SurveyRound | None:
    """The campaign's round of `kind` that is not cancelled (at most one: a partial
    unique index). With `lock`, its row is locked until the transaction ends."""
    query = select(SurveyRound).where(SurveyRound.campaign_id == campaign.id, SurveyRound.kind == kind,
                                      SurveyRound.status != RoundStatus.cancelled)
    return session.scalar(query.with_for_update() if lock else query)


def _round_detail(survey: SurveyRound) -> dict:
    """What every audit entry of a round's step names: the round."""
    return {"round_id": survey.id, "round": survey.kind.value}


def create_round(
    session: Session, campaign: Campaign, kind: RoundKind, closes_at: datetime, sample_size: int,
    mode: InviteMode = InviteMode.link, reminder_after_hours: int = 48, seed: int | None = None,
    now: datetime | None = None, *, actor: str = "system",
) -> SurveyRound:
    """A draft round; nothing is sent until it is opened. Audited (round.create). The
    复评 (RoundKind.R) is refused when no section is one of last year's 不满意单位."""
    now = now or utcnow()
    if live_round(session, campaign, kind) is not None:
        raise DomainError(f"{campaign.year} 年度已有 {kind.value} 轮调查（取消后才能重新建立）")
    if kind is RoundKind.R and not section_statuses(session, campaign)[C.PREVIOUS_UNSATISFIED].any():
        raise DomainError(f"{campaign.year} 年度没有上年不满意单位，无需复评"
                          f"（上年评议结果由历年结果导入，见“历年结果”）")
    if closes_at <= now:
        raise DomainError("截止时间必须晚于现在")
    if sample_size < 1:
        raise DomainError("每个科室的抽样人数至少为 1")
    if not 0 <= reminder_after_hours <= 24 * 60:
        raise DomainError("提醒间隔应在 0 到 1440 小时之间")
    created = SurveyRound(
        campaign_id=campaign.id, kind=kind, status=RoundStatus.draft, mode=mode, sample_size=sample_size,
        seed=seed if seed is not None else random.SystemRandom().randrange(1, 2**31), closes_at=closes_at,
        reminder_after_hours=reminder_after_hours,
    )
    session.add(created)
    session.flush()
    audit.record(session, "round.create", actor=actor, campaign_id=created.campaign_id, detail={
        **_round_detail(created), "closes_at": created.closes_at.isoformat(), "sample_size": created.sample_size,
        "seed": created.seed, "mode": created.mode.value, "reminder_after_hours": created.reminder_after_hours,
    })
    return created


def year_rounds(statuses: pd.DataFrame) -> list[RoundKind]:
    """The campaign's survey rounds in the order of the year (`statuses`: its
    section_statuses): H1, the 复评 in June when some of its sections were last year's
    不满意单位, H2."""
    reevaluated = statuses[C.PREVIOUS_UNSATISFIED].astype(bool).any()
    return [RoundKind.H1, *([RoundKind.R] if reevaluated else []), RoundKind.H2]


def surveyed(statuses: pd.DataFrame, kind: RoundKind) -> pd.DataFrame:
    """The sections a round of `kind` surveys (section_statuses' rows): H1 and H2 every
    participating (not exempt) section; the 复评 last year's 不满意单位 alone."""
    if kind is RoundKind.R:
        return statuses[statuses[C.PREVIOUS_UNSATISFIED].astype(bool)]
    return statuses[~statuses[C.EXEMPT]]


def _params(survey: SurveyRound, invitation_id: int, nonce: str, code: str, unit: str, section: str, matter: str,
            several: bool, tokens: LinkTokens, wording: Wording, reminder: bool = False) -> tuple[str, dict[str, str]]:
    """The template and parameters of an invitation's SMS (or its reminder)."""
    if survey.mode is InviteMode.code and wording.single:
        template = REMINDER_CODE_SHORT if reminder else INVITE_CODE_SHORT
        short = {"sign": wording.sign, "address": wording.code_address, "code": code,
                 "closes": short_local_time(survey.closes_at, wording.timezone)}
        return template, fit(template, short, unit, section)
    params = {
        "sign": wording.sign, "unit": unit, "section": section,
        "closes": short_local_time(survey.closes_at, wording.timezone),
        "reply_hint": f"（请同时回复评价码 {code}）" if several else "",
    }
    if not reminder:
        params.update(date=period(survey.campaign.year, survey.kind), matter=matter)
    if survey.mode is InviteMode.code:
        params.update(address=wording.code_address, code=code)
        template = REMINDER_CODE if reminder else INVITE_CODE
    else:
        token, _ = tokens.issue(invitation_id, survey.id, aware(survey.closes_at), nonce=nonce)
        params["link"] = f"{wording.link_base.rstrip('/')}/v/{token}"
        template = REMINDER_LINK if reminder else INVITE_LINK
    return template, params


def open_round(
    session: Session, campaign: Campaign, survey: SurveyRound, tokens: LinkTokens, wording: Wording,
    now: datetime | None = None, progress: Callable[..., None] | None = None, *, actor: str = "system",
) -> OpenSummary:
    """Draw the sample, make the invitations and write their SMS to the outbox, all in
    the caller's transaction (flush; the caller commits once): the round is open with
    all its invitations, or still a draft with none. The rows go in bulk (COPY on
    PostgreSQL); `progress(done=, total=, stage=)` hears how far the work got (a job's
    progress bar: voting/jobs/jobs.py). A section whose list is not in yet is invited when
    its list arrives, while the round takes answers (`invite_late`). Audited
    (round.open)."""
    now = now or utcnow()
    report = progress or (lambda **_: None)
    if survey.status is not RoundStatus.draft:
        raise DomainError(f"{survey.kind.value} 轮调查已{survey.status.label}，不能再次开始")
    if aware(survey.closes_at) <= now:
        raise DomainError("截止时间已过，请先修改截止时间")
    report(stage="抽样")
    chosen, summary = _sample(session, survey, surveyed(section_statuses(session, campaign), survey.kind))
    invitation_ids, message_ids, invitations, messages = _make_invitations(
        session, campaign, survey, chosen, tokens, wording, now, report)
    # The round's row: from here the round is ours, so nobody else opens it.
    taken = cast(CursorResult, session.execute(  # an UPDATE's result: a CursorResult, with the rowcount
        update(SurveyRound).where(SurveyRound.id == survey.id, SurveyRound.status == RoundStatus.draft)
        .values(status=RoundStatus.open, opened_at=now).execution_options(synchronize_session=False)
    )).rowcount
    if taken != 1:
        raise DomainError(f"{survey.kind.value} 轮调查刚刚已由他人开始，不能再次开始")
    session.refresh(survey)
    survey.link_base = wording.link_base
    if not _still_free(session, invitation_ids, message_ids):
        raise DomainError("开始调查的同时，另一项工作也写入了短信或邀请：没有发出任何邀请，请重新点“开始发送”。")
    _write(session, invitations, messages, report)
    summary.invitations = len(invitations)
    audit.record(session, "round.open", actor=actor, campaign_id=survey.campaign_id, detail={
        **_round_detail(survey), "sections": summary.sections, "invitations": summary.invitations,
        "sections_without_list": len(summary.without_list),
    })
    return summary


def invite_late(session: Session, campaign: Campaign, survey: SurveyRound, tokens: LinkTokens, wording: Wording,
                now: datetime | None = None, *, actor: str = "system") -> OpenSummary:
    """While the round takes answers: invite each participating section whose list came
    in after the round opened (a section with a list and no invitation in this round),
    as the opening would have (the same seed, the same sample size), in the caller's
    transaction. The round's row stays locked until the caller commits, so two of these
    (or one and a list upload) never invite the same section twice. Audited
    (round.invite_late) when it invited anyone."""
    now = now or utcnow()
    locked = session.scalar(select(SurveyRound).where(SurveyRound.id == survey.id).with_for_update())
    if locked is None or not is_open(locked, now):
        return OpenSummary()
    statuses = surveyed(section_statuses(session, campaign), locked.kind)
    invited = set(session.scalars(select(Invitation.section_id).where(Invitation.round_id == survey.id).distinct()))
    statuses = statuses[~statuses["id"].isin(invited)]
    chosen, summary = _sample(session, survey, statuses)
    if not chosen:
        return summary
    invitation_ids, message_ids, invitations, messages = _make_invitations(
        session, campaign, survey, chosen, tokens, wording, now, lambda **_: None)
    if not _still_free(session, invitation_ids, message_ids):
        raise DomainError("补发邀请的同时，另一项工作也写入了短信或邀请：请稍后再试。")
    _write(session, invitations, messages, lambda **_: None)
    summary.invitations = len(invitations)
    audit.record(session, "round.invite_late", actor=actor, campaign_id=survey.campaign_id, detail={
        **_round_detail(survey), "sections": summary.sections, "invitations": summary.invitations,
    })
    return summary


def rounds_with_late_lists(session: Session, now: datetime | None = None) -> list[int]:
    """The rounds taking answers that have a section with a list for the round and no
    invitation in it (exempt sections included: `invite_late` leaves them out)."""
    now = now or utcnow()
    invited = (select(Invitation.id).where(Invitation.round_id == SurveyRound.id,
                                           Invitation.section_id == SectionList.section_id).exists())
    return list(session.scalars(
        select(SurveyRound.id).distinct()
        .join(Unit, Unit.campaign_id == SurveyRound.campaign_id)
        .join(Section, Section.unit_id == Unit.id)
        .join(SectionList, and_(SectionList.section_id == Section.id, SectionList.round == SurveyRound.kind))
        .where(SurveyRound.status == RoundStatus.open, SurveyRound.closes_at > now, ~invited)
    ))


def _sample(session: Session, survey: SurveyRound, statuses: pd.DataFrame) -> tuple[list, OpenSummary]:
    """The sampled (section record, service object) pairs of these sections, and the
    summary that names the sections without a list for the round."""
    # The phone as stored (sealed): copied to the invitation and its message as it is,
    # not opened and sealed again twice.
    listed = session.execute(
        select(ServiceObject.id, ServiceObject.section_id, ServiceObject.penalized,
               type_coerce(ServiceObject.phone, String).label("sealed_phone"), ServiceObject.phone_hash,
               ServiceObject.matter)
        .where(ServiceObject.section_id.in_([int(i) for i in statuses["id"]]), ServiceObject.round == survey.kind)
    ).all()
    by_section: dict[int, list] = defaultdict(list)
    for row in listed:
        by_section[row.section_id].append(row)
    summary = OpenSummary()
    chosen = []
    for record in statuses.to_dict("records"):
        sid = int(record["id"])
        objects = by_section.get(sid, [])
        if not objects:
            summary.without_list.append(f"{record['unit']} {record['section']}")
            continue
        picked = set(sample_section([(o.id, o.penalized) for o in objects], survey.sample_size, survey.seed, sid,
                                    bool(record["is_enforcement"])))
        chosen += [(record, o) for o in objects if o.id in picked]
        summary.sections += 1
    return chosen, summary


def _make_invitations(session: Session, campaign: Campaign, survey: SurveyRound, chosen: list, tokens: LinkTokens,
                      wording: Wording, now: datetime, report: Callable[..., None],
                      ) -> tuple[list[int], list[int], list[tuple], list[tuple]]:
    """The rows of the chosen invitations and their messages, made before anything is
    written: on SQLite a write locks the whole database, the job's progress reports
    included, so it comes last and is short."""
    invitation_ids = next_ids(session, Invitation, len(chosen))
    message_ids = next_ids(session, OutboxMessage, len(chosen))
    per_phone = Counter(obj.phone_hash for _record, obj in chosen)
    vault = vault_of(session)
    codes: set[str] = set()
    invitations, messages = [], []
    # Progress counts each row three times: made, its message written, it written.
    report(done=0, total=3 * len(chosen), stage="生成邀请短信")
    for n, ((record, obj), invitation_id, message_id) in enumerate(zip(chosen, invitation_ids, message_ids), 1):
        code = new_code()
        while code in codes:
            code = new_code()
        codes.add(code)
        nonce = new_nonce()
        template, params = _params(survey, invitation_id, nonce, code, record["unit"], record["section"], obj.matter,
                                   per_phone[obj.phone_hash] > 1, tokens, wording)
        messages.append((message_id, f"invite:{survey.id}:{invitation_id}", campaign.id, survey.id, obj.sealed_phone,
                         obj.phone_hash, template, params, render(template, params), OutboxStatus.pending, 0, now, "",
                         now))
        invitations.append((invitation_id, survey.id, int(record["id"]), obj.id, obj.sealed_phone, obj.phone_hash,
                            nonce, code, vault.code_lookup(code), message_id, 0, now))
        if n % 1000 == 0:
            report(done=n)
    report(done=len(chosen), stage="写入数据库")
    return invitation_ids, message_ids, invitations, messages


def _write(session: Session, invitations: list, messages: list, report: Callable[..., None]) -> None:
    written = len(invitations)

    def inserted(n: int) -> None:
        nonlocal written
        written += n
        report(done=written)

    # A mapped class's __table__ is its Table (typed as the FromClause it may be).
    bulk_insert(session, cast(Table, OutboxMessage.__table__), _MESSAGE_COLUMNS, messages, chunk=_CHUNK,
                progress=inserted, stored=("phone",))
    bulk_insert(session, cast(Table, Invitation.__table__), _INVITATION_COLUMNS, invitations, chunk=_CHUNK, progress=inserted,
                stored=("phone",))


_CHUNK = 10000  # rows a bulk insert writes between two progress reports
_MESSAGE_COLUMNS = ["id", "key", "campaign_id", "round_id", "phone", "phone_hash", "template", "params", "text", "status",
                    "attempts", "not_before", "last_error", "created_at"]
_INVITATION_COLUMNS = ["id", "round_id", "section_id", "service_object_id", "phone", "phone_hash", "nonce", "code",
                       "code_hash", "message_id", "code_failures", "created_at"]


def next_ids(session: Session, model: type[Invitation] | type[OutboxMessage], n: int) -> list[int]:
    """`n` ids for new rows of `model`: from the table's sequence on PostgreSQL (nobody
    else will take them); on SQLite after the largest, for `_still_free` to confirm
    once the write lock is held."""
    if n == 0:
        return []
    table = cast(Table, model.__table__).name
    if session.get_bind().dialect.name == "postgresql":
        return list(session.scalars(
            text(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, :n)"), {"n": n}))
    start = session.execute(select(func.coalesce(func.max(model.id), 0))).scalar_one() + 1
    return list(range(start, start + n))


def _still_free(session: Session, invitation_ids: list[int], message_ids: list[int]) -> bool:
    """On SQLite, under the write lock: nobody wrote invitations or messages since the
    ids were taken (on PostgreSQL the sequence saw to that)."""
    if session.get_bind().dialect.name == "postgresql" or not invitation_ids:
        return True
    return all(session.execute(select(func.coalesce(func.max(model.id), 0))).scalar_one() < ids[0]
               for model, ids in ((Invitation, invitation_ids), (OutboxMessage, message_ids)))


def remind(session: Session, campaign: Campaign, survey: SurveyRound, tokens: LinkTokens, wording: Wording,
           now: datetime | None = None, *, actor: str = "system") -> int:
    """Once, to every invitation without a vote whose SMS went out at least
    `reminder_after_hours` ago: a reminder in the outbox. Returns how many. Audited
    (round.remind)."""
    now = now or utcnow()
    if survey.status is not RoundStatus.open or aware(survey.closes_at) <= now:
        raise DomainError("只有进行中的调查才能发送提醒")
    voted = select(Vote.invitation_id).where(Vote.round_id == survey.id)
    due = session.execute(
        select(Invitation, Unit.name, Section.name)
        .join(Section, Invitation.section_id == Section.id).join(Unit)
        .join(OutboxMessage, Invitation.message_id == OutboxMessage.id)
        .where(*_reminder_due(survey, now))
    ).all()
    per_phone = Counter(session.scalars(
        select(Invitation.phone_hash).where(Invitation.round_id == survey.id, Invitation.id.not_in(voted))
    ).all())
    for invitation, unit, section in due:
        code = cast(str, invitation.code)  # erased only once its round has ended (retention)
        template, params = _params(survey, invitation.id, invitation.nonce, code, unit, section, "",
                                   per_phone[invitation.phone_hash] > 1, tokens, wording, reminder=True)
        message = OutboxMessage(
            key=f"remind:{survey.id}:{invitation.id}", campaign_id=campaign.id, round_id=survey.id, phone=invitation.phone,
            template=template,
            params=params, text=render(template, params), status=OutboxStatus.pending, not_before=now, created_at=now,
        )
        session.add(message)
        session.flush()
        invitation.reminder_id = message.id
    survey.reminded_at = now
    session.flush()
    audit.record(session, "round.remind", actor=actor, campaign_id=campaign.id,
                 detail={**_round_detail(survey), "reminders": len(due)})
    return len(due)


def _reminder_due(survey: SurveyRound, now: datetime) -> tuple:
    """The invitations a reminder goes to (joined to their first message): no vote, no
    reminder yet, the invitation sent at least `reminder_after_hours` ago."""
    voted = select(Vote.invitation_id).where(Vote.round_id == survey.id)
    return (
        Invitation.round_id == survey.id, Invitation.reminder_id.is_(None), Invitation.id.not_in(voted),
        OutboxMessage.sent_at.is_not(None), OutboxMessage.sent_at <= now - timedelta(hours=survey.reminder_after_hours),
    )


def reminders_due(session: Session, survey: SurveyRound, now: datetime | None = None) -> int:
    """How many reminders `remind` would write now."""
    return session.execute(
        select(func.count()).select_from(Invitation).join(OutboxMessage, Invitation.message_id == OutboxMessage.id)
        .where(*_reminder_due(survey, now or utcnow()))
    ).scalar_one()


def waiting_messages(session: Session, survey: SurveyRound) -> int:
    """The round's messages not sent yet (a close or cancel voids them)."""
    return session.execute(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.round_id == survey.id, OutboxMessage.status.in_((OutboxStatus.pending, OutboxStatus.sending)))
    ).scalar_one()


def close_round(session: Session, survey: SurveyRound, now: datetime | None = None, *, actor: str = "system") -> int:
    """No more answers; the round's messages not sent yet never go (void). Returns how
    many were voided. Audited (round.close)."""
    now = now or utcnow()
    session.refresh(survey, with_for_update=True)
    if survey.status is not RoundStatus.open:
        raise DomainError("只有进行中的调查才能结束")
    survey.status, survey.closed_at = RoundStatus.closed, now
    session.flush()
    voided = void_messages(session, survey, "调查已结束，未发送", now)
    audit.record(session, "round.close", actor=actor, campaign_id=survey.campaign_id,
                 detail={**_round_detail(survey), "voided_messages": voided})
    return voided


@dataclass(frozen=True)
class Cancelled:
    invitations: int  # made by the round (kept, for the record: their links say the round was cancelled)
    voided: int  # messages that had not gone and never will
    sent: int  # messages that had already gone out


def cancel_round(session: Session, survey: SurveyRound, now: datetime | None = None, *,
                 actor: str = "system") -> Cancelled:
    """Call the round off before any answer: it takes no answer from now on, its
    messages not sent yet never go, and a round of its kind can be set up again.
    Refused once it has an answer (those are the year's figures) or once it closed.
    Audited (round.cancel)."""
    now = now or utcnow()
    session.refresh(survey, with_for_update=True)
    if survey.status not in (RoundStatus.draft, RoundStatus.open):
        raise DomainError(f"{survey.kind.value} 轮调查已{survey.status.label}，不能取消")
    answers = session.scalar(select(func.count()).select_from(Vote).where(Vote.round_id == survey.id))
    if answers:
        raise DomainError(f"{survey.kind.value} 轮调查已收到 {answers} 份评价，不能取消；如需停止，请点“结束本轮调查”。")
    survey.status, survey.closed_at = RoundStatus.cancelled, now
    session.flush()
    voided = void_messages(session, survey, "调查已取消，未发送", now)
    invitations = session.execute(
        select(func.count()).select_from(Invitation).where(Invitation.round_id == survey.id)).scalar_one()
    sent = session.execute(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.round_id == survey.id, OutboxMessage.status.in_(SENT_STATES))).scalar_one()
    audit.record(session, "round.cancel", actor=actor, campaign_id=survey.campaign_id, detail={
        **_round_detail(survey), "invitations": invitations, "voided_messages": voided, "sent_messages": sent,
    })
    return Cancelled(invitations, voided, sent)


def void_messages(session: Session, survey: SurveyRound, reason: str, now: datetime | None = None) -> int:
    """Mark the round's messages that are still waiting as void, with the reason: a
    dispatch worker never claims them (outbox.claim sends only messages of rounds that
    take answers). One in a worker's hands right now is voided by that worker."""
    return cast(CursorResult, session.execute(  # an UPDATE's result: a CursorResult, with the rowcount
        update(OutboxMessage)
        .where(OutboxMessage.round_id == survey.id, OutboxMessage.status == OutboxStatus.pending)
        .values(status=OutboxStatus.void, last_error=reason, status_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )).rowcount


def void_ended(session: Session, now: datetime | None = None) -> int:
    """Void the waiting messages of every round past its closing time that nobody closed
    (a sweep's work: the close does it at once)."""
    now = now or utcnow()
    ended = select(SurveyRound.id).where(SurveyRound.status == RoundStatus.open, SurveyRound.closes_at <= now)
    return cast(CursorResult, session.execute(  # an UPDATE's result: a CursorResult, with the rowcount
        update(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.pending, OutboxMessage.round_id.in_(ended))
        .values(status=OutboxStatus.void, last_error="调查已截止，未发送", status_at=now)
        .execution_options(synchronize_session=False)
    )).rowcount


# ---- before the start: what is missing ---------------------------------------------------


@dataclass
class UnitReadiness:
    unit: str
    sections: int  # participating (not exempt)
    listed: int  # of which with a list for the round
    missing: list[str]  # the names of those without


@dataclass
class Readiness:
    """What opening a round would do now: per unit, the sections with and without a
    list for the round, and how many invitations (and messages) it would write."""

    units: list[UnitReadiness]
    invitations: int
    # The participating section whose (unit, section) names are longest: its message is
    # the longest the round writes.
    longest: tuple[str, str] = ("", "")

    @property
    def sections(self) -> int:
        return sum(u.sections for u in self.units)

    @property
    def listed(self) -> int:
        return sum(u.listed for u in self.units)

    @property
    def missing(self) -> int:
        return self.sections - self.listed

    @property
    def units_missing(self) -> list[UnitReadiness]:
        return [u for u in self.units if u.missing]


def readiness(session: Session, campaign: Campaign, survey: SurveyRound) -> Readiness:
    """Counted by the database (objects per section), not by drawing the sample."""
    statuses = surveyed(section_statuses(session, campaign), survey.kind)
    sizes = dict(session.execute(
        select(ServiceObject.section_id, func.count()).where(ServiceObject.round == survey.kind)
        .group_by(ServiceObject.section_id)
    ).all())
    units: dict[str, UnitReadiness] = {}
    invitations = 0
    longest = ("", "")
    for record in statuses.to_dict("records"):
        if len(record["unit"] + record["section"]) > len("".join(longest)):
            longest = (record["unit"], record["section"])
        unit = units.setdefault(record["unit"], UnitReadiness(record["unit"], 0, 0, []))
        unit.sections += 1
        size = sizes.get(int(record["id"]), 0)
        if size:
            unit.listed += 1
            invitations += min(size, survey.sample_size)
        else:
            unit.missing.append(record["section"])
    return Readiness(list(units.values()), invitations, longest)


def longest_message(survey: SurveyRound, tokens: LinkTokens, wording: Wording, unit: str, section: str) -> str:
    """The invitation this round would send to this section's citizen with the longest
    matter the text allows: what the office is told a message will cost. The link's
    token is made and thrown away (it opens nothing: no invitation 0 exists)."""
    template, params = _params(survey, 0, new_nonce(), new_code(), unit, section, "事" * MATTER_MAX, False, tokens,
                               wording)
    return render(template, params)


# ---- the citizens' pages ------------------------------------------------------------------


@dataclass(frozen=True)
class CitizenInvitation:
    """What the citizens' pages need of an invitation, read as plain columns in one
    query: the voting page is the platform's busiest, and loading six ORM objects
    (with the campaign's rules) for it cost more than the rest of the request. Its
    survey_round is enough for votes.is_open and votes.refusal, as an Invitation's is."""

    id: int
    round_id: int
    section_id: int
    nonce: str
    survey_round: RoundState
    year: int
    kind: RoundKind
    unit: str
    section: str
    matter: str


_VISIT = (
    select(
        Invitation.id, Invitation.round_id, Invitation.section_id, Invitation.nonce, SurveyRound.status,
        SurveyRound.closes_at, Campaign.year, SurveyRound.kind, Unit.name, Section.name, ServiceObject.matter, Vote.id,
    )
    .join(SurveyRound, Invitation.round_id == SurveyRound.id)
    .join(Campaign, SurveyRound.campaign_id == Campaign.id)
    .join(Section, Invitation.section_id == Section.id)
    .join(Unit, Section.unit_id == Unit.id)
    .join(ServiceObject, Invitation.service_object_id == ServiceObject.id)
    .outerjoin(Vote, Vote.invitation_id == Invitation.id)
    .where(Invitation.id == bindparam("invitation_id"))
)


_VISIT_READ = QuickRead(_VISIT)


def load_invitation(session: Session, invitation_id: int) -> tuple[CitizenInvitation | None, bool]:
    """An invitation as its page shows it (a CitizenInvitation), and whether it has a
    vote; (None, False) if there is none. A QuickRead, each of the citizens' requests
    runs it: on the autocommit connection where it is the request's only work
    (voting.core.db.single_statement_connection)."""
    row = _VISIT_READ.first(single_statement_connection(session), {"invitation_id": invitation_id})
    if row is None:
        return None, False
    (id_, round_id, section_id, nonce, status, closes_at, year, kind, unit, section, matter, vote_id) = row
    found = CitizenInvitation(id_, round_id, section_id, nonce, RoundState(status, closes_at), year, kind, unit, section,
                              matter)
    return found, vote_id is not None


def mark_opened(session: Session, invitation_id: int) -> None:
    """The first time a person's browser showed the page (opened_at), set once:
    concurrent beacons cannot move it. One statement (the beacon's only work: it
    commits by itself, voting.core.db.single_statement_connection)."""
    single_statement_connection(session).execute(
        update(Invitation).where(Invitation.id == invitation_id, Invitation.opened_at.is_(None)).values(opened_at=utcnow())
    )


# ---- the phone survey ----------------------------------------------------------------------


# The phone survey list's filters: by the SMS's state, and by the calls made so far.
SMS_FILTERS = {
    "failed": ("发送失败或未送达", FAILED_STATES),
    "delivered": ("已送达未评价", (OutboxStatus.delivered,)),
    "sent": ("已发出未回执", (OutboxStatus.sent,)),
    "waiting": ("待发送或已作废", (OutboxStatus.pending, OutboxStatus.sending, OutboxStatus.void)),
}
CALL_FILTERS = {"none": "未拨打过", **{o.value: f"上次{o.label}" for o in CallOutcome}, "to_call": "可再拨打（除拒访、空号）"}


@dataclass(frozen=True)
class PhoneFilter:
    unit_id: int | None = None
    section_id: int | None = None
    sms: str = ""  # a key of SMS_FILTERS, or "" for all
    call: str = ""  # a key of CALL_FILTERS, or "" for all


def unanswered(session: Session, campaign: Campaign, where: PhoneFilter | None = None, *, limit: int,
               offset: int = 0) -> tuple[Sequence[Row[Any]], int]:
    """The phone survey's list: invitations of the campaign's open rounds without a
    vote, by unit and section (rows with id, unit, section, name, matter, phone, sms
    status, the last call's outcome and the number of calls; the phone in full: mask it
    before showing it), and how many in all. `where` narrows it (by unit, section, the
    SMS's state, the calls so far)."""
    where = where or PhoneFilter()
    voted = select(Vote.id).where(Vote.invitation_id == Invitation.id).exists()
    calls = select(func.count(CallAttempt.id)).where(CallAttempt.invitation_id == Invitation.id).scalar_subquery()
    last_call = (select(CallAttempt.outcome).where(CallAttempt.invitation_id == Invitation.id)
                 .order_by(CallAttempt.id.desc()).limit(1).scalar_subquery())
    query = (
        select(Invitation.id)
        .join(SurveyRound, Invitation.round_id == SurveyRound.id)
        .join(Section, Invitation.section_id == Section.id)
        .join(Unit, Section.unit_id == Unit.id)
        .outerjoin(OutboxMessage, Invitation.message_id == OutboxMessage.id)
        .where(SurveyRound.campaign_id == campaign.id, SurveyRound.status == RoundStatus.open,
               SurveyRound.closes_at > utcnow(), ~voted)
    )
    if where.unit_id is not None:
        query = query.where(Unit.id == where.unit_id)
    if where.section_id is not None:
        query = query.where(Section.id == where.section_id)
    if where.sms in SMS_FILTERS:
        query = query.where(OutboxMessage.status.in_(SMS_FILTERS[where.sms][1]))
    if where.call == "none":
        query = query.where(calls == 0)
    elif where.call == "to_call":
        query = query.where(or_(last_call.is_(None), last_call == CallOutcome.no_answer))
    elif where.call in {o.value for o in CallOutcome}:
        query = query.where(last_call == CallOutcome(where.call))
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    listed = session.execute(
        query.add_columns(Unit.name.label("unit"), Section.name.label("section"), ServiceObject.name.label("name"),
                          ServiceObject.matter, Invitation.phone, OutboxMessage.status.label("sms"),
                          last_call.label("last_call"), calls.label("calls"))
        .join(ServiceObject, Invitation.service_object_id == ServiceObject.id)
        .order_by(Unit.number, Unit.id, Section.number, Section.id, Invitation.id)
        .limit(limit).offset(offset)
    ).all()
    return listed, total


def record_call(session: Session, invitation: Invitation, outcome: CallOutcome, operator: User | None,
                now: datetime | None = None) -> CallAttempt:
    """A call that got no answer, and why (flush; the caller commits). Refused as the
    vote would be (votes.check_votable) once the invitation has a vote or its round
    stopped taking answers."""
    now = now or utcnow()
    check_votable(session, invitation, now)
    attempt = CallAttempt(invitation_id=invitation.id, outcome=outcome, operator_id=operator.id if operator else None,
                          created_at=now)
    session.add(attempt)
    session.flush()
    return attempt


def find_invitation(session: Session, invitation_id: int) -> Invitation | None:
    return session.get(Invitation, invitation_id)


def unit_choices(session: Session, campaign: Campaign) -> Sequence[Row[int, str]]:
    """The campaign's units as a filter offers them: rows of id and name, in order."""
    return session.execute(
        select(Unit.id, Unit.name).where(Unit.campaign_id == campaign.id).order_by(Unit.number, Unit.id)
    ).all()


def section_choices(session: Session, unit_id: int) -> Sequence[Row[int, str]]:
    """A unit's sections as a filter offers them once the unit is chosen (not all 363
    at once): rows of id and name, in order."""
    return session.execute(
        select(Section.id, Section.name).where(Section.unit_id == unit_id).order_by(Section.number, Section.id)
    ).all()


def calls_of(session: Session, invitation: Invitation) -> list[tuple[CallAttempt, str | None]]:
    """The invitation's calls without an answer, newest first, with each operator's name."""
    return [(attempt, name) for attempt, name in session.execute(
        select(CallAttempt, User.username).outerjoin(User, CallAttempt.operator_id == User.id)
        .where(CallAttempt.invitation_id == invitation.id).order_by(CallAttempt.id.desc())
    )]


CODE_TRIES = 5  # wrong phone digits before a code locks on the web


class CodeLockedError(DomainError):
    status = 423

    def __init__(self) -> None:
        super().__init__(
            "这个评价码输错次数过多，已锁定网页评价。您仍可直接回复短信 1、2、3 进行评价，"
            "或联系县千人评议办解锁。"
        )


class CodeMismatchError(DomainError):
    status = 422

    def __init__(self) -> None:
        super().__init__("评价码或手机号码后四位不正确，请核对短信及本机号码后重新输入。")


def invitation_by_code(session: Session, code: str, now: datetime | None = None) -> Invitation | None:
    """The invitation of an open round with this code (code mode)."""
    now = now or utcnow()
    return session.scalar(
        select(Invitation).join(SurveyRound, Invitation.round_id == SurveyRound.id)
        .where(Invitation.code_hash == vault_of(session).code_lookup(code), SurveyRound.status == RoundStatus.open,
               SurveyRound.closes_at > now)
    )


def enter_code(session: Session, code: str, phone_tail: str, now: datetime | None = None) -> Invitation:
    """Code mode's door: the code and the last four digits of the phone it was sent
    to. A wrong code tells nothing (CodeMismatchError, slowed per address by the view);
    wrong digits for a real code count against that code, in one atomic UPDATE, and
    the CODE_TRIES-th locks it (CodeLockedError), so a code seen over a shoulder cannot
    be tried against all 10,000 endings. The caller commits either way: a failure
    must be counted even though the request fails."""
    now = now or utcnow()
    invitation = invitation_by_code(session, code, now)
    if invitation is None:
        raise CodeMismatchError()
    if invitation.code_locked_at is not None:
        raise CodeLockedError()
    phone = cast(str, invitation.phone)  # erased only once its round has ended (retention)
    if hmac.compare_digest(phone[-4:].encode(), phone_tail.encode()):
        return invitation
    failures = session.execute(
        update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.code_locked_at.is_(None))
        .values(code_failures=Invitation.code_failures + 1)
        .returning(Invitation.code_failures)
    ).scalar()
    if failures is None or failures >= CODE_TRIES:
        session.execute(
            update(Invitation).where(Invitation.id == invitation.id, Invitation.code_locked_at.is_(None))
            .values(code_locked_at=now)
        )
        raise CodeLockedError()
    raise CodeMismatchError()


def unlock_code(session: Session, invitation: Invitation) -> None:
    """The review office lifts a code's lock (the count starts again)."""
    invitation.code_failures = 0
    invitation.code_locked_at = None
    session.flush()


# ---- counts ----------------------------------------------------------------------------




def _count_where(condition: ColumnElement[bool]) -> ColumnElement[int]:  # a SQL condition in, a SQL sum out
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def section_progress(session: Session, survey: SurveyRound) -> pd.DataFrame:
    """Per section: invited, sent, delivered, failed, opened, voted, rate (voted /
    invited), and the votes per choice. Every participating section with a list.
    Counted by the database (GROUP BY section): a county's round is 40,000 invitations,
    and reading them all to count them took a third of a second a page."""
    invitations = pd.DataFrame(session.execute(
        select(Invitation.section_id, func.count(), _count_where(OutboxMessage.status.in_(SENT_STATES)),
               _count_where(OutboxMessage.status == OutboxStatus.delivered),
               _count_where(OutboxMessage.status.in_(FAILED_STATES)), func.count(Invitation.opened_at))
        .outerjoin(OutboxMessage, Invitation.message_id == OutboxMessage.id)
        .where(Invitation.round_id == survey.id)
        .group_by(Invitation.section_id)
    ).all(), columns=["section_id", "invited", "sent", "delivered", "failed", "opened"])
    votes = pd.DataFrame(session.execute(
        select(Vote.section_id, Vote.choice, func.count()).where(Vote.round_id == survey.id)
        .group_by(Vote.section_id, Vote.choice)
    ).all(), columns=["section_id", "choice", "n"])
    names = pd.DataFrame(session.execute(
        select(Section.id, Unit.name, Section.name).join(Unit).where(Unit.campaign_id == survey.campaign_id)
        .order_by(Unit.number, Unit.id, Section.number, Section.id)
    ).all(), columns=["section_id", "unit", "section"])
    frame = names.set_index("section_id").join(invitations.set_index("section_id"))
    # Plain strings: pandas compares a column of str-enum members to a member wrongly.
    votes["choice"] = [c.value if isinstance(c, Choice) else c for c in votes["choice"]]
    for choice in Choice:
        part = votes[votes["choice"] == choice.value].set_index("section_id")["n"] if len(votes) else pd.Series(dtype=int)
        frame[choice.value] = part
    frame = frame[frame["invited"].notna()].fillna(0)
    for column in ("invited", "sent", "delivered", "failed", "opened", *(c.value for c in Choice)):
        frame[column] = frame[column].astype(int)
    frame["voted"] = sum(frame[c.value] for c in Choice) if len(frame) else 0
    frame["rate"] = frame["voted"] / frame["invited"].where(frame["invited"] > 0)
    return frame.reset_index()


def round_totals(session: Session, survey: SurveyRound, unit_id: int | None = None) -> tuple[int, int]:
    """Invited and voted in the round (only the unit's sections with `unit_id`): the
    rounds list shows these two numbers, not each section's progress."""
    invited = select(func.count()).select_from(Invitation).where(Invitation.round_id == survey.id)
    voted = select(func.count()).select_from(Vote).where(Vote.round_id == survey.id)
    if unit_id is not None:
        in_unit = select(Section.id).where(Section.unit_id == unit_id)
        invited = invited.where(Invitation.section_id.in_(in_unit))
        voted = voted.where(Vote.section_id.in_(in_unit))
    row = session.execute(select(invited.scalar_subquery(), voted.scalar_subquery())).one()
    return int(row[0]), int(row[1])


def vote_counts(session: Session, campaign: Campaign, kinds: Sequence[RoundKind] = SCORED_KINDS) -> pd.DataFrame:
    """The platform's own votes as scoring counts: UNIT, SECTION, ROUND, VOTES_S/B/U,
    one row per section and round with votes (added to imported counts by scoring).
    The year's rounds by default; the 复评's are counted apart (voting/scores/reevaluation.py)."""
    rows = session.execute(
        select(Unit.name, Section.name, SurveyRound.kind, Vote.choice, func.count())
        .join(Section, Vote.section_id == Section.id).join(Unit)
        .join(SurveyRound, Vote.round_id == SurveyRound.id)
        .where(and_(Unit.campaign_id == campaign.id, SurveyRound.campaign_id == campaign.id,
                    SurveyRound.status != RoundStatus.cancelled, SurveyRound.kind.in_(kinds)))
        .group_by(Unit.name, Section.name, SurveyRound.kind, Vote.choice)
    ).all()
    counts: dict[tuple, dict[str, int]] = defaultdict(lambda: {C.VOTES_S: 0, C.VOTES_B: 0, C.VOTES_U: 0})
    column = {Choice.satisfied: C.VOTES_S, Choice.basic: C.VOTES_B, Choice.unsatisfied: C.VOTES_U}
    for unit, section, kind, choice, n in rows:
        counts[(unit, section, kind.value)][column[choice]] += n
    return pd.DataFrame(
        [{C.UNIT: u, C.SECTION: s, C.ROUND: r, **c} for (u, s, r), c in counts.items()],
        columns=[C.UNIT, C.SECTION, C.ROUND, C.VOTES_S, C.VOTES_B, C.VOTES_U],
    )
