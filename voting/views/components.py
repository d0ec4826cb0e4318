"""The daily-stage components (SPEC §2, §6) on the review office's pages: a file import
per kind (votes, platform, supervisor, inspection, bonus), single entries by form with
their deletion, and the list of what is stored."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("components", __name__, url_prefix="/office/components")


@bp.get("/")
def index():  # placeholder until the pages land
    return "", 204
