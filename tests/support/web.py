"""Reading what the test client got back."""
from __future__ import annotations

from flask.testing import FlaskClient
from werkzeug.test import TestResponse


def text(response: TestResponse) -> str:
    """The page as text."""
    return response.get_data(as_text=True)


def in_session(client: FlaskClient) -> dict:
    """What the client's cookie session holds now."""
    with client.session_transaction() as session:
        return dict(session)
