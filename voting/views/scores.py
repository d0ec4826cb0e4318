"""The scores as the review office reads them (SPEC §2): 日常评价, each section's
breakdown, 候选名单, 综合评价 with the decisions on the final lists, 单位考绩, and the
Excel report."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("scores", __name__, url_prefix="/office/scores")


@bp.get("/")
def daily():  # placeholder until the pages land
    return "", 204
