"""评议投诉和差评: a unit liaison's page of the complaints about the unit's sections and the
差评 of the windows the office gave to the unit (voting/ratings/complaints.py `unit_ratings`).

- /office/unit-ratings/: the unit's own, the latest day first, a page at a time: the day
  (no time of day), the section or window, the level, what went wrong, the text as the
  office set it for the unit or else without phone-like digits and email addresses
  (voting/ratings/redact.py), and a complaint's decision (有效 or 无效) with its reason.

Never who rated, the phone, the device or the network, the time of day, nor a number
that leads to the rating: a unit learns what was said, not by whom. Nothing of another
unit's is shown, whatever the address asks (the page takes the unit from the liaison's
account, never from the address). The office's complaint pages stay closed to liaisons
(403) and this page to the office. A page only: a liaison changes nothing here.
"""
from __future__ import annotations

from flask import Blueprint, render_template

from voting.core.db import get_session
from voting.ratings import complaints
from voting.staff.auth import roles_required
from voting.staff.models import Role
from voting.web.common import own_unit_id
from voting.web.listing import QueryFilters, paged

bp = Blueprint("unit_ratings", __name__, url_prefix="/office/unit-ratings")

PER_PAGE = 50


@bp.get("/")
@roles_required(Role.liaison)
def index():
    """The unit's complaints and its windows' 差评, the latest day first."""
    session = get_session()
    unit_id = own_unit_id()
    filters = QueryFilters()
    if unit_id is None:
        rows, page = paged(lambda limit, offset: ([], 0), PER_PAGE, filters.page())
        counts = dict.fromkeys((*complaints.STATUSES, "window"), 0)
    else:
        rows, page = paged(lambda limit, offset: complaints.unit_ratings(session, unit_id, limit=limit, offset=offset),
                           PER_PAGE, filters.page())
        counts = complaints.unit_counts(session, unit_id)
    return render_template("ratings/unit_ratings.html", rows=rows, page=page, keep=filters.keep,
                           ignored=filters.ignored, counts=counts, statuses=complaints.STATUSES)
