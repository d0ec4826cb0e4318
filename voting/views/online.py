"""The review office's pages of the online round: pool, accounts (issue 5)."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("online", __name__, url_prefix="/office/online")
