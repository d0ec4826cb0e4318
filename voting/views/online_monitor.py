"""The review office's monitoring of the online round: turnout, reminders, close,
online scores and the final lists (issue 5)."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("online_monitor", __name__, url_prefix="/office/online")
