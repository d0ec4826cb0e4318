"""The audit log page: the chain's verification, then the entries, newest
first, each as a sentence (voting/office/audit_text.py), filtered by campaign, action,
actor and local dates; and each entry's own page (what it touched, the record as
stored). For the review office's administrators and the auditors; read only."""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, render_template, request, url_for

from voting.staff.auth import roles_required
from voting.core.db import get_session
from voting.core.errors import DomainError, NotFoundError
from voting.staff.models import Role
from voting.audit import audit
from voting.office import audit_text
from voting.lists.campaigns import year_of, years
from voting.web.common import current_campaign, local_time, query_number

bp = Blueprint("audit", __name__, url_prefix="/office/audit")
READERS = (Role.admin, Role.auditor)
PER_PAGE = 50
DETAIL_LABELS = audit_text.DETAIL_LABELS  # the export's raw details (voting/office/export_views.py)
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


# ---- the filters -----------------------------------------------------------------------------

def _query_date(name: str, what: str) -> date | None:
    """The query string's `name` as a local date (2021-05-01), or None when absent or
    empty; anything else is refused with 400 naming the parameter."""
    text = request.args.get(name, "").strip()
    if not text:
        return None
    if _DAY.fullmatch(text):  # ASCII digits only: fromisoformat alone takes 20210501 and 2021-W18
        try:
            return date.fromisoformat(text)
        except ValueError:  # 2021-13-01
            pass
    raise DomainError(f"地址中的参数 {name}（{what}）不是有效的日期：应为 2021-05-01 这样的形式。请检查链接后重试。")


def _query_text(name: str) -> str | None:
    return request.args.get(name, "").strip() or None


@dataclass(frozen=True)
class Filters:
    """The log's filters as the query string gives them: kept across pages and in the
    export's link."""

    campaign_id: int | None = None
    action: str | None = None
    actor: str | None = None
    since: date | None = None  # local dates, both included
    until: date | None = None

    @property
    def active(self) -> bool:
        return any(value is not None for value in (self.campaign_id, self.action, self.actor, self.since, self.until))

    def query(self) -> dict:
        """The query string that gives these filters (for url_for)."""
        found = {"campaign": self.campaign_id, "action": self.action, "actor": self.actor,
                 "from": self.since.isoformat() if self.since else None,
                 "to": self.until.isoformat() if self.until else None}
        return {key: value for key, value in found.items() if value is not None}

    def arguments(self) -> dict:
        """audit.entries' arguments: the local days as the times (UTC) they begin and end."""
        zone = ZoneInfo(current_app.config["TIMEZONE"])

        def midnight(day: date | None, days: int = 0) -> datetime | None:
            if day is None:
                return None
            try:
                return datetime.combine(day + timedelta(days=days), time(), tzinfo=zone).astimezone(timezone.utc)
            except OverflowError:  # 0001-01-01 or 9999-12-31 of a hand-made link: no bound on that side
                return None

        return {"campaign_id": self.campaign_id, "action": self.action, "actor": self.actor,
                "since": midnight(self.since), "until": midnight(self.until, 1)}


def filters() -> Filters:
    """The filters of this request (the page's and the export's)."""
    found = Filters(query_number("campaign"), _query_text("action"), _query_text("actor"),
                    _query_date("from", "开始日期"), _query_date("to", "结束日期"))
    if found.since and found.until and found.since > found.until:
        raise DomainError("地址中的参数 from（开始日期）晚于 to（结束日期）。请检查后重试。")
    return found


# ---- links -------------------------------------------------------------------------------------

def _current_campaign_id() -> int | None:
    try:
        return current_campaign().id
    except NotFoundError:
        return None


def linker() -> Callable[[audit_text.Link], str | None]:
    """A description's link as an address, or None where no page shows its target: an
    import's report, a round's page and the online round's page show the current
    campaign's only."""
    campaign_id = _current_campaign_id()

    def href(link: audit_text.Link) -> str | None:
        if link.target == "entry":
            return url_for("audit.entry", entry_id=link.id, _anchor="audit-listing")
        if link.campaign_id is None or link.campaign_id != campaign_id:
            return None
        if link.target == "object_import":
            return url_for("office.import_report", import_id=link.id)
        if link.target == "survey_round":
            return url_for("rounds.detail", round_id=link.id)
        if link.target == "online_round":
            return url_for("online.index")
        return None

    return href


# ---- pages -------------------------------------------------------------------------------------

@bp.get("/")
@roles_required(*READERS)
def index():
    session = get_session()
    chosen = filters()
    page = audit.entries(session, **chosen.arguments(), page=query_number("page", 1), per_page=PER_PAGE)
    campaigns = years(session)
    names = audit_text.look_up(session, page.entries, local_time)
    return render_template(
        "office/audit.html", verification=audit.verify(session), page=page, chosen=chosen, keep=chosen.query(),
        rows=[(e, audit_text.describe(e, names)) for e in page.entries], campaigns=campaigns, years=dict(campaigns),
        actions=audit.ACTION_LABELS, label=audit.action_label, actor_label=audit_text.actor_label, href=linker(),
    )


@bp.get("/<int:entry_id>")
@roles_required(*READERS)
def entry(entry_id: int):
    """One entry: its sentence, every section (or account) it touched by name, and the
    record as stored (what the hash chain covers)."""
    session = get_session()
    found = audit.get_entry(session, entry_id)
    if found is None:
        abort(404)
    names = audit_text.look_up(session, [found], local_time, whole_lists=True)
    year = year_of(session, found.campaign_id)
    return render_template(
        "office/audit_entry.html", entry=found, description=audit_text.describe(found, names), year=year,
        listing=audit_text.listing(found, names), stored=audit_text.stored(found), label=audit.action_label,
        actor_label=audit_text.actor_label, href=linker(),
    )
