"""The online round's evaluators (SPEC §1 step 6, §4; issue 5): the pool, the
accounts sent by SMS, and the evaluators' login.

- The round is set up over the fixed candidate list (scorecards.candidates_fixed),
  with its closing time and a recorded seed.
- The pool: representatives imported from a file (姓名, 类别, 手机号码; a file with any
  bad row is rejected whole), and service objects of the candidate sections sampled
  so that they make up `evaluator_service_object_share` (65 %) of the pool. The sample
  is a prefix of one seeded order of the eligible phones, so it is reproducible from
  the seed, and a later top-up (more representatives imported) extends it.
- One phone, one evaluator per round (the database's unique constraint); a phone
  already in the pool is neither imported nor sampled again.
- Accounts: a login name (given when the evaluator joins the pool) and a one-time
  password from a CSPRNG, stored only as a salted scrypt hash and sent by SMS through
  the outbox in the same transaction; the outbox blanks the password from its row once
  the message is sent (outbox.forget_secrets). Issuing opens the round.
- Login: five wrong passwords lock the account (an atomic increment in the database);
  a resend does not reset the count, a reissue by the review office does.

Services flush and never commit; the request (or the command) commits once.
"""
from __future__ import annotations

import random
import re
import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from sms.phones import mask_phone_text, normalize_phones
from sms.templates import ONLINE_ACCOUNT
from sms.tokens import new_code, normalize_code
from voting.errors import DomainError, ImportRejected, NotFoundError, RowError
from voting.models import (
    EVALUATOR_KIND_LABELS,
    BallotCast,
    Campaign,
    Candidate,
    Evaluator,
    EvaluatorKind,
    OnlineRound,
    OutboxMessage,
    OutboxStatus,
    RoundStatus,
    ServiceObject,
    utcnow,
)
from voting.services import audit, outbox
from voting.services.rounds import Wording, _aware, _local  # the survey rounds' time helpers
from voting.services.scorecards import candidates_fixed
from voting.services.tables import ROW, Column, fold_series, read_table

MAX_FAILED_LOGINS = 5
LOGIN_LENGTH = 8  # sms.tokens.CODE_ALPHABET: about 39.6 bits, so logins are not guessed in bulk
PASSWORD_LENGTH = 10  # about 49.5 bits from a CSPRNG
# werkzeug's scrypt, salted, as for staff passwords, at a lower cost: a staff password
# is chosen by a person and needs the full cost against guessing; a one-time password
# carries 49.5 random bits, out of reach even at this cost, and issuing a thousand
# accounts in one request must take seconds, not minutes.
PASSWORD_METHOD = "scrypt:4096:8:1"
# Checked against when the login name is unknown or has no password, so that every
# path costs one hash.
_DUMMY_HASH = generate_password_hash("not a password", method=PASSWORD_METHOD)

REPRESENTATIVE_KINDS = tuple(k for k in EvaluatorKind if k is not EvaluatorKind.service_object)
_KIND_BY_LABEL = {EVALUATOR_KIND_LABELS[k]: k for k in REPRESENTATIVE_KINDS} | {k.value: k for k in REPRESENTATIVE_KINDS}
COLUMNS = [
    Column("name", ("姓名", "name")),
    Column("kind", ("类别", "代表类别", "kind", "category")),
    Column("phone", ("手机号码", "手机", "手机号", "phone", "mobile")),
]
NAME_MAX = 50
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_ROWS = 20_000


# ---- named errors ------------------------------------------------------------------------


class LoginFailedError(DomainError):
    """A wrong login name or a wrong password: the same message for both."""

    status = 401

    def __init__(self) -> None:
        super().__init__("账号或密码不正确,请核对短信后重新输入。")


class AccountLockedError(DomainError):
    status = 423

    def __init__(self) -> None:
        super().__init__(f"密码连续输错 {MAX_FAILED_LOGINS} 次,账号已锁定。请联系县千人评议办重新开通,届时会收到新密码短信。")


class BallotAlreadyCastError(DomainError):
    status = 409

    def __init__(self) -> None:
        super().__init__("您的选票已经提交,每位评价人只能投票一次,密码已失效。感谢您的参与!")


class RoundNotOpenError(DomainError):
    status = 403

    def __init__(self) -> None:
        super().__init__("网络评价尚未开始,请在收到账号短信后再登录。")


class RoundOverError(DomainError):
    status = 410

    def __init__(self) -> None:
        super().__init__("网络评价已经截止,感谢您的关注。")


# ---- the round -----------------------------------------------------------------------------


def get_round(session: Session, campaign: Campaign) -> OnlineRound | None:
    return session.scalar(select(OnlineRound).where(OnlineRound.campaign_id == campaign.id))


def require_round(session: Session, campaign: Campaign) -> OnlineRound:
    found = get_round(session, campaign)
    if found is None:
        raise NotFoundError(f"{campaign.year} 年度还没有网络评价")
    return found


def is_open(online: OnlineRound, now: datetime | None = None) -> bool:
    """Logins and ballots are taken: accounts issued, not closed, closing time ahead."""
    return online.status is RoundStatus.open and (now or utcnow()) < _aware(online.closes_at)


def is_changeable(online: OnlineRound, now: datetime | None = None) -> bool:
    """The pool and the accounts may change: not closed, closing time ahead."""
    return online.status is not RoundStatus.closed and (now or utcnow()) < _aware(online.closes_at)


def _check_changeable(online: OnlineRound, now: datetime) -> None:
    if not is_changeable(online, now):
        raise DomainError("网络评价已经截止,评价人名单和账号不能再改动")


def create_round(
    session: Session, campaign: Campaign, closes_at: datetime, *, seed: int | None = None, actor: str = "system",
    now: datetime | None = None,
) -> OnlineRound:
    """The campaign's online round (a draft), over its fixed candidate list."""
    now = now or utcnow()
    if get_round(session, campaign) is not None:
        raise DomainError(f"{campaign.year} 年度已有网络评价")
    if candidates_fixed(session, campaign) is None:
        raise DomainError("候选名单尚未确定:请先在评分结果中确定候选名单,再建立网络评价")
    if closes_at <= now:
        raise DomainError("截止时间必须晚于现在")
    created = OnlineRound(
        campaign_id=campaign.id, status=RoundStatus.draft, closes_at=closes_at,
        seed=seed if seed is not None else random.SystemRandom().randrange(1, 2**31),
    )
    session.add(created)
    session.flush()
    audit.record(session, "online.create", actor=actor, campaign_id=campaign.id,
                 detail={"round_id": created.id, "seed": created.seed, "closes_at": closes_at.isoformat()})
    return created


# ---- logins ----------------------------------------------------------------------------------


def _new_logins(session: Session, count: int) -> list[str]:
    """`count` login names not yet taken (logins are unique across rounds)."""
    chosen: set[str] = set()
    while len(chosen) < count:
        fresh = {new_code(LOGIN_LENGTH) for _ in range(count - len(chosen))} - chosen
        taken = set(session.scalars(select(Evaluator.login).where(Evaluator.login.in_(fresh))))
        chosen |= fresh - taken
    return sorted(chosen)


def _new_password() -> str:
    return new_code(PASSWORD_LENGTH)


# ---- representatives ------------------------------------------------------------------------


@dataclass
class PoolImport:
    rows_read: int = 0
    stored: int = 0
    by_kind: dict[EvaluatorKind, int] = field(default_factory=dict)


def _pool_phones(session: Session, online: OnlineRound) -> dict[str, Evaluator]:
    return {e.phone: e for e in session.scalars(select(Evaluator).where(Evaluator.round_id == online.id))}


def import_representatives(
    session: Session, online: OnlineRound, data: bytes, filename: str, *, actor: str = "system",
    now: datetime | None = None,
) -> PoolImport:
    """Add the representatives of one file to the pool. Every row is checked; a file
    with any bad row (an empty or too long name, an unknown category, a bad phone, a
    phone twice in the file or already in the pool) is rejected whole, with every bad
    row listed, and nothing of it is stored."""
    now = now or utcnow()
    _check_changeable(online, now)
    table = read_table(data, filename, COLUMNS)
    frame = table.frame
    if len(frame) > MAX_ROWS:
        raise ImportRejected(filename, [RowError(0, "", f"文件有 {len(frame)} 行,超过 {MAX_ROWS} 行的上限")])
    if frame.empty:
        raise ImportRejected(filename, [RowError(0, "", "表头下没有任何评价人")])
    errors: list[RowError] = []

    def flag(mask: pd.Series, key: str, reason) -> None:  # noqa: ANN001
        for record in frame.loc[mask].to_dict("records"):
            errors.append(RowError(record[ROW], table.where(key), reason(record) if callable(reason) else reason))

    flag(frame["name"] == "", "name", "姓名为空")
    flag(frame["name"].str.len() > NAME_MAX, "name", f"超过 {NAME_MAX} 字")
    flag(frame["name"].str.contains(_CONTROL.pattern, regex=True), "name", "含有不可见的控制字符")
    kinds = fold_series(frame["kind"]).map(lambda k: _KIND_BY_LABEL.get(k) or _KIND_BY_LABEL.get(k.lower()))
    allowed = "、".join(EVALUATOR_KIND_LABELS[k] for k in REPRESENTATIVE_KINDS)
    flag(frame["kind"] == "", "kind", f"类别为空:应为 {allowed} 之一")
    flag((frame["kind"] != "") & kinds.isna(), "kind", lambda r: f"“{r['kind']}”无效:应为 {allowed} 之一")
    phones, problems = normalize_phones(frame["phone"])
    bad_phone = problems.notna()
    for record, problem in zip(frame.loc[bad_phone].to_dict("records"), problems[bad_phone]):
        shown = f"“{mask_phone_text(record['phone'])}”" if record["phone"] else ""
        errors.append(RowError(record[ROW], table.where("phone"), f"{shown}{problem}"))
    frame["phone_norm"] = phones
    good = frame[~bad_phone]
    first_rows = good.drop_duplicates("phone_norm").set_index("phone_norm")[ROW]
    repeated = good.duplicated("phone_norm", keep="first")
    flag(repeated.reindex(frame.index, fill_value=False), "phone",
         lambda r: f"手机号码与第 {int(first_rows[r['phone_norm']])} 行重复(每个号码只能有一位评价人)")
    # An import and a sampling at once would both miss the other's phones: one at a time.
    session.execute(select(OnlineRound.id).where(OnlineRound.id == online.id).with_for_update())
    in_pool = _pool_phones(session, online)
    flag(~bad_phone & frame["phone_norm"].isin(in_pool.keys()), "phone",
         lambda r: f"手机号码已在本轮评价人名单中({in_pool[r['phone_norm']].kind.label} {in_pool[r['phone_norm']].name})")
    if errors:
        raise ImportRejected(filename, errors, rows_read=len(frame))
    logins = _new_logins(session, len(frame))
    added = [
        Evaluator(round_id=online.id, kind=kind, name=name, phone=phone, source_row=int(row), login=login,
                  failed_logins=0, created_at=now)
        for name, kind, phone, row, login in zip(frame["name"], kinds, frame["phone_norm"], frame[ROW], logins)
    ]
    session.add_all(added)
    session.flush()
    summary = PoolImport(rows_read=len(frame), stored=len(added), by_kind=dict(Counter(e.kind for e in added)))
    audit.record(session, "online.import", actor=actor, campaign_id=online.campaign_id,
                 detail={"round_id": online.id, "filename": filename[:255], "rows": len(frame),
                         "by_kind": {k.value: n for k, n in summary.by_kind.items()}})
    return summary


# ---- service objects --------------------------------------------------------------------------


def _candidate_lists(session: Session, online: OnlineRound) -> tuple[list[int], dict[int, list[tuple[int, str]]]]:
    """The candidate sections, and each one's service objects (id, phone's keyed hash)
    with one row per phone (the lowest id, whichever round's list it is on)."""
    section_ids = sorted(session.scalars(select(Candidate.section_id).where(Candidate.campaign_id == online.campaign_id)))
    rows = session.execute(
        select(ServiceObject.section_id, ServiceObject.phone_hash, func.min(ServiceObject.id))
        .where(ServiceObject.section_id.in_(section_ids), ServiceObject.phone_hash.is_not(None))
        .group_by(ServiceObject.section_id, ServiceObject.phone_hash)
    ).all()
    lists: dict[int, list[tuple[int, str]]] = {sid: [] for sid in section_ids}
    for section_id, phone, object_id in rows:
        lists[section_id].append((object_id, phone))
    return section_ids, lists


def sample_order(section_ids: list[int], lists: dict[int, list[tuple[int, str]]], seed: int) -> list[tuple[int, str]]:
    """Every phone on the candidate sections' lists, once, in the round's one seeded
    order: each section's list shuffled by the seed and the section, then taken in turn,
    one from each section (in a seeded order of the sections), so that the sample
    spreads over all candidate sections instead of following the longest lists. The
    sample is a prefix of this order: the same seed and lists give the same sample, and
    a larger sample extends a smaller one."""
    rng = random.Random(f"pingyi-online:{seed}")
    order = sorted(section_ids)
    rng.shuffle(order)
    queues = []
    for section_id in order:
        objects = sorted(lists.get(section_id, []))
        random.Random(f"pingyi-online:{seed}:{section_id}").shuffle(objects)
        queues.append(objects)
    seen: set[str] = set()
    result = []
    for depth in range(max((len(q) for q in queues), default=0)):
        for queue in queues:
            if depth < len(queue) and queue[depth][1] not in seen:
                seen.add(queue[depth][1])
                result.append(queue[depth])
    return result


def target_service_objects(representatives: int, share: float) -> int | None:
    """How many service objects give them `share` of a pool with `representatives`
    others (rounded to the nearest person); None when that is not defined."""
    if representatives <= 0 or not 0 <= share < 1:
        return None
    return int(representatives * share / (1 - share) + 0.5)


@dataclass
class Mix:
    """The pool as it stands against the campaign's rule, and why the rule is not met."""

    counts: dict[EvaluatorKind, int]
    representatives: int
    service_objects: int
    target_share: float
    target: int | None  # service objects the rule asks for
    available: int  # phones on the candidate lists not yet in the pool
    candidate_sections: int
    sections_without_list: int
    reasons: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.representatives + self.service_objects

    @property
    def share(self) -> float | None:
        return self.service_objects / self.total if self.total else None

    @property
    def reached(self) -> bool:
        return self.target is not None and self.service_objects == self.target


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def mix(session: Session, online: OnlineRound) -> Mix:
    rules = online.campaign.rules
    share = rules.evaluator_service_object_share
    counts = dict.fromkeys(EvaluatorKind, 0) | dict(session.execute(
        select(Evaluator.kind, func.count()).where(Evaluator.round_id == online.id).group_by(Evaluator.kind)
    ).all())
    representatives = sum(counts[k] for k in REPRESENTATIVE_KINDS)
    service_objects = counts[EvaluatorKind.service_object]
    section_ids, lists = _candidate_lists(session, online)
    in_pool = set(session.scalars(select(Evaluator.phone_hash).where(Evaluator.round_id == online.id)))
    available = sum(1 for _, phone in sample_order(section_ids, lists, online.seed) if phone not in in_pool)
    found = Mix(
        counts=counts, representatives=representatives, service_objects=service_objects, target_share=share,
        target=target_service_objects(representatives, share), available=available,
        candidate_sections=len(section_ids), sections_without_list=sum(1 for s in section_ids if not lists[s]),
    )
    wanted = f"服务对象占 {_percent(share)}、其他评价人占 {_percent(1 - share)}"
    if found.target is None:
        found.reasons.append(f"还没有导入代表(两代表一委员、基层干部、民营企业家、特约监察员、营商环境监督员):按{wanted}的规则,要先有代表才能确定抽取多少服务对象。")
    elif service_objects < found.target:
        missing = found.target - service_objects
        if available >= missing:
            found.reasons.append(f"按{wanted},{representatives} 名代表需要 {found.target} 名服务对象,还差 {missing} 名:请点“抽取服务对象”。")
        else:
            found.reasons.append(
                f"按{wanted},{representatives} 名代表需要 {found.target} 名服务对象,但 {found.candidate_sections} 个候选科室的服务对象名单中"
                f"可抽取的号码只剩 {available} 个(已去掉重复和已在名单中的号码),最多只能达到 {service_objects + available} 名"
                f"(占 {_percent((service_objects + available) / (representatives + service_objects + available))})。"
                "可让候选科室补报服务对象名单,或减少代表人数。"
            )
    elif service_objects > found.target:
        found.reasons.append(f"服务对象比规则要求的 {found.target} 名多 {service_objects - found.target} 名(占 {_percent(found.share)}):已抽取后代表人数或规则有变化;可再导入代表。")
    if found.sections_without_list:
        found.reasons.append(f"{found.sections_without_list} 个候选科室没有服务对象名单,抽样中没有它们的服务对象。")
    return found


@dataclass
class SampleSummary:
    added: int
    mix: Mix


def sample_service_objects(
    session: Session, online: OnlineRound, *, actor: str = "system", now: datetime | None = None,
) -> SampleSummary:
    """Add service objects of the candidate sections to the pool until they make up
    the rule's share (or the lists run out): the next phones, in the round's seeded
    order, that are not yet in the pool. Never removes anyone."""
    now = now or utcnow()
    _check_changeable(online, now)
    # Two samplings at once would both read the same pool: one at a time per round.
    session.execute(select(OnlineRound.id).where(OnlineRound.id == online.id).with_for_update())
    before = mix(session, online)
    if before.target is None:
        raise DomainError(before.reasons[0])
    wanted = before.target - before.service_objects
    added: list[Evaluator] = []
    if wanted > 0:
        section_ids, lists = _candidate_lists(session, online)
        in_pool = set(session.scalars(select(Evaluator.phone_hash).where(Evaluator.round_id == online.id)))
        chosen = [(object_id, hashed) for object_id, hashed in sample_order(section_ids, lists, online.seed)
                  if hashed not in in_pool][:wanted]
        people = {row.id: row for row in session.execute(
            select(ServiceObject.id, ServiceObject.name, ServiceObject.phone)
            .where(ServiceObject.id.in_([i for i, _ in chosen]))
        )}
        logins = _new_logins(session, len(chosen))
        added = [
            Evaluator(round_id=online.id, kind=EvaluatorKind.service_object, name=people[object_id].name,
                      phone=people[object_id].phone, service_object_id=object_id, login=login, failed_logins=0,
                      created_at=now)
            for (object_id, _), login in zip(chosen, logins)
        ]
        session.add_all(added)
        session.flush()
    after = mix(session, online)
    audit.record(session, "online.sample", actor=actor, campaign_id=online.campaign_id,
                 detail={"round_id": online.id, "seed": online.seed, "added": len(added),
                         "service_objects": after.service_objects, "representatives": after.representatives,
                         "target": after.target})
    return SampleSummary(len(added), after)


# ---- accounts ---------------------------------------------------------------------------------


def _send_password(session: Session, online: OnlineRound, evaluator: Evaluator, wording: Wording, now: datetime) -> str:
    """A new one-time password: its hash on the evaluator, the SMS in the outbox. A
    message with an older password still waiting in the outbox is withdrawn."""
    if evaluator.message_id is not None:
        # Locked: a dispatch worker that claimed it meanwhile sends it (its password
        # no longer works); one that has not is kept from sending it.
        previous = session.get(OutboxMessage, evaluator.message_id, with_for_update=True, populate_existing=True)
        if previous is not None and previous.status is OutboxStatus.pending:
            previous.status, previous.last_error = OutboxStatus.failed, "已被新的密码短信取代"
            outbox.forget_secrets(previous)
    password = _new_password()
    evaluator.password_hash = generate_password_hash(password, method=PASSWORD_METHOD)
    evaluator.password_issued_at = now
    params = {
        "sign": wording.sign, "year": str(online.campaign.year), "closes": _local(online.closes_at, wording.timezone),
        "link": f"{wording.link_base.rstrip('/')}/e/login", "login": evaluator.login, "password": password,
    }
    message = outbox.enqueue(
        session, key=f"account:{evaluator.id}:{secrets.token_hex(6)}", phone=evaluator.phone, template=ONLINE_ACCOUNT,
        params=params, campaign_id=online.campaign_id, not_before=now,
    )
    evaluator.message_id = message.id
    return password


def issue_accounts(
    session: Session, online: OnlineRound, wording: Wording, *, actor: str = "system", now: datetime | None = None,
) -> int:
    """Send an account to every evaluator of the pool that has not had one yet, and
    open the round. Returns how many were sent."""
    now = now or utcnow()
    _check_changeable(online, now)
    session.execute(select(OnlineRound.id).where(OnlineRound.id == online.id).with_for_update())
    waiting = list(session.scalars(
        select(Evaluator).where(Evaluator.round_id == online.id, Evaluator.message_id.is_(None)).order_by(Evaluator.id)
    ))
    if not waiting and online.status is not RoundStatus.draft:
        raise DomainError("每位评价人都已发过账号短信")
    if not waiting:
        raise DomainError("评价人名单是空的:请先导入代表并抽取服务对象")
    for evaluator in waiting:
        _send_password(session, online, evaluator, wording, now)
    if online.status is RoundStatus.draft:
        online.status, online.opened_at = RoundStatus.open, now
    session.flush()
    audit.record(session, "online.issue", actor=actor, campaign_id=online.campaign_id,
                 detail={"round_id": online.id, "accounts": len(waiting)})
    return len(waiting)


def get_evaluator(session: Session, online: OnlineRound, evaluator_id: int) -> Evaluator:
    found = session.get(Evaluator, evaluator_id)
    if found is None or found.round_id != online.id:
        raise NotFoundError("没有这位评价人")
    return found


def has_voted(session: Session, evaluator: Evaluator) -> bool:
    return session.get(BallotCast, evaluator.id) is not None


def _check_resendable(session: Session, online: OnlineRound, evaluator: Evaluator, now: datetime) -> None:
    _check_changeable(online, now)
    if online.status is not RoundStatus.open:
        raise DomainError("还没有发出账号:请先点“发送账号短信”")
    if has_voted(session, evaluator):
        raise DomainError(f"评价人 {evaluator.login} 已经投票,不再需要密码")


def resend(
    session: Session, online: OnlineRound, evaluator: Evaluator, wording: Wording, *, actor: str = "system",
    now: datetime | None = None,
) -> None:
    """A new password by SMS (the old one stops working). The count of wrong passwords
    stays: a resend must not give a guesser five more tries. A locked account needs a
    reissue."""
    now = now or utcnow()
    _check_resendable(session, online, evaluator, now)
    if evaluator.locked_at is not None:
        raise DomainError(f"账号 {evaluator.login} 已锁定:请核实本人后点“重新开通”")
    _send_password(session, online, evaluator, wording, now)
    session.flush()
    audit.record(session, "online.resend", actor=actor, campaign_id=online.campaign_id,
                 detail={"round_id": online.id, "evaluator_id": evaluator.id, "failed_logins": evaluator.failed_logins})


def reissue(
    session: Session, online: OnlineRound, evaluator: Evaluator, wording: Wording, *, actor: str = "system",
    now: datetime | None = None,
) -> None:
    """The review office reopens an account (after checking who asks): unlocked, the
    count of wrong passwords back to zero, a new password by SMS."""
    now = now or utcnow()
    _check_resendable(session, online, evaluator, now)
    was_locked = evaluator.locked_at is not None
    evaluator.locked_at, evaluator.failed_logins = None, 0
    _send_password(session, online, evaluator, wording, now)
    session.flush()
    audit.record(session, "online.reissue", actor=actor, campaign_id=online.campaign_id,
                 detail={"round_id": online.id, "evaluator_id": evaluator.id, "was_locked": was_locked})


@dataclass
class PoolRow:
    """One line of the office's evaluator list (the phone in full: mask it to show it)."""

    id: int
    kind: EvaluatorKind
    name: str
    phone: str
    login: str
    sms: OutboxStatus | None
    issued_at: datetime | None
    failed_logins: int
    locked: bool
    voted: bool


def pool(session: Session, online: OnlineRound, *, limit: int, offset: int = 0) -> tuple[list[PoolRow], int]:
    """The evaluators (representatives first, in import order) and how many in all."""
    total = session.scalar(select(func.count()).select_from(Evaluator).where(Evaluator.round_id == online.id))
    rows = session.execute(
        select(Evaluator.id, Evaluator.kind, Evaluator.name, Evaluator.phone, Evaluator.login, OutboxMessage.status,
               Evaluator.password_issued_at, Evaluator.failed_logins, Evaluator.locked_at, BallotCast.evaluator_id)
        .outerjoin(OutboxMessage, Evaluator.message_id == OutboxMessage.id)
        .outerjoin(BallotCast, BallotCast.evaluator_id == Evaluator.id)
        .where(Evaluator.round_id == online.id)
        .order_by((Evaluator.kind == EvaluatorKind.service_object), Evaluator.id)
        .limit(limit).offset(offset)
    ).all()
    return [
        PoolRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8] is not None, r[9] is not None) for r in rows
    ], total


def sms_counts(session: Session, online: OnlineRound) -> dict[str, int]:
    """Accounts by the state of their latest SMS: not sent yet, waiting, sent, failed."""
    rows = session.execute(
        select(OutboxMessage.status, func.count())
        .select_from(Evaluator).outerjoin(OutboxMessage, Evaluator.message_id == OutboxMessage.id)
        .where(Evaluator.round_id == online.id).group_by(OutboxMessage.status)
    ).all()
    counts = {"unsent": 0, "waiting": 0, "sent": 0, "failed": 0}
    for status, n in rows:
        if status is None:
            counts["unsent"] += n
        elif status in (OutboxStatus.pending, OutboxStatus.sending):
            counts["waiting"] += n
        elif status in (OutboxStatus.sent, OutboxStatus.delivered):
            counts["sent"] += n
        else:
            counts["failed"] += n
    return counts


# ---- login ------------------------------------------------------------------------------------


def authenticate(session: Session, login: str, password: str, now: datetime | None = None) -> Evaluator:
    """The evaluator whose login name and one-time password these are, or a named
    error: LoginFailedError (wrong name or wrong password, one message for both),
    AccountLockedError, BallotAlreadyCastError, RoundNotOpenError, RoundOverError.
    A wrong password counts in one atomic UPDATE and the MAX_FAILED_LOGINS-th locks
    the account; the caller commits whatever the outcome, so a failure is counted even
    though the request fails. A locked account's password is not even checked. Once
    the ballot is in, its password is consumed: the login name alone then gets
    BallotAlreadyCastError (login names are random and sent only to their evaluator)."""
    now = now or utcnow()
    evaluator = session.scalar(select(Evaluator).where(Evaluator.login == normalize_code(login)))
    typed = normalize_code(password)
    if evaluator is None or evaluator.password_hash is None:
        check_password_hash(_DUMMY_HASH, typed)
        if evaluator is not None and has_voted(session, evaluator):
            # The ballot consumed the password (services.ballots): there is nothing left
            # to check it against, and the evaluator must hear why the login fails.
            raise BallotAlreadyCastError()
        raise LoginFailedError()
    if evaluator.locked_at is not None:
        raise AccountLockedError()
    if not check_password_hash(evaluator.password_hash, typed):
        failures = session.execute(
            update(Evaluator)
            .where(Evaluator.id == evaluator.id, Evaluator.locked_at.is_(None))
            .values(failed_logins=Evaluator.failed_logins + 1)
            .returning(Evaluator.failed_logins)
        ).scalar()
        if failures is None or failures >= MAX_FAILED_LOGINS:
            session.execute(
                update(Evaluator).where(Evaluator.id == evaluator.id, Evaluator.locked_at.is_(None)).values(locked_at=now)
            )
            raise AccountLockedError()
        raise LoginFailedError()
    if has_voted(session, evaluator):
        raise BallotAlreadyCastError()
    online = evaluator.online_round
    if online.status is RoundStatus.draft:
        raise RoundNotOpenError()
    if not is_open(online, now):
        raise RoundOverError()
    if evaluator.failed_logins:
        # The right password: earlier slips no longer count toward a lock.
        session.execute(
            update(Evaluator).where(Evaluator.id == evaluator.id, Evaluator.locked_at.is_(None)).values(failed_logins=0)
        )
    return evaluator
