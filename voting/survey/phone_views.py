"""电话调查: review-office operators call the citizens of open rounds whose invitation
has no vote yet (the SMS failed, or went unanswered) and record the answer: a vote
with channel phone (votes.cast_vote, refused as any door's vote is).

Numbers are masked everywhere (docs/rules.md §4) except on one invitation's page right
after the operator pressed "call" for it: that POST puts the invitation's id in the
operator's session (and the log, without the number), and only then does that page
show the full number.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask import session as web_session
from flask_login import current_user
from sqlalchemy.orm import Session
from wtforms import RadioField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired

from sms.phones import mask_phone
from voting.staff.auth import roles_required
from voting.core.db import get_session
from voting.core.forms import EmptyForm, Form
from voting.survey.models import CallOutcome, Channel, Choice, Invitation
from voting.lists.models import Campaign
from voting.outbox.models import OutboxStatus
from voting.staff.models import Role
from voting.survey import rounds, votes
from voting.survey.votes import AlreadyVotedError
from voting.web.common import current_campaign, query_number

bp = Blueprint("phone", __name__, url_prefix="/office/phone")
log = logging.getLogger(__name__)

CALLERS = (Role.admin, Role.operator)
PER_PAGE = 50
REVEALED = "phone_survey_revealed"  # the Flask session's key: {"user": id, "invitation": id}


class AnswerForm(Form):
    choice = RadioField("被访者的回答", choices=[SelectChoice(c.value, c.label) for c in Choice],
                        validators=[InputRequired("请选择被访者的回答")])


class OutcomeForm(Form):
    outcome = RadioField("未能记录回答的原因", choices=[SelectChoice(o.value, o.label) for o in CallOutcome],
                         validators=[InputRequired("请选择未能记录回答的原因")])


@dataclass(frozen=True)
class Row:
    """One invitation to call, as the list shows it (the phone already masked)."""

    id: int
    unit: str
    section: str
    name: str
    matter: str
    phone: str
    sms: OutboxStatus | None
    last_call: CallOutcome | None
    calls: int


def _page(session: Session, campaign: Campaign, where: rounds.PhoneFilter, page: int) -> tuple[list[Row], int]:
    """One page of the invitations to call (phones masked), and how many in all."""
    listed, total = rounds.unanswered(session, campaign, where, limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    return [Row(r.id, r.unit, r.section, r.name, r.matter, mask_phone(r.phone), r.sms, r.last_call, r.calls)
            for r in listed], total


def _filter() -> rounds.PhoneFilter:
    """The list's filters from the query string (unknown choices are ignored: "all")."""
    sms, call = request.args.get("sms", ""), request.args.get("call", "")
    return rounds.PhoneFilter(unit_id=query_number("unit"), section_id=query_number("section"),
                              sms=sms if sms in rounds.SMS_FILTERS else "",
                              call=call if call in rounds.CALL_FILTERS else "")


def _invitation(invitation_id: int) -> Invitation:
    """The invitation, if it belongs to the campaign the pages work on; 404 otherwise."""
    invitation = rounds.find_invitation(get_session(), invitation_id)
    if invitation is None or invitation.survey_round.campaign_id != current_campaign().id:
        abort(404)
    return invitation


def _revealed(invitation: Invitation) -> bool:
    """Whether this operator pressed "call" for this invitation in this session."""
    return web_session.get(REVEALED) == {"user": current_user.id, "invitation": invitation.id}


@bp.get("/")
@roles_required(*CALLERS)
def index():
    campaign = current_campaign()
    session = get_session()
    where = _filter()
    page = max(query_number("page", 1), 1)
    rows, total = _page(session, campaign, where, page)
    units = rounds.unit_choices(session, campaign)
    # The section picker offers the chosen unit's sections (not all 363 at once).
    sections = rounds.section_choices(session, where.unit_id) if where.unit_id is not None else []
    keep = {"unit": where.unit_id, "section": where.section_id, "sms": where.sms or None, "call": where.call or None}
    return render_template("survey/phone_list.html", rows=rows, total=total, page=page,
                           pages=max(math.ceil(total / PER_PAGE), 1), per_page=PER_PAGE, unit_id=where.unit_id,
                           units=units, sections=sections, where=where, keep=keep, sms_filters=rounds.SMS_FILTERS,
                           call_filters=rounds.CALL_FILTERS, call_form=EmptyForm(formdata=None))


@bp.post("/<int:invitation_id>/call")
@roles_required(*CALLERS)
def call(invitation_id: int):
    """Pressing "call": the next view of this invitation shows its full number. Refused
    once the invitation takes no vote (votes.check_votable)."""
    invitation = _invitation(invitation_id)
    if not EmptyForm().validate_on_submit():  # CSRF (the app's handler answers first when it is on)
        abort(400)
    votes.check_votable(get_session(), invitation)
    web_session[REVEALED] = {"user": current_user.id, "invitation": invitation.id}
    log.info("phone survey: %s opened the number of invitation %s", current_user.username, invitation.id)
    return redirect(url_for(".invitation", invitation_id=invitation.id))


@bp.post("/<int:invitation_id>/unlock")
@roles_required(*CALLERS)
def unlock(invitation_id: int):
    """Lift a code's lock after too many wrong phone digits (code mode), e.g. when the
    citizen calls the office: the code works on the web again."""
    invitation = _invitation(invitation_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    rounds.unlock_code(get_session(), invitation)
    log.info("phone survey: %s unlocked the code of invitation %s", current_user.username, invitation.id)
    flash("评价码已解锁，服务对象可以重新在网页输入评价码。", "info")
    return redirect(url_for(".invitation", invitation_id=invitation.id))


@bp.post("/<int:invitation_id>/outcome")
@roles_required(*CALLERS)
def outcome(invitation_id: int):
    """A call that got no answer: 未接通, 拒访 or 空号, recorded so that the list shows it."""
    invitation = _invitation(invitation_id)
    form = OutcomeForm()
    if not form.validate_on_submit():
        return _render(invitation, AnswerForm(formdata=None), 422, outcome_form=form)
    session = get_session()
    found = CallOutcome(form.outcome.data)
    rounds.record_call(session, invitation, found, current_user)
    web_session.pop(REVEALED, None)
    log.info("phone survey: %s recorded %s for invitation %s", current_user.username, found.value, invitation.id)
    flash(f"已记录：{found.label}（未记录回答）。", "info")
    return redirect(url_for(".index"))


def _render(invitation: Invitation, form: AnswerForm, status: int = 200, outcome_form: OutcomeForm | None = None):
    session = get_session()
    refused = votes.refusal(invitation.survey_round, votes.has_vote(session, invitation))
    answered = isinstance(refused, AlreadyVotedError)
    callable_now = refused is None
    full = callable_now and _revealed(invitation)
    response = make_response(render_template(
        "survey/phone_call.html", invitation=invitation, obj=invitation.service_object, section=invitation.section,
        survey=invitation.survey_round, answered=answered, callable_now=callable_now,
        phone=invitation.phone if full else mask_phone(invitation.phone), revealed=full,
        form=form, call_form=EmptyForm(formdata=None), outcome_form=outcome_form or OutcomeForm(formdata=None),
        calls=rounds.calls_of(session, invitation),
    ), status)
    if full:  # no copy of the number in the browser's cache or a proxy's
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/<int:invitation_id>")
@roles_required(*CALLERS)
def invitation(invitation_id: int):
    return _render(_invitation(invitation_id), AnswerForm(formdata=None))


@bp.post("/<int:invitation_id>")
@roles_required(*CALLERS)
def answer(invitation_id: int):
    invitation = _invitation(invitation_id)
    form = AnswerForm()
    if not form.validate_on_submit():
        return _render(invitation, form, 422)
    choice = Choice(form.choice.data)
    session = get_session()
    votes.cast_vote(session, invitation.id, choice, Channel.phone, operator=current_user)
    web_session.pop(REVEALED, None)
    section = invitation.section
    flash(f"已记录 {section.unit.name} {section.name} 一位服务对象的电话调查回答：{choice.label}。", "info")
    return redirect(url_for(".index"))
