"""The append-only audit log (issue 5): every score-affecting action, each entry
chained to the one before by its hash (models.AuditEntry).

`record` appends one entry inside the caller's transaction (the caller commits, so an
action and its entry land together or not at all)."""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from voting.models import AuditEntry, utcnow

GENESIS = "0" * 64
# PostgreSQL: one appender at a time (a transaction-scoped advisory lock), so that two
# transactions never both read the same head; the unique prev_hash refuses a fork anyway.
_LOCK_KEY = 0x61756469  # "audi"


def _moment(value: datetime) -> str:
    """The entry's time as hashed: UTC, microseconds (SQLite hands times back naive)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(prev_hash: str, at: datetime, actor: str, action: str, campaign_id: int | None, detail: dict) -> str:
    content = json.dumps(
        {"prev": prev_hash, "at": _moment(at), "actor": actor, "action": action, "campaign": campaign_id, "detail": detail},
        ensure_ascii=False, sort_keys=True, separators=(",", ":"),
    )
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def record(
    session: Session, action: str, *, actor: str, campaign_id: int | None = None, detail: dict | None = None,
) -> AuditEntry:
    """Append an entry (in the session's transaction). `actor`: the staff user's
    username, or "cli", "system". `detail`: JSON-able facts of the action (ids, file
    names, counts, reasons), never a phone number, password or token."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    head = session.scalar(select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)) or GENESIS
    detail = json.loads(json.dumps(detail or {}, ensure_ascii=False, default=str))  # as the JSON column gives it back
    at = utcnow()
    entry = AuditEntry(
        at=at, actor=actor, action=action, campaign_id=campaign_id, detail=detail, prev_hash=head,
        hash=entry_hash(head, at, actor, action, campaign_id, detail),
    )
    session.add(entry)
    session.flush()
    return entry
