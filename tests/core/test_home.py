"""The public landing page, and the office's contact (a setting) on the public pages."""
from __future__ import annotations

from datetime import timedelta

import pytest

from voting.online.models import OnlineRound
from voting.survey.models import RoundStatus
from voting.core.models import utcnow
from tests.support.web import text


def test_the_landing_page_says_where_to_vote_check_and_read_the_results(client, db, campaign):
    page = client.get("/")
    assert page.status_code == 200  # no login: it is the public's
    body = text(page)
    assert 'href="/c"' in body and 'href="/e/login"' in body and 'href="/receipt"' in body
    assert "尚未公布评议结果" in body
    assert page.headers["Referrer-Policy"] == "no-referrer"
    now = utcnow()
    db.add(OnlineRound(campaign_id=campaign.id, status=RoundStatus.closed, seed=1, closes_at=now - timedelta(days=1),
                       closed_at=now, published_at=now, published={"satisfied": [], "unsatisfied": [],
                                                                   "most_unsatisfied": []}))
    db.commit()
    body = text(client.get("/"))
    assert f'href="/results/{campaign.year}"' in body and "尚未公布" not in body


@pytest.fixture
def app_config() -> dict:
    return {"OFFICE_NAME": "平阳县千人评议办", "OFFICE_PHONE": "0577-6373 1234"}


def test_the_offices_contact_is_a_setting_shown_on_every_public_error_page(client):
    assert "平阳县千人评议办：电话" in text(client.get("/")) and 'href="tel:057763731234"' in text(client.get("/"))
    for path in ("/v/not-a-token", "/results/1999"):
        response = client.get(path)
        assert response.status_code >= 400
        assert "如需帮助，请联系平阳县千人评议办（电话 0577-6373 1234）。" in text(response), path
