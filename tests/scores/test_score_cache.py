"""The score pages work the scores out once per change (services.scorecards.ScoreCache):
views in a row share one scorecard, and the first view after anything the scores are
computed from changes (a vote, an entry, a decision) shows it. On SQLite and PostgreSQL."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from scoring import columns as C
from tests.support.citizens import invitations, open_round
from voting.survey.models import Channel, Choice
from voting.components.models import ComponentKind
from voting.lists.models import Section
from voting.components import components
from voting.scores import scorecards
from voting.survey import votes

PAGES = ("/office/scores/", "/office/scores/shortlist", "/office/scores/final", "/office/scores/units")


@pytest.fixture
def scorings(monkeypatch) -> list[int]:
    """One entry each time the campaign is scored."""
    scored = []
    score = scorecards.campaign_scorecard

    def counted(session, campaign):
        scored.append(campaign.id)
        return score(session, campaign)

    monkeypatch.setattr(scorecards, "campaign_scorecard", counted)
    return scored


def votes_line(html: str, label: str) -> str:
    """The section page's line of a round's votes ("上半年服务对象评价:满意 …,共 N 票")."""
    found = re.search(label + r"服务对象评价：满意 \d+、基本满意 \d+、不满意 \d+，共 \d+ 票", html)
    assert found, label
    return found.group(0)


def test_views_without_a_change_share_one_scoring(admin_client, db, year, scorings):
    section_id = db.scalar(select(Section.id).order_by(Section.id).limit(1))
    for _ in range(2):
        for path in (*PAGES, f"/office/scores/sections/{section_id}", "/office/online/monitor"):
            assert admin_client.get(path).status_code == 200, path
    assert len(scorings) == 1


def test_an_entry_shows_on_the_next_view(admin_client, db, year, scorings):
    card = scorecards.ScoreCache().scorecard(db, year)
    row = card.sections[card.sections[C.PLATFORM_SCORE].notna()].sort_values(C.PLATFORM_SCORE).iloc[-1]
    page = f"/office/scores/sections/{int(row['section_id'])}"
    before = admin_client.get(page).get_data(as_text=True)
    assert "电话记录核实" not in before
    components.add_entry(db, year, ComponentKind.platform, int(row["section_id"]),
                         {"platform": C.HOTLINE, "item": C.CONDUCT, "deduction": 4.0, "role": C.LEAD}, None,
                         "电话记录核实")
    db.commit()
    after = admin_client.get(page).get_data(as_text=True)
    assert len(scorings) == 3  # the page before, the card above, the page after
    fresh = scorecards.ScoreCache().scorecard(db, year).sections.set_index("section_id")
    assert fresh.at[int(row["section_id"]), C.PLATFORM_SCORE] < row[C.PLATFORM_SCORE]
    assert after.count("扣 4") > before.count("扣 4")  # the new deduction's line


def test_a_vote_shows_on_the_next_view(app, admin_client, db, year, scorings):
    survey = open_round(app, db, year, sections=1, per_section=2)
    invitation = invitations(db, survey)[0]
    page = f"/office/scores/sections/{invitation.section_id}"
    before = votes_line(admin_client.get(page).get_data(as_text=True), "上半年")
    assert admin_client.get(page).status_code == 200
    scored = len(scorings)

    votes.cast_vote(db, invitation.id, Choice.satisfied, Channel.link)  # no audit entry: a vote is its own row
    db.commit()
    after = votes_line(admin_client.get(page).get_data(as_text=True), "上半年")
    assert len(scorings) == scored + 1
    total = int(re.search(r"共 (\d+) 票", before).group(1))
    assert f"共 {total + 1} 票" in after and after != before


def test_a_decision_shows_on_the_next_view(admin_client, db, year):
    card = scorecards.campaign_scorecard(db, year)
    shortlisted = card.sections[card.sections[C.SHORTLIST].notna()].iloc[0]
    page = f"/office/scores/sections/{int(shortlisted['section_id'])}"
    assert "经核实，不列入名单" not in admin_client.get(page).get_data(as_text=True)
    response = admin_client.post(f"{page}/decision", data={"result": "none", "reason": "经核实，不列入名单"})
    assert response.status_code == 303
    assert "经核实，不列入名单" in admin_client.get(page).get_data(as_text=True)
