"""What every staff blueprint shares: the campaign the pages work on, its scorecard and
its 复评, the liaison's unit, roles, the upload helpers, and numbers read from the query string."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import TypeVar
from zoneinfo import ZoneInfo

from flask import current_app, render_template, request
from flask_login import current_user
from flask_wtf.file import FileAllowed

from scoring.engine import Scorecard
from voting.core.db import get_session
from voting.core.errors import DomainError, ImportRejected
from voting.lists.models import Campaign
from voting.staff.models import Role
from voting.core.numbers import not_a_number, whole_number
from voting.lists import campaigns
from voting.scores import reevaluation
from voting.scores.scorecards import ScoringError

STAFF = (Role.admin, Role.operator, Role.liaison, Role.auditor)
OFFICE = (Role.admin, Role.operator, Role.auditor)  # the review office's readers
ADMIN = (Role.admin,)
UPLOADERS = (Role.admin, Role.liaison)
FILE_TYPES = FileAllowed(["xlsx", "csv"], "只接受 .xlsx 或 .csv 文件")
# Rejected files list every bad row; past this many the page says how many more.
SHOWN_ERRORS = 5000
T = TypeVar("T")


def local_time(value: datetime | None) -> str:
    """A stored UTC time in the office's zone, as every page shows a time (the
    `local_time` template filter); SQLite hands it back without a zone."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(ZoneInfo(current_app.config["TIMEZONE"])).strftime("%Y-%m-%d %H:%M")


def current_campaign() -> Campaign:
    return campaigns.get_campaign(get_session(), current_app.config.get("DEFAULT_CAMPAIGN_YEAR"))


def scorecard(campaign: Campaign) -> Scorecard:
    """The campaign's scorecard as it stands, for a page that only reads: worked out
    once per change to what it is scored from (services.scorecards.ScoreCache)."""
    return current_app.extensions["pingyi.score_cache"].scorecard(get_session(), campaign)


def reevaluation_of(campaign: Campaign) -> reevaluation.Reevaluation:
    """The campaign's 复评 as it stands, judged against last year's mean (last year's
    scorecard, as the pages have it) when this database holds last year and the county
    set no pass rate; without it the pass rate is unknown and the pages say so."""
    earlier = reevaluation.earlier_campaign(get_session(), campaign)
    earlier_card = None
    if earlier is not None and campaign.rules.reeval_pass_rate is None:
        try:
            earlier_card = scorecard(earlier)
        except ScoringError:
            earlier_card = None  # last year cannot be scored as it stands
    return reevaluation.reevaluation(get_session(), campaign, earlier_card)


def score_figure(campaign: Campaign, name: str, compute: Callable[[], T]) -> T:
    """A figure that only what the scores are computed from can change (ScoreCache.figure),
    for a page that only reads: `compute()` once per change."""
    return current_app.extensions["pingyi.score_cache"].figure(get_session(), campaign, name, compute)


def own_unit_id() -> int | None:
    """The unit a liaison is limited to; None for the review office."""
    return current_user.unit_id if current_user.role == Role.liaison else None


def read_upload(field) -> tuple[bytes, str]:
    storage = field.data
    return storage.read(), storage.filename or "upload"


def rejected(template: str, error: ImportRejected, **context):
    """The upload page again, with every bad row of the rejected file (422)."""
    return render_template(template, rejected=error, shown=error.errors[:SHOWN_ERRORS], **context), 422


def query_number(name: str, default: int | None = None) -> int | None:
    """The query string's `name` as a whole number (voting.core.numbers.whole_number), or
    `default` when it is absent or empty (a form's "all" option sends it empty);
    anything else is refused with 400 naming the parameter, before it reaches a query."""
    text = request.args.get(name, "")
    if text == "":
        return default
    number = whole_number(text)
    if number is None:
        raise DomainError(not_a_number(f"地址中的参数 {name} ") + "请检查链接后重试。")
    return number
