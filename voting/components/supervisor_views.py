"""主管单位评价: a unit liaison scores the unit's own participating sections in one
form; the tier rule is checked in the browser as they type and again on submit. The
review office can open any unit's form."""
from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from scoring.settings import RuleSettings
from scoring.supervisor import TIERS, TierProblem, score_problem, tier_bounds, tier_of
from voting.staff.auth import roles_required
from voting.core.db import get_session
from voting.core.errors import DomainError
from voting.core.forms import EmptyForm
from voting.lists.models import Campaign, Unit
from voting.staff.models import Role
from voting.components import components
from voting.lists import sections
from voting.web.common import OFFICE, current_campaign, own_unit_id

bp = Blueprint("supervisor", __name__, url_prefix="/office/supervisor")

EDITORS = (Role.admin, Role.liaison)
READERS = (*OFFICE, Role.liaison)
# A plain decimal number (after NFKC, so full-width "４.５" reads as 4.5); float()
# alone would also take "nan", "inf" and "1_0".
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


@dataclass
class Row:
    """One participating section on the form: what the input shows, its tier and the
    problem with what was entered."""

    id: int
    section: str
    value: str
    tier: str | None = None
    error: str | None = None

    @property
    def field(self) -> str:
        return f"score-{self.id}"


def read_score(raw: str, rules: RuleSettings) -> tuple[float | None, str | None]:
    """An entered score as a number, or why it is not a valid supervisor score."""
    text = unicodedata.normalize("NFKC", raw).strip()
    if not text:
        return None, "请填写分值"
    if not _NUMBER.fullmatch(text) or not math.isfinite(value := float(text)):
        return None, f"“{raw.strip()}”不是数字，请填写如 4.5 的分值"
    problem = score_problem(value, rules)
    return (None, problem) if problem else (value, None)


def _shown(score: float | None) -> str:
    return "" if score is None else f"{score:.1f}"


def _unit(unit_id: int) -> tuple[Campaign, Unit]:
    """The campaign and its unit, if the user may see it: 404 for an unknown unit or
    one of another campaign, 403 for a liaison's look at another unit."""
    campaign = current_campaign()
    unit = sections.get_unit(get_session(), unit_id)
    if unit is None or unit.campaign_id != campaign.id:
        abort(404)
    own = own_unit_id()
    if current_user.role == Role.liaison and own != unit.id:
        abort(403)
    return campaign, unit


def _panel(unit: Unit, rows: list[Row], rules: RuleSettings) -> dict:
    """The tier counts and problems of the rows as shown, worded as the server's check
    words them; the script keeps the same panel up to date while the person types.
    Before every row holds a valid score only an over-full tier is certain."""
    n = len(rows)
    low, high = tier_bounds(n)
    counts = {tier: sum(1 for r in rows if r.tier == tier) for tier in TIERS}
    pending = sum(1 for r in rows if r.tier is None)
    problems = [
        TierProblem(unit.name, tier, count, low, high).message
        for tier, count in counts.items()
        if count > high or (not pending and count < low)
    ]
    return {"counts": counts, "pending": pending, "problems": problems, "low": low, "high": high}


def _render(
    campaign: Campaign, unit: Unit, rows: list[Row], form: EmptyForm, errors: list[str] | None = None, status: int = 200
):
    rules = campaign.rules
    can_edit = current_user.role in EDITORS
    return render_template(
        "components/supervisor.html",
        unit=unit,
        rows=rows,
        rules=rules,
        tiers=TIERS,
        good_top=round(rules.supervisor_excellent_min - 0.1, 1),
        fair_top=round(rules.supervisor_good_min - 0.1, 1),
        panel=_panel(unit, rows, rules),
        errors=errors or [],
        form=form if can_edit else None,
        can_edit=can_edit,
        back=current_user.role != Role.liaison,
    ), status


@bp.get("/")
@roles_required(*READERS)
def index():
    if current_user.role == Role.liaison:
        if own_unit_id() is None:
            abort(403)
        return redirect(url_for(".unit_form", unit_id=own_unit_id()))
    campaign = current_campaign()
    overview = components.supervisor_overview(get_session(), campaign)
    return render_template("components/supervisor_units.html", campaign=campaign, overview=overview)


@bp.get("/<int:unit_id>")
@roles_required(*READERS)
def unit_form(unit_id: int):
    campaign, unit = _unit(unit_id)
    rules = campaign.rules
    sheet = components.unit_supervisor_sheet(get_session(), campaign, unit.id)
    rows = [
        Row(r["id"], r["section"], _shown(r["score"]), None if r["score"] is None else tier_of(r["score"], rules))
        for r in sheet
    ]
    return _render(campaign, unit, rows, EmptyForm(formdata=None))


@bp.post("/<int:unit_id>")
@roles_required(*EDITORS)
def save(unit_id: int):
    campaign, unit = _unit(unit_id)
    form = EmptyForm()
    if not form.validate_on_submit():  # CSRF (the app's handler answers first when it is on)
        abort(400)
    session = get_session()
    rules = campaign.rules
    rows, scores = [], {}
    for r in components.unit_supervisor_sheet(session, campaign, unit.id):
        raw = request.form.get(f"score-{r['id']}", "")
        value, error = read_score(raw, rules)
        # Shown as NFKC: a number input would blank out "４.５" (or "４.５５" with its error).
        shown = unicodedata.normalize("NFKC", raw).strip()
        rows.append(Row(r["id"], r["section"], shown, None if value is None else tier_of(value, rules), error))
        if value is not None:
            scores[r["id"]] = value
    errors = [f"{r.section}：{r.error}" for r in rows if r.error]
    if errors:
        return _render(campaign, unit, rows, form, errors, 422)
    try:
        saved = components.save_supervisor_scores(session, campaign, unit.id, scores, current_user,
                                                  actor=current_user.username)
    except components.TierError as error:
        return _render(campaign, unit, rows, form, error.messages, 422)
    except DomainError as error:  # e.g. the unit's sections changed since the form was opened
        return _render(campaign, unit, rows, form, [str(error)], 422)
    flash(f"已保存 {saved} 个科室的主管单位评分", "info")
    return redirect(url_for(".unit_form", unit_id=unit.id))
