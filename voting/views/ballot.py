"""The online round's ballot, receipts and the public receipt check (issue 5)."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("ballot", __name__)
