"""The Alibaba Cloud SMS sender (sms/aliyun.py) for real: the official SDK against a loopback
fake of the Dysmsapi endpoint that checks the signature, the fields and the limits
(tests/support/fake_aliyun.py), and the readers of Alibaba's SmsReport and SmsUp pushes."""
from __future__ import annotations

import json
import logging
import math
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from darabonba.exceptions import RetryError, UnretryableException
from darabonba.policy.retry import RetryPolicyContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sms import aliyun
from sms.aliyun import CALLBACK_OK, AliyunSender, parse_replies, parse_reports
from sms.mainland import (
    ACCOUNT,
    ACCOUNT_REMINDER,
    INVITATION,
    LIAISON,
    REMINDER,
    CallbackError,
    Receipt,
    Reply,
    TemplateSpec,
    template_variable,
)
from sms.senders import (
    HeldSendError,
    Message,
    PermanentSendError,
    SendError,
    Sent,
    TransientSendError,
    UncertainSendError,
)
from tests.support.fake_aliyun import ACCESS_KEY_ID, ACCESS_KEY_SECRET, SIGN_NAME, FakeAliyun, numbers

SPECS = {
    INVITATION: "SMS_485930001:unit,section,address,code,closes",
    REMINDER: "SMS_485930002:unit,section,address,code,closes",
    ACCOUNT: "SMS_485930003:year,closes,link,login,password",
    ACCOUNT_REMINDER: "SMS_485930004:year,closes,link",
    LIAISON: "SMS_485930005:unit,what,missing,due,link",
}
ADDRESS = "https://pingyi.example/c"
LINK = "https://pingyi.example/o"


def templates(**changes: str | None) -> dict[str, TemplateSpec]:
    texts = {**SPECS, **changes}
    return {kind: TemplateSpec.parse(template_variable(kind), text) for kind, text in texts.items() if text}


def invitation(phone: str, code: str = "K7M4Q9PX", **params: str) -> Message:
    values = {"sign": SIGN_NAME, "date": "11月3日", "unit": "县财政局", "section": "预算科", "matter": "非税收入缴款",
              "address": ADDRESS, "code": code, "reply_hint": f"（多条邀请时请附评价码 {code}）", "closes": "12月10日"}
    values.update(params)
    return Message(to=phone, template="invite_code", params=values, text=f"【{SIGN_NAME}】…{code}…",
                   key=f"invite:2021:{phone}:{code}")


def evaluator_reminder(phone: str) -> Message:
    params = {"sign": SIGN_NAME, "year": "2021", "closes": "11月30日", "link": LINK, "login": "PY" + phone[-4:]}
    return Message(to=phone, template="online_reminder", params=params, text="…", key=f"remind:{phone}")


def secrets_of(messages: list[Message]) -> set[str]:
    """What must never reach a log line or a reason: the numbers and the template values."""
    found = {m.to for m in messages}
    for m in messages:
        found |= {value for name, value in m.params.items() if name in ("code", "link", "login", "password")}
    return found


def assert_quiet(texts: list[str], messages: list[Message]) -> None:
    for text in texts:
        for secret in secrets_of(messages):
            assert secret not in text, (secret, text)


def logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records]


def reasons(outcomes: list) -> list[str]:
    return [outcome.reason for outcome in outcomes if isinstance(outcome, SendError)]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAliyun]:
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "DEBUG"):
        monkeypatch.delenv(name, raising=False)
    with FakeAliyun() as running:
        yield running


def sender_for(fake: FakeAliyun, **changes) -> AliyunSender:
    options = {"sign_name": SIGN_NAME, "templates": templates(), "endpoint": fake.endpoint, "protocol": "http",
               "timeout": 5.0}
    key_id = changes.pop("access_key_id", ACCESS_KEY_ID)
    secret = changes.pop("access_key_secret", ACCESS_KEY_SECRET)
    options.update(changes)
    return AliyunSender(key_id, secret, **options)


@pytest.fixture
def sender(fake: FakeAliyun) -> AliyunSender:
    return sender_for(fake)


@pytest.fixture(autouse=True)
def debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    """Every test logs at DEBUG, the HTTP library's request lines included."""
    caplog.set_level(logging.DEBUG)


# -- the requests ---------------------------------------------------------------------------


def test_identical_values_go_in_one_send_sms_call_signed_and_filled_as_documented(fake, sender, caplog):
    messages = [evaluator_reminder(phone) for phone in numbers(3)]
    messages = [Message(m.to, m.template, {**m.params, "login": "same"}, m.text, m.key) for m in messages]
    assert sender.calls(messages) == [messages]

    outcomes = sender.send_batch(messages)

    [call] = fake.calls()
    assert (call.action, call.status, call.code) == ("SendSms", 200, "OK")
    assert call.params["PhoneNumbers"] == ",".join(m.to for m in messages)
    assert call.params["SignName"] == SIGN_NAME
    assert call.params["TemplateCode"] == "SMS_485930004"
    # The registered variables only: never `sign` (Alibaba adds the signature) nor `login`.
    assert json.loads(call.params["TemplateParam"]) == {"year": "2021", "closes": "11月30日", "link": LINK}
    assert call.headers["x-acs-action"] == "SendSms" and call.headers["x-acs-version"] == "2017-05-25"
    assert call.headers["authorization"].startswith(f"ACS3-HMAC-SHA256 Credential={ACCESS_KEY_ID},SignedHeaders=")
    biz_id = fake.accepted[0].biz_id
    assert outcomes == [Sent(provider_id=biz_id, status="accepted")] * 3
    assert [(a.phone, a.biz_id) for a in fake.accepted] == [(m.to, biz_id) for m in messages]
    assert_quiet(logged(caplog), messages)


def test_values_of_their_own_go_in_one_send_batch_sms_call_each_sent_with_its_bizid(fake, sender, caplog):
    messages = [invitation(phone, code) for phone, code in zip(numbers(3), ("K7M4Q9PA", "K7M4Q9PB", "K7M4Q9PC"))]
    assert sender.calls(messages) == [messages]

    outcomes = sender.send_batch(messages)

    [call] = fake.calls()
    assert (call.action, call.code) == ("SendBatchSms", "OK")
    assert json.loads(call.params["PhoneNumberJson"]) == [m.to for m in messages]
    assert json.loads(call.params["SignNameJson"]) == [SIGN_NAME] * 3
    assert call.params["TemplateCode"] == "SMS_485930001"
    assert [p["code"] for p in json.loads(call.params["TemplateParamJson"])] == ["K7M4Q9PA", "K7M4Q9PB", "K7M4Q9PC"]
    biz_id = fake.accepted[0].biz_id
    assert outcomes == [Sent(provider_id=biz_id, status="accepted")] * 3
    assert [(a.phone, a.params["code"], a.biz_id) for a in fake.accepted] == [
        (m.to, m.params["code"], biz_id) for m in messages]
    assert_quiet(logged(caplog), messages)


def test_a_lone_message_goes_as_send_sms(fake, sender):
    [outcome] = sender.send_batch([invitation("13912345678")])
    assert isinstance(outcome, Sent)
    assert [call.action for call in fake.calls()] == ["SendSms"]


def test_calls_keep_to_the_documented_limits_and_never_hold_a_number_twice(fake, sender):
    same = [evaluator_reminder(phone) for phone in numbers(1001)]
    same = [Message(m.to, m.template, {**m.params, "login": "x"}, m.text, m.key) for m in same]
    calls = sender.calls(same)
    assert [len(call) for call in calls] == [1000, 1]
    assert [o for call in calls for o in sender.send_batch(call) if not isinstance(o, Sent)] == []
    assert [(c.action, len(c.params["PhoneNumbers"].split(","))) for c in fake.calls()] == [("SendSms", 1000),
                                                                                           ("SendSms", 1)]

    own = [invitation(phone, f"K7M4{n:04d}") for n, phone in enumerate(numbers(101, start=5000))]
    assert [len(call) for call in sender.calls(own)] == [100, 1]

    twice = [invitation("13912345678", "K7M4Q9PA"), invitation("13912345678", "K7M4Q9PB"), invitation("13912345679")]
    assert [[m.params["code"] for m in call] for call in sender.calls(twice)] == [["K7M4Q9PA", "K7M4Q9PX"],
                                                                                  ["K7M4Q9PB"]]


def test_outcomes_follow_the_order_of_a_mixed_group(fake):
    sender = sender_for(fake, templates=templates(**{REMINDER: None}))
    messages = [invitation("13912345670", "K7M4Q9PA"), Message("13912345671", "reminder_code", {}, "…", "r1"),
                evaluator_reminder("13912345672"), invitation("13912345673", "K7M4Q9PB")]
    outcomes = sender.send_batch(messages)
    assert [type(o).__name__ for o in outcomes] == ["Sent", "PermanentSendError", "Sent", "Sent"]
    assert outcomes[0].provider_id == outcomes[3].provider_id != outcomes[2].provider_id
    assert {c.action for c in fake.calls()} == {"SendSms", "SendBatchSms"}


# -- what cannot be sent --------------------------------------------------------------------


def test_a_kind_without_a_template_fails_naming_the_variable_without_a_call(fake, caplog):
    sender = sender_for(fake, templates=templates(**{INVITATION: None}))
    message = invitation("13912345678")
    assert sender.calls([message]) == [[message]]
    [outcome] = sender.send_batch([message])
    assert isinstance(outcome, PermanentSendError)
    assert "PINGYI_SMS_TEMPLATE_INVITATION" in outcome.reason and "调查邀请" in outcome.reason
    assert fake.calls() == []


def test_a_missing_parameter_fails_naming_it_without_a_call(fake):
    sender = sender_for(fake, templates=templates(**{INVITATION: "SMS_485930001:unit,section,address,code,dept=place"}))
    [outcome] = sender.send_batch([invitation("13912345678")])
    assert isinstance(outcome, PermanentSendError)
    assert "place" in outcome.reason and "PINGYI_SMS_TEMPLATE_INVITATION" in outcome.reason
    assert fake.calls() == []


def test_sign_is_never_a_template_variable():
    with pytest.raises(ValueError, match="sign"):
        AliyunSender(ACCESS_KEY_ID, ACCESS_KEY_SECRET, sign_name=SIGN_NAME,
                     templates=templates(**{INVITATION: "SMS_485930001:sign,unit"}))


# -- refusals -------------------------------------------------------------------------------


def test_a_wrong_secret_is_refused_by_the_signature_check(fake, caplog):
    sender = sender_for(fake, access_key_secret="not-the-secret")
    messages = [invitation(phone) for phone in numbers(2)]
    outcomes = sender.send_batch(messages)
    assert all(isinstance(o, PermanentSendError) for o in outcomes)
    assert all(o.reason.startswith("阿里云短信 SignatureDoesNotMatch：") and o.status == 400 for o in outcomes)
    assert [(c.status, c.code) for c in fake.calls()] == [(400, "SignatureDoesNotMatch")]
    assert fake.accepted == []
    assert_quiet(logged(caplog) + reasons(outcomes), messages)


def test_an_unknown_access_key_is_refused(fake):
    [outcome] = sender_for(fake, access_key_id="LTAI5tNobody").send_batch([invitation("13912345678")])
    assert isinstance(outcome, PermanentSendError) and outcome.status == 404
    assert outcome.reason.startswith("阿里云短信 InvalidAccessKeyId.NotFound：AccessKey ID 不存在")


def test_the_fake_refuses_an_unsigned_request(fake):
    answer = requests.post(f"http://{fake.endpoint}/?PhoneNumbers=13912345678", timeout=5,
                           headers={"x-acs-action": "SendSms", "x-acs-version": "2017-05-25"})
    assert (answer.status_code, answer.json()["Code"]) == (400, "IncompleteSignature")
    assert fake.accepted == []


@pytest.mark.parametrize(("code", "said", "status", "kind", "wait"), [
    ("isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板", 200, PermanentSendError, None),
    ("isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名", 200, PermanentSendError, None),
    ("isv.TEMPLATE_MISSING_PARAMETERS", "模板变量缺少对应参数值", 200, PermanentSendError, None),
    ("isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值", 200, PermanentSendError, None),
    ("isv.PARAM_LENGTH_LIMIT", "参数超出长度限制", 200, PermanentSendError, None),
    ("isp.RAM_PERMISSION_DENY", "RAM权限DENY", 200, PermanentSendError, None),
    ("isv.SOMETHING_NEW", "没见过的错误", 200, PermanentSendError, None),
    ("isv.AMOUNT_NOT_ENOUGH", "账户余额不足", 200, HeldSendError, None),
    ("isv.DAY_LIMIT_CONTROL", "触发日发送限额", 200, HeldSendError, None),
    ("isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1", 200, HeldSendError, timedelta(minutes=1)),
    ("isv.BUSINESS_LIMIT_CONTROL", "触发小时级流控Permits:5", 200, HeldSendError, timedelta(hours=1)),
    ("isv.BUSINESS_LIMIT_CONTROL", "触发天级流控Permits:10", 200, HeldSendError, None),
    ("isp.SYSTEM_ERROR", "系统错误", 200, TransientSendError, None),
    ("isv.THROTTLING", "触发流控", 200, TransientSendError, None),
    ("Throttling.User", "Request was denied due to user flow control.", 400, TransientSendError, None),
    ("ServiceUnavailable", "The request has failed due to a temporary failure of the server.", 503,
     TransientSendError, None),
])
def test_each_code_is_mapped_to_its_kind_with_a_safe_reason(fake, sender, caplog, code, said, status, kind, wait):
    # A refusal for one number's sake splits a call (tested below): here it is a call of one.
    messages = [invitation(phone) for phone in numbers(1 if code == "isv.BUSINESS_LIMIT_CONTROL" else 3)]
    # Alibaba's message may quote the request: the number and the values must not come back.
    fake.refuse_next(code, f"{said}（13800000001，K7M4Q9PX）", status=status)
    outcomes = sender.send_batch(messages)
    assert [type(o) for o in outcomes] == [kind] * len(messages)
    for outcome in outcomes:
        assert outcome.reason.startswith(f"阿里云短信 {code}：")
        assert said.split("（")[0][:4] in outcome.reason and len(outcome.reason) <= 300
        assert "13800000001" not in outcome.reason and "138****0001" in outcome.reason
        assert "K7M4Q9PX" not in outcome.reason
        if kind is HeldSendError:
            assert outcome.wait == wait
    assert len(fake.calls()) == 1  # neither the SDK nor the sender retried
    assert_quiet(logged(caplog) + reasons(outcomes), messages)


def test_an_unapproved_template_or_an_unknown_signature_is_permanent(fake):
    with FakeAliyun(unapproved={"SMS_485930001"}) as strict:
        [outcome] = sender_for(strict).send_batch([invitation("13912345678")])
        assert isinstance(outcome, PermanentSendError)
        assert outcome.reason.startswith("阿里云短信 isv.SMS_TEMPLATE_ILLEGAL：模板不存在或未通过审核")
    [outcome] = sender_for(fake, sign_name="别的签名").send_batch([invitation("13912345678")])
    assert isinstance(outcome, PermanentSendError)
    assert outcome.reason.startswith("阿里云短信 isv.SMS_SIGNATURE_ILLEGAL：")


def test_a_bad_number_in_a_batch_fails_alone_and_the_others_go(fake, sender, caplog):
    phones = list(numbers(8))
    fake.bad_numbers.add(phones[5])
    messages = [evaluator_reminder(phone) for phone in phones]
    messages = [Message(m.to, m.template, {**m.params, "login": "x"}, m.text, m.key) for m in messages]

    outcomes = sender.send_batch(messages)

    assert [type(o) for o in outcomes] == [Sent] * 5 + [PermanentSendError] + [Sent] * 2
    assert outcomes[5].reason.startswith("阿里云短信 isv.MOBILE_NUMBER_ILLEGAL：手机号码无效")
    assert phones[5] not in outcomes[5].reason  # the fake quotes it; the reason masks it
    assert sorted(a.phone for a in fake.accepted) == sorted(p for p in phones if p != phones[5])
    for outcome, accepted in zip([o for o in outcomes if isinstance(o, Sent)], fake.accepted):
        assert outcome.provider_id == accepted.biz_id
    # Halved down to the bad number: a few calls, not one per message.
    assert len(fake.calls()) <= 2 * math.ceil(math.log2(len(phones))) + 1
    assert_quiet(logged(caplog) + reasons(outcomes), messages)


def test_a_value_refused_in_a_send_batch_sms_fails_only_its_message(fake, sender):
    codes = ["K7M4Q9PA", "K7M4Q9PB", "K7M4Q9PC", "K7M4Q9PD"]
    messages = [invitation(phone, code) for phone, code in zip(numbers(4), codes)]
    messages[2] = invitation(messages[2].to, codes[2], section="预算科" * 12)  # over the fake's 35 characters
    outcomes = sender.send_batch(messages)
    assert [type(o) for o in outcomes] == [Sent, Sent, PermanentSendError, Sent]
    assert outcomes[2].reason.startswith("阿里云短信 isv.PARAM_LENGTH_LIMIT：")
    assert [a.params["code"] for a in fake.accepted] == ["K7M4Q9PA", "K7M4Q9PB", "K7M4Q9PD"]


@pytest.mark.parametrize(("limit", "wait"), [("minute", timedelta(minutes=1)), ("hour", timedelta(hours=1)),
                                             ("day", None)])
def test_a_number_over_its_limit_is_held_for_the_time_alibaba_names(fake, sender, caplog, limit, wait):
    messages = [invitation(phone, f"K7M4Q9P{n}") for n, phone in enumerate(numbers(4))]
    fake.limited[messages[1].to] = limit
    outcomes = sender.send_batch(messages)
    assert [type(o) for o in outcomes] == [Sent, HeldSendError, Sent, Sent]
    assert outcomes[1].wait == wait
    assert outcomes[1].reason.startswith("阿里云短信 isv.BUSINESS_LIMIT_CONTROL：该号码触发发送频率限制")
    assert messages[1].to not in {a.phone for a in fake.accepted}
    assert_quiet(logged(caplog) + reasons(outcomes), messages)


def test_throttling_and_a_server_error_are_transient_and_not_retried_by_the_sdk(fake, sender):
    messages = [invitation(phone) for phone in numbers(2)]
    fake.throttle_next()
    outcomes = sender.send_batch(messages)
    assert all(isinstance(o, TransientSendError) and o.reason.startswith("阿里云短信 Throttling.User：")
               for o in outcomes)
    fake.fail_next()
    outcomes = sender.send_batch(messages)
    assert all(isinstance(o, TransientSendError) and o.status == 500 for o in outcomes)
    assert [(c.status, c.code) for c in fake.calls()] == [(400, "Throttling.User"), (500, "InternalError")]
    assert all(isinstance(o, Sent) for o in sender.send_batch(messages))


def test_no_answer_in_time_is_uncertain_and_the_message_may_well_be_sent(fake, caplog):
    sender = sender_for(fake, timeout=0.2)
    messages = [invitation(phone) for phone in numbers(2)]
    fake.delay_next(0.6)
    outcomes = sender.send_batch(messages)
    assert all(isinstance(o, UncertainSendError) for o in outcomes)
    assert "可能已经发出" in outcomes[0].reason
    deadline = time.monotonic() + 3
    while len(fake.accepted) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [a.phone for a in fake.accepted] == [m.to for m in messages]  # Alibaba had it all along
    assert len(fake.calls()) == 1  # and nothing tried again
    assert_quiet(logged(caplog) + reasons(outcomes), messages)


def test_no_connection_is_transient(caplog):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sender = AliyunSender(ACCESS_KEY_ID, ACCESS_KEY_SECRET, sign_name=SIGN_NAME, templates=templates(),
                          endpoint=f"127.0.0.1:{port}", protocol="http", timeout=1)
    messages = [invitation("13912345678")]
    [outcome] = sender.send_batch(messages)
    assert isinstance(outcome, TransientSendError) and "未能连通" in outcome.reason
    assert_quiet(logged(caplog) + [outcome.reason], messages)


def test_a_connect_timeout_is_transient():
    """What the SDK raises for one: its RetryError over the requests exception."""
    try:
        try:
            raise requests.ConnectTimeout("Connection to 10.255.255.1 timed out. (connect timeout=1)")
        except OSError as error:
            raise RetryError(str(error))  # noqa: B904 - the SDK's own way (darabonba.core.do_action)
    except RetryError as wrapped:
        error = UnretryableException(RetryPolicyContext(retries_attempted=1, exception=wrapped))
    outcome = aliyun._failure(error, (), sent_once=True, timeout=1.0)
    assert isinstance(outcome, TransientSendError) and "ConnectTimeout" in outcome.reason


# -- receipts -------------------------------------------------------------------------------


def test_query_receipts_reads_only_final_states(fake, sender, caplog):
    messages = [invitation(phone, f"K7M4Q9P{n}") for n, phone in enumerate(numbers(3))]
    outcomes = sender.send_batch(messages)
    biz_id = outcomes[0].provider_id
    sent_on = fake.accepted[0].sent_at.date()
    fake.set_state(messages[0].to, delivered=True)
    fake.set_state(messages[1].to, delivered=False, err_code="MK:0001")

    [delivered] = sender.query_receipts(messages[0].to, biz_id, sent_on)
    [failed] = sender.query_receipts("+86 " + messages[1].to, biz_id, sent_on.strftime("%Y%m%d"))
    waiting = sender.query_receipts(messages[2].to, biz_id, sent_on)

    assert delivered == Receipt(biz_id, messages[0].to, True, "DELIVERED", "", delivered.at)
    assert delivered.at is not None and delivered.at.utcoffset() == timedelta(hours=8)
    assert (failed.delivered, failed.code, failed.phone) == (False, "MK:0001", messages[1].to)
    assert "MK:0001" in failed.reason and messages[1].to not in failed.reason
    assert waiting == []
    queries = fake.calls("QuerySendDetails")
    assert [(q.params["BizId"], q.params["SendDate"], q.params["PageSize"]) for q in queries] == [
        (biz_id, sent_on.strftime("%Y%m%d"), "50")] * 3
    assert_quiet(logged(caplog), messages)


def test_query_receipts_raises_the_mapped_error(fake, sender):
    fake.throttle_next()
    with pytest.raises(TransientSendError):
        sender.query_receipts("13912345678", "900619746936498^0", "20211103")


# -- pushes ---------------------------------------------------------------------------------

REPORT = {"phone_number": "13811112222", "send_time": "2017-01-01 00:00:00", "report_time": "2017-01-01 00:00:05",
          "success": True, "err_code": "DELIVERED", "err_msg": "用户接收成功", "sms_size": "1",
          "biz_id": "12345^0", "out_id": "67890"}
REPLY = {"phone_number": "8613811112222", "send_time": "2017-09-01 00:00:00", "content": "1",
         "sign_name": SIGN_NAME, "dest_code": "1234", "sequence_id": 1234567890}


def body(*items: object) -> bytes:
    """A push's JSON, in UTF-8 as Alibaba writes it (escaped where UTF-8 cannot hold a character)."""
    try:
        return json.dumps(list(items), ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: only its \u escape is JSON
        return json.dumps(list(items)).encode("ascii")


def test_reports_in_the_documented_shape():
    failed = {**REPORT, "phone_number": "8613911112222", "success": False, "err_code": "MK:0001",
              "err_msg": "用户关机，13911112222 不在服务区"}
    delivered, refused = parse_reports(body(REPORT, failed))
    assert (delivered.provider_id, delivered.phone, delivered.delivered, delivered.code, delivered.reason) == (
        "12345^0", "13811112222", True, "DELIVERED", "")
    assert delivered.at is not None and delivered.at.isoformat() == "2017-01-01T00:00:05+08:00"
    assert (refused.phone, refused.delivered, refused.code) == ("13911112222", False, "MK:0001")
    assert "13911112222" not in refused.reason and "139****2222" in refused.reason
    assert parse_reports(b"[]") == []


def test_replies_in_the_documented_shapes():
    older = REPLY  # sequence_id a number, with sign_name
    newer = {k: v for k, v in REPLY.items() if k != "sign_name"} | {"sequence_id": "987", "content": "2 K7M4Q9PX",
                                                                    "phone_number": "13911112222"}
    assert parse_replies(body(older, newer)) == [
        Reply("13811112222", "1", parse_replies(body(older))[0].at, "1234567890"),
        Reply("13911112222", "2 K7M4Q9PX", parse_replies(body(newer))[0].at, "987"),
    ]
    assert parse_replies(body(older))[0].at.isoformat() == "2017-09-01T00:00:00+08:00"


@pytest.mark.parametrize(("raw", "says"), [
    (b"\xff\xfe", "不是 UTF-8"),
    (b"not json", "不是 JSON"),
    (b"[" * 100_000, "不是 JSON"),
    (body() [:-1], "不是 JSON"),
    (json.dumps(REPORT).encode(), "应为 JSON 数组"),
    (body(REPORT, "x"), "第 2 条：应为 JSON 对象"),
    (body(REPORT, REPORT, {k: v for k, v in REPORT.items() if k != "biz_id"}), "第 3 条：缺少 biz_id"),
    (body({**REPORT, "biz_id": 12345}), "第 1 条：biz_id 应为字符串"),
    (body({**REPORT, "success": "true"}), "第 1 条：success 应为 true 或 false"),
    (body({**REPORT, "phone_number": "02161234567"}), "第 1 条：phone_number 不是大陆手机号码"),
    (body({**REPORT, "report_time": "yesterday"}), "第 1 条：report_time 应为"),
    (body({k: v for k, v in REPORT.items() if k != "phone_number"}), "第 1 条：缺少 phone_number"),
])
def test_a_broken_report_push_says_what_is_wrong_and_where(raw, says):
    with pytest.raises(CallbackError, match=says) as refused:
        parse_reports(raw)
    assert "02161234567" not in str(refused.value)


@pytest.mark.parametrize(("item", "says"), [
    ({k: v for k, v in REPLY.items() if k != "sequence_id"}, "第 1 条：缺少 sequence_id"),
    ({**REPLY, "sequence_id": True}, "第 1 条：sequence_id 应为数字或字符串"),
    ({**REPLY, "content": None}, "第 1 条：缺少 content"),
    ({**REPLY, "content": "\ud800"}, "第 1 条：content 含有无效字符"),
    ({**REPLY, "phone_number": "8612345"}, "第 1 条：phone_number 不是大陆手机号码"),
])
def test_a_broken_reply_push_says_what_is_wrong_and_where(item, says):
    with pytest.raises(CallbackError, match=says) as refused:
        parse_replies(body(item))
    assert "8612345" not in str(refused.value)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(sorted(REPORT) + sorted(REPLY) + ["x"]), children, max_size=6),
    max_leaves=20,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=200) | JSON.map(lambda v: json.dumps(v).encode()) | st.lists(
    st.fixed_dictionaries({}, optional={**{k: st.just(v) for k, v in REPORT.items()},
                                        **{k: st.just(v) for k, v in REPLY.items()}})).map(lambda v: body(*v)))
def test_any_body_is_read_or_refused_with_a_callback_error(raw):
    for parse in (parse_reports, parse_replies):
        try:
            parsed = parse(raw)
        except CallbackError as refused:
            assert str(refused)
        else:
            assert isinstance(parsed, list)


class _Receiver:
    """The platform's callback end, as small as can be: reads the push, answers as Alibaba wants."""

    def __init__(self, parse) -> None:
        self.parsed: list = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                data = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.parsed.extend(parse(data))
                self.send_response(200)
                self.send_header("Content-Type", aliyun.CALLBACK_CONTENT_TYPE)
                self.end_headers()
                self.wfile.write(CALLBACK_OK)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms/aliyun"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> _Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_pushes_from_the_fake_are_read_and_answered_as_alibaba_expects(fake, sender):
    messages = [invitation(phone, f"K7M4Q9P{n}") for n, phone in enumerate(numbers(3))]
    outcomes = sender.send_batch(messages)
    with _Receiver(parse_reports) as receiver:
        status, answer = fake.push_reports(receiver.url, delivered=[messages[0].to, messages[2].to],
                                           failed={messages[1].to: "MK:0005"}, country_code=True)
    assert status == 200 and json.loads(answer) == {"code": 0, "msg": "接收成功"}
    assert {(r.provider_id, r.phone, r.delivered, r.code) for r in receiver.parsed} == {
        (outcomes[0].provider_id, messages[0].to, True, "DELIVERED"),
        (outcomes[1].provider_id, messages[1].to, False, "MK:0005"),
        (outcomes[2].provider_id, messages[2].to, True, "DELIVERED"),
    }
    with _Receiver(parse_replies) as receiver:
        status, _ = fake.push_reply(receiver.url, messages[0].to, "1 K7M4Q9P0")
    assert status == 200
    [reply] = receiver.parsed
    assert (reply.phone, reply.text) == (messages[0].to, "1 K7M4Q9P0") and reply.ref
