"""窗口考核结果: a unit liaison's pages of the window assessments (voting/schemes/assessments.py),
for the entities the office gave to the liaison's unit (voting/schemes/views.py, 单位).

- /office/window-results/: the assessments with at least one entity of the unit, each
  with those entities and its periods (未结束 while a period's results can still change);
- /office/window-results/<id>/periods/<label>: per entity of the unit, its total, its
  rank within its group (第3名／共11个), each module's points, the veto and the flags,
  and every item that made the score, as the office's period page explains them.

Nothing of the other entities is shown: not their names, scores or records (only how
many the group ranks). Another unit's assessment is 403, an unknown one 404; the
office's pages (/office/assessments/) stay closed to liaisons, and these to the office.
Pages only: a liaison changes nothing here.
"""
from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_login import current_user

from scoring.schemes.output import period_text, title
from scoring.schemes.scheme import KINDS
from voting.core.db import get_session
from voting.core.errors import DomainError, NotFoundError
from voting.schemes import assessments
from voting.schemes.models import AssessedEntity, Assessment
from voting.schemes.views import ranking
from voting.staff.auth import roles_required
from voting.staff.models import Role

bp = Blueprint("window_results", __name__, url_prefix="/office/window-results")


def _own(assessment_id: int) -> tuple[Assessment, list[AssessedEntity]]:
    """The assessment and the liaison's unit's entities in it: 404 for an unknown
    assessment, 403 for one without any."""
    session = get_session()
    found = assessments.find_assessment(session, assessment_id)
    if found is None:
        raise NotFoundError("没有这个考核：它可能已被删除，或链接有误。")
    own = assessments.unit_entities(session, found, current_user.unit_id) if current_user.unit_id is not None else []
    if not own:
        abort(403)
    return found, own


def _place(member: dict, size: int) -> str:
    return f"{'并列' if member['tied'] else ''}第{member['place']}名／共{size}个"


@bp.get("/")
@roles_required(Role.liaison)
def index():
    """The assessments with entities of the liaison's unit, those entities and the periods."""
    session = get_session()
    listed = []
    for assessment, own in (assessments.unit_assessments(session, current_user.unit_id)
                            if current_user.unit_id is not None else []):
        scheme = assessments.scheme_of(assessment)
        every = assessments.periods(session, assessment)
        listed.append({
            "assessment": assessment, "scheme": scheme.name,
            "entities": [{"name": e.name, "group": scheme.group_name(e.group_id), "kind": KINDS.get(e.kind, e.kind)}
                         for e in own],
            "periods": [{"label": p.label, "text": period_text(p.label),
                         "finished": assessments.finished(assessment, p, every)} for p in reversed(every)],
        })
    return render_template("schemes/unit_index.html", listed=listed)


@bp.get("/<int:assessment_id>/periods/<label>")
@roles_required(Role.liaison)
def period(assessment_id: int, label: str):
    """The unit's entities' results in the period, and nothing of the others'."""
    assessment, own = _own(assessment_id)
    session = get_session()
    found = assessments.find_period(session, assessment, label)
    if found is None:
        raise NotFoundError(f"考核“{assessment.name}”没有这个期间。")
    scheme = assessments.scheme_of(assessment)
    problem, heading, cards = None, f"{period_text(found.label)}{scheme.name}", []
    try:
        result = assessments.results(session, assessment, found)
    except DomainError as error:
        problem = str(error)
    else:
        one = result.period(found.label)
        heading = title(one, found.label)
        members = {member["entity"]: (group, member) for group in ranking(one) for member in group["members"]}
        for entity in own:
            if entity.name not in members:
                continue
            group, member = members[entity.name]
            cards.append({**member, "id": entity.id, "group": group["name"], "groups": len(scheme.groups),
                          "standing": _place(member, len(group["members"]))})
    return render_template(
        "schemes/unit_period.html", assessment=assessment, period=found, shown_label=period_text(found.label),
        heading=heading, problem=problem, cards=cards, modules=[m.name for m in scheme.modules],
        rolled=assessments.is_rolled_up(assessment, found),
        finished=assessments.finished(assessment, found, assessments.periods(session, assessment)))
