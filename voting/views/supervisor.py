"""主管单位评价: a unit liaison scores the unit's own participating sections in one
form; the tier rule is checked in the browser as they type and again on submit. The
review office can open any unit's form."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("supervisor", __name__, url_prefix="/office/supervisor")


@bp.get("/")
def index():  # placeholder until the pages land
    return "", 204
