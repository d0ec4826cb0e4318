"""A citizen's rating at a window (好差评), from a rating address (voting/ratings/codes.py):
`submit_rating` stores it, opens the follow-up case of a counted 差评 in the same
transaction (voting/ratings/followups.py carries it on), and answers with the thanks the
page shows, the same whether the rating counts or not.

**Levels.** Five, 5 非常满意, 4 满意, 3 基本满意, 2 不满意, 1 非常不满意; 2 and 1 are 差评,
which ask what went wrong: at least one of `CATEGORIES` (and only a 差评 takes them),
and a text of at most 500 characters (any level may leave one). Each rating stores the
three-level result of Pingyang's rules (满意, 基本满意, 不满意) as the mapping said at
the time (`RATING_LEVEL_MAP`, default 非常满意 and 满意 → 满意, 基本满意 → 基本满意, 不满意
and 非常不满意 → 不满意): a rating is a fact of its day, and a month's figures must not
change afterwards because the office changed the mapping.

**Counted or not.** A rating is always stored (the office can see what was tried: a
burst of ratings from one device is evidence), and `counted` says whether it goes into
the figures. It does not count when it is a duplicate (the confirmed phone's second
rating of the same place, section or window, the same local day: the first one stands;
a case code's second rating) or over a limit; the citizen is never told, so an abuser
learns nothing about what counted. The limits (settings of the app, defaults here)
count the counted ratings: `RATING_DEVICE_DAILY` (20 a local day per device),
`RATING_NETWORK_HOURLY` (200 an hour per network: a service hall's Wi-Fi or a
carrier's NAT puts many citizens behind one address), `RATING_PHONE_DAILY` (10 a local
day per confirmed phone, all places).

**A case code counts once.** A code printed for one served case (办件, CodeKind.case)
counts one rating, whoever scans it and whenever: a second rating of the same case is
stored uncounted, with the same thanks (a receipt passed around must not rate a
window a hundred times).

**The database decides the duplicates.** Partial unique indexes keep one counted
rating per phone, place and local day, and one per case code (`case_code_id`, set for
a case code's ratings only); the counted insert is INSERT … ON CONFLICT DO NOTHING,
and when it inserts nothing the rating is stored uncounted: a hundred submits at once
from one phone, or of one case, give one counted rating and no error. On PostgreSQL the
submits of one phone, one device or one network also take turns (transaction-scoped
advisory locks), so that the limits are exact under concurrency too; SQLite writes one
at a time anyway. The flood itself (thousands of requests) is the HTTP rate limiter's
business (Flask-Limiter on the page), not this module's.

**Two statements.** The rating page's submit (`submit_scanned`, the busiest write after
the vote) is a transaction of two statements: the code's row read by the statement that
takes the turns, then the counted insert, which checks the limits itself (INSERT …
SELECT … WHERE each count is under its limit … ON CONFLICT DO NOTHING RETURNING id) and,
on PostgreSQL, opens a counted 差评's case in the same statement; a third statement only
for a rating stored uncounted. The counts must not be in the statement that takes the
turns: in READ COMMITTED a statement sees what was committed when it began, and the
submit that held the turn before may commit only while this one waits for it.

**Device and network.** `device` is the value of the long-lived random cookie the page
sets; a missing or malformed one counts as the network's cookie-less device, so
clearing the cookie does not escape the device limit. `network` is the client's
address, reduced as verification.py does (an IPv4 address, an IPv6 /64). Both, and the
phone, are stored only as keyed hashes (voting/core/vault.py): no address, cookie or
number is in the rating's row. The confirmed number itself is kept, sealed, only on a
差评's follow-up case, for the SMS that asks the citizen to rate the handling.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import Integer, Select, bindparam, func, insert, or_, select, true
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from sms.phones import PhoneError, normalize_phone
from voting.core.clock import end_of_day, in_utc, local_day
from voting.core.errors import DomainError
from voting.core.vault import PhoneVault, vault_of
from voting.ratings.codes import RatingTokens, RevokedCodeError, UnknownCodeError, check_live, rating_tokens
from voting.ratings.models import RATING_TEXT_MAX, CodeKind, FollowupCase, Rating, RatingCode, RatingResult
from voting.ratings.verification import network_of
from voting.ratings.workdays import FOLLOW_UP_DAYS, add_working_days

# The five levels, best first, as the page lists them.
LEVELS = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
POOR = frozenset({2, 1})  # 差评
# What went wrong (差评原因): the keys the page sends, and their labels.
CATEGORIES = {
    "attitude": "态度不好",
    "slow": "效率低",
    "repeat_visits": "多次跑",
    "buck_passing": "推诿扯皮",
    "fees": "收费问题",
    "facilities": "环境设施",
    "other": "其他",
}
_RESULTS_BY_LABEL = {result.label: result for result in RatingResult}
DEFAULT_LEVEL_MAP = {"非常满意": "满意", "满意": "满意", "基本满意": "基本满意", "不满意": "不满意", "非常不满意": "不满意"}

THANKS = "感谢您的评价！您的意见将帮助我们改进工作。"
THANKS_POOR = "感谢您的评价！您反映的问题已转交有关单位核实整改。"

_DEVICE = re.compile(r"[A-Za-z0-9_-]{16,128}")
_DEVICE_PREFIX = "rating-device:"
_NO_DEVICE_PREFIX = "rating-no-device:"
_NETWORK_PREFIX = "rating-network:"
_LOCK_CLASS = 0x72617469  # "rati": the ratings' advisory locks, apart from the one-key locks


def level_map(config: Mapping[Any, Any]) -> dict[int, RatingResult]:
    """RATING_LEVEL_MAP as each level's result: every one of the five levels (by its
    name, 非常满意 …, or its number, 5 …) to one of 满意, 基本满意, 不满意. ValueError
    for a map that leaves a level out or names anything else (the app refuses to start)."""
    by_name = {name: level for level, name in LEVELS.items()}
    mapped: dict[int, RatingResult] = {}
    for key, value in config.items():
        level = by_name.get(key) if isinstance(key, str) and not key.isdigit() else int(key)
        if level not in LEVELS:
            raise ValueError(f"RATING_LEVEL_MAP: unknown level {key!r}")
        result = _RESULTS_BY_LABEL.get(value) if isinstance(value, str) else None
        if result is None:
            result = RatingResult(value) if value in {r.value for r in RatingResult} else None
        if result is None:
            raise ValueError(f"RATING_LEVEL_MAP: {value!r} is not one of 满意，基本满意，不满意")
        mapped[level] = result
    if set(mapped) != set(LEVELS):
        raise ValueError(f"RATING_LEVEL_MAP must map all five levels: {sorted(set(LEVELS) - set(mapped))} missing")
    return mapped


@dataclass(frozen=True)
class RatingSettings:
    timezone: str = "Asia/Shanghai"  # TIMEZONE: the local day of the limits and the duplicates
    levels: Mapping[int, RatingResult] = field(default_factory=lambda: level_map(DEFAULT_LEVEL_MAP))
    device_daily: int = 20  # RATING_DEVICE_DAILY
    network_hourly: int = 200  # RATING_NETWORK_HOURLY
    phone_daily: int = 10  # RATING_PHONE_DAILY
    follow_up_days: int = FOLLOW_UP_DAYS  # RATING_FOLLOW_UP_WORKING_DAYS

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> RatingSettings:
        default = cls()
        return cls(
            timezone=str(config.get("TIMEZONE", default.timezone)),
            levels=level_map(config.get("RATING_LEVEL_MAP", DEFAULT_LEVEL_MAP)),
            device_daily=int(config.get("RATING_DEVICE_DAILY", default.device_daily)),
            network_hourly=int(config.get("RATING_NETWORK_HOURLY", default.network_hourly)),
            phone_daily=int(config.get("RATING_PHONE_DAILY", default.phone_daily)),
            follow_up_days=int(config.get("RATING_FOLLOW_UP_WORKING_DAYS", default.follow_up_days)),
        )


DEFAULTS = RatingSettings()


@dataclass(frozen=True)
class Thanks:
    """What the page shows (`message`: the same whether the rating counted or not);
    `rating_id` is for the caller's own use, never to be shown."""

    message: str
    rating_id: int


# ---- checking the input ----------------------------------------------------------------------

def checked_level(level: object) -> int:
    """The level as 1–5 (an int, or its digits as a form sends them); 400 otherwise."""
    if isinstance(level, bool):
        raise DomainError("请选择一个评价等级。")
    if isinstance(level, str) and len(level.strip()) <= 2 and level.strip().isascii() and level.strip().isdigit():
        level = int(level.strip())  # a few digits only: int() of thousands is slow, past 4,300 a ValueError
    if not isinstance(level, int) or level not in LEVELS:
        raise DomainError("请选择一个评价等级（非常满意、满意、基本满意、不满意、非常不满意）。")
    return level


def checked_categories(level: int, categories: Iterable[str] | None) -> list[str]:
    """The 差评's categories, each once, in `CATEGORIES` order; none for a better level."""
    chosen = [str(c).strip() for c in (categories or ()) if str(c).strip()]
    unknown = [c for c in chosen if c not in CATEGORIES]
    if unknown:
        raise DomainError("不满意的原因只能从列出的选项中选择。")
    if level not in POOR:
        if chosen:
            raise DomainError("只有选择“不满意”或“非常不满意”时才需要选择不满意的原因。")
        return []
    if not chosen:
        raise DomainError("请至少选择一项不满意的原因。")
    return [key for key in CATEGORIES if key in chosen]


def checked_text(value: str | None, limit: int = RATING_TEXT_MAX) -> str:
    """Trimmed, without control characters but line breaks; at most `limit` characters."""
    cleaned = "".join(ch for ch in (value or "") if ch in "\n" or unicodedata.category(ch)[0] != "C").strip()
    if len(cleaned) > limit:
        raise DomainError(f"文字太长：最多 {limit} 个字，现在是 {len(cleaned)} 个字。")
    return cleaned


def _phone(raw: str) -> str:
    try:
        return normalize_phone(raw)
    except PhoneError as error:
        raise DomainError(f"手机号码有误：{error}。") from None


# ---- places, days, hashes --------------------------------------------------------------------

def place_of(section_id: int | None, entity_id: int | None) -> str:
    """The rated place as one value: "section:12" or "entity:5"."""
    return f"section:{section_id}" if section_id is not None else f"entity:{entity_id}"


def valid_device(device: str | None) -> bool:
    """`device` is a rating cookie's value as the page makes them (anything else counts
    as the network's cookie-less device, and the page gives the browser a new one)."""
    return bool(device and _DEVICE.fullmatch(device))


def device_hash(vault: PhoneVault, device: str | None, address: str | None) -> str:
    """The keyed hash a device is counted by: its cookie's value, or, for a missing or
    malformed cookie, the network's cookie-less device."""
    if device and valid_device(device):
        return vault.lookup(_DEVICE_PREFIX + device)
    return vault.lookup(_NO_DEVICE_PREFIX + network_of(address))


def rating_network_hash(vault: PhoneVault, address: str | None) -> str:
    return vault.lookup(_NETWORK_PREFIX + network_of(address))


@dataclass(frozen=True)
class _Code:
    """What a rating takes of its code: the code itself, and its place."""

    id: int
    kind: CodeKind
    section_id: int | None
    entity_id: int | None


@cache
def _turns_statement(keys: int, with_code: bool) -> Select:
    """PostgreSQL's turns (`keys` of them, none on SQLite) in one statement, the select
    list evaluated left to right, so the locks are taken in key order; `with_code`: the
    code's row read in the same statement (its id `code_id`), one round trip for both."""
    turns = [func.pg_advisory_xact_lock(_LOCK_CLASS, bindparam(f"k{i}", type_=Integer)) for i in range(keys)]
    if not with_code:
        return select(*turns)
    return (select(RatingCode.id, RatingCode.kind, RatingCode.section_id, RatingCode.entity_id, RatingCode.nonce,
                   RatingCode.revoked_at, *turns)
            .where(RatingCode.id == bindparam("code_id")))


def _turns(session: Session, hashes: Iterable[str]) -> dict[str, int]:
    """The advisory lock keys of `hashes` (the phone's, the device's, the network's) as
    the turns' statement takes them, in one order so that two submits never wait on
    each other; none on SQLite, which writes one at a time anyway."""
    if session.get_bind().dialect.name != "postgresql":
        return {}
    return {f"k{i}": key for i, key in enumerate(sorted({int(h[:8], 16) - 2 ** 31 for h in hashes}))}


def _counted(*conditions: Any) -> Any:
    return select(func.count()).select_from(Rating).where(Rating.counted, *conditions).scalar_subquery()


_COLUMNS = ("code_id", "case_code_id", "section_id", "entity_id", "place", "level", "result", "categories", "text",
            "created_at", "day", "phone_hash", "device", "network")


def _counted_insert_statement(insert: Any) -> Any:  # the dialect's insert(); its Insert … RETURNING
    """The counted insert: the rating's row, only while the device, the network and the
    phone (if any) are each under their limit of counted ratings (the device's today,
    the network's in the last hour, the phone's today, each on its own index,
    models.py), and nothing inserted (no id returned) either when a partial unique
    index already holds the phone's rating of the place that day, or the case code's.
    The counts must see the ratings that the submits before this one, which held the
    turns, committed: so this statement comes after the one that took the turns (in
    READ COMMITTED a statement sees what was committed when it began)."""
    value = {name: bindparam(name, type_=Rating.__table__.c[name].type) for name in _COLUMNS}
    day, phone_hash = value["day"], value["phone_hash"]
    under_limits = select(*value.values(), true()).where(
        _counted(Rating.device == value["device"], Rating.day == day) < bindparam("device_daily", type_=Integer),
        _counted(Rating.network == value["network"], Rating.created_at > bindparam("since", type_=Rating.created_at.type))
        < bindparam("network_hourly", type_=Integer),
        or_(phone_hash.is_(None),
            _counted(Rating.phone_hash == phone_hash, Rating.day == day) < bindparam("phone_daily", type_=Integer)),
    )
    return insert(Rating).from_select([*_COLUMNS, "counted"], under_limits).on_conflict_do_nothing().returning(Rating.id)


# The follow-up case's columns, by the name of the parameter that gives each.
_CASE_PARAMETERS = {"section_id": "section_id", "entity_id": "entity_id", "created_at": "opened_at",
                    "due_at": "due_at", "due_estimated": "due_estimated", "case_phone": "phone"}


def _with_case_statement(counted_insert: Any) -> Any:
    """PostgreSQL: the counted insert of a 差评 with its follow-up case in the same
    statement (a WITH: the case's row only when the rating's was inserted, counted);
    the rating's id, or none. SQLite takes no INSERT in a WITH: there the case is a
    statement of its own (`open_case`)."""
    counted = counted_insert.cte("counted")
    case = select(counted.c.id, *(bindparam(name, type_=FollowupCase.__table__.c[column].type)
                                  for name, column in _CASE_PARAMETERS.items()))
    return (select(counted.c.id)
            .add_cte(insert(FollowupCase).from_select(["rating_id", *_CASE_PARAMETERS.values()], case).cte("opened")))


# Built once per database: the busiest write's statements, compiled once and cached.
_COUNTED_INSERT = {"postgresql": _counted_insert_statement(postgresql_insert),
                   "sqlite": _counted_insert_statement(sqlite_insert)}
_COUNTED_INSERT_WITH_CASE = _with_case_statement(_COUNTED_INSERT["postgresql"])
_UNCOUNTED_INSERT = insert(Rating).returning(Rating.id)


# ---- submitting ------------------------------------------------------------------------------

def submit_rating(session: Session, code: RatingCode, level: object, categories: Iterable[str] | None,
                  text: str | None, *, phone: str | None = None, device: str | None, network: str | None,
                  now: datetime, settings: RatingSettings = DEFAULTS) -> Thanks:
    """Store a citizen's rating of `code`'s place (flush, never commit; the request
    commits): `level` 1–5, `categories` (keys of CATEGORIES, a 差评's only), `text`;
    `phone` the number the citizen confirmed by its SMS code (check_code), or None;
    `device` the rating cookie's value; `network` the client's address; `now` aware.
    Refused (DomainError, 400, nothing stored) for bad input or a stopped code
    (RevokedCodeError, 410). Otherwise stored, counted or not (the module's
    docstring), a counted 差评 with its follow-up case; the thanks are the same."""
    rating = _Rating.of(session, level, categories, text, phone, device, network, now, settings)
    if code.revoked_at is not None:
        raise RevokedCodeError()
    turns = _turns(session, rating.hashes)
    if turns:
        session.connection().execute(_turns_statement(len(turns), False), turns)
    return _store(session, _Code(code.id, code.kind, code.section_id, code.entity_id), rating, settings)


def submit_scanned(session: Session, token: str, level: object, categories: Iterable[str] | None,
                   text: str | None, *, device: str | None, network: str | None, now: datetime,
                   settings: RatingSettings = DEFAULTS, tokens: RatingTokens | None = None) -> Thanks:
    """submit_rating of the code a scanned address names, without a phone (the rating
    page's submit): the address checked as codes.code_from_token checks it (404, 410),
    the code's row read by the statement that takes the submit's turns, so that the
    rating is stored in two statements, the turns and the insert."""
    code_id, nonce = (tokens or rating_tokens()).read(token)
    rating = _Rating.of(session, level, categories, text, None, device, network, now, settings)
    turns = _turns(session, rating.hashes)
    row = session.connection().execute(_turns_statement(len(turns), True), {"code_id": code_id, **turns}).first()
    if row is None:
        raise UnknownCodeError()
    check_live(nonce, row.nonce, row.revoked_at)
    return _store(session, _Code(row.id, row.kind, row.section_id, row.entity_id), rating, settings)


@dataclass(frozen=True)
class _Rating:
    """A rating checked and ready to store but for its code: its row's values, the
    confirmed number (a counted 差评's case keeps it)."""

    values: dict[str, Any]
    number: str | None

    @classmethod
    def of(cls, session: Session, level: object, categories: Iterable[str] | None, text: str | None,
           phone: str | None, device: str | None, network: str | None, now: datetime,
           settings: RatingSettings) -> _Rating:
        """The input checked (DomainError, 400) and the keys hashed (module docstring)."""
        now = in_utc(now)
        level = checked_level(level)
        chosen = checked_categories(level, categories)
        comment = checked_text(text)
        number = _phone(phone) if phone else None
        vault = vault_of(session)
        return cls({
            "level": level, "result": settings.levels[level], "categories": chosen, "text": comment,
            "created_at": now, "day": local_day(now, settings.timezone),
            "phone_hash": vault.lookup(number) if number else None,
            "device": device_hash(vault, device, network), "network": rating_network_hash(vault, network),
        }, number)

    @property
    def hashes(self) -> list[str]:
        """What the submit takes its turn by: the device, the network, the phone."""
        return [self.values["device"], self.values["network"], *filter(None, [self.values["phone_hash"]])]


def _store(session: Session, code: _Code, rating: _Rating, settings: RatingSettings) -> Thanks:
    """The rating's row, counted if it may be (the counted insert), else uncounted; a
    counted 差评's follow-up case, on PostgreSQL in the counted insert's statement."""
    connection = session.connection()
    database = connection.dialect.name
    values = {**rating.values, "code_id": code.id, "case_code_id": code.id if code.kind == CodeKind.case else None,
              "section_id": code.section_id, "entity_id": code.entity_id,
              "place": place_of(code.section_id, code.entity_id)}
    now, poor = values["created_at"], values["level"] in POOR
    parameters = {**values, "device_daily": settings.device_daily, "network_hourly": settings.network_hourly,
                  "phone_daily": settings.phone_daily, "since": now - timedelta(hours=1)}
    if poor and database == "postgresql":
        due_at, estimated = _due(local_day(now, settings.timezone), settings.follow_up_days, settings.timezone)
        parameters.update(due_at=due_at, due_estimated=estimated, case_phone=rating.number)
        rating_id: int | None = connection.execute(_COUNTED_INSERT_WITH_CASE, parameters).scalar()
    else:
        rating_id = connection.execute(_COUNTED_INSERT[database], parameters).scalar()
        if rating_id is not None and poor:
            open_case(session, rating_id, code, rating.number, now, settings)
    if rating_id is None:
        rating_id = connection.execute(_UNCOUNTED_INSERT, {**values, "counted": False}).scalar_one()
    return Thanks(THANKS_POOR if poor else THANKS, rating_id)


def open_case(session: Session, rating_id: int, code: RatingCode | _Code, phone: str | None, now: datetime,
              settings: RatingSettings = DEFAULTS) -> int:
    """The follow-up case of a counted 差评 (in the session's transaction), its id: due
    at the end of the local day `follow_up_days` working days after the rating's day."""
    due_at, estimated = _due(local_day(now, settings.timezone), settings.follow_up_days, settings.timezone)
    return session.connection().execute(_OPEN_CASE, {
        "rating_id": rating_id, "section_id": code.section_id, "entity_id": code.entity_id, "opened_at": now,
        "due_at": due_at, "due_estimated": estimated, "phone": phone,
    }).scalar_one()


_OPEN_CASE = insert(FollowupCase).returning(FollowupCase.id)


@lru_cache(maxsize=16)
def _due(day: date, working_days: int, timezone: str) -> tuple[datetime, bool]:
    """When a case opened on the local `day` is due, the end of the local day
    `working_days` working days later, and whether that is estimated: the same for
    every 差评 of the day, worked out once (the holiday calendar's look-ups cost a
    fifth of a millisecond)."""
    due = add_working_days(day, working_days)
    return end_of_day(due.day, timezone), due.estimated
