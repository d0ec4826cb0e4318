"""A campaign with something behind every id a URL can carry: an open survey round
with its invitations and import, an open online round with evaluators, a component
entry made by hand, a second staff account, a background job, a window assessment with
an open month and a record, and a window given to the unit, a rating code (评议二维码) of a section and a
差评 of it with its follow-up case; the values that fill each URL parameter; and, per route, a
browser session of someone who may use it."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from scoring import columns as C
from tests.support.ballots import PASSWORD as EVALUATOR_PASSWORD
from tests.support.ballots import candidates, evaluators, form, log_in, marks, open_online_round
from tests.support.citizens import invitations, link_path, open_round
from tests.security.common import staff_login
from tests.support.web import text
from voting.commitments.models import StaffContact, StaffRole
from voting.components.models import ComponentKind
from voting.online.models import Evaluator
from voting.survey.models import Invitation
from voting.ratings.models import FollowupCase
from voting.jobs.models import Job
from voting.lists.models import ObjectImport, RoundKind
from voting.integrity.models import FlagKind, IntegrityFlag
from voting.staff.models import Role
from voting.components import components
from voting.core.models import utcnow
from voting.ratings import codes as rating_codes
from voting.ratings import ratings as citizen_ratings
from voting.schemes import assessments
from voting.schemes.files import builtin_folder
from voting.staff import users

APP_CSRF = "页面已过期或表单校验失败（CSRF），请刷新页面后重新提交。"
CITIZEN_CSRF = "页面已过期或校验未通过，请重新点击短信中的链接（或重新输入评价码）后再提交。"
VERDICT_CSRF = "页面已过期，请重新点击短信中的链接后再评价。"
RATING_CSRF = "页面已过期，请重新扫描窗口张贴的二维码。"
EVALUATOR_CSRF = "页面已过期，请重新输入账号和密码登录。"
BALLOT_CSRF = "页面已过期或校验未通过，请刷新页面后重新提交。"
TWILIO = ("/sms/inbound", "/sms/status")
# The mainland providers' pushes: no form token either, the secret in the address instead.
PUSHES = ("/sms/<provider>/<secret>/reply", "/sms/<provider>/<secret>/report")
ASSESSMENT_PERIOD = "2023-03"  # the window assessment's open month (Genhe's scheme)
ASSESSMENTS = "/office/assessments/<int:assessment_id>/periods/<label>"


@dataclass
class World:
    campaign_id: int
    survey_id: int
    online_id: int
    invitations: list[Invitation]
    evaluator_ids: list[int]
    evaluator_logins: list[str]
    import_id: int
    entry_id: int
    section_id: int
    unit_id: int
    user_id: int
    job_id: int
    ballot: dict[str, str]
    assessment_id: int
    record_id: int
    entity_id: int
    code_id: int
    case_id: int
    rating_id: int  # the 差评's rating: a complaint of the section (voting/ratings/complaints.py)
    flag_id: int = 0  # a list-integrity flag of the section (voting/integrity)
    contact_id: int = 0  # a person of the unit's 附件5 (voting/commitments)

    def params(self, db) -> dict[str, object]:
        return {
            "kind": ComponentKind.platform.value, "entry_id": self.entry_id, "import_id": self.import_id,
            "evaluator_id": self.evaluator_ids[0], "invitation_id": self.invitations[0].id,
            "round_id": self.survey_id, "section_id": self.section_id, "unit_id": self.unit_id,
            "user_id": self.user_id, "job_id": self.job_id, "year": 2021, "round_kind": "H1",
            "token": link_path(db, self.invitations[0]).removeprefix("/v/"), "filename": "seen.js",
            "provider": "aliyun", "secret": "s" * 40,
            "assessment_id": self.assessment_id, "label": ASSESSMENT_PERIOD, "record_id": self.record_id,
            "entity_id": self.entity_id, "code_id": self.code_id, "case_id": self.case_id,
            "rating_id": self.rating_id, "contact_id": self.contact_id,
            "flag_id": self.flag_id,
        }


def build(app, db, campaign, admin) -> World:
    survey = open_round(app, db, campaign)
    online = open_online_round(db, campaign)
    listed = invitations(db, survey)
    section_id = listed[0].section_id
    entry = components.add_entry(db, campaign, ComponentKind.platform, section_id,
                                 {"platform": C.HOTLINE, "item": C.CONDUCT, "deduction": 4.0, "role": C.LEAD}, admin)
    operator = users.create_user(db, "operator1", "operator password", Role.operator)
    job = Job(kind="open_round", params={"round_id": survey.id}, title="开始调查", campaign_id=campaign.id)
    db.add(job)
    assessment = assessments.create_assessment(db, "根河月度考核", builtin="genhe", actor="admin")
    assessments.import_entities(db, assessment, (builtin_folder() / "genhe" / "entities.csv").read_bytes(),
                                "entities.csv", "admin")
    month = assessments.open_period(db, assessment, ASSESSMENT_PERIOD, "admin")
    record = assessments.add_record(db, assessment, month, assessments.RecordInput("公安局窗口", "leader_duty"), "admin")
    window = assessments.entities(db, assessment)[0]
    assessments.set_unit(db, assessment, window, listed[0].section.unit, "admin")
    code = rating_codes.issue(db, actor="admin", section_id=section_id)
    poor = citizen_ratings.submit_rating(db, code, 1, ["attitude"], "态度不好。", phone="13812345678", device="w" * 20,
                                         network="203.0.113.9", now=utcnow())
    contact = StaffContact(unit_id=listed[0].section.unit_id, section_id=section_id, role=StaffRole.head, name="张科长",
                           post="科长", phone="13812345670")
    db.add(contact)
    flag = IntegrityFlag(campaign_id=campaign.id, section_id=section_id, round=RoundKind.H1, kind=FlagKind.repeated_name,
                         evidence={"count": 1, "items": [{"name": "张*", "times": 5, "rows": [2, 3, 4, 5, 6]}]},
                         fingerprint="0" * 64)
    db.add(flag)
    db.commit()
    pool = evaluators(db, online)
    return World(
        campaign_id=campaign.id, survey_id=survey.id, online_id=online.id, invitations=listed,
        evaluator_ids=[e.id for e in pool], evaluator_logins=[e.login for e in pool],
        import_id=db.scalar(select(ObjectImport.id).where(ObjectImport.campaign_id == campaign.id)),
        entry_id=entry.id, section_id=section_id, unit_id=listed[0].section.unit_id, user_id=operator.id,
        job_id=job.id, ballot=form(marks(candidates(db, online))), assessment_id=assessment.id, record_id=record.id,
        entity_id=window.id, code_id=code.id,
        case_id=db.scalar(select(FollowupCase.id).where(FollowupCase.rating_id == poor.rating_id)),
        rating_id=poor.rating_id, contact_id=contact.id,
        flag_id=flag.id,
    )


def post_rules(app) -> list:
    return sorted((r for r in app.url_map.iter_rules() if "POST" in r.methods), key=lambda r: r.rule)


def url_of(app, rule, params: dict, method: str = "POST") -> str:
    """The rule's path with every parameter filled from `params` (a KeyError names a
    parameter this battery does not know yet)."""
    return app.url_map.bind("localhost").build(rule.endpoint, {name: params[name] for name in rule.arguments},
                                               method=method)


def who(rule: str) -> str:
    if rule.startswith("/office") or rule == "/logout":
        return "admin"
    if rule in ("/v", "/v/seen"):
        return "citizen"
    if rule in ("/e/ballot", "/e/logout"):
        return "evaluator"
    return "anonymous"


def entry_page(rule: str) -> str:
    """The page whose form sends to `rule` (it puts the form token in the session)."""
    return {"/login": "/login", "/c": "/c", "/e/login": "/e/login", "/receipt": "/receipt", "/v": "/v",
            "/v/seen": "/v", "/e/ballot": "/e/ballot", "/e/logout": "/e/ballot"}.get(
        rule, "/office/users/" if who(rule) == "admin" else "/login")


def session_for(app, db, world: World, rule: str, n: int = 0):
    """The n-th browser of someone who may use `rule`, after it loaded the form's page."""
    client = app.test_client()
    role = who(rule)
    if role == "admin":
        staff_login(client, "admin")
    elif role == "citizen":
        assert client.get(link_path(db, world.invitations[n])).status_code == 303
    elif role == "evaluator":
        log_in(client, db.get(Evaluator, world.evaluator_ids[n]))
    page = client.get(entry_page(rule))
    assert page.status_code == 200, (rule, page.status_code)
    return client, text(page)


def form_for(world: World, rule: str) -> dict:
    """What the form would send, so that only the token is missing."""
    return {
        "/login": {"username": "admin", "password": "correct horse battery"},
        "/e/login": {"login": world.evaluator_logins[0], "password": EVALUATOR_PASSWORD},
        "/e/ballot": world.ballot,
        "/v": {"choice": "satisfied", "comment": "很好"},
        "/c": {"code": "ABCDEFGH", "phone_tail": "1234"},
        "/receipt": {"code": "2345 6789 ABCD EFGH"},
        "/office/users/": {"username": "newuser", "role": "operator", "unit": "0"},
        "/office/campaigns": {"year": "2022"},
        "/office/rounds/": {"kind": "H2", "closes_at": "2099-06-30T18:00", "sample_size": "5", "mode": "link",
                            "reminder_after_hours": "48"},
        "/office/online/": {"closes_at": "2099-06-30T18:00"},
        "/office/scores/sections/<int:section_id>/decision": {"result": "satisfied", "reason": "理由"},
        "/office/phone/<int:invitation_id>": {"choice": "satisfied"},
        "/office/components/<kind>/entries": {"section": "1", "platform": C.HOTLINE, "item": C.CONDUCT,
                                              "deduction": "4", "role": C.LEAD},
        "/office/assessments/": {"name": "新的考核", "scheme": "genhe"},
        "/office/assessments/<int:assessment_id>/periods": {"label": "2023-04"},
        f"{ASSESSMENTS}/records": {"entity": "公安局窗口", "indicator": "leader_duty", "count": "1", "note": "带班未到位"},
        f"{ASSESSMENTS}/records/<int:record_id>/delete": {"reason": "录错了窗口"},
        f"{ASSESSMENTS}/close": {"confirmed": "1"},
        f"{ASSESSMENTS}/reopen": {"reason": "补录投诉"},
        "/office/assessments/<int:assessment_id>/entities/<int:entity_id>/unit": {"unit": "0"},
        "/office/ratings/cases": {"place": f"s-{world.section_id}", "case_ref": "PY2021-0001"},
        "/office/ratings/codes/<int:code_id>/revoke": {"reason": "海报损坏", "confirmed": "1"},
        "/office/ratings/codes/<int:code_id>/reissue": {"confirmed": "1"},
        "/office/rating-cases/<int:case_id>/callback": {"finding": "已致电群众核实。"},
        "/office/rating-cases/<int:case_id>/close": {"confirmed": "1"},
        "/office/unit-rating-cases/<int:case_id>/rectify": {"rectification": "已整改。"},
        "/office/ratings/complaints/<int:rating_id>/decide": {"verdict": "valid", "reason": "经核实属实。"},
        "/office/ratings/complaints/<int:rating_id>/undo": {"reason": "复核有误。", "confirmed": "1"},
        "/office/ratings/complaints/<int:rating_id>/unit-text": {"text": "态度不好。"},
        "/r/case/<token>": {"answer": "satisfied"},
        "/r/<token>": {"level": "2", "category_slow": "1", "text": "等了很久", "phone": "13812345678"},
        "/r/<token>/confirm": {"pending": "p1.sealed", "code": "123456", "action": "confirm"},
        "/office/integrity/<int:flag_id>/decide": {"status": "cleared", "note": "核查无问题"},
    }.get(rule, {})


def csrf_message(rule: str) -> str:
    if rule in ("/v", "/v/seen", "/c"):
        return CITIZEN_CSRF
    if rule in ("/e/login", "/e/logout"):
        return EVALUATOR_CSRF
    if rule in ("/e/ballot", "/receipt"):
        return BALLOT_CSRF
    if rule == "/r/case/<token>":
        return VERDICT_CSRF
    if rule in ("/r/<token>", "/r/<token>/confirm"):
        return RATING_CSRF
    return APP_CSRF
