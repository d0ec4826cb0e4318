"""List integrity in the platform (voting/integrity), on SQLite and PostgreSQL: the planted
faults of tests/integrity/support.py each flagged with its evidence and nothing else; the
web votes' network; re-running without duplicates; the office's decisions (a note
required, audited); the page (masked, filtered, refused to liaisons, read by auditors);
the job through the worker; retention."""
from __future__ import annotations

import re

import pandas as pd
import pytest
from sqlalchemy import func, select

from tests.conftest import PASSWORD, login
from tests.integrity.support import RUN, SHARED_IN, plant
from tests.support.web import text
from voting import tasks
from voting.audit.models import AuditEntry
from voting.core.vault import vault_of
from voting.integrity import integrity
from voting.integrity.models import FlagKind, FlagStatus, IntegrityFlag
from voting.jobs import jobs
from voting.jobs.models import Job, JobStatus
from voting.lists.models import ServiceObject
from voting.office import audit_text
from voting.staff.models import Role
from voting.staff import users
from voting.survey.models import Vote
from voting.survey.votes import network_of, vote_network


@pytest.fixture
def planted(db):
    return plant(db)


def flags(db) -> dict[tuple[int, str, str], IntegrityFlag]:
    db.rollback()
    db.expire_all()
    return {(f.section_id, f.round.value, f.kind.value): f for f in db.scalars(select(IntegrityFlag))}


def check(db, planted, actor: str = "admin") -> integrity.Checked:
    campaign = db.merge(planted.campaign)
    done = integrity.run_checks(db, campaign, actor=actor)
    db.commit()
    return done


def expected(db, planted) -> dict[tuple[int, str, str], dict]:
    """Every planted fault's flag and its evidence, worked by hand."""
    s = planted.sections
    burst_network = "网络 " + vote_network(vault_of(db), "203.0.113.10")[:6]
    shared = {"count": 1, "items": [{"phone": "136****3333", "row": 27, "sections": 4, "units": 3}]}
    return {
        (s[("县甲局", "一科")], "H1", "staff_phone"): {"count": 1, "items": [{"phone": "138****2222", "row": 27, "role": "联络员"}]},
        **{(s[key], "H1", "shared_phone"): shared for key in SHARED_IN},
        (s[("县丙局", "二科")], "H1", "copied_list"): {"listed": 25, "last_year": 25, "shared": 25, "percent": 100.0},
        (s[("县丁局", "一科")], "H1", "sequential_run"): {"count": 1, "numbers": 6, "items": [
            {"from": "158****0001", "to": "158****0006", "length": 6, "rows": [27, 28, 29, 30, 31, 32]}]},
        (s[("县乙局", "二科")], "H1", "repeated_name"): {"count": 1, "items": [
            {"name": "张*", "times": 7, "rows": [2, 3, 4, 5, 6, 7, 8]}]},
        (s[("县乙局", "一科")], "H1", "answer_burst"): {"count": 1, "votes": 12, "items": [
            {"network": burst_network, "votes": 12, "from": "2021-06-01T01:00:00+00:00",
             "to": "2021-06-01T01:05:00+00:00", "minutes": 5.0, "choices": {"basic": 2, "satisfied": 10}}]},
    }


# ---- the checks on a planted campaign ------------------------------------------------------------


def test_each_planted_fault_is_flagged_with_its_evidence_and_nothing_else(db, planted):
    done = check(db, planted)
    found = flags(db)
    assert {key: flag.evidence for key, flag in found.items()} == expected(db, planted)
    assert (done.found, done.new) == (9, 9)
    assert done.by_kind == {"staff_phone": 1, "shared_phone": 4, "copied_list": 1, "sequential_run": 1,
                            "repeated_name": 1, "answer_burst": 1}
    assert all(f.status is FlagStatus.open and f.current and f.campaign_id == planted.campaign.id for f in found.values())
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "integrity.check")).one()
    assert entry.detail["objects"] == 7 * 25 + 1 + 4 + 6 and entry.detail["votes"] == 36
    assert entry.detail["last_year"] == 2020


def test_the_evidence_holds_no_full_number(db, planted):
    check(db, planted)
    stored = str([f.evidence for f in flags(db).values()])
    assert [phone for phone in planted.phones if phone in stored] == []
    assert "张三" not in stored and "李工" not in stored


def test_without_last_year_nothing_is_copied(db, planted):
    db.delete(db.merge(planted.earlier))
    db.commit()
    check(db, planted)
    assert not [key for key in flags(db) if key[2] == "copied_list"]


# ---- the web vote's network -----------------------------------------------------------------------


def test_the_network_is_the_24_or_the_48():
    assert network_of("203.0.113.77") == network_of("::ffff:203.0.113.5") == "203.0.113.0/24"
    assert network_of("2001:db8:1234:5678::1") == "2001:db8:1234::/48"
    assert network_of("") is None and network_of("not an address") is None and network_of(None) is None


def test_a_web_vote_stores_its_networks_hash_and_no_address(app, db, campaign):
    from tests.support.citizens import invitations, link_path, open_round

    survey = open_round(app, db, campaign, sections=1, per_section=3)
    listed = invitations(db, survey)
    addresses = ["203.0.113.7", "203.0.113.200", "198.51.100.7"]
    for invitation, address in zip(listed, addresses, strict=True):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        assert client.get(link_path(db, invitation)).status_code == 303
        assert client.post("/v", data={"choice": "satisfied"}).status_code == 303
    db.rollback()
    stored = {v.invitation_id: v.network for v in db.scalars(select(Vote))}
    vault = vault_of(db)
    assert [stored[i.id] for i in listed] == [vote_network(vault, a) for a in addresses]
    assert stored[listed[0].id] == stored[listed[1].id] != stored[listed[2].id]
    assert all(len(n) == 32 and "203" not in n for n in stored.values())


def test_sms_and_phone_votes_have_no_network(app, db, campaign):
    from tests.support.citizens import invitations, open_round
    from voting.survey import votes
    from voting.survey.models import Channel, Choice

    survey = open_round(app, db, campaign, sections=1, per_section=2)
    first, second = invitations(db, survey)
    votes.cast_vote(db, first.id, Choice.satisfied, Channel.sms)
    votes.cast_vote(db, second.id, Choice.basic, Channel.phone)
    db.commit()
    assert db.scalars(select(Vote.network)).all() == [None, None]


# ---- re-running: refreshed, never duplicated, decisions kept -----------------------------------------


def test_running_again_refreshes_without_duplicates(db, planted):
    check(db, planted)
    first = {key: (f.id, f.fingerprint) for key, f in flags(db).items()}
    again = check(db, planted)
    assert {key: (f.id, f.fingerprint) for key, f in flags(db).items()} == first
    assert (again.found, again.new, again.refreshed, again.kept, again.reopened) == (9, 0, 9, 0, 0)
    assert db.scalar(select(func.count()).select_from(IntegrityFlag)) == 9


def _run_object(db, planted, phone: str) -> ServiceObject:
    return next(o for o in db.scalars(select(ServiceObject).where(
        ServiceObject.section_id == planted.sections[("县丁局", "一科")])) if o.phone == phone)


def test_a_decision_stands_while_the_evidence_is_the_same_and_is_set_aside_when_it_changes(db, planted):
    check(db, planted)
    s = planted.sections
    run_key = (s[("县丁局", "一科")], "H1", "sequential_run")
    name_key = (s[("县乙局", "二科")], "H1", "repeated_name")
    found = flags(db)
    campaign = db.merge(planted.campaign)
    integrity.decide(db, campaign, found[run_key].id, FlagStatus.cleared, "同一企业的分机号码，已电话核实", actor="admin")
    integrity.decide(db, campaign, found[name_key].id, FlagStatus.acted, "已责令县乙局重报名单", actor="admin")
    db.commit()
    kept = check(db, planted)
    assert (kept.kept, kept.refreshed, kept.reopened) == (2, 7, 0)
    assert flags(db)[run_key].status is FlagStatus.cleared and flags(db)[run_key].note == "同一企业的分机号码，已电话核实"
    # The run grows by one: the decision is set aside, kept as `previous`.
    planted_run = _run_object(db, planted, RUN[0])
    db.add(ServiceObject(section_id=planted_run.section_id, round=planted_run.round, import_id=planted_run.import_id,
                         name="赵9", phone="15800000007", matter="办理业务", source_row=33))
    db.commit()
    changed = check(db, planted)
    assert (changed.reopened, changed.kept) == (1, 1)
    reopened = flags(db)[run_key]
    assert reopened.status is FlagStatus.open and reopened.note == "" and reopened.decided_by is None
    assert reopened.previous["status"] == "cleared" and reopened.previous["note"] == "同一企业的分机号码，已电话核实"
    assert reopened.evidence["items"][0]["length"] == 7 and reopened.evidence["items"][0]["to"] == "158****0007"


def test_a_fault_gone_removes_its_open_flag_and_keeps_a_decided_one(db, planted):
    check(db, planted)
    s = planted.sections
    run_key = (s[("县丁局", "一科")], "H1", "sequential_run")
    staff_key = (s[("县甲局", "一科")], "H1", "staff_phone")
    staff_flag = flags(db)[staff_key].id
    campaign = db.merge(planted.campaign)
    integrity.decide(db, campaign, staff_flag, FlagStatus.acted, "已从名单中删除", actor="admin")
    db.delete(_run_object(db, planted, RUN[2]))  # the run broken: 2 and 3 numbers
    staff_object = next(o for o in db.scalars(select(ServiceObject).where(ServiceObject.section_id == staff_key[0]))
                        if o.phone == "13811112222")
    db.delete(staff_object)
    db.commit()
    done = check(db, planted)
    assert (done.removed, done.stale, done.found) == (1, 1, 7)
    found = flags(db)
    assert run_key not in found
    assert found[staff_key].current is False and found[staff_key].status is FlagStatus.acted


# ---- decisions -------------------------------------------------------------------------------------


def test_a_decision_needs_a_note_and_a_conclusion(db, planted):
    check(db, planted)
    campaign = db.merge(planted.campaign)
    flag = next(iter(flags(db).values()))
    for status, note, message in ((FlagStatus.cleared, "  ", "请填写核查说明"), (FlagStatus.open, "说明", "只能是"),
                                  (FlagStatus.acted, "长" * 501, "不超过 500 字")):
        with pytest.raises(integrity.DomainError, match=message):
            integrity.decide(db, campaign, flag.id, status, note, actor="admin")
    with pytest.raises(integrity.NotFoundError):
        integrity.decide(db, campaign, 10**6, FlagStatus.cleared, "说明", actor="admin")
    assert db.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "integrity.decide")) == 0


# ---- the page ---------------------------------------------------------------------------------------


def staff_client(app, db, role: Role, unit_id: int | None = None):
    from voting.lists.models import Unit

    name = f"{role.value}1"
    users.create_user(db, name, PASSWORD, role, unit=db.get(Unit, unit_id) if unit_id else None)
    db.commit()
    client = app.test_client()
    assert login(client, name).status_code == 302
    return client


def test_the_office_runs_the_checks_and_reads_the_flags_masked(admin_client, app, db, planted):
    empty = admin_client.get("/office/integrity/")
    assert empty.status_code == 200 and "还没有运行过检查" in text(empty)
    response = admin_client.post("/office/integrity/check")
    assert response.status_code == 303
    job_id = int(re.search(r"/office/jobs/(\d+)", response.headers["Location"]).group(1))
    db.rollback()
    job = db.get(Job, job_id)
    assert (job.kind, job.status, job.result["found"]) == ("integrity_check", JobStatus.done, 9)
    page = text(admin_client.get("/office/integrity/"))
    assert page.count('class="panel flag"') == 9
    for shown in ("138****2222（名单第 27 行，联络员）", "136****3333（名单第 27 行）：4 个科室，3 个单位",
                  "名单 25 人，其中 25 人（100.0%）也在该科室去年同一轮的名单中（去年 25 人）",
                  "158****0001 至 158****0006，6 个连续号码（名单第 27、28、29、30、31、32 行）",
                  "张*：7 次（名单第 2、3、4、5、6、7、8 行）", "2021-06-01 09:00 至 2021-06-01 09:05（5.0 分钟）12 票（基本满意 2，满意 10）"):
        assert shown in page, shown
    assert [phone for phone in planted.phones if phone in page] == []
    assert "张三" not in page and "李工" not in page
    runs = text(admin_client.get("/office/integrity/?kind=sequential_run&status=open"))
    assert runs.count('class="panel flag"') == 1 and "县丁局 · 一科" in runs
    assert "没有符合筛选条件的提示" in text(admin_client.get("/office/integrity/?status=cleared"))


@pytest.mark.parametrize("query, name", [("kind=nothing", "kind"), ("status=closed", "status")])
def test_a_bad_filter_is_a_400_naming_it(admin_client, planted, query, name):
    response = admin_client.get(f"/office/integrity/?{query}")
    assert response.status_code == 400 and f"地址中的参数 {name}" in text(response)


def test_a_decision_through_the_page_is_audited_and_changes_no_score(admin_client, app, db, planted):
    from voting.scores import scorecards

    check(db, planted)
    campaign = db.merge(planted.campaign)
    before = scorecards.campaign_scorecard(db, campaign).sections
    flag = flags(db)[(planted.sections[("县丁局", "一科")], "H1", "sequential_run")]
    missing = admin_client.post(f"/office/integrity/{flag.id}/decide", data={"status": "cleared", "note": ""})
    assert missing.status_code == 400 and "请填写核查说明" in text(missing)
    unchosen = admin_client.post(f"/office/integrity/{flag.id}/decide", data={"note": "核实过"})
    assert unchosen.status_code == 400 and "请选择核查结论" in text(unchosen)
    wrong = admin_client.post(f"/office/integrity/{flag.id}/decide", data={"status": "open", "note": "核实过"})
    assert wrong.status_code == 400
    assert flags(db)[flag.section_id, "H1", "sequential_run"].status is FlagStatus.open
    assert admin_client.post("/office/integrity/999999/decide", data={"status": "cleared", "note": "x"}).status_code == 404
    done = admin_client.post(f"/office/integrity/{flag.id}/decide", data={"status": "cleared", "note": "同一企业的分机号码"})
    assert done.status_code == 303
    decided = flags(db)[flag.section_id, "H1", "sequential_run"]
    assert (decided.status, decided.note, decided.decided_by) == (FlagStatus.cleared, "同一企业的分机号码", "admin")
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "integrity.decide")).one()
    sentence = str(audit_text.describe(entry, audit_text.look_up(db, [entry], lambda v: "")))
    assert sentence == "将县丁局 · 一科 H1 轮的“连号”核查提示标记为“已排除”（原为“待核查”）。核查说明：同一企业的分机号码。"
    assert "已排除（admin" in text(admin_client.get("/office/integrity/"))
    pd.testing.assert_frame_equal(scorecards.campaign_scorecard(db, db.merge(planted.campaign)).sections, before)


def test_liaisons_never_see_a_flag_and_auditors_only_read(app, db, planted):
    check(db, planted)
    flag_id = next(iter(flags(db).values())).id
    liaison = staff_client(app, db, Role.liaison, planted.units["县甲局"])
    for method, path in (("GET", "/office/integrity/"), ("POST", "/office/integrity/check"),
                         ("POST", f"/office/integrity/{flag_id}/decide")):
        assert liaison.open(path, method=method, data={"status": "cleared", "note": "x"}).status_code == 403
    assert "名单核查" not in text(liaison.get("/office/"))
    auditor = staff_client(app, db, Role.auditor)
    page = auditor.get("/office/integrity/")
    assert page.status_code == 200 and page.text.count('class="panel flag"') == 9 and "运行检查" not in page.text
    assert auditor.post("/office/integrity/check").status_code == 403
    assert auditor.post(f"/office/integrity/{flag_id}/decide", data={"status": "cleared", "note": "x"}).status_code == 403
    assert app.test_client().get("/office/integrity/").status_code == 302  # to the login
    assert db.scalar(select(func.count()).select_from(IntegrityFlag).where(IntegrityFlag.status != FlagStatus.open)) == 0


# ---- the job through the worker --------------------------------------------------------------------


def test_the_job_runs_in_the_worker_and_again_after_a_restart(app, db, planted):
    job = tasks.integrity_check_job(db, db.merge(planted.campaign), "admin")
    db.commit()
    assert tasks.integrity_check_job(db, db.merge(planted.campaign), "admin").id == job.id  # one at a time
    jobs.execute(app, job.id, worker="test-worker")
    db.rollback()
    finished = db.get(Job, job.id)
    assert finished.status is JobStatus.done and finished.done == finished.total == 5 and finished.result["new"] == 9
    # A worker killed after the commit: the job run again finds the same flags.
    again = tasks.integrity_check(app, {"campaign_id": planted.campaign.id, "actor": "admin"}, jobs.Progress())
    assert (again["found"], again["new"], again["refreshed"]) == (9, 0, 9)
    assert len(flags(db)) == 9


def test_the_job_of_a_deleted_campaign_fails_in_chinese(app, db, planted):
    with pytest.raises(integrity.DomainError, match="没有这个评议活动"):
        tasks.integrity_check(app, {"campaign_id": 10**6, "actor": "admin"}, jobs.Progress())


# ---- retention ---------------------------------------------------------------------------------------


def test_retention_erases_the_networks(db, planted):
    from voting.office import retention

    before = db.scalar(select(func.count()).select_from(Vote).where(Vote.network.is_not(None)))
    erased = retention.erase(db, db.merge(planted.campaign), actor="admin")
    db.commit()
    assert before == 36 and erased.counts["vote_networks"] == 36
    assert db.scalar(select(func.count()).select_from(Vote).where(Vote.network.is_not(None))) == 0
    assert db.scalar(select(func.count()).select_from(Vote)) == 36


def test_a_flag_of_another_campaign_is_404(admin_client, db, planted):
    from voting.lists.models import Section, Unit

    old_section = db.scalar(select(Section.id).join(Unit).where(Unit.campaign_id == planted.earlier.id).limit(1))
    old = IntegrityFlag(campaign_id=planted.earlier.id, section_id=old_section, round="H1", kind=FlagKind.staff_phone,
                        evidence={}, fingerprint="0" * 64)
    db.add(old)
    db.commit()
    response = admin_client.post(f"/office/integrity/{old.id}/decide", data={"status": "cleared", "note": "核查无问题"})
    assert response.status_code == 404 and "没有这条核查提示" in text(response)
    db.rollback()
    assert db.get(IntegrityFlag, old.id).status is FlagStatus.open


def test_the_command_runs_the_same_job(app, db, planted):
    from voting.integrity.commands import COMMANDS

    for command in COMMANDS:  # registered by voting/cli.py in the app; added here if not yet
        if command.name not in app.cli.commands:
            app.cli.add_command(command)
    result = app.test_cli_runner().invoke(args=["integrity", "check", "--campaign", "2021"])
    assert result.exit_code == 0, result.output
    assert "检查完成：发现 9 条提示（新增 9 条" in result.output
    assert len(flags(db)) == 9
    missing = app.test_cli_runner().invoke(args=["integrity", "check", "--campaign", "1999"])
    assert missing.exit_code == 1 and "没有 1999 年度的评议活动" in missing.output
