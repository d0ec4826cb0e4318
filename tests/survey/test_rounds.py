"""Survey rounds: reproducible sampling that keeps the penalized share,
invitations and their SMS written together, one vote per invitation, reminders once,
the lists frozen once a round has started, and the platform's votes in the scores."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from scoring import columns as C
from sms.tokens import LinkTokens
from tests.conftest import SECTIONS_CSV
from voting.demo.campaign import synth_objects
from voting.core.errors import DomainError
from voting.audit.models import AuditEntry
from voting.survey.models import Channel, Choice, InviteMode, Invitation, RoundStatus, Vote
from voting.outbox.models import OutboxMessage
from voting.lists.models import RoundKind, Section, ServiceObject, Unit
from voting.audit import audit
from voting.lists import objects, sections
from voting.survey import rounds
from voting.scores import scorecards
from voting.survey.rounds import Wording, sample_section
from voting.survey.votes import AlreadyVotedError, RoundClosedError, cast_vote

NOW = datetime.now(timezone.utc).replace(microsecond=0)
CLOSES = NOW + timedelta(days=20)
WORDING = Wording(sign="平阳县评议办", link_base="https://p.example.cn", code_address="p.example.cn/c")
TOKENS = LinkTokens("test secret")
PRICE = ("县发改局", "价格科")
PLANNING = ("县发改局", "发展规划综合科")


def upload(db, campaign, unit_section, count, penalized=0, seed=1, kind=RoundKind.H1):
    frame = synth_objects(random.Random(seed), count, penalized)
    frame.insert(0, "科室", unit_section[1])
    frame.insert(0, "单位名称", unit_section[0])
    objects.import_objects(db, campaign, kind, frame.to_csv(index=False).encode(), "objects.csv",
                           all_penalized_reported=True)
    db.commit()


def opened(db, campaign, size=10, mode=InviteMode.link, seed=7):
    survey = rounds.create_round(db, campaign, RoundKind.H1, CLOSES, size, mode, seed=seed, now=NOW)
    summary = rounds.open_round(db, campaign, survey, TOKENS, WORDING, now=NOW)
    db.commit()
    return survey, summary


@given(
    st.lists(st.booleans(), min_size=1, max_size=300),
    st.integers(1, 120),
    st.integers(0, 2**31 - 1),
    st.booleans(),
)
@settings(max_examples=200, deadline=None)
def test_sampling_is_reproducible_and_keeps_the_penalized_share(flags, size, seed, enforcement):
    objs = [(i * 3 + 1, p) for i, p in enumerate(flags)]
    picked = sample_section(objs, size, seed, 42, enforcement)
    assert picked == sample_section(list(reversed(objs)), size, seed, 42, enforcement)  # order of the list
    assert len(picked) == min(size, len(objs)) and len(set(picked)) == len(picked)
    assert set(picked) <= {i for i, _ in objs}
    if enforcement and len(objs) > size:
        share = sum(p for _, p in objs) / len(objs)
        got = sum(dict(objs)[i] for i in picked)
        assert abs(got - share * size) <= 1  # the list's share, to the nearest one


def test_open_round_invites_the_sample_and_writes_each_sms(db, campaign):
    upload(db, campaign, PRICE, 25)
    upload(db, campaign, PLANNING, 4, seed=2)
    survey, summary = opened(db, campaign, size=10)
    invitations = db.scalars(select(Invitation)).all()
    assert summary.invitations == len(invitations) == 14 and summary.sections == 2
    assert len(summary.without_list) == 363 - 2 - 0  # no exempt sections without history
    assert survey.status == RoundStatus.open
    messages = {m.id: m for m in db.scalars(select(OutboxMessage))}
    assert len(messages) == 14 and all(i.message_id in messages for i in invitations)
    for invitation in invitations:
        message = messages[invitation.message_id]
        assert message.phone == invitation.phone and message.key == f"invite:{invitation.round_id}:{invitation.id}"
        token = message.params["link"].rsplit("/", 1)[1]
        claim = TOKENS.read(token)
        assert (claim.invitation_id, claim.round_id, claim.nonce) == (invitation.id, survey.id, invitation.nonce)
        assert "价格科" in message.text or "发展规划综合科" in message.text
    assert len({i.code for i in invitations}) == 14


def test_the_same_seed_draws_the_same_sample(db, campaign):
    upload(db, campaign, PRICE, 60)
    survey, _ = opened(db, campaign, size=12, seed=99)
    first = sorted(db.scalars(select(Invitation.service_object_id)).all())
    assert len(first) == 12
    listed = [(o.id, o.penalized) for o in db.scalars(select(ServiceObject))]
    sid = db.scalar(select(Section.id).join(Unit).where(Unit.name == PRICE[0], Section.name == PRICE[1]))
    assert sample_section(listed, 12, 99, sid, False) == first


def test_code_mode_sends_a_code_and_no_link(db, campaign):
    upload(db, campaign, PRICE, 3)
    opened(db, campaign, size=10, mode=InviteMode.code)
    for message in db.scalars(select(OutboxMessage)):
        assert "http" not in message.text and "p.example.cn/c" in message.text
        assert message.params["code"] in message.text


def test_a_phone_invited_twice_is_told_to_reply_with_the_code(db, campaign):
    upload(db, campaign, PRICE, 2, seed=5)
    upload(db, campaign, PLANNING, 2, seed=5)  # the same phones
    opened(db, campaign)
    for message in db.scalars(select(OutboxMessage)):
        assert "请同时回复评价码" in message.text


def test_a_round_cannot_be_opened_twice_nor_made_twice(db, campaign):
    upload(db, campaign, PRICE, 3)
    survey, _ = opened(db, campaign)
    with pytest.raises(DomainError):
        rounds.open_round(db, campaign, survey, TOKENS, WORDING, now=NOW)
    with pytest.raises(DomainError):
        rounds.create_round(db, campaign, RoundKind.H1, CLOSES, 5, now=NOW)
    with pytest.raises(DomainError):
        rounds.create_round(db, campaign, RoundKind.H2, NOW - timedelta(days=1), 5, now=NOW)


def test_one_vote_per_invitation_whatever_the_channel(db, campaign):
    upload(db, campaign, PRICE, 3)
    opened(db, campaign)
    invitation = db.scalars(select(Invitation)).first()
    cast_vote(db, invitation.id, Choice.satisfied, Channel.link, "很好", now=NOW)
    db.commit()
    with pytest.raises(AlreadyVotedError):
        cast_vote(db, invitation.id, Choice.unsatisfied, Channel.sms, now=NOW)
    db.commit()  # the session is still usable after the refused insert
    votes = db.scalars(select(Vote)).all()
    assert [(v.choice, v.channel, v.comment) for v in votes] == [(Choice.satisfied, Channel.link, "很好")]


def test_no_vote_after_the_close(db, campaign):
    upload(db, campaign, PRICE, 3)
    opened(db, campaign)
    invitation = db.scalars(select(Invitation)).first()
    with pytest.raises(RoundClosedError):
        cast_vote(db, invitation.id, Choice.satisfied, Channel.link, now=CLOSES)
    assert db.scalar(select(func.count()).select_from(Vote)) == 0


def test_reminders_go_once_to_those_who_have_not_voted(db, campaign):
    upload(db, campaign, PRICE, 4)
    survey, _ = opened(db, campaign)
    invitations = db.scalars(select(Invitation).order_by(Invitation.id)).all()
    for message in db.scalars(select(OutboxMessage)):
        message.sent_at = NOW
    cast_vote(db, invitations[0].id, Choice.basic, Channel.link, now=NOW)
    db.commit()
    assert rounds.remind(db, campaign, survey, TOKENS, WORDING, now=NOW + timedelta(hours=1)) == 0  # too early
    later = NOW + timedelta(hours=survey.reminder_after_hours)
    assert rounds.remind(db, campaign, survey, TOKENS, WORDING, now=later) == 3
    assert rounds.remind(db, campaign, survey, TOKENS, WORDING, now=later + timedelta(hours=1)) == 0  # once
    db.commit()
    reminders = db.scalars(select(OutboxMessage).where(OutboxMessage.key.like("remind:%"))).all()
    assert sorted(m.key for m in reminders) == sorted(f"remind:{i.round_id}:{i.id}" for i in invitations[1:])
    # The reminder carries the same link as the invitation.
    first = db.get(OutboxMessage, invitations[1].message_id)
    again = db.get(OutboxMessage, invitations[1].reminder_id)
    assert first.params["link"] == again.params["link"]


def test_each_step_of_a_round_is_audited_by_its_service_naming_its_actor(db, campaign):
    upload(db, campaign, PRICE, 4)
    survey = rounds.create_round(db, campaign, RoundKind.H1, CLOSES, 3, seed=5, now=NOW, actor="admin")
    rounds.open_round(db, campaign, survey, TOKENS, WORDING, now=NOW, actor="admin")
    rounds.remind(db, campaign, survey, TOKENS, WORDING, now=NOW)  # no actor: "system"
    rounds.close_round(db, survey, actor="admin")
    db.commit()
    logged = db.scalars(select(AuditEntry).where(AuditEntry.action.like("round.%")).order_by(AuditEntry.id)).all()
    named = {"round_id": survey.id, "round": "H1"}
    assert [(e.action, e.actor, e.campaign_id) for e in logged] == [
        ("round.create", "admin", campaign.id), ("round.open", "admin", campaign.id),
        ("round.remind", "system", campaign.id), ("round.close", "admin", campaign.id)]
    assert logged[0].detail == {**named, "closes_at": CLOSES.isoformat(), "sample_size": 3, "seed": 5, "mode": "link",
                                "reminder_after_hours": 48}
    assert logged[1].detail == {**named, "sections": 1, "invitations": 3, "sections_without_list": 362}
    assert logged[2].detail == {**named, "reminders": 0}
    assert logged[3].detail == {**named, "voided_messages": 3}
    # A refused step logs nothing.
    with pytest.raises(DomainError):
        rounds.close_round(db, survey, actor="admin")
    db.rollback()
    with pytest.raises(DomainError):
        rounds.cancel_round(db, survey, actor="admin")
    db.rollback()
    assert db.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first().id == logged[-1].id
    assert audit.verify(db).ok


def test_a_cancel_is_audited_by_its_service(db, campaign):
    upload(db, campaign, PRICE, 4)
    survey, _ = opened(db, campaign, size=3)
    rounds.cancel_round(db, survey, actor="admin")
    db.commit()
    [entry] = db.scalars(select(AuditEntry).where(AuditEntry.action == "round.cancel")).all()
    assert (entry.actor, entry.detail) == ("admin", {"round_id": survey.id, "round": "H1", "invitations": 3,
                                                     "voided_messages": 3, "sent_messages": 0})


def test_lists_and_sections_are_frozen_once_invitations_exist(db, campaign):
    upload(db, campaign, PRICE, 3)
    opened(db, campaign)
    with pytest.raises(DomainError, match="已向这些科室发出邀请，名单不能再替换：县发改局 价格科"):
        upload(db, campaign, PRICE, 5, seed=3)
    db.rollback()
    listed = [s for s in sections.parse_sections(SECTIONS_CSV.read_bytes(), SECTIONS_CSV.name) if s.key != PRICE]
    with pytest.raises(DomainError, match="已经发出评价邀请"):
        sections.apply_sections(db, campaign, listed)
    db.rollback()
    assert db.scalar(select(func.count()).select_from(Invitation)) == 3


def test_the_platforms_votes_count_in_the_scores(db, campaign):
    upload(db, campaign, PRICE, 6)
    opened(db, campaign)
    for invitation, choice in zip(db.scalars(select(Invitation).order_by(Invitation.id)),
                                  [Choice.satisfied] * 4 + [Choice.basic, Choice.unsatisfied]):
        cast_vote(db, invitation.id, choice, Channel.link, now=NOW)
    db.commit()
    card = scorecards.campaign_scorecard(db, campaign).sections.set_index([C.UNIT, C.SECTION])
    row = card.loc[PRICE]
    assert row[C.VOTES_IN[C.H1]] == 6
    own = (4 + 0.6) / 6 * 25
    mean = own  # the only section with votes in H1
    assert row[C.SERVICE_H1] == pytest.approx(mean * 0.7 + own * 0.3)
    counts = rounds.vote_counts(db, campaign)
    assert counts.to_dict("records") == [{C.UNIT: PRICE[0], C.SECTION: PRICE[1], C.ROUND: "H1",
                                          C.VOTES_S: 4, C.VOTES_B: 1, C.VOTES_U: 1}]


def test_progress_per_section(db, campaign):
    upload(db, campaign, PRICE, 5)
    survey, _ = opened(db, campaign)
    invitations = db.scalars(select(Invitation).order_by(Invitation.id)).all()
    cast_vote(db, invitations[0].id, Choice.satisfied, Channel.link, now=NOW)
    cast_vote(db, invitations[1].id, Choice.unsatisfied, Channel.sms, now=NOW)
    db.commit()
    progress = rounds.section_progress(db, survey)
    assert isinstance(progress, pd.DataFrame) and len(progress) == 1
    row = progress.iloc[0]
    assert (row["invited"], row["voted"], row["satisfied"], row["unsatisfied"], row["sent"]) == (5, 2, 1, 1, 0)
    assert row["rate"] == pytest.approx(0.4)


def test_campaign_settings_change_from_the_command_line(runner, db, campaign):
    result = runner.invoke(args=["campaign", "settings", "sms_daily_cap=3", "sms_window_start=09:30"])
    assert result.exit_code == 0, result.output
    assert "sms_daily_cap = 3" in result.output
    db.expire_all()
    assert (campaign.rules.sms_daily_cap, campaign.rules.sms_window_start) == (3, "09:30")
    for bad in ("sms_window_end=25:99", "no_such_setting=1", "sms_daily_cap", "shortlist_satisfied=abc"):
        result = runner.invoke(args=["campaign", "settings", "sms_daily_cap=4", bad])
        assert result.exit_code == 1 and "错误" in result.output, bad
        db.expire_all()
        assert campaign.rules.sms_daily_cap == 3  # nothing changed
