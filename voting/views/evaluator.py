"""The online round's evaluators: login with the one-time password (issue 5).

Contract used by voting/views/ballot.py: after login the Flask session holds
`evaluator` (the Evaluator's id) and `evaluator_seen` (epoch seconds of the last
request); `current_evaluator()` returns the logged-in Evaluator or None (absent, idle
too long, or locked)."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("evaluator", __name__)


def current_evaluator():  # noqa: ANN201 - filled in by the login work
    return None
