"""The online round's evaluators (docs/rules.md §1 step 6, §4): the round's setup, the
pool, the accounts sent by SMS, the evaluators' login, and the review office's turnout
and reminders. The round's state as the ballots see it (`ballots.online_round`,
`ballots.is_open`, `ballots.has_voted`) is voting/online/ballots.py's.

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
  password from a CSPRNG, stored only as a salted keyed hash (`hash_password`) and sent
  by SMS through the outbox in the same transaction; the outbox blanks the password
  from its row once the message is sent (outbox.forget_secrets). Issuing opens the
  round; it writes every account in bulk (a county's thousand in well under a second),
  and the office runs it as a background job (voting/tasks.py, issue_accounts).
- Login: five wrong passwords lock the account (an atomic increment in the database);
  a resend does not reset the count, a reissue by the review office does.

Services flush and never commit; the request (or the command) commits once.
"""
from __future__ import annotations

import hmac
import random
import re
import secrets
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import pandas as pd
from sqlalchemy import ColumnElement, String, Table, and_, case, func, select, type_coerce, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash

from sms.phones import mask_phone_text, normalize_phones
from sms.templates import ONLINE_ACCOUNT, ONLINE_REMINDER, render
from sms.tokens import new_code, normalize_code
from voting.core.clock import aware, short_local_time
from voting.core.db import bulk_insert
from voting.core.errors import DomainError, ImportRejected, NotFoundError, RowError
from voting.online.models import EVALUATOR_KIND_LABELS, BallotCast, Candidate, Evaluator, EvaluatorKind, OnlineRound
from voting.lists.models import Campaign, ServiceObject
from voting.outbox.models import OutboxMessage, OutboxStatus
from voting.survey.models import RoundStatus
from voting.core.models import utcnow
from voting.audit import audit
from voting.outbox import outbox
from voting.online.ballots import AlreadyCastError, OnlineRoundClosedError, has_voted, is_open, lock_round, online_round
from voting.survey.rounds import Wording, next_ids  # the survey rounds' helpers
from voting.scores.scorecards import candidates_fixed
from voting.core.tables import ROW, Column, fold_series, read_table
from voting.core.vault import PhoneVault, vault_of

MAX_FAILED_LOGINS = 5
LOGIN_LENGTH = 8  # sms.tokens.CODE_ALPHABET: about 39.6 bits, so logins are not guessed in bulk
PASSWORD_LENGTH = 10  # about 49.5 bits from a CSPRNG
PASSWORD_SCHEME = "hmac-sha256"  # hash_password's prefix
# The hashes of accounts issued before PASSWORD_SCHEME (werkzeug's scrypt at this cost):
# still checked, by werkzeug, until they are used or replaced.
PASSWORD_METHOD = "scrypt:4096:8:1"

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
# Checked against when the login name is unknown or has no password, so that every
# path costs one keyed hash (accounts still holding a scrypt hash cost more).
_DUMMY_HASH = f"{PASSWORD_SCHEME}$0000000000000000${'0' * 64}"


# ---- named errors ------------------------------------------------------------------------


class LoginFailedError(DomainError):
    """A wrong login name or a wrong password: the same message for both."""

    status = 401

    def __init__(self) -> None:
        super().__init__("账号或密码不正确，请核对短信后重新输入。")


class AccountLockedError(DomainError):
    status = 423

    def __init__(self) -> None:
        super().__init__(f"密码连续输错 {MAX_FAILED_LOGINS} 次，账号已锁定。请联系县千人评议办重新开通，届时会收到新密码短信。")


class RoundNotOpenError(DomainError):
    status = 403

    def __init__(self) -> None:
        super().__init__("网络评价尚未开始，请在收到账号短信后再登录。")


# ---- the round -----------------------------------------------------------------------------


def require_round(session: Session, campaign: Campaign) -> OnlineRound:
    found = online_round(session, campaign)
    if found is None:
        raise NotFoundError(f"{campaign.year} 年度还没有网络评价")
    return found


def is_changeable(online: OnlineRound, now: datetime | None = None) -> bool:
    """The pool and the accounts may change: not closed, closing time ahead."""
    return online.status is not RoundStatus.closed and (now or utcnow()) < aware(online.closes_at)


def _check_changeable(online: OnlineRound, now: datetime) -> None:
    if not is_changeable(online, now):
        raise DomainError("网络评价已经截止，评价人名单和账号不能再改动")


def create_round(
    session: Session, campaign: Campaign, closes_at: datetime, *, seed: int | None = None, actor: str = "system",
    now: datetime | None = None,
) -> OnlineRound:
    """The campaign's online round (a draft), over its fixed candidate list."""
    now = now or utcnow()
    if online_round(session, campaign) is not None:
        raise DomainError(f"{campaign.year} 年度已有网络评价")
    if candidates_fixed(session, campaign) is None:
        raise DomainError("候选名单尚未确定：请先在评分结果中确定候选名单，再建立网络评价")
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


def hash_password(vault: PhoneVault, password: str) -> str:
    """What an evaluator's one-time password is stored as: "hmac-sha256$salt$mac", the
    HMAC-SHA256 of a random salt and the password under a key derived from PHONE_KEY
    (PhoneVault.password_mac), which lives in the environment, never in the database.

    Why no slow KDF (scrypt, as for the staff's passwords): a slow hash exists to make
    guessing a password chosen by a person expensive, a password from a small space.
    These are not: 10 characters from a CSPRNG, about 49.5 bits, used once and dead at
    the round's close. What protects them is the key: without PHONE_KEY a dump of the
    database gives nothing to guess against (the same reasoning, and the same vault,
    as the invitation codes' keyed hashes), and with the key but no slow hash a guesser
    would still need about 2^48 HMACs per account, each account salted apart. A fast
    keyed hash is the standard treatment of high-entropy random secrets (API tokens,
    session ids). The slow hash cost about 12 ms each, 13 s for a thousand accounts in
    one go; this costs microseconds. Hashes stored in werkzeug's format before this
    scheme (PASSWORD_METHOD) are still checked (`check_password`)."""
    salt = secrets.token_hex(8)
    return f"{PASSWORD_SCHEME}${salt}${vault.password_mac(salt, password)}"


def check_password(vault: PhoneVault, stored: str, password: str) -> bool:
    """`password` is the one `stored` was made from (either scheme)."""
    scheme, _, rest = stored.partition("$")
    if scheme == PASSWORD_SCHEME:
        salt, _, mac = rest.partition("$")
        return hmac.compare_digest(vault.password_mac(salt, password), mac)
    return check_password_hash(stored, password)


# ---- representatives ------------------------------------------------------------------------


@dataclass
class PoolImport:
    rows_read: int = 0
    stored: int = 0
    by_kind: dict[EvaluatorKind, int] = field(default_factory=dict)


def _pool_phones(session: Session, online: OnlineRound) -> dict[str, Evaluator]:
    """The pool's evaluators by phone (a phone erased by retention matches no row of a file)."""
    return {e.phone: e for e in session.scalars(select(Evaluator).where(Evaluator.round_id == online.id))
            if e.phone is not None}


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
        raise ImportRejected(filename, [RowError(0, "", f"文件有 {len(frame)} 行，超过 {MAX_ROWS} 行的上限")])
    if frame.empty:
        raise ImportRejected(filename, [RowError(0, "", "表头下没有任何评价人")])
    errors: list[RowError] = []

    def flag(mask: pd.Series, key: str, reason: str | Callable[[dict[Hashable, Any]], str]) -> None:
        for record in frame.loc[mask].to_dict("records"):
            errors.append(RowError(record[ROW], table.where(key), reason(record) if callable(reason) else reason))

    flag(frame["name"] == "", "name", "姓名为空")
    flag(frame["name"].str.len() > NAME_MAX, "name", f"超过 {NAME_MAX} 字")
    flag(frame["name"].str.contains(_CONTROL.pattern, regex=True), "name", "含有不可见的控制字符")
    kinds = fold_series(frame["kind"]).map(lambda k: _KIND_BY_LABEL.get(k) or _KIND_BY_LABEL.get(k.lower()))
    allowed = "、".join(EVALUATOR_KIND_LABELS[k] for k in REPRESENTATIVE_KINDS)
    flag(frame["kind"] == "", "kind", f"类别为空：应为 {allowed} 之一")
    flag((frame["kind"] != "") & kinds.isna(), "kind", lambda r: f"“{r['kind']}”无效：应为 {allowed} 之一")
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
         lambda r: f"手机号码与第 {int(first_rows[r['phone_norm']])} 行重复（每个号码只能有一位评价人）")
    # An import and a sampling at once would both miss the other's phones: one at a time.
    session.execute(select(OnlineRound.id).where(OnlineRound.id == online.id).with_for_update())
    in_pool = _pool_phones(session, online)
    flag(~bad_phone & frame["phone_norm"].isin(in_pool.keys()), "phone",
         lambda r: f"手机号码已在本轮评价人名单中（{in_pool[r['phone_norm']].kind.label} {in_pool[r['phone_norm']].name}）")
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
        lists[section_id].append((object_id, cast(str, phone)))  # the query keeps only rows with a hash
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
    # Counted by the database: the sample order (sample_order) holds each phone on the
    # candidate lists once, so what is left to draw is the distinct phones not yet in the
    # pool; building the order itself (a county's 40,000 list rows) took most of a second.
    candidates = select(Candidate.section_id).where(Candidate.campaign_id == online.campaign_id)
    on_lists = (
        select(ServiceObject.phone_hash)
        .where(ServiceObject.section_id.in_(candidates), ServiceObject.phone_hash.is_not(None))
        .group_by(ServiceObject.phone_hash).subquery()
    )
    in_pool = select(Evaluator.phone_hash).where(Evaluator.round_id == online.id, Evaluator.phone_hash.is_not(None))
    available = session.execute(
        select(func.count()).select_from(on_lists).where(on_lists.c.phone_hash.not_in(in_pool))
    ).scalar_one()
    has_list = select(ServiceObject.id).where(ServiceObject.section_id == Candidate.section_id,
                                              ServiceObject.phone_hash.is_not(None)).exists()
    candidate_sections, with_list = session.execute(
        select(func.count(), func.coalesce(func.sum(case((has_list, 1), else_=0)), 0))
        .where(Candidate.campaign_id == online.campaign_id)
    ).one()
    found = Mix(
        counts=counts, representatives=representatives, service_objects=service_objects, target_share=share,
        target=target_service_objects(representatives, share), available=available,
        candidate_sections=candidate_sections, sections_without_list=candidate_sections - with_list,
    )
    wanted = f"服务对象占 {_percent(share)}、其他评价人占 {_percent(1 - share)}"
    if found.target is None:
        found.reasons.append(f"还没有导入代表（两代表一委员、基层干部、民营企业家、特约监察员、营商环境监督员）：按{wanted}的规则，要先有代表才能确定抽取多少服务对象。")
    elif service_objects < found.target:
        missing = found.target - service_objects
        if available >= missing:
            found.reasons.append(f"按{wanted}，{representatives} 名代表需要 {found.target} 名服务对象，还差 {missing} 名：请点“抽取服务对象”。")
        else:
            found.reasons.append(
                f"按{wanted}，{representatives} 名代表需要 {found.target} 名服务对象，但 {found.candidate_sections} 个候选科室的服务对象名单中"
                f"可抽取的号码只剩 {available} 个（已去掉重复和已在名单中的号码），最多只能达到 {service_objects + available} 名"
                f"（占 {_percent((service_objects + available) / (representatives + service_objects + available))}）。"
                "可让候选科室补报服务对象名单，或减少代表人数。"
            )
    elif service_objects > found.target:
        found.reasons.append(f"服务对象比规则要求的 {found.target} 名多 {service_objects - found.target} 名（占 {_percent(found.share)}）：已抽取后代表人数或规则有变化；可再导入代表。")
    if found.sections_without_list:
        found.reasons.append(f"{found.sections_without_list} 个候选科室没有服务对象名单，抽样中没有它们的服务对象。")
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
    evaluator.password_hash = hash_password(vault_of(session), password)
    evaluator.password_issued_at = now
    params = _account_params(online, wording, evaluator.login, password)
    # A round that still changes has its phones: retention erases them after the publication.
    message = outbox.enqueue(
        session, key=_account_key(evaluator.id), phone=cast(str, evaluator.phone), template=ONLINE_ACCOUNT,
        params=params, campaign_id=online.campaign_id, not_before=now,
    )
    evaluator.message_id = message.id
    return password


def _account_params(online: OnlineRound, wording: Wording, login: str, password: str) -> dict[str, str]:
    return {
        "sign": wording.sign, "year": str(online.campaign.year), "closes": short_local_time(online.closes_at, wording.timezone),
        "link": f"{wording.link_base.rstrip('/')}/e/login", "login": login, "password": password,
    }


def _account_key(evaluator_id: int) -> str:
    """An account message's outbox key: one per password sent (a resend is a new one)."""
    return f"account:{evaluator_id}:{secrets.token_hex(6)}"


def waiting_accounts(session: Session, online: OnlineRound) -> int:
    """Evaluators of the pool that have had no account yet."""
    return session.execute(
        select(func.count()).select_from(Evaluator).where(Evaluator.round_id == online.id, Evaluator.message_id.is_(None))
    ).scalar_one()


def waiting_by_kind(session: Session, online: OnlineRound) -> dict[EvaluatorKind, int]:
    """`waiting_accounts` per evaluator category, in the categories' order (those
    without a waiting evaluator left out)."""
    found = dict(session.execute(
        select(Evaluator.kind, func.count())
        .where(Evaluator.round_id == online.id, Evaluator.message_id.is_(None))
        .group_by(Evaluator.kind)
    ).all())
    return {kind: found[kind] for kind in EvaluatorKind if found.get(kind)}


def _nothing_to_issue(online: OnlineRound) -> DomainError:
    if online.status is not RoundStatus.draft:
        return DomainError("每位评价人都已发过账号短信")
    return DomainError("评价人名单是空的：请先导入代表并抽取服务对象")


def check_issuable(session: Session, online: OnlineRound, now: datetime | None = None) -> int:
    """How many accounts issuing would send now, or the named reason it would send none
    (a DomainError: the round over, everyone has an account, an empty pool)."""
    _check_changeable(online, now or utcnow())
    waiting = waiting_accounts(session, online)
    if not waiting:
        raise _nothing_to_issue(online)
    return waiting


_ACCOUNT_MESSAGE_COLUMNS = ["id", "key", "campaign_id", "phone", "phone_hash", "template", "params", "text", "status",
                            "attempts", "not_before", "last_error", "created_at"]


def issue_accounts(
    session: Session, online: OnlineRound, wording: Wording, *, actor: str = "system", now: datetime | None = None,
    progress: Callable[..., None] | None = None,
) -> int:
    """Send an account to every evaluator of the pool that has not had one yet, and
    open the round. Returns how many were sent. All in the caller's transaction (flush;
    the caller commits once): every account with its SMS and the round open, or none.

    In bulk, as the survey rounds' invitations (rounds.open_round): the passwords are
    hashed with a keyed hash (`hash_password`), the messages go in with one COPY (a
    multi-row insert on SQLite) carrying the phones as stored, and the evaluators are
    updated in one executemany. `progress(done=, total=, stage=)` hears how far it got
    (a job's progress bar: voting/jobs/jobs.py)."""
    now = now or utcnow()
    report = progress or (lambda **_: None)
    _check_changeable(online, now)
    # The round's row, written first: on PostgreSQL its lock keeps an import or a
    # sampling (which lock it too) from changing the pool meanwhile; on SQLite the write
    # takes the database's write lock, so the pool read below is the one written.
    session.execute(
        update(OnlineRound).where(OnlineRound.id == online.id)
        .values(status=RoundStatus.open, opened_at=func.coalesce(OnlineRound.opened_at, now))
        .execution_options(synchronize_session=False)
    )
    waiting = session.execute(
        select(Evaluator.id, Evaluator.login, type_coerce(Evaluator.phone, String).label("sealed_phone"),
               Evaluator.phone_hash)
        .where(Evaluator.round_id == online.id, Evaluator.message_id.is_(None)).order_by(Evaluator.id)
    ).all()
    if not waiting:
        raise _nothing_to_issue(online)  # `online` as read before the UPDATE above
    # Progress counts each account twice: made, then written.
    report(done=0, total=2 * len(waiting), stage="生成账号和一次性密码")
    vault = vault_of(session)
    # The ids after the lock: on SQLite the largest id plus one is then ours.
    message_ids = next_ids(session, OutboxMessage, len(waiting))
    messages, accounts = [], []
    for n, (row, message_id) in enumerate(zip(waiting, message_ids), 1):
        password = _new_password()
        params = _account_params(online, wording, row.login, password)
        messages.append((message_id, _account_key(row.id), online.campaign_id, row.sealed_phone, row.phone_hash,
                         ONLINE_ACCOUNT, params, render(ONLINE_ACCOUNT, params), OutboxStatus.pending, 0, now, "",
                         now))
        accounts.append({"id": row.id, "password_hash": hash_password(vault, password), "password_issued_at": now,
                         "message_id": message_id})
        if n % 500 == 0:
            report(done=n)
    report(done=len(waiting), stage="写入数据库")
    # A mapped class's __table__ is its Table (typed as the FromClause it may be).
    bulk_insert(session, cast(Table, OutboxMessage.__table__), _ACCOUNT_MESSAGE_COLUMNS, messages, stored=("phone",))
    report(done=len(waiting) * 3 // 2)  # the messages written, half the writing
    session.execute(update(Evaluator), accounts)  # by primary key: one executemany
    session.expire_all()  # the round and its evaluators as now written
    report(done=2 * len(waiting))
    audit.record(session, "online.issue", actor=actor, campaign_id=online.campaign_id,
                 detail={"round_id": online.id, "accounts": len(waiting)})
    return len(waiting)


def get_evaluator(session: Session, online: OnlineRound, evaluator_id: int) -> Evaluator:
    found = session.get(Evaluator, evaluator_id)
    if found is None or found.round_id != online.id:
        raise NotFoundError("没有这位评价人")
    return found


def check_resendable(
    session: Session, online: OnlineRound, evaluator: Evaluator, now: datetime | None = None, *, reissue: bool = False,
) -> None:
    """The named reason (a DomainError) why `evaluator` cannot get a new password now,
    if there is one: a resend (`reissue` False) also refuses a locked account."""
    _check_changeable(online, now or utcnow())
    if online.status is not RoundStatus.open:
        raise DomainError("还没有发出账号：请先点“发送账号短信”")
    if has_voted(session, evaluator):
        raise DomainError(f"评价人 {evaluator.login} 已经投票，不再需要密码")
    if not reissue and evaluator.locked_at is not None:
        raise DomainError(f"账号 {evaluator.login} 已锁定：请核实本人后点“重新开通”")


def resend(
    session: Session, online: OnlineRound, evaluator: Evaluator, wording: Wording, *, actor: str = "system",
    now: datetime | None = None,
) -> None:
    """A new password by SMS (the old one stops working). The count of wrong passwords
    stays: a resend must not give a guesser five more tries. A locked account needs a
    reissue."""
    now = now or utcnow()
    check_resendable(session, online, evaluator, now)
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
    check_resendable(session, online, evaluator, now, reissue=True)
    was_locked = evaluator.locked_at is not None
    evaluator.locked_at, evaluator.failed_logins = None, 0
    _send_password(session, online, evaluator, wording, now)
    session.flush()
    audit.record(session, "online.reissue", actor=actor, campaign_id=online.campaign_id,
                 detail={"round_id": online.id, "evaluator_id": evaluator.id, "was_locked": was_locked})


@dataclass
class PoolRow:
    """One line of the office's evaluator list (the phone in full: mask it to show it;
    None once retention erased it)."""

    id: int
    kind: EvaluatorKind
    name: str
    phone: str | None
    login: str
    sms: OutboxStatus | None
    issued_at: datetime | None
    failed_logins: int
    locked: bool
    voted: bool


def pool(session: Session, online: OnlineRound, *, limit: int, offset: int = 0,
         where: Sequence[ColumnElement[bool]] = ()) -> tuple[list[PoolRow], int]:
    """The evaluators (representatives first, in import order) and how many in all;
    `where`: further conditions on Evaluator (the page's filters, voting/office/listings.py)."""
    conditions = [Evaluator.round_id == online.id, *where]
    total = session.execute(select(func.count(Evaluator.id)).where(*conditions)).scalar_one()
    order = (Evaluator.kind == EvaluatorKind.service_object), Evaluator.id
    # The page's evaluators first, then their SMS and ballot: sorting every evaluator
    # joined to its message read the whole outbox (a county's 90,000 messages) for 50 rows.
    shown = select(Evaluator.id).where(*conditions).order_by(*order).limit(limit).offset(offset)
    rows = session.execute(
        select(Evaluator.id, Evaluator.kind, Evaluator.name, Evaluator.phone, Evaluator.login, OutboxMessage.status,
               Evaluator.password_issued_at, Evaluator.failed_logins, Evaluator.locked_at, BallotCast.evaluator_id)
        .outerjoin(OutboxMessage, Evaluator.message_id == OutboxMessage.id)
        .outerjoin(BallotCast, BallotCast.evaluator_id == Evaluator.id)
        .where(Evaluator.id.in_(shown.scalar_subquery()))
        .order_by(*order)
    ).all()
    return [
        PoolRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8] is not None, r[9] is not None) for r in rows
    ], total


def sms_counts(session: Session, online: OnlineRound) -> dict[str, int]:
    """Accounts by the state of their latest SMS: not sent yet, waiting, sent, failed."""
    # Each account's message looked up by its key (a subquery per evaluator): a join
    # let PostgreSQL read the whole outbox (a county's 90,000 messages) for 6,000 of them.
    status = select(OutboxMessage.status).where(OutboxMessage.id == Evaluator.message_id).scalar_subquery()
    accounts = select(status.label("status")).where(Evaluator.round_id == online.id).subquery()
    rows = session.execute(select(accounts.c.status, func.count()).group_by(accounts.c.status)).all()
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


# ---- the review office: turnout and reminders --------------------------------------------------


@dataclass(frozen=True)
class Turnout:
    kind: EvaluatorKind | None  # None: all evaluators
    evaluators: int
    voted: int
    reminded: int

    @property
    def label(self) -> str:
        return self.kind.label if self.kind else "合计"

    @property
    def rate(self) -> float | None:
        return self.voted / self.evaluators if self.evaluators else None


def turnout(session: Session, online: OnlineRound) -> list[Turnout]:
    """Evaluators, ballots in and reminders sent, per evaluator category (in the
    categories' order, those without evaluators left out) and in total."""
    rows = session.execute(
        select(Evaluator.kind, func.count(Evaluator.id), func.count(BallotCast.evaluator_id), func.count(Evaluator.reminder_id))
        .outerjoin(BallotCast, BallotCast.evaluator_id == Evaluator.id)
        .where(Evaluator.round_id == online.id)
        .group_by(Evaluator.kind)
    ).all()
    by_kind = {kind: Turnout(kind, n, voted, reminded) for kind, n, voted, reminded in rows}
    parts = [by_kind[kind] for kind in EvaluatorKind if kind in by_kind]
    total = Turnout(None, sum(t.evaluators for t in parts), sum(t.voted for t in parts), sum(t.reminded for t in parts))
    return [*parts, total]


def _due_a_reminder(online: OnlineRound) -> ColumnElement[bool]:
    """The condition on Evaluator of those a reminder goes to: a live password, not
    locked, not reminded yet, no ballot."""
    return and_(
        Evaluator.round_id == online.id, Evaluator.reminder_id.is_(None), Evaluator.password_hash.is_not(None),
        Evaluator.locked_at.is_(None), Evaluator.id.not_in(select(BallotCast.evaluator_id)),
    )


def reminders_due(session: Session, online: OnlineRound) -> int:
    """How many evaluators `remind` would write to now."""
    return session.scalar(select(func.count()).select_from(Evaluator).where(_due_a_reminder(online))) or 0


def check_remindable(online: OnlineRound, now: datetime | None = None) -> None:
    """The named reason (a DomainError) why no reminder can go now, if there is one."""
    if not is_open(online, now):
        raise DomainError("只有进行中的网络评价才能发送提醒")


def remind(
    session: Session, online: OnlineRound, *, sign: str, login_link: str, timezone_name: str, actor: str,
    now: datetime | None = None,
) -> int:
    """Once, to every evaluator who can still vote and has not (a live password, not
    locked, no ballot): a reminder in the outbox, keyed "online-remind:<id>". It says
    where to log in and the account, never the password. Returns how many."""
    now = now or utcnow()
    lock_round(session, online)
    check_remindable(online, now)
    due = session.scalars(select(Evaluator).where(_due_a_reminder(online)).order_by(Evaluator.id)).all()
    closes = short_local_time(online.closes_at, timezone_name)
    for evaluator in due:
        # Due only with a live password, which retention erases with the phone.
        message = outbox.enqueue(
            session, key=f"online-remind:{evaluator.id}", phone=cast(str, evaluator.phone), template=ONLINE_REMINDER,
            params={"sign": sign, "year": str(online.campaign.year), "closes": closes, "link": login_link,
                    "login": evaluator.login},
            campaign_id=online.campaign_id, not_before=now,
        )
        evaluator.reminder_id = message.id
    online.reminded_at = now
    session.flush()
    audit.record(session, "online.remind", actor=actor, campaign_id=online.campaign_id, detail={"reminded": len(due)})
    return len(due)


# ---- login ------------------------------------------------------------------------------------


def authenticate(session: Session, login: str, password: str, now: datetime | None = None) -> Evaluator:
    """The evaluator whose login name and one-time password these are, or a named
    error: LoginFailedError (wrong name or wrong password, one message for both),
    AccountLockedError, AlreadyCastError, RoundNotOpenError, OnlineRoundClosedError.
    A wrong password counts in one atomic UPDATE and the MAX_FAILED_LOGINS-th locks
    the account; the caller commits whatever the outcome, so a failure is counted even
    though the request fails. A locked account's password is not even checked. Once
    the ballot is in, its password is consumed: the login name alone then gets
    AlreadyCastError (login names are random and sent only to their evaluator)."""
    now = now or utcnow()
    evaluator = session.scalar(select(Evaluator).where(Evaluator.login == normalize_code(login)))
    typed = normalize_code(password)
    vault = vault_of(session)
    if evaluator is None or evaluator.password_hash is None:
        check_password(vault, _DUMMY_HASH, typed)  # as long as a real check
        if evaluator is not None and has_voted(session, evaluator):
            # The ballot consumed the password (services.ballots): there is nothing left
            # to check it against, and the evaluator must hear why the login fails.
            raise AlreadyCastError(at_login=True)
        raise LoginFailedError()
    if evaluator.locked_at is not None:
        raise AccountLockedError()
    if not check_password(vault, evaluator.password_hash, typed):
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
        raise AlreadyCastError(at_login=True)
    online = evaluator.online_round
    if online.status is RoundStatus.draft:
        raise RoundNotOpenError()
    if not is_open(online, now):
        raise OnlineRoundClosedError(at_login=True)
    if evaluator.failed_logins:
        # The right password: earlier slips no longer count toward a lock.
        session.execute(
            update(Evaluator).where(Evaluator.id == evaluator.id, Evaluator.locked_at.is_(None)).values(failed_logins=0)
        )
    return evaluator
