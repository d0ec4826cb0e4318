"""The survey round's guard rails: what is missing before the start, lists that come
in after it (invited until the close), a round cancelled before any answer and set up
again, and messages that never go once their round closed or was cancelled."""
from __future__ import annotations

import io
import random
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from sms.senders import Message, OneAtATime, Sent
from tests.survey.test_rounds import CLOSES, NOW, PLANNING, PRICE, TOKENS, WORDING, opened, upload
from voting.demo.campaign import synth_objects
from voting.core.errors import DomainError
from voting.audit.models import AuditEntry
from voting.survey.models import Channel, Choice, Invitation, RoundStatus, SurveyRound, Vote
from voting.outbox.models import OutboxMessage, OutboxStatus
from voting.lists.models import RoundKind
from voting.outbox import outbox
from voting.survey import rounds
from voting.outbox.outbox import DispatchSettings, dispatch
from voting.survey.votes import RoundClosedError, cast_vote
from voting.tasks import late_lists_and_ended_rounds

ANY_TIME = {"window_start": DispatchSettings().window_start, "window_end": DispatchSettings().window_start,
            "daily_cap": 0, "campaign_limits": False}
CONFIRMED = {"confirmed": "1"}


def count(db, model, *where) -> int:
    db.rollback()
    return db.scalar(select(func.count()).select_from(model).where(*where))


class Recorder(OneAtATime):
    name = "recorder"

    def __init__(self):
        self.sent: list[Message] = []

    def send(self, message: Message) -> Sent:
        self.sent.append(message)
        return Sent(f"SM{len(self.sent)}", "queued")


def entries(db, action: str) -> list[AuditEntry]:
    db.rollback()
    return db.scalars(select(AuditEntry).where(AuditEntry.action == action)).all()


# ---- before the start ---------------------------------------------------------------------


def test_readiness_counts_the_planned_invitations_and_names_the_missing_sections_by_unit(db, campaign):
    upload(db, campaign, PRICE, 25)
    upload(db, campaign, PLANNING, 4, seed=2)
    survey = rounds.create_round(db, campaign, RoundKind.H1, CLOSES, 10, now=NOW)
    ready = rounds.readiness(db, campaign, survey)
    assert ready.listed == 2 and ready.invitations == 10 + 4  # the sample, or the whole list when shorter
    assert ready.missing == ready.sections - 2 and ready.sections > 300
    fgj = next(u for u in ready.units if u.unit == "县发改局")
    assert fgj.listed == 2 and PRICE[1] not in fgj.missing and PLANNING[1] not in fgj.missing
    assert sum(len(u.missing) for u in ready.units_missing) == ready.missing
    # What opening does matches what readiness said.
    summary = rounds.open_round(db, campaign, survey, TOKENS, WORDING, now=NOW)
    assert summary.invitations == ready.invitations and len(summary.without_list) == ready.missing


def test_the_draft_rounds_page_lists_the_missing_sections_and_the_start_asks_first(admin_client, db, campaign):
    upload(db, campaign, PRICE, 6)
    survey = rounds.create_round(db, campaign, RoundKind.H1, CLOSES, 5, now=NOW)
    db.commit()
    page = admin_client.get(f"/office/rounds/{survey.id}").get_data(as_text=True)
    assert "尚无名单 362 个" in page and "现在开始将写入 5 条邀请短信" in page
    assert 'id="missing-lists"' in page and "<td>县公安局</td>" in page
    # The dialog (for JavaScript) carries the same facts as the confirmation page.
    assert 'id="confirm-open"' in page and "向 1 个科室的服务对象写入 5 条邀请短信" in page
    assert "我已知道还有 362 个科室没有名单" in page


# ---- a list that comes in after the start -------------------------------------------------


def test_a_list_that_comes_in_while_the_round_is_open_is_invited_until_the_close(app, admin_client, db, campaign):
    upload(db, campaign, PRICE, 12)
    survey, summary = opened(db, campaign, size=5)
    assert summary.invitations == 5 and len(summary.without_list) == 362
    # The liaison's late upload (through the page: the job queue runs at once in tests).
    frame = synth_objects(random.Random(9), 7)
    frame.insert(0, "科室", PLANNING[1])
    frame.insert(0, "单位名称", PLANNING[0])
    response = admin_client.post("/office/import/objects", data={
        "round_kind": "H1", "section": "0", "file": (io.BytesIO(frame.to_csv(index=False).encode()), "late.csv"),
    }, content_type="multipart/form-data", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "这些科室的邀请短信即将" in page, page[:2000]
    late = db.scalars(select(Invitation).join(Invitation.section).where(Invitation.section.has(name=PLANNING[1]))).all()
    assert len(late) == 5  # sampled as the opening would have
    messages = db.scalars(select(OutboxMessage).where(OutboxMessage.id.in_([i.message_id for i in late]))).all()
    assert {m.round_id for m in messages} == {survey.id} and {m.status for m in messages} == {OutboxStatus.pending}
    assert all(m.params["link"].startswith(WORDING.link_base) for m in messages)  # the round's own address
    [entry] = entries(db, "round.invite_late")
    assert entry.detail["invitations"] == 5 and entry.detail["sections"] == 1
    # The sweep finds nothing more to do, and invites nobody twice.
    late_lists_and_ended_rounds(app)
    assert count(db, Invitation) == 10
    # The section's list is now frozen, as an opened section's is.
    with pytest.raises(DomainError, match=f"已向这些科室发出邀请，名单不能再替换：{PLANNING[0]} {PLANNING[1]}"):
        upload(db, campaign, PLANNING, 3, seed=5)
    db.rollback()


def test_the_sweep_invites_a_late_list_whose_task_was_lost(app, db, campaign):
    upload(db, campaign, PRICE, 6)
    survey, _ = opened(db, campaign, size=5)
    upload(db, campaign, PLANNING, 3, seed=2)  # the service alone: no task queued
    assert rounds.rounds_with_late_lists(db) == [survey.id]
    late_lists_and_ended_rounds(app)
    assert count(db, Invitation) == 5 + 3
    assert rounds.rounds_with_late_lists(db) == []


def test_no_list_is_taken_once_the_round_has_ended(db, campaign):
    upload(db, campaign, PRICE, 6)
    survey, _ = opened(db, campaign, size=5)
    rounds.close_round(db, survey)
    db.commit()
    with pytest.raises(DomainError, match="H1 轮调查已结束，不能再上传这一轮的服务对象名单"):
        upload(db, campaign, PLANNING, 3)
    db.rollback()
    assert rounds.rounds_with_late_lists(db) == []


# ---- cancel and set up again ----------------------------------------------------------------


def test_a_round_cancelled_before_any_answer_can_be_set_up_again(app, admin_client, db, campaign):
    upload(db, campaign, PRICE, 8)
    survey, _ = opened(db, campaign, size=5)
    asked = admin_client.post(f"/office/rounds/{survey.id}/cancel").get_data(as_text=True)
    assert "请确认：取消 H1 轮调查" in asked and "尚未发出的 5 条短信将作废" in asked
    assert count(db, SurveyRound, SurveyRound.status == RoundStatus.open) == 1
    unticked = admin_client.post(f"/office/rounds/{survey.id}/cancel", data=CONFIRMED)
    assert unticked.status_code == 422 and count(db, SurveyRound, SurveyRound.status == RoundStatus.open) == 1
    response = admin_client.post(f"/office/rounds/{survey.id}/cancel", data={**CONFIRMED, "acknowledged": "y"})
    assert response.status_code == 303
    db.expire_all()
    assert db.get(SurveyRound, survey.id).status == RoundStatus.cancelled
    voided = db.scalars(select(OutboxMessage)).all()
    assert {m.status for m in voided} == {OutboxStatus.void} and {m.last_error for m in voided} == {"调查已取消，未发送"}
    [entry] = entries(db, "round.cancel")
    assert entry.detail["voided_messages"] == 5 and entry.detail["invitations"] == 5
    # Its links now say so; nothing votes.
    invitation = db.scalars(select(Invitation)).first()
    with pytest.raises(RoundClosedError):
        cast_vote(db, invitation.id, Choice.satisfied, Channel.link)
    db.rollback()
    # The outbox page shows why they never went.
    page = admin_client.get("/office/outbox").get_data(as_text=True)
    assert "已作废" in page and "调查已取消，未发送" in page
    # The same kind again, with a new list for the section (the cancelled invitations go with the old one).
    upload(db, campaign, PRICE, 6, seed=4)
    response = admin_client.post("/office/rounds/", data={
        "kind": "H1", "closes_at": "2099-06-30T18:00", "sample_size": "5", "mode": "link", "reminder_after_hours": "48"})
    assert response.status_code == 303
    again = db.scalar(select(SurveyRound).where(SurveyRound.status == RoundStatus.draft))
    assert again.id != survey.id and again.kind == RoundKind.H1
    rounds.open_round(db, campaign, again, TOKENS, WORDING)
    db.commit()
    assert count(db, Invitation, Invitation.round_id == again.id) == 5
    page = admin_client.get("/office/rounds/").get_data(as_text=True)
    assert page.count("已取消") == 1 and "进行中" in page


def test_a_round_with_an_answer_cannot_be_cancelled(db, campaign):
    upload(db, campaign, PRICE, 6)
    survey, _ = opened(db, campaign, size=5)
    invitation = db.scalars(select(Invitation)).first()
    cast_vote(db, invitation.id, Choice.basic, Channel.link)
    db.commit()
    with pytest.raises(DomainError, match="已收到 1 份评价，不能取消"):
        rounds.cancel_round(db, survey)
    db.rollback()
    assert db.get(SurveyRound, survey.id).status == RoundStatus.open


def test_a_cancelled_rounds_stray_answer_never_counts(db, campaign):
    """An answer whose statement began just before the cancel committed can land after
    it (the vote does not lock the round's row): it stays, and counts nowhere."""
    upload(db, campaign, PRICE, 6)
    survey, _ = opened(db, campaign, size=5)
    rounds.cancel_round(db, survey)
    invitation = db.scalars(select(Invitation)).first()
    db.add(Vote(invitation_id=invitation.id, round_id=survey.id, section_id=invitation.section_id,
                choice=Choice.unsatisfied, channel=Channel.link, comment=""))
    db.commit()
    assert rounds.vote_counts(db, campaign).empty


def test_only_one_live_round_of_a_kind_the_database_says_so(db, campaign):
    first = rounds.create_round(db, campaign, RoundKind.H1, CLOSES, 5, now=NOW)
    db.commit()
    db.add(SurveyRound(campaign_id=campaign.id, kind=RoundKind.H1, status=RoundStatus.draft, sample_size=5, seed=1,
                       closes_at=CLOSES))
    with pytest.raises(Exception, match="(?i)unique"):
        db.flush()
    db.rollback()
    rounds.cancel_round(db, db.get(SurveyRound, first.id))
    db.commit()
    rounds.create_round(db, campaign, RoundKind.H1, CLOSES, 5, now=NOW)
    db.commit()
    assert count(db, SurveyRound) == 2


# ---- the SMS worker -------------------------------------------------------------------------


def test_the_worker_sends_nothing_of_a_round_that_closed_or_passed_its_closing_time(app, db, campaign):
    upload(db, campaign, PRICE, 6)
    survey, _ = opened(db, campaign, size=3)
    sessions = app.extensions["pingyi.sessions"]
    # Past its closing time, nobody closed it: nothing is claimed; the sweep voids them.
    sender = Recorder()
    dispatch(sessions, sender, "w1", DispatchSettings(**ANY_TIME), now=lambda: CLOSES + timedelta(minutes=1),
             sleep=lambda s: None)
    assert sender.sent == []
    assert rounds.void_ended(db, now=CLOSES + timedelta(minutes=1)) == 3
    db.commit()
    assert {m.last_error for m in db.scalars(select(OutboxMessage))} == {"调查已截止，未发送"}


def test_a_message_claimed_before_the_close_is_voided_not_sent(app, db, campaign):
    upload(db, campaign, PRICE, 6)
    survey, _ = opened(db, campaign, size=3)
    sessions = app.extensions["pingyi.sessions"]
    with sessions() as session:
        claimed = outbox.claim(session, "w1", NOW, DispatchSettings(**ANY_TIME))
        session.commit()
        assert len(claimed) == 3
    rounds.close_round(db, db.get(SurveyRound, survey.id))  # the close voids only what waits
    db.commit()
    sender = Recorder()
    report = outbox.DispatchReport()
    settings = DispatchSettings(**ANY_TIME)
    with sessions() as session:  # the claimed rows made ready to send: their round is over
        rows = list(session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_([m.id for m in claimed]))))
        ready = outbox.prepare(session, rows, NOW, {None: settings}, settings, report)
        session.commit()
    outbox.send_ready(sessions, sender, "w1", ready, {None: settings}, settings, report, now=lambda: NOW)
    assert ready == [] and sender.sent == [] and report.sent == 0
    db.expire_all()
    assert {m.status for m in db.scalars(select(OutboxMessage))} == {OutboxStatus.void}


def test_messages_of_no_round_still_go(app, db, campaign):
    upload(db, campaign, PRICE, 6)
    opened(db, campaign, size=3)
    outbox.enqueue(db, key="account:1", phone="13800000001", template="invite_link", params={
        "sign": "x", "unit": "u", "section": "s", "date": "d", "matter": "m", "link": "https://p.example.cn/v/1",
        "reply_hint": "", "closes": "c"})
    db.commit()
    sender = Recorder()
    dispatch(app.extensions["pingyi.sessions"], sender, "w1", DispatchSettings(**ANY_TIME),
             now=lambda: CLOSES + timedelta(minutes=1), sleep=lambda s: None)
    assert [m.key for m in sender.sent] == ["account:1"]


def test_the_upload_form_stops_offering_an_ended_round_and_says_why_before_reading_the_file(admin_client, db, campaign):
    upload(db, campaign, PRICE, 6)
    survey, _ = opened(db, campaign, size=5)
    price = db.scalar(select(Invitation.section_id))
    garbage = {"section": "0", "file": (io.BytesIO(b"not,a,list\n"), "bad.csv")}
    # While open: a section already invited is refused by name, before its rows are read.
    response = admin_client.post("/office/import/objects", data={**garbage, "round_kind": "H1", "section": str(price)},
                                 content_type="multipart/form-data")
    assert response.status_code == 422
    assert "已向这些科室发出邀请，名单不能再替换：县发改局 价格科" in response.get_data(as_text=True)
    rounds.close_round(db, db.get(SurveyRound, survey.id))
    db.commit()
    page = admin_client.get("/office/import/objects").get_data(as_text=True)
    assert '<option value="H1"' not in page and '<option value="H2"' in page
    assert "H1 轮调查已结束，不能再上传这一轮的服务对象名单" in page
    garbage = {"section": "0", "file": (io.BytesIO(b"not,a,list\n"), "bad.csv")}
    response = admin_client.post("/office/import/objects", data={**garbage, "round_kind": "H1"},
                                 content_type="multipart/form-data")
    assert response.status_code == 422 and "H1 轮调查已结束" in response.get_data(as_text=True)
    assert 'id="import-errors"' not in response.get_data(as_text=True)  # the file was never read: no row listed
