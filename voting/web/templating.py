"""What every template may use: the template filters and the context processors, all
registered on the app here (`init_app`, called by voting.blueprints.init_app)."""
from __future__ import annotations

import math

from flask import Flask, current_app, request
from flask_login import current_user

from scoring import labels as L
from scoring.rounding import display_text
from voting.core.db import get_session
from voting.core.errors import NotFoundError
from voting.core.forms import EmptyForm
from voting.office import overview
from voting.scores.report import is_missing
from voting.survey.rounds import UNIT_MIN_COUNT
from voting.web.common import current_campaign, local_time, score_figure
from voting.web.public import PUBLIC_BLUEPRINTS


def init_app(app: Flask) -> None:
    # Flask-Login's own context processor is not registered (voting.create_app): it
    # loads the user for every template, and with "strong" session protection that
    # rewrites a citizen's session cookie (and sends a remember-cookie deletion) on
    # every page. Templates get the lazy proxy instead, so only the pages that show
    # the staff user load it.
    app.context_processor(lambda: {"current_user": current_user})
    app.context_processor(office_contact)
    app.context_processor(staff_menu)
    for name, function in (("local_time", local_time), ("score", score_filter), ("sort_value", sort_value),
                           ("result_label", result_label), ("shortlist_label", shortlist_label),
                           ("unit_count", unit_count)):
        app.add_template_filter(function, name)


# ---- context processors ------------------------------------------------------------------


def office_contact() -> dict:
    """`contact`: whom a citizen or an evaluator should call, as every public error
    page says it ("县千人评议办(电话 0577-…)")."""
    name, phone = current_app.config["OFFICE_NAME"], current_app.config.get("OFFICE_PHONE")
    return {"contact": f"{name}（电话 {phone}）" if phone else name}


def staff_menu() -> dict:
    """The staff menu's logout form and campaign stage (base.html)."""
    # formdata=None: an error page (413, bad multipart) must not read the request body.
    # The public pages (citizens, evaluators, ballots) have no staff menu: no form (and
    # no CSRF token) built for them.
    if request.blueprint in PUBLIC_BLUEPRINTS:
        return {}
    return {"logout_form": EmptyForm(formdata=None), "campaign_stage": campaign_stage}


def campaign_stage() -> tuple[int, str] | None:
    """The campaign the staff pages work on and its stage (名单, 调查, …), for the menu:
    worked out once per audited change (every step of the workflow is audited), not per
    page; None without a campaign or a login."""
    if not current_user.is_authenticated:
        return None
    try:
        campaign = current_campaign()
    except NotFoundError:
        return None
    stage = score_figure(campaign, "stage", lambda: overview.overview(get_session(), campaign).stage)
    return campaign.year, stage


# ---- filters -----------------------------------------------------------------------------


def score_filter(value: object, decimals: int | None = 2) -> str:
    """A score as shown (2 decimals, half up); a count as an integer; missing: ''."""
    if is_missing(value):
        return ""
    if decimals is None:
        return str(int(value))
    return display_text(float(value), decimals)


def sort_value(value: object) -> str:
    """The `data-value` a sortable cell carries for the in-page sort (empty: last)."""
    if is_missing(value):
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "" if math.isnan(float(value)) else repr(float(value))
    return str(value)


def code_label(table: dict, code: object) -> str:
    """The label of `code` in one of scoring.labels' tables; missing or empty: ''."""
    return "" if is_missing(code) or code == "" else L.label(table, code)


def result_label(code: object) -> str:
    return code_label(L.RESULTS, code)


def shortlist_label(code: object) -> str:
    return code_label(L.SHORTLISTS, code)


def unit_count(value: int, unit_view: bool) -> str:
    """A count as a unit may see it: below UNIT_MIN_COUNT, "<5"."""
    return f"<{UNIT_MIN_COUNT}" if unit_view and int(value) < UNIT_MIN_COUNT else str(int(value))
