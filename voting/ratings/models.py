"""The window ratings' tables (SQLAlchemy 2, typed; voting/schema.py gathers every
package's tables for Alembic's migrations): the rating addresses behind the QR codes, and
the SMS codes that confirm a citizen's phone."""
from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (JSON, Boolean, CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, String,
                        UniqueConstraint)
from sqlalchemy import text as sql
from sqlalchemy.orm import Mapped, mapped_column

from voting.core.models import Base, enum_column, utcnow
from voting.core.vault import HASH_LENGTH, EncryptedPhone


class CodeKind(str, enum.Enum):
    section = "section"  # a section's counter (参评科室)
    window = "window"  # a window of a window assessment (an assessed entity)
    case = "case"  # one case (办件), printed on its receipt or sent by SMS; still of its section or window

    @property
    def label(self) -> str:
        return CODE_KIND_LABELS[self]


CODE_KIND_LABELS = {CodeKind.section: "科室", CodeKind.window: "窗口", CodeKind.case: "办件"}
CASE_REF_MAX = 64


class RatingCode(Base):
    """A rating address (评议二维码): the place rated and a random nonce that the signed
    address carries, so that issuing again gives a new address and revoking one stops it
    at once. The address itself (voting/ratings/codes.py) carries the id and the nonce,
    nothing personal."""

    __tablename__ = "rating_code"
    __table_args__ = (
        CheckConstraint("(section_id IS NULL) <> (entity_id IS NULL)", name="one_place"),
        CheckConstraint(
            "(kind = 'section' AND section_id IS NOT NULL AND case_ref IS NULL)"
            " OR (kind = 'window' AND entity_id IS NOT NULL AND case_ref IS NULL)"
            " OR (kind = 'case' AND case_ref IS NOT NULL)",
            name="kind_matches",
        ),
        CheckConstraint("revoked_at IS NULL OR (revoked_by IS NOT NULL AND revoke_reason IS NOT NULL)",
                        name="revoked_with_reason"),
        # One live code per counter (its poster), however many admins click at once.
        Index("uq_rating_code_live_section", "section_id", unique=True,
              postgresql_where=sql("kind = 'section' AND revoked_at IS NULL"),
              sqlite_where=sql("kind = 'section' AND revoked_at IS NULL")),
        Index("uq_rating_code_live_window", "entity_id", unique=True,
              postgresql_where=sql("kind = 'window' AND revoked_at IS NULL"),
              sqlite_where=sql("kind = 'window' AND revoked_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[CodeKind] = mapped_column(enum_column(CodeKind, "rating_code_kind"))
    section_id: Mapped[int | None] = mapped_column(ForeignKey("section.id", ondelete="CASCADE"), index=True)
    entity_id: Mapped[int | None] = mapped_column(ForeignKey("assessed_entity.id", ondelete="CASCADE"), index=True)
    # The case's reference (办件编号) for a per-case code.
    case_ref: Mapped[str | None] = mapped_column(String(CASE_REF_MAX))
    nonce: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(80))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_by: Mapped[str | None] = mapped_column(String(80))
    revoke_reason: Mapped[str | None] = mapped_column(String(200))


class PhoneVerification(Base):
    """One SMS code sent to confirm a phone: the phone and the code only as keyed hashes
    (voting/ratings/verification.py says which keys and why), its expiry and single use,
    and the wrong tries counted against it (a new code of the same local day starts from
    the count of the phone's earlier ones). `network`: a keyed hash of the client's
    network, for the per-network send limit."""

    __tablename__ = "phone_verification"
    __table_args__ = (
        CheckConstraint("tries >= 0", name="tries"),
        Index("ix_phone_verification_phone_hash_created_at", "phone_hash", "created_at"),
        Index("ix_phone_verification_network_created_at", "network", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    phone_hash: Mapped[str] = mapped_column(String(HASH_LENGTH))
    code_hash: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    tries: Mapped[int] = mapped_column(Integer, default=0)
    network: Mapped[str] = mapped_column(String(HASH_LENGTH))


class RatingResult(str, enum.Enum):
    """Pingyang's three levels, which a rating's five map to (RATING_LEVEL_MAP)."""

    satisfied = "satisfied"
    basic = "basic"
    unsatisfied = "unsatisfied"

    @property
    def label(self) -> str:
        return RATING_RESULT_LABELS[self]


RATING_RESULT_LABELS = {RatingResult.satisfied: "满意", RatingResult.basic: "基本满意",
                        RatingResult.unsatisfied: "不满意"}
RATING_TEXT_MAX = 500
PLACE_MAX = 24


class Rating(Base):
    """A citizen's rating at a window (好差评), from a rating address (`code_id`), its
    place copied for the figures (`place`: "section:12" or "entity:5", the one column
    the uniqueness below is over). `level` 1–5 (5 非常满意 … 1 非常不满意; 2 and 1 are
    差评), `result` the three-level result as the mapping said at the time. `counted`:
    false for a duplicate (the phone's second rating of the place that local day) or a
    rating over a limit, stored but kept out of the figures. `phone_hash` only for a
    confirmed phone; `device` and `network` keyed hashes (voting/ratings/ratings.py).
    The database keeps one counted rating per phone per place per local day (`day`),
    and one per case code (`case_code_id`)."""

    __tablename__ = "rating"
    __table_args__ = (
        CheckConstraint("level BETWEEN 1 AND 5", name="level"),
        CheckConstraint("(section_id IS NULL) <> (entity_id IS NULL)", name="one_place"),
        Index("uq_rating_counted_phone_place_day", "phone_hash", "place", "day", unique=True,
              postgresql_where=sql("counted AND phone_hash IS NOT NULL"),
              sqlite_where=sql("counted AND phone_hash IS NOT NULL")),
        # A case code (办件) counts one rating, whoever gives it, whenever.
        Index("uq_rating_counted_case_code", "case_code_id", unique=True,
              postgresql_where=sql("counted AND case_code_id IS NOT NULL"),
              sqlite_where=sql("counted AND case_code_id IS NOT NULL")),
        # The limits count counted ratings only (voting/ratings/ratings.py): partial
        # indexes answer those counts from the index alone.
        Index("ix_rating_counted_device_day", "device", "day",
              postgresql_where=sql("counted"), sqlite_where=sql("counted")),
        Index("ix_rating_counted_network_created_at", "network", "created_at",
              postgresql_where=sql("counted"), sqlite_where=sql("counted")),
        Index("ix_rating_section_id_day", "section_id", "day"),
        Index("ix_rating_entity_id_day", "entity_id", "day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code_id: Mapped[int] = mapped_column(ForeignKey("rating_code.id", ondelete="CASCADE"), index=True)
    # The code again when it is a case's (kind case), else null: the one column the
    # one-counted-rating-per-case index is over.
    case_code_id: Mapped[int | None] = mapped_column(ForeignKey("rating_code.id", ondelete="CASCADE"))
    section_id: Mapped[int | None] = mapped_column(ForeignKey("section.id", ondelete="CASCADE"))
    entity_id: Mapped[int | None] = mapped_column(ForeignKey("assessed_entity.id", ondelete="CASCADE"))
    place: Mapped[str] = mapped_column(String(PLACE_MAX))
    level: Mapped[int] = mapped_column(Integer)
    result: Mapped[RatingResult] = mapped_column(enum_column(RatingResult, "rating_result"))
    categories: Mapped[list] = mapped_column(JSON, default=list)
    text: Mapped[str] = mapped_column(String(RATING_TEXT_MAX), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    day: Mapped[date] = mapped_column(Date)  # the local day (TIMEZONE) of created_at
    counted: Mapped[bool] = mapped_column(Boolean)
    phone_hash: Mapped[str | None] = mapped_column(String(HASH_LENGTH))
    device: Mapped[str] = mapped_column(String(HASH_LENGTH))
    network: Mapped[str] = mapped_column(String(HASH_LENGTH))


FOLLOWUP_TEXT_MAX = 1000


class FollowupCase(Base):
    """The follow-up of one counted 差评 (voting/ratings/followups.py): due `due_at` (the
    end of the local day that many working days after the rating; `due_estimated` when
    a year the holiday calendar does not know was counted Monday to Friday), the
    office's call-back (回访), the unit's rectification (整改), the closing, and the
    citizen's verdict on the handling (from the page the closing's SMS links to; null
    until then). `phone`: the confirmed number, sealed, for that SMS (none when the
    citizen gave none; cleared once the SMS is in the outbox). Overdue: not closed and
    now past `due_at`."""

    __tablename__ = "followup_case"
    __table_args__ = (
        CheckConstraint("(section_id IS NULL) <> (entity_id IS NULL)", name="one_place"),
        CheckConstraint("callback_at IS NULL OR (callback_by IS NOT NULL AND callback_finding IS NOT NULL)",
                        name="callback_complete"),
        CheckConstraint("rectified_at IS NULL OR (rectified_by IS NOT NULL AND rectification IS NOT NULL)",
                        name="rectification_complete"),
        CheckConstraint("closed_at IS NULL OR (closed_by IS NOT NULL AND callback_at IS NOT NULL)",
                        name="closed_after_callback"),
        Index("ix_followup_case_closed_at_due_at", "closed_at", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    rating_id: Mapped[int] = mapped_column(ForeignKey("rating.id", ondelete="CASCADE"), unique=True)
    section_id: Mapped[int | None] = mapped_column(ForeignKey("section.id", ondelete="CASCADE"), index=True)
    entity_id: Mapped[int | None] = mapped_column(ForeignKey("assessed_entity.id", ondelete="CASCADE"), index=True)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    phone: Mapped[str | None] = mapped_column(EncryptedPhone)
    callback_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    callback_by: Mapped[str | None] = mapped_column(String(80))
    callback_finding: Mapped[str | None] = mapped_column(String(FOLLOWUP_TEXT_MAX))
    rectified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rectified_by: Mapped[str | None] = mapped_column(String(80))
    rectification: Mapped[str | None] = mapped_column(String(FOLLOWUP_TEXT_MAX))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_by: Mapped[str | None] = mapped_column(String(80))
    citizen_satisfied: Mapped[bool | None] = mapped_column(Boolean)
    citizen_answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The random nonce the verdict link carries (voting/ratings/cases.py), set when the
    # closing sends it; null for a case closed without a phone.
    verdict_nonce: Mapped[str | None] = mapped_column(String(32))


MONTH_LENGTH = 7  # "2024-05"


class ServedCount(Base):
    """The cases a section or a window served in a month (办件数), imported
    (voting/ratings/imports.py): the denominator of its 主动评价率 (voting/ratings/figures.py).
    `place` as Rating's ("section:12" or "entity:5"), the one column the uniqueness is
    over: importing a place's month again replaces its count."""

    __tablename__ = "rating_served_count"
    __table_args__ = (
        CheckConstraint("(section_id IS NULL) <> (entity_id IS NULL)", name="one_place"),
        CheckConstraint("served >= 0", name="served"),
        UniqueConstraint("place", "month"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    section_id: Mapped[int | None] = mapped_column(ForeignKey("section.id", ondelete="CASCADE"), index=True)
    entity_id: Mapped[int | None] = mapped_column(ForeignKey("assessed_entity.id", ondelete="CASCADE"), index=True)
    place: Mapped[str] = mapped_column(String(PLACE_MAX))
    month: Mapped[str] = mapped_column(String(MONTH_LENGTH))  # "2024-05"
    served: Mapped[int] = mapped_column(Integer)
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    imported_by: Mapped[str] = mapped_column(String(80))


class HotlineLevel(str, enum.Enum):
    """The 12345 hotline's cases by who assigned them."""

    province = "province"  # 省级件
    city = "city"  # 市级件

    @property
    def label(self) -> str:
        return HOTLINE_LEVEL_LABELS[self]


HOTLINE_LEVEL_LABELS = {HotlineLevel.province: "省级件", HotlineLevel.city: "市级件"}


class HotlineRate(Base):
    """A unit's 12345 hotline revisits (回访) of a month and level, imported as counts
    (回访数, 满意数): the rate (回访满意率) is computed from them, exactly, and a longer
    period's is its months' counts added up. Importing a unit's month and level again
    replaces them."""

    __tablename__ = "rating_hotline_rate"
    __table_args__ = (
        CheckConstraint("revisits >= 0 AND satisfied >= 0 AND satisfied <= revisits", name="counts"),
        UniqueConstraint("unit_id", "month", "level"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id", ondelete="CASCADE"), index=True)
    month: Mapped[str] = mapped_column(String(MONTH_LENGTH))  # "2024-05"
    level: Mapped[HotlineLevel] = mapped_column(enum_column(HotlineLevel, "rating_hotline_level"))
    revisits: Mapped[int] = mapped_column(Integer)  # 回访数
    satisfied: Mapped[int] = mapped_column(Integer)  # 满意数
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    imported_by: Mapped[str] = mapped_column(String(80))


COMPLAINT_REASON_MAX = 200


class ComplaintDecision(Base):
    """The office's decision on a complaint (投诉: a counted 差评 of a section,
    voting/ratings/complaints.py): 有效 or 无效 (`valid`) with its reason, who and when;
    a valid one's 网络监督 有效投诉 deduction (`platform_event_id`: the component entry it
    made, null once that entry is deleted on the components' page). `unit_text`: the text
    the unit sees, as the office set it (null: the citizen's text as redact.for_unit leaves
    it). A row may hold only `unit_text` (set before a decision, or kept when one is undone):
    `valid` null is undecided. One row per rating, whoever decides at the same moment."""

    __tablename__ = "complaint_decision"
    __table_args__ = (
        CheckConstraint(
            "(valid IS NULL AND reason IS NULL AND decided_by IS NULL AND decided_at IS NULL)"
            " OR (valid IS NOT NULL AND reason IS NOT NULL AND decided_by IS NOT NULL AND decided_at IS NOT NULL)",
            name="decided_complete"),
        CheckConstraint("platform_event_id IS NULL OR valid = true", name="event_when_valid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    rating_id: Mapped[int] = mapped_column(ForeignKey("rating.id", ondelete="CASCADE"), unique=True)
    valid: Mapped[bool | None] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(String(COMPLAINT_REASON_MAX))
    decided_by: Mapped[str | None] = mapped_column(String(80))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    platform_event_id: Mapped[int | None] = mapped_column(ForeignKey("platform_event.id", ondelete="SET NULL"),
                                                          index=True)
    unit_text: Mapped[str | None] = mapped_column(String(RATING_TEXT_MAX))
