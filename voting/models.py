"""The data model (SQLAlchemy 2, typed). Alembic migrations in `migrations/` follow it."""
from __future__ import annotations

import enum
from datetime import date, datetime, timezone

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    Index,
    Enum,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from scoring import columns as C
from voting.vault import HASH_LENGTH, EncryptedCode, EncryptedPhone, code_hash_default, keep_hash, phone_hash_default
from scoring.settings import RuleSettings

# Explicit constraint names, so that migrations behave the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _enum(kind: type[enum.Enum], name: str) -> Enum:
    # Stored as the value, checked by a CHECK constraint, same on both databases.
    return Enum(
        kind,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=24,
        values_callable=lambda k: [m.value for m in k],
        validate_strings=True,
    )


class RoundKind(str, enum.Enum):
    H1 = "H1"  # half-year
    H2 = "H2"  # year-end

    @property
    def label(self) -> str:
        """The evaluation round's name (半年度, 年终); the period it surveys (上半年, 下半年) is rounds.ROUND_NAMES."""
        return {"H1": "半年度", "H2": "年终"}[self.value]


class Result(str, enum.Enum):
    satisfied = "satisfied"
    unsatisfied = "unsatisfied"
    most_unsatisfied = "most_unsatisfied"

    @property
    def label(self) -> str:
        return RESULT_LABELS[self]


RESULT_LABELS = {
    Result.satisfied: "满意单位",
    Result.unsatisfied: "不满意单位",
    Result.most_unsatisfied: "最不满意单位",
}


class Role(str, enum.Enum):
    admin = "admin"  # 评议办管理员
    operator = "operator"  # 评议办工作人员（电话调查等）
    liaison = "liaison"  # 单位联络员: one unit only
    auditor = "auditor"  # 审计: reads, never writes

    @property
    def label(self) -> str:
        return {
            "admin": "评议办管理员",
            "operator": "评议办工作人员",
            "liaison": "单位联络员",
            "auditor": "审计员",
        }[self.value]


class Campaign(Base):
    """One year's evaluation, with every rule number of docs/rules.md §2 stored on it."""

    __tablename__ = "campaign"

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer, unique=True)
    name: Mapped[str] = mapped_column(String(200))
    settings: Mapped[dict] = mapped_column(JSON, default=lambda: RuleSettings().to_dict())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # When the retention command erased its citizens' and evaluators' personal data
    # (voting/services/retention.py); the aggregates stay.
    personal_data_erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    units: Mapped[list[Unit]] = relationship(
        back_populates="campaign", cascade="all, delete-orphan", order_by="Unit.number"
    )

    @property
    def rules(self) -> RuleSettings:
        return RuleSettings.from_dict(self.settings)


class Unit(Base):
    """A county office or state enterprise (单位) in one campaign."""

    __tablename__ = "unit"
    __table_args__ = (UniqueConstraint("campaign_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    number: Mapped[int | None] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))

    campaign: Mapped[Campaign] = relationship(back_populates="units")
    sections: Mapped[list[Section]] = relationship(
        back_populates="unit", cascade="all, delete-orphan", order_by="Section.number"
    )


class Section(Base):
    """An evaluated section (参评科室)."""

    __tablename__ = "section"
    __table_args__ = (UniqueConstraint("unit_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id", ondelete="CASCADE"), index=True)
    number: Mapped[int | None] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    # 管理执法类: must report at least 100 penalized service objects (docs/rules.md §3.4).
    is_enforcement: Mapped[bool] = mapped_column(Boolean, default=False)

    unit: Mapped[Unit] = relationship(back_populates="sections")


class HistoryResult(Base):
    """An earlier year's result, by names: earlier years need not be campaigns here."""

    __tablename__ = "history_result"
    __table_args__ = (UniqueConstraint("year", "unit_name", "section_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    unit_name: Mapped[str] = mapped_column(String(100))
    section_name: Mapped[str] = mapped_column(String(200))
    result: Mapped[Result] = mapped_column(_enum(Result, "result"))


class ObjectImport(Base):
    """One accepted service-object file: who sent it, when, and what it held."""

    __tablename__ = "object_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    round: Mapped[RoundKind] = mapped_column(_enum(RoundKind, "round_kind"))
    filename: Mapped[str] = mapped_column(String(255))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    rows_read: Mapped[int] = mapped_column(Integer)
    stored: Mapped[int] = mapped_column(Integer)
    duplicates: Mapped[int] = mapped_column(Integer)
    # What the uploader is shown afterwards: per-section counts and duplicate rows.
    report: Mapped[dict] = mapped_column(JSON, default=dict)


class SectionList(Base):
    """The current service-object list of one section for one round (replaced whole by
    a new upload), with the 100-penalized confirmation of docs/rules.md §3.4."""

    __tablename__ = "section_list"

    section_id: Mapped[int] = mapped_column(
        ForeignKey("section.id", ondelete="CASCADE"), primary_key=True
    )
    round: Mapped[RoundKind] = mapped_column(_enum(RoundKind, "round_kind"), primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("object_import.id", ondelete="CASCADE"))
    objects: Mapped[int] = mapped_column(Integer)
    penalized: Mapped[int] = mapped_column(Integer)
    all_penalized_reported: Mapped[bool] = mapped_column(Boolean, default=False)

    section: Mapped[Section] = relationship()
    upload: Mapped[ObjectImport] = relationship()


class ServiceObject(Base):
    """A citizen or company a section served (服务对象), for one round."""

    __tablename__ = "service_object"
    __table_args__ = (UniqueConstraint("section_id", "round", "phone_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    section_id: Mapped[int] = mapped_column(ForeignKey("section.id", ondelete="CASCADE"))
    round: Mapped[RoundKind] = mapped_column(_enum(RoundKind, "round_kind"))
    import_id: Mapped[int] = mapped_column(
        ForeignKey("object_import.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    org_title: Mapped[str] = mapped_column(String(200), default="")
    # 11 national digits, sealed at rest (voting/vault.py) and found by phone_hash;
    # shown only through sms.phones.mask_phone. None once erased (retention).
    phone: Mapped[str | None] = mapped_column(EncryptedPhone)
    phone_hash: Mapped[str | None] = mapped_column(String(HASH_LENGTH), default=phone_hash_default, index=True)
    matter: Mapped[str] = mapped_column(Text)
    penalized: Mapped[bool] = mapped_column(Boolean, default=False)
    source_row: Mapped[int] = mapped_column(Integer)


class User(Base):
    """A staff account: review office, operator, unit liaison (one unit) or auditor."""

    __tablename__ = "user"
    __table_args__ = (
        CheckConstraint("role != 'liaison' OR unit_id IS NOT NULL", name="liaison_has_unit"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id", ondelete="RESTRICT"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The second factor (voting/auth.py): the TOTP secret (base32) once enrolled, and
    # the last 30-second time step whose code logged in (a code is good once).
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    # Guessing (voting/services/users.py, LoginPolicy): wrong passwords and codes in a
    # row, the earliest moment the next attempt is taken, and the lock that only an
    # admin lifts. A login attempt is counted before its password is checked.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    locked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The generation of the account's sessions: part of the id every session (and a
    # remember cookie) carries, so that raising it ends all of them at once.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # A liaison's mobile, for the office's deadline reminders (voting/services/deadlines.py):
    # sealed at rest like every phone, shown masked.
    phone: Mapped[str | None] = mapped_column(EncryptedPhone)

    unit: Mapped[Unit | None] = relationship()

    # Flask-Login's user protocol.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        # Flask-Login's "alternative token": a session made before the epoch was
        # raised names an epoch that no longer loads (voting/auth.py, _load_user).
        return f"{self.id}:{self.session_epoch}"


# ---- the office's deadlines for the units ------------------------------------------------


class DeadlineKind(str, enum.Enum):
    """What the units owe the office by a date (README, "Deadlines and reminders")."""

    list_h1 = "list_h1"  # the H1 service-object lists (the rules: 6月10日)
    list_h2 = "list_h2"  # the H2 lists (10月10日)
    supervisor = "supervisor"  # the supervisor scores (主管单位评价, 11月10日)

    @property
    def label(self) -> str:
        return {"list_h1": "H1 轮服务对象名单", "list_h2": "H2 轮服务对象名单", "supervisor": "主管单位评价"}[self.value]


class Deadline(Base):
    """A date the office set for one thing the units owe, and when to remind the
    liaisons of the units still owing it: `remind_days` before the date, once
    (`auto_reminded_for` is the reminder day that was done, so a changed date or lead
    time reminds again)."""

    __tablename__ = "deadline"
    __table_args__ = (UniqueConstraint("campaign_id", "kind"),
                      CheckConstraint("remind_days >= 0 AND remind_days <= 60", name="remind_days"))

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), index=True)
    kind: Mapped[DeadlineKind] = mapped_column(_enum(DeadlineKind, "deadline_kind"))
    due_on: Mapped[date] = mapped_column(Date)
    remind_days: Mapped[int] = mapped_column(Integer, default=3)
    auto_reminded_for: Mapped[date | None] = mapped_column(Date)


# ---- scoring components (docs/rules.md §2, §6) -------------------------------------------


def _one_of(column: str, values: tuple[str, ...], name: str) -> CheckConstraint:
    listed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({listed})", name=name)


class ComponentKind(str, enum.Enum):
    votes = "votes"
    platform = "platform"
    supervisor = "supervisor"
    inspection = "inspection"
    bonus = "bonus"

    @property
    def label(self) -> str:
        return COMPONENT_KIND_LABELS[self]


COMPONENT_KIND_LABELS = {
    ComponentKind.votes: "投票汇总",
    ComponentKind.platform: "平台办理",
    ComponentKind.supervisor: "主管单位评价",
    ComponentKind.inspection: "监督检查",
    ComponentKind.bonus: "加分项",
}


class ComponentImport(Base):
    """One accepted component file. Its rows replace those of the earlier file of the
    same kind (single entries made in a form stay)."""

    __tablename__ = "component_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    kind: Mapped[ComponentKind] = mapped_column(_enum(ComponentKind, "component_kind"))
    filename: Mapped[str] = mapped_column(String(255))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    rows: Mapped[int] = mapped_column(Integer)
    # Warnings shown afterwards (rows about exempt sections, which are not stored).
    report: Mapped[dict] = mapped_column(JSON, default=dict)

    uploaded_by: Mapped[User | None] = relationship()


class _Entry:
    """Where a component row came from: a file (import and row) or a form (who, when)."""

    source_row: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class VoteCount(_Entry, Base):
    """Vote counts of one section and round from a file (a phone survey run outside
    the platform, an earlier system); the platform's own votes are counted with them (scorecards)."""

    __tablename__ = "vote_count"
    __table_args__ = (
        UniqueConstraint("section_id", "round"),
        _one_of("round", (C.H1, C.H2, C.NET), "round"),
        CheckConstraint("satisfied >= 0 AND basic >= 0 AND unsatisfied >= 0", name="counts"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    section_id: Mapped[int] = mapped_column(ForeignKey("section.id", ondelete="CASCADE"), index=True)
    round: Mapped[str] = mapped_column(String(3))
    satisfied: Mapped[int] = mapped_column(Integer)
    basic: Mapped[int] = mapped_column(Integer)
    unsatisfied: Mapped[int] = mapped_column(Integer)
    import_id: Mapped[int | None] = mapped_column(ForeignKey("component_import.id", ondelete="CASCADE"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))


class PlatformEvent(_Entry, Base):
    """A deduction on a complaint platform (平台办理)."""

    __tablename__ = "platform_event"
    __table_args__ = (
        _one_of("platform", (C.HOTLINE, C.SUPERVISION_NET), "platform"),
        _one_of("item", (C.CONDUCT, C.HANDLING, C.COMPLAINT), "item"),
        _one_of("role", (C.LEAD, C.CO), "role"),
        CheckConstraint("deduction > 0", name="deduction"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    section_id: Mapped[int] = mapped_column(ForeignKey("section.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(16))
    item: Mapped[str] = mapped_column(String(16))
    deduction: Mapped[float] = mapped_column(Float)
    role: Mapped[str] = mapped_column(String(8), default=C.LEAD)
    import_id: Mapped[int | None] = mapped_column(ForeignKey("component_import.id", ondelete="CASCADE"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    section: Mapped[Section] = relationship()


class InspectionEvent(_Entry, Base):
    """A verified problem or a disciplinary case (监督检查)."""

    __tablename__ = "inspection_event"
    __table_args__ = (
        _one_of("kind", (C.COUNTY, C.CITY_LEVEL, C.VERIFIED_COMPLAINT, C.CASE), "kind"),
        CheckConstraint(
            "person IS NULL OR person IN ('principal', 'deputy', 'staff', 'collective')", name="person"
        ),
        CheckConstraint(
            "kind != 'case' OR (person IS NOT NULL AND current_year IS NOT NULL AND date IS NOT NULL)",
            name="case_details",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    section_id: Mapped[int] = mapped_column(ForeignKey("section.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    serious: Mapped[bool] = mapped_column(Boolean, default=False)
    person: Mapped[str | None] = mapped_column(String(16))
    current_year: Mapped[bool | None] = mapped_column(Boolean)
    date: Mapped[date | None] = mapped_column(Date)
    import_id: Mapped[int | None] = mapped_column(ForeignKey("component_import.id", ondelete="CASCADE"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    section: Mapped[Section] = relationship()


class BonusItem(_Entry, Base):
    """A commendation or a publicity item (加分项)."""

    __tablename__ = "bonus_item"
    __table_args__ = (
        _one_of("kind", (C.COMMENDATION, C.PUBLICITY), "kind"),
        _one_of("level", (C.NATIONAL, C.PROVINCIAL, C.CITY, C.CENTRAL), "level"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    section_id: Mapped[int] = mapped_column(ForeignKey("section.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    level: Mapped[str] = mapped_column(String(16))
    matter: Mapped[str] = mapped_column(String(300))
    date: Mapped[date] = mapped_column(Date)
    import_id: Mapped[int | None] = mapped_column(ForeignKey("component_import.id", ondelete="CASCADE"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    section: Mapped[Section] = relationship()


class SupervisorScore(Base):
    """主管单位评价: the unit's score of its own section, one decimal."""

    __tablename__ = "supervisor_score"
    __table_args__ = (CheckConstraint("score >= 0", name="score"),)

    section_id: Mapped[int] = mapped_column(ForeignKey("section.id", ondelete="CASCADE"), primary_key=True)
    score: Mapped[float] = mapped_column(Float)
    import_id: Mapped[int | None] = mapped_column(ForeignKey("component_import.id", ondelete="SET NULL"))
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    entered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ResultDecision(Base):
    """The review office's confirmation or override of a proposed result, with its
    reason (the county committee decides; docs/rules.md §2.15)."""

    __tablename__ = "result_decision"
    __table_args__ = (CheckConstraint("length(reason) > 0", name="reason"),)

    section_id: Mapped[int] = mapped_column(ForeignKey("section.id", ondelete="CASCADE"), primary_key=True)
    # None: taken off every list.
    result: Mapped[Result | None] = mapped_column(_enum(Result, "result"))
    reason: Mapped[str] = mapped_column(Text)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    section: Mapped[Section] = relationship()
    decided_by: Mapped[User | None] = relationship()


# ---- SMS outbox (docs/rules.md §4.2) ------------------------------------------------------


class OutboxStatus(str, enum.Enum):
    pending = "pending"  # waiting to be sent (maybe not before `not_before`)
    sending = "sending"  # claimed by a dispatch worker, until its lease ends
    sent = "sent"  # the provider accepted it
    delivered = "delivered"  # the provider's status callback says it arrived
    undelivered = "undelivered"  # the provider could not deliver it
    failed = "failed"  # refused for good, or out of attempts
    void = "void"  # never sent: what it announced ended first (its survey round closed or was cancelled)

    @property
    def label(self) -> str:
        return OUTBOX_STATUS_LABELS[self]


OUTBOX_STATUS_LABELS = {
    OutboxStatus.pending: "待发送",
    OutboxStatus.sending: "发送中",
    OutboxStatus.sent: "已发送",
    OutboxStatus.delivered: "已送达",
    OutboxStatus.undelivered: "未送达",
    OutboxStatus.failed: "发送失败",
    OutboxStatus.void: "已作废",
}


class OutboxMessage(Base):
    """One SMS to send, written in the same transaction as what it announces (an
    invitation, a reminder), so that nothing is announced without its message and no
    message goes out for something that was rolled back. Dispatch workers claim rows
    with a lease (`claimed_at`, `claimed_by`; on PostgreSQL with SKIP LOCKED), send
    them and record the outcome; a worker that dies leaves its claimed rows to be
    claimed again when the lease ends."""

    __tablename__ = "sms_outbox"
    __table_args__ = (CheckConstraint("attempts >= 0", name="attempts"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Idempotency: one message per key ("invite:42", "remind:42"). Twilio's API takes
    # no idempotency key, so a send that timed out after Twilio received it may, when
    # retried, arrive twice.
    key: Mapped[str] = mapped_column(String(64), unique=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), index=True)
    # The survey round an invitation or reminder belongs to: it goes only while that
    # round takes answers (outbox.claim voids it otherwise).
    round_id: Mapped[int | None] = mapped_column(ForeignKey("survey_round.id", ondelete="SET NULL"), index=True)
    phone: Mapped[str | None] = mapped_column(EncryptedPhone)  # None once erased (retention)
    phone_hash: Mapped[str | None] = mapped_column(String(HASH_LENGTH), default=phone_hash_default, index=True)
    template: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[OutboxStatus] = mapped_column(_enum(OutboxStatus, "outbox_status"), default=OutboxStatus.pending, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    provider_id: Mapped[str | None] = mapped_column(String(64), index=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ConsoleMessage(Base):
    """What the console sender "delivered": the demo's stand-in for a phone, shown on
    the review office's outbox page so a newcomer can open the citizens' links. One row
    per send, duplicates included (a crash test counts them)."""

    __tablename__ = "sms_console"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), index=True)
    phone: Mapped[str] = mapped_column(EncryptedPhone)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# ---- citizen survey rounds (docs/rules.md §1 step 3, §4) -----------------------------------


class RoundStatus(str, enum.Enum):
    draft = "draft"  # set up, nothing sent
    open = "open"  # invitations sent, votes taken until closes_at
    closed = "closed"  # no more votes
    cancelled = "cancelled"  # a survey round called off before any answer (it may be set up again)

    @property
    def label(self) -> str:
        return {"draft": "未开始", "open": "进行中", "closed": "已结束", "cancelled": "已取消"}[self.value]


class InviteMode(str, enum.Enum):
    link = "link"  # the SMS carries a one-time link
    code = "code"  # the SMS carries an 8-character code to type at a fixed address

    @property
    def label(self) -> str:
        return {"link": "短信链接", "code": "评价码"}[self.value]


class Channel(str, enum.Enum):
    link = "link"  # the web page, opened from the link
    code = "code"  # the web page, reached by typing the code
    sms = "sms"  # an SMS reply
    phone = "phone"  # an operator's phone survey

    @property
    def label(self) -> str:
        return {"link": "短信链接", "code": "评价码", "sms": "短信回复", "phone": "电话调查"}[self.value]


class Choice(str, enum.Enum):
    satisfied = "satisfied"
    basic = "basic"
    unsatisfied = "unsatisfied"

    @property
    def label(self) -> str:
        return {"satisfied": "满意", "basic": "基本满意", "unsatisfied": "不满意"}[self.value]


class SurveyRound(Base):
    """One round of the citizen survey (H1 or H2) of a campaign: its sample, its
    invitations and their votes. The sample is reproducible from `seed`."""

    __tablename__ = "survey_round"
    __table_args__ = (
        # One live round of each kind a year; a cancelled one may be set up again.
        Index("uq_survey_round_live_kind", "campaign_id", "kind", unique=True,
              sqlite_where=text("status != 'cancelled'"), postgresql_where=text("status != 'cancelled'")),
        CheckConstraint("sample_size > 0", name="sample_size"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), index=True)
    kind: Mapped[RoundKind] = mapped_column(_enum(RoundKind, "round_kind"))
    status: Mapped[RoundStatus] = mapped_column(_enum(RoundStatus, "round_status"), default=RoundStatus.draft)
    mode: Mapped[InviteMode] = mapped_column(_enum(InviteMode, "invite_mode"), default=InviteMode.link)
    sample_size: Mapped[int] = mapped_column(Integer)  # invitations per section (all when fewer)
    seed: Mapped[int] = mapped_column(Integer)
    closes_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reminder_after_hours: Mapped[int] = mapped_column(Integer, default=48)
    opened_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The address its links were written with when it opened (PUBLIC_URL, or the office's
    # own address without one): invitations sent later (a late list) use it too.
    link_base: Mapped[str | None] = mapped_column(String(255))

    campaign: Mapped[Campaign] = relationship()


class Invitation(Base):
    """One sampled service object invited to evaluate one section in one round. A link
    works only with both the link token's nonce (kept here) and the signing key (kept
    out of the database): a database dump makes no working links, nor does the key
    alone. `code` is what the citizen types (code mode) or replies with when several
    invitations are open: sealed like the phone, found by `code_hash` (voting/vault.py),
    since with a guessed phone ending it would open a vote."""

    __tablename__ = "invitation"
    __table_args__ = (UniqueConstraint("round_id", "service_object_id"), UniqueConstraint("round_id", "code_hash"))

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("survey_round.id", ondelete="CASCADE"), index=True)
    section_id: Mapped[int] = mapped_column(ForeignKey("section.id", ondelete="CASCADE"), index=True)
    # RESTRICT: a list cannot be replaced under invitations already sent.
    service_object_id: Mapped[int] = mapped_column(ForeignKey("service_object.id", ondelete="RESTRICT"))
    phone: Mapped[str | None] = mapped_column(EncryptedPhone)  # None once erased (retention)
    phone_hash: Mapped[str | None] = mapped_column(String(HASH_LENGTH), default=phone_hash_default, index=True)
    nonce: Mapped[str] = mapped_column(String(32))
    code: Mapped[str | None] = mapped_column(EncryptedCode)  # None once erased (retention)
    code_hash: Mapped[str | None] = mapped_column(String(HASH_LENGTH), default=code_hash_default)
    # The invitation's SMS (and the reminder's, once sent): delivery status for the
    # office's per-section counts.
    message_id: Mapped[int | None] = mapped_column(ForeignKey("sms_outbox.id", ondelete="SET NULL"))
    reminder_id: Mapped[int | None] = mapped_column(ForeignKey("sms_outbox.id", ondelete="SET NULL"))
    opened_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Code mode: the code is typed with the last four digits of the phone that got it;
    # wrong digits count here and CODE_TRIES of them lock the code on the web (an SMS
    # reply from that phone and the phone survey still work; the office can unlock).
    code_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    code_locked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    survey_round: Mapped[SurveyRound] = relationship()
    section: Mapped[Section] = relationship()
    service_object: Mapped[ServiceObject] = relationship()


class Vote(Base):
    """A citizen's vote: one per invitation, whatever the channel (the unique
    constraint decides between concurrent submits). Units see only counts."""

    __tablename__ = "vote"

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int] = mapped_column(ForeignKey("invitation.id", ondelete="CASCADE"), unique=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("survey_round.id", ondelete="CASCADE"), index=True)
    section_id: Mapped[int] = mapped_column(ForeignKey("section.id", ondelete="CASCADE"), index=True)
    choice: Mapped[Choice] = mapped_column(_enum(Choice, "choice"))
    channel: Mapped[Channel] = mapped_column(_enum(Channel, "channel"))
    comment: Mapped[str] = mapped_column(Text, default="")
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CallOutcome(str, enum.Enum):
    no_answer = "no_answer"  # rang out, busy, switched off
    refused = "refused"  # answered, declined the survey
    wrong_number = "wrong_number"  # not in service, or not the person served

    @property
    def label(self) -> str:
        return {"no_answer": "未接通", "refused": "拒访", "wrong_number": "空号或错号"}[self.value]


class CallAttempt(Base):
    """A phone-survey call that recorded no answer, and why: the list shows each
    invitation's last outcome and how many calls, so operators do not redial blindly.
    (A call that got an answer is the vote itself, channel 电话调查.)"""

    __tablename__ = "call_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int] = mapped_column(ForeignKey("invitation.id", ondelete="CASCADE"), index=True)
    outcome: Mapped[CallOutcome] = mapped_column(_enum(CallOutcome, "call_outcome"))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Candidate(Base):
    """The candidate list (候选名单) as the review office fixed it before the online
    round: from then on the candidates do not move when a daily-stage figure is
    corrected (the scores do; the pages say where the list would now differ)."""

    __tablename__ = "candidate"
    __table_args__ = (
        _one_of("list", (C.SATISFIED_CANDIDATE, C.UNSATISFIED_CANDIDATE, C.PREVIOUS_UNSATISFIED), "list"),
    )

    section_id: Mapped[int] = mapped_column(ForeignKey("section.id", ondelete="CASCADE"), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), index=True)
    list: Mapped[str] = mapped_column(String(32))
    fixed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    fixed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    fixed_by: Mapped[User | None] = relationship()


# ---- online evaluation round (docs/rules.md §1 steps 6-7, §4) ------------------------------


class EvaluatorKind(str, enum.Enum):
    deputy = "deputy"  # 两代表一委员
    cadre = "cadre"  # 基层干部
    entrepreneur = "entrepreneur"  # 民营企业家
    inspector = "inspector"  # 特约监察员
    business_monitor = "business_monitor"  # 营商环境监督员
    service_object = "service_object"  # 服务对象, sampled from the candidates' lists

    @property
    def label(self) -> str:
        return EVALUATOR_KIND_LABELS[self]


EVALUATOR_KIND_LABELS = {
    EvaluatorKind.deputy: "两代表一委员",
    EvaluatorKind.cadre: "基层干部",
    EvaluatorKind.entrepreneur: "民营企业家",
    EvaluatorKind.inspector: "特约监察员",
    EvaluatorKind.business_monitor: "营商环境监督员",
    EvaluatorKind.service_object: "服务对象",
}


class OnlineRound(Base):
    """The campaign's one online evaluation round (网络评价) over the fixed candidate
    list: its evaluators, their accounts and the secret ballots."""

    __tablename__ = "online_round"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), unique=True)
    status: Mapped[RoundStatus] = mapped_column(_enum(RoundStatus, "round_status"), default=RoundStatus.draft)
    seed: Mapped[int] = mapped_column(Integer)  # the service-object sample's
    closes_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    opened_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The final lists as the review office published them (the public /results page
    # shows this copy, so a later change shows only once published again).
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    published: Mapped[dict | None] = mapped_column(JSON)

    campaign: Mapped[Campaign] = relationship()


class Evaluator(Base):
    """One evaluator of the online round and their one account: a login name and a
    one-time password, stored only as a salted hash, sent by SMS through the outbox.
    Five wrong passwords lock the account (`failed_logins`, `locked_at`); a resend does
    not reset the count, a reissue by the review office does. Nothing here says how
    the evaluator voted: see BallotCast and Ballot."""

    __tablename__ = "evaluator"
    __table_args__ = (
        UniqueConstraint("round_id", "phone_hash"),
        UniqueConstraint("login"),
        CheckConstraint("failed_logins >= 0", name="failed_logins"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("online_round.id", ondelete="CASCADE"), index=True)
    kind: Mapped[EvaluatorKind] = mapped_column(_enum(EvaluatorKind, "evaluator_kind"))
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(EncryptedPhone)  # None once erased (retention)
    phone_hash: Mapped[str | None] = mapped_column(String(HASH_LENGTH), default=phone_hash_default)
    # A sampled service object: the list row it came from (RESTRICT: that list cannot
    # be replaced under the round). None for imported representatives.
    service_object_id: Mapped[int | None] = mapped_column(ForeignKey("service_object.id", ondelete="RESTRICT"))
    source_row: Mapped[int | None] = mapped_column(Integer)  # the imported file's row
    login: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    password_issued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("sms_outbox.id", ondelete="SET NULL"))
    reminder_id: Mapped[int | None] = mapped_column(ForeignKey("sms_outbox.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    online_round: Mapped[OnlineRound] = relationship()


class BallotCast(Base):
    """"Has voted": one row per evaluator whose ballot is in (the primary key makes it
    one ballot per evaluator), written in the same transaction as the ballot's sealed
    PendingBallot. It names no ballot; its time is rounded to the hour (the turnout)."""

    __tablename__ = "ballot_cast"

    evaluator_id: Mapped[int] = mapped_column(ForeignKey("evaluator.id", ondelete="CASCADE"), primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("online_round.id", ondelete="CASCADE"), index=True)
    cast_hour: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PendingBallot(Base):
    """A ballot on its way into the ballot box: written, sealed (AES-GCM under a key
    derived from PHONE_KEY, which the database never holds), in the transaction that
    writes its evaluator's BallotCast, so the two share that transaction's traces
    (PostgreSQL's xmin, the order of writes). A move takes at least
    ballots.BATCH of them at a time, in a shuffled order, into Ballot and deletes them
    (services/ballots.py, "the ballot box")."""

    __tablename__ = "pending_ballot"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("online_round.id", ondelete="CASCADE"), index=True)
    sealed: Mapped[str] = mapped_column(Text)


class Ballot(Base):
    """A secret ballot in the ballot box: no evaluator, no session, no time, a random
    id, written by a move of a shuffled batch (`batch`: the move's number in the round)
    in a transaction of its own. `receipt` is the hash of the ballot's marks and a
    random salt, which the evaluator keeps to check on a public page that it is
    counted."""

    __tablename__ = "ballot"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("online_round.id", ondelete="CASCADE"), index=True)
    receipt: Mapped[str] = mapped_column(String(64), unique=True)
    # The receipt's salt: an auditor can recompute every receipt from its ballot's marks.
    salt: Mapped[str] = mapped_column(String(32))
    batch: Mapped[int] = mapped_column(Integer, default=0)


class BallotMark(Base):
    """One candidate's rating on one ballot."""

    __tablename__ = "ballot_mark"

    ballot_id: Mapped[str] = mapped_column(ForeignKey("ballot.id", ondelete="CASCADE"), primary_key=True)
    section_id: Mapped[int] = mapped_column(ForeignKey("section.id", ondelete="CASCADE"), primary_key=True)
    choice: Mapped[Choice] = mapped_column(_enum(Choice, "choice"))


# ---- audit log (docs/rules.md §4.14) -------------------------------------------------------


class AuditEntry(Base):
    """An append-only log of every score-affecting action. Each entry carries the hash
    of the one before (`prev_hash`, unique: the chain cannot fork) and its own hash over
    its content and that previous hash, so an entry changed or removed afterwards
    breaks the chain at that point (`pingyi audit verify`). No foreign keys: deleting
    a campaign or a user must not touch the log."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64), index=True)
    campaign_id: Mapped[int | None] = mapped_column(Integer, index=True)
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)


# ---- background jobs (voting/jobs.py) ------------------------------------------------------


class JobStatus(str, enum.Enum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"

    @property
    def label(self) -> str:
        return {"queued": "排队中", "running": "进行中", "done": "已完成", "failed": "未完成"}[self.value]


class Job(Base):
    """One piece of long office work run by a background worker (voting/jobs.py): what
    to do (`kind`, `params`), how far it got (`done` of `total`, `stage`), and how it
    ended (`result`, or `error` in Chinese). `active_key` names what the job works on
    while it is queued or running ("open_round:12"), unique, so that a second click
    finds the first job instead of starting another; it is cleared when the job ends.
    The running worker refreshes `heartbeat_at`: a stale one means the worker died."""

    __tablename__ = "job"
    __table_args__ = (CheckConstraint("done >= 0 AND total >= 0", name="progress"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    active_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[JobStatus] = mapped_column(_enum(JobStatus, "job_status"), default=JobStatus.queued, index=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), index=True)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    stage: Mapped[str] = mapped_column(String(200), default="")
    result: Mapped[dict] = mapped_column(JSON, default=dict)
    error: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# Every model with a phone number keeps its keyed hash in step (voting/vault.py).
for _model in (ServiceObject, OutboxMessage, Invitation, Evaluator):
    keep_hash(_model)
