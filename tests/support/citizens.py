"""A survey round opened through the real services, for the citizens' page tests: a few
service objects in one or two ordinary sections, the round created and opened (its
invitations and their SMS in the outbox), and what a citizen's SMS carries."""
from __future__ import annotations

import random
from datetime import timedelta
from urllib.parse import urlsplit

import pandas as pd
from sqlalchemy import func, select

from voting.demo.campaign import synth_objects
from voting.survey.links import link_tokens, wording
from voting.survey.models import Invitation, InviteMode, SurveyRound, Vote
from voting.outbox.models import OutboxMessage
from voting.lists.models import RoundKind
from voting.core.models import utcnow
from voting.lists import history, objects
from voting.survey import rounds

PUBLIC_URL = "https://pingyi.example.cn"


def open_round(app, db, campaign, sections: int = 2, per_section: int = 3, mode: InviteMode = InviteMode.link) -> SurveyRound:
    """An open H1 round closing in a week, with `per_section` invitations in each of
    the first `sections` ordinary (not 管理执法类) sections."""
    statuses = history.section_statuses(db, campaign)
    chosen = statuses[~statuses["is_enforcement"]].head(sections)
    rng = random.Random(4)
    parts = []
    for row in chosen.to_dict("records"):
        part = synth_objects(rng, per_section)
        part.insert(0, "科室", row["section"])
        part.insert(0, "单位名称", row["unit"])
        parts.append(part)
    data = pd.concat(parts).to_csv(index=False).encode("utf-8")
    objects.import_objects(db, campaign, RoundKind.H1, data, "objects.csv")
    survey = rounds.create_round(db, campaign, RoundKind.H1, utcnow() + timedelta(days=7), per_section, mode=mode)
    rounds.open_round(db, campaign, survey, link_tokens(app), wording(app, PUBLIC_URL))
    db.commit()
    return survey


def invitations(db, survey: SurveyRound) -> list[Invitation]:
    return list(db.scalars(select(Invitation).where(Invitation.round_id == survey.id).order_by(Invitation.id)))


def sms_params(db, invitation: Invitation) -> dict:
    return db.get(OutboxMessage, invitation.message_id).params


def link_path(db, invitation: Invitation) -> str:
    """The path of the link in the invitation's SMS: /v/<token>."""
    link = sms_params(db, invitation)["link"]
    assert link.startswith(PUBLIC_URL + "/v/")
    return urlsplit(link).path


def votes(db) -> list[Vote]:
    db.rollback()  # a fresh look: the requests committed in sessions of their own
    return list(db.scalars(select(Vote).order_by(Vote.id)))


def vote_count(db) -> int:
    db.rollback()
    return db.scalar(select(func.count()).select_from(Vote))
