"""A survey round sent through each mainland provider end to end (docs/rules.md §4.15):
the app configured from the environment as a county would (PINGYI_SMS_SENDER and the
provider's variables), the provider's official SDK talking to its loopback fake
(tests/support/fake_aliyun.py, fake_tencent.py: signatures and fields checked), the
invitations dispatched in the provider's calls, the fake pushing its delivery receipts
and the citizens' replies over HTTP to the app served on a real socket, and each reply
counted as a vote, once per invitation, a replayed push changing nothing."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from tests.conftest import make_app

from tests.support.citizens import invitations, open_round, votes
from tests.support.mainland import ANY_TIME, PER_SECTION, SECRET, SIGN
from tests.support.mainland import provider  # noqa: F401 - the fixture
from voting import sms_sender
from voting.outbox.models import OutboxMessage, OutboxStatus
from voting.outbox.outbox import DispatchSettings, dispatch
from voting.schema import Base
from voting.survey.models import Channel, InviteMode

@pytest.fixture
def app_config(provider):
    return {"SMS_SIGN": SIGN, "SMS_ENV": provider.env}


def _push(url: str, items) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=json.dumps(items, ensure_ascii=False).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        return answer.status, answer.read()


def _messages(db) -> list[OutboxMessage]:
    db.rollback()
    return list(db.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


@pytest.mark.parametrize("parallel", [1, 4])
def test_a_round_goes_out_through_the_provider_and_comes_back_as_votes(app, db, campaign, provider, live_server,
                                                                       parallel):
    assert sms_sender(app).name == provider.name
    survey = open_round(app, db, campaign, sections=2, per_section=PER_SECTION, mode=InviteMode.code)
    invited = invitations(db, survey)
    assert len(invited) == 2 * PER_SECTION
    codes = {invitation.phone: invitation.code for invitation in invited}

    report = dispatch(app.extensions["pingyi.sessions"], sms_sender(app), "w1",
                      DispatchSettings(**ANY_TIME, parallel=parallel), sleep=lambda s: None)
    assert (report.sent, report.failed, report.held, report.retried) == (len(invited), 0, 0, 0)

    # Each citizen got the registered template with their own code, once.
    accepted = provider.accepted()
    assert Counter(phone for phone, _ in accepted) == Counter({phone: 1 for phone in codes})
    assert all(values["code"] == codes[phone] for phone, values in accepted)
    if provider.name == "aliyun":
        # Their own codes: SendBatchSms calls of at most 100 numbers each.
        assert provider.send_calls() == 3 and len(provider.fake.calls("SendBatchSms")) == 3
    else:
        # Tencent shares one set of values among a call's numbers: one call each.
        assert provider.send_calls() == len(invited)
    messages = _messages(db)
    assert {m.status for m in messages} == {OutboxStatus.sent}
    assert {m.provider for m in messages} == {provider.name} and all(m.provider_id for m in messages)

    # Receipts pushed to the platform: one number undelivered, the rest delivered.
    unlucky = sorted(codes)[0]
    base = f"{live_server}/sms/{provider.name}/{SECRET}"
    if provider.name == "aliyun":
        status, _ = provider.fake.push_reports(base + "/report", delivered=[p for p in codes if p != unlucky],
                                               failed={unlucky: "MK:0001"})
    else:
        items = provider.fake.report_items(failed={unlucky: "MK:0001"})
        status, _ = _push(base + "/report", items)
        assert _push(base + "/report", items)[0] == 200  # the same push again changes nothing
    assert status == 200
    messages = _messages(db)
    statuses = Counter(m.status for m in messages)
    assert statuses == Counter({OutboxStatus.delivered: len(invited) - 1, OutboxStatus.undelivered: 1})
    (failed,) = [m for m in messages if m.status == OutboxStatus.undelivered]
    assert failed.phone == unlucky and failed.delivery_error.startswith("MK:0001")

    # Replies pushed: each a vote; a second reply and a replayed push change nothing.
    voters = sorted(codes)[1:11]
    for number, phone in enumerate(voters):
        choice = "123"[number % 3]
        assert provider.fake.push_reply(base + "/reply", phone, choice)[0] == 200
    assert provider.fake.push_reply(base + "/reply", voters[0], "3")[0] == 200  # changes nothing
    cast = votes(db)
    assert len(cast) == len(voters) and {v.channel for v in cast} == {Channel.sms}
    by_invitation = {i.id: i.phone for i in invited}
    assert sorted(by_invitation[v.invitation_id] for v in cast) == voters
    assert [v.choice.value for v in sorted(cast, key=lambda v: voters.index(by_invitation[v.invitation_id]))] == [
        ["satisfied", "basic", "unsatisfied"][n % 3] for n in range(len(voters))]


def test_a_push_with_the_wrong_secret_or_unreadable_changes_nothing(app, db, campaign, provider, live_server):
    open_round(app, db, campaign, sections=1, per_section=3, mode=InviteMode.code)
    dispatch(app.extensions["pingyi.sessions"], sms_sender(app), "w1", DispatchSettings(**ANY_TIME),
             sleep=lambda s: None)
    phone = provider.accepted()[0][0]
    wrong = f"{live_server}/sms/{provider.name}/{'y' * 40}/reply"
    assert provider.fake.push_reply(wrong, phone, "1")[0] == 404
    with pytest.raises(urllib.error.HTTPError) as unreadable:
        _push(f"{live_server}/sms/{provider.name}/{SECRET}/reply", [{"nothing": "here"}])
    assert unreadable.value.code == 400
    assert "推送内容无法读取" in json.loads(unreadable.value.read())["error"]
    assert votes(db) == []
    assert provider.fake.push_reply(f"{live_server}/sms/{provider.name}/{SECRET}/reply", phone, "1")[0] == 200
    assert len(votes(db)) == 1  # the right address and a readable push: the vote counts


def test_pingyi_sms_pull_fetches_what_was_not_pushed(app, db, campaign, provider, runner):
    open_round(app, db, campaign, sections=1, per_section=4, mode=InviteMode.code)
    dispatch(app.extensions["pingyi.sessions"], sms_sender(app), "w1", DispatchSettings(**ANY_TIME),
             sleep=lambda s: None)
    phones = sorted(phone for phone, _ in provider.accepted())
    if provider.name == "tencent":
        provider.fake.queue_reports(failed={phones[0]: "MK:0005"})
        provider.fake.queue_reply(phones[1], "2")
    else:
        provider.fake.set_state(phones[0], delivered=False, err_code="MK:0005")
        for phone in phones[1:]:
            provider.fake.set_state(phone, delivered=True)
    result = runner.invoke(args=["sms", "pull", "--after", "0"])
    assert result.exit_code == 0, result.output
    statuses = {m.phone: m.status for m in _messages(db)}
    assert statuses[phones[0]] == OutboxStatus.undelivered
    assert all(statuses[phone] == OutboxStatus.delivered for phone in phones[1:])
    if provider.name == "tencent":
        assert "计入评价 1" in result.output and len(votes(db)) == 1
        # Each item is handed over once: a second pull finds nothing and changes nothing.
        again = runner.invoke(args=["sms", "pull"])
        assert again.exit_code == 0 and "送达回执" not in again.output and len(votes(db)) == 1
    else:
        assert "已向阿里云查询 4 条" in result.output
        # Messages with their receipt are not asked about again.
        again = runner.invoke(args=["sms", "pull", "--after", "0"])
        assert "已向阿里云查询 0 条" in again.output


def test_pingyi_sms_test_send_prints_the_providers_answer(app, provider, runner):
    result = runner.invoke(args=["sms", "test-send", "13812345678", "--kind", "invitation"])
    assert result.exit_code == 0, result.output
    assert "已交给服务商" in result.output and "138****5678" in result.output and "13812345678" not in result.output
    ((phone, values),) = provider.accepted()
    assert phone == "13812345678" and set(values) == {"unit", "section", "code", "closes"}
    # A kind with no registered template: not sent, and the answer names the setting.
    refused = runner.invoke(args=["sms", "test-send", "13812345678", "--kind", "account"])
    assert refused.exit_code == 1 and "未发出" in refused.output and "PINGYI_SMS_TEMPLATE_ACCOUNT" in refused.output
    assert len(provider.accepted()) == 1
    bad = runner.invoke(args=["sms", "test-send", "12345", "--kind", "invitation"])
    assert bad.exit_code == 2 and "PHONE" in bad.output


def test_pushes_from_outside_the_providers_networks_are_refused(provider, database_url, tmp_path):
    """The app of this test's own: the callback networks set before it starts."""
    env = {**provider.env, "PINGYI_SMS_CALLBACK_NETWORKS": "203.0.113.0/24, 2001:db8::/32"}
    app = make_app(database_url, tmp_path, SMS_SIGN=SIGN, SMS_ENV=env)
    Base.metadata.create_all(app.extensions["pingyi.engine"])
    client = app.test_client()
    url = f"/sms/{provider.name}/{SECRET}/report"
    assert client.post(url, data=b"[]", environ_base={"REMOTE_ADDR": "198.51.100.7"}).status_code == 403
    assert client.post(url, data=b"[]", environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 200
    assert client.post(f"/sms/{provider.name}/wrong/report", data=b"[]",
                       environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 404
    assert client.post("/sms/yunpian/" + SECRET + "/report", data=b"[]").status_code == 404
    app.extensions["pingyi.engine"].dispose()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(
    st.binary(max_size=300),
    st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                 lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=6),
                 max_leaves=20).map(lambda value: json.dumps(value, ensure_ascii=False).encode()),
    st.lists(st.fixed_dictionaries({}, optional={
        "phone_number": st.text(max_size=16), "mobile": st.text(max_size=16), "content": st.text(max_size=10),
        "text": st.text(max_size=10), "biz_id": st.text(max_size=10), "sid": st.text(max_size=10),
        "success": st.booleans(), "report_status": st.sampled_from(["SUCCESS", "FAIL", "x"]),
        "sequence_id": st.integers(), "time": st.integers(), "nationcode": st.text(max_size=4),
    }), max_size=3).map(lambda value: json.dumps(value, ensure_ascii=False).encode()),
), kind=st.sampled_from(["report", "reply"]))
def test_no_push_breaks_the_callbacks(app, client, db, provider, body, kind):
    """Whatever arrives at a callback: 200 (read; nothing of ours matched) or 400 with a
    Chinese message, never a 500, and no vote or message changed."""
    answer = client.post(f"/sms/{provider.name}/{SECRET}/{kind}", data=body,
                         headers={"Content-Type": "application/json"})
    assert answer.status_code in (200, 400), answer.status_code
    if answer.status_code == 400:
        assert answer.get_json()["error"].startswith("推送内容无法读取：")
    assert votes(db) == [] and _messages(db) == []
