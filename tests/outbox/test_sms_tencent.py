"""The Tencent Cloud SMS sender, for real: the official SDK (`tencentcloud-sdk-python-sms`)
against a loopback fake of the SMS API 3.0 (tests/support/fake_tencent.py) that checks
every request's TC3-HMAC-SHA256 signature and fields; and the callbacks' readers on
Tencent's documented shapes and on anything else."""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sms.mainland import INVITATION, LIAISON, CallbackError, Receipt, Reply, TemplateSpec, template_variable
from sms.senders import (
    HeldSendError,
    Message,
    PermanentSendError,
    SendError,
    Sent,
    TransientSendError,
    UncertainSendError,
)
from sms.templates import render
from sms.tencent import BEIJING, CALLBACK_OK, TencentSender, parse_replies, parse_reports
from tests.support.fake_tencent import FakeTencent, tc3_signature

SECRET_ID = "AKIDfakeSecretId0123456789"
SECRET_KEY = "fakeSecretKey0123456789abcdef"
APP_ID = "1400006666"
SIGN = "平阳县评议办"
INVITE_ID, LIAISON_ID, UNAPPROVED_ID = "1843201", "1843202", "1843209"
PHONE, OTHER, THIRD = "13812345678", "13912345678", "15012345678"
CODE = "K7M4Q9PX"
TEMPLATES = {
    # Registered as 【平阳县评议办】请为{1}{2}的服务打分：{3} 评价码 {4}，{5}截止。
    INVITATION: TemplateSpec.parse(template_variable(INVITATION), f"{INVITE_ID}:unit,section,address,code,closes"),
    # Registered with the variables in another order than the platform's text.
    LIAISON: TemplateSpec.parse(template_variable(LIAISON), f"{LIAISON_ID}:unit,due,what,missing,link"),
}


def invite(phone: str = PHONE, code: str = CODE, **changes: Any) -> Message:
    params = {
        "sign": SIGN, "date": "3月5日", "unit": "县行政审批服务局", "section": "综合窗口", "matter": "营业执照办理",
        "address": "https://pingyi.example/s", "code": code, "reply_hint": f"（回复时附上评价码 {code}）",
        "closes": "3月20日",
    }
    fields: dict[str, Any] = {"to": phone, "template": "invite_code", "params": params,
                              "text": render("invite_code", params), "key": f"invite:{phone}:{code}"}
    fields.update(changes)
    return Message(**fields)


def liaison(phone: str = PHONE, **changes: Any) -> Message:
    params = {"sign": SIGN, "unit": "县住建局", "what": "2021年度评议材料", "missing": "3份", "due": "4月1日",
              "link": "https://pingyi.example/u"}
    fields: dict[str, Any] = {"to": phone, "template": "liaison_reminder", "params": params,
                              "text": render("liaison_reminder", params), "key": f"liaison:{phone}"}
    fields.update(changes)
    return Message(**fields)


def numbers(count: int) -> list[str]:
    return [f"1380013{i:04d}" for i in range(count)]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTencent]:
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    with FakeTencent(secret_id=SECRET_ID, secret_key=SECRET_KEY, sdk_app_id=APP_ID, sign_name=SIGN,
                     templates={INVITE_ID: 5, LIAISON_ID: 5, UNAPPROVED_ID: 5}, unapproved={UNAPPROVED_ID}) as server:
        yield server


@pytest.fixture(autouse=True)
def no_secrets_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every test runs with every logger at DEBUG (the SDK's own too); no line may hold a
    full phone number, a code or a secret."""
    caplog.set_level(logging.DEBUG)
    yield
    text = "\n".join(record.getMessage() for record in caplog.records)
    for secret in (PHONE, OTHER, THIRD, CODE, SECRET_KEY, *numbers(3)):
        assert secret not in text


def sender(fake: FakeTencent, **changes: Any) -> TencentSender:
    arguments: dict[str, Any] = {"sdk_app_id": APP_ID, "sign_name": SIGN, "templates": TEMPLATES,
                                 "endpoint": fake.endpoint, "scheme": "http", "timeout": 5}
    secret_id = changes.pop("secret_id", SECRET_ID)
    secret_key = changes.pop("secret_key", SECRET_KEY)
    arguments.update(changes)
    return TencentSender(secret_id, secret_key, **arguments)


def assert_safe(outcome: object, *secrets: str) -> None:
    if isinstance(outcome, SendError):
        assert len(outcome.reason) <= 300
        for secret in (PHONE, OTHER, THIRD, CODE, *secrets):
            assert secret not in outcome.reason
            assert secret not in str(outcome)


# -- the request -------------------------------------------------------------------------


def test_request_fields_and_signature_are_accepted(fake: FakeTencent) -> None:
    outcomes = sender(fake).send_batch([invite()])
    [sent] = outcomes
    assert isinstance(sent, Sent) and sent.status == "accepted"
    [request] = fake.requests
    assert request.error is None
    assert request.action == "SendSms"
    assert request.headers["x-tc-version"] == "2021-01-11"
    assert request.headers["x-tc-region"] == "ap-guangzhou"
    assert request.headers["authorization"].startswith(f"TC3-HMAC-SHA256 Credential={SECRET_ID}/")
    assert request.body == {
        "PhoneNumberSet": ["+86" + PHONE], "SmsSdkAppId": APP_ID, "SignName": SIGN, "TemplateId": INVITE_ID,
        # {1}…{5} in the registered order; "sign" is never a variable (Tencent adds it).
        "TemplateParamSet": ["县行政审批服务局", "综合窗口", "https://pingyi.example/s", CODE, "3月20日"],
    }
    [accepted] = fake.accepted
    assert (accepted.phone, accepted.template_id, accepted.serial_no) == (PHONE, INVITE_ID, sent.provider_id)


def test_the_sdks_own_log_keeps_only_first_lines(fake: FakeTencent, caplog: pytest.LogCaptureFixture) -> None:
    sender(fake).send_batch([invite()])
    sdk = [r.getMessage() for r in caplog.records if r.name == "tencentcloud_sdk_common"]
    assert any(m.startswith("SendRequest: ") for m in sdk) and any(m.startswith("GetResponse: ") for m in sdk)
    assert all("\n" not in m and "PhoneNumberSet" not in m and "TemplateParamSet" not in m for m in sdk)
    assert any("138****5678" in r.getMessage() for r in caplog.records if r.name == "sms.tencent")


def test_variables_go_in_the_registered_order(fake: FakeTencent) -> None:
    sender(fake).send_batch([liaison()])
    assert fake.requests[0].body["TemplateParamSet"] == [
        "县住建局", "4月1日", "2021年度评议材料", "3份", "https://pingyi.example/u"]


def test_the_fakes_signer_gives_the_published_example() -> None:
    """«签名方法 v3» (Signature v3)'s worked example: CVM DescribeInstances, timestamp
    1551113065, its documented payload and example key; the document gives the hash of
    the canonical request (5ffe6a04…) and the signature (72e494ea…)."""
    payload = '{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
    assert hashlib.sha256(payload.encode()).hexdigest() == (
        "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064")
    canonical = "\n".join([
        "POST", "/", "", "content-type:application/json; charset=utf-8\nhost:cvm.tencentcloudapi.com\n",
        "content-type;host", hashlib.sha256(payload.encode()).hexdigest(),
    ])
    assert hashlib.sha256(canonical.encode()).hexdigest() == (
        "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031")
    assert tc3_signature("Gu5t9xGARNpq86cd98joQYCN3EXAMPLE", date="2019-02-25", service="cvm",
                         timestamp="1551113065", canonical_request=canonical) == (
        "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168")


@pytest.mark.parametrize(("changes", "code"), [
    ({"secret_key": "a-wrong-secret-key"}, "AuthFailure.SignatureFailure"),
    ({"secret_id": "AKIDsomeoneElse"}, "AuthFailure.SecretIdNotFound"),
    ({"sdk_app_id": "1400000000"}, "InvalidParameterValue.SdkAppIdNotExist"),
    ({"sign_name": "别的签名"}, "FailedOperation.SignatureIncorrectOrUnapproved"),
    ({"region": "ap-shanghai"}, "UnsupportedRegion"),
])
def test_a_refused_request_is_permanent(fake: FakeTencent, changes: dict[str, str], code: str) -> None:
    [outcome] = sender(fake, **changes).send_batch([invite()])
    assert isinstance(outcome, PermanentSendError)
    assert outcome.reason.startswith(f"腾讯云短信 {code}：")
    assert [r.error for r in fake.requests] == [code]
    assert fake.accepted == []
    assert_safe(outcome)


def test_a_clock_off_by_more_than_five_minutes_is_refused(fake: FakeTencent) -> None:
    fake.skew = 400
    [outcome] = sender(fake).send_batch([invite()])
    assert isinstance(outcome, PermanentSendError)
    assert outcome.reason.startswith("腾讯云短信 AuthFailure.SignatureExpire：签名过期")


def test_an_unapproved_template_is_refused(fake: FakeTencent) -> None:
    templates = {INVITATION: TemplateSpec.parse("X", f"{UNAPPROVED_ID}:unit,section,address,code,closes")}
    [outcome] = sender(fake, templates=templates).send_batch([invite()])
    assert isinstance(outcome, PermanentSendError)
    assert outcome.reason.startswith("腾讯云短信 FailedOperation.TemplateIncorrectOrUnapproved：模板未审核通过")


def test_a_template_registered_with_another_number_of_variables_is_refused(fake: FakeTencent) -> None:
    templates = {INVITATION: TemplateSpec.parse("X", f"{INVITE_ID}:unit,address,code,closes")}
    [outcome] = sender(fake, templates=templates).send_batch([invite()])
    assert isinstance(outcome, PermanentSendError)
    assert outcome.reason.startswith("腾讯云短信 FailedOperation.TemplateParamSetNotMatchApprovedTemplate：")


# -- calls --------------------------------------------------------------------------------


def test_identical_values_go_in_one_call(fake: FakeTencent) -> None:
    tencent = sender(fake)
    messages = [liaison(phone) for phone in (PHONE, OTHER, THIRD)]
    assert tencent.calls(messages) == [messages]
    outcomes = tencent.send_batch(messages)
    [request] = fake.sends()
    assert request.body["PhoneNumberSet"] == ["+86" + PHONE, "+86" + OTHER, "+86" + THIRD]
    serials = {a.phone: a.serial_no for a in fake.accepted}
    assert [o.provider_id for o in outcomes if isinstance(o, Sent)] == [serials[PHONE], serials[OTHER], serials[THIRD]]
    assert len(set(serials.values())) == 3


def test_each_citizens_own_code_is_a_call_of_its_own(fake: FakeTencent) -> None:
    tencent = sender(fake)
    messages = [invite(PHONE, "K7M4Q9PX"), invite(OTHER, "H3J8R2TW"), invite(THIRD, "Q4N6B9CZ")]
    calls = tencent.calls(messages)
    assert calls == [[m] for m in messages]
    for call in calls:
        assert all(isinstance(o, Sent) for o in tencent.send_batch(call))
    assert [r.body["TemplateParamSet"][3] for r in fake.sends()] == ["K7M4Q9PX", "H3J8R2TW", "Q4N6B9CZ"]


def test_calls_keep_groups_apart_and_in_order(fake: FakeTencent) -> None:
    a, b, c, d = invite(PHONE), liaison(OTHER), invite(THIRD), liaison(PHONE)
    assert sender(fake).calls([a, b, c, d]) == [[a, c], [b, d]]


def test_201_identical_messages_make_two_calls(fake: FakeTencent) -> None:
    tencent = sender(fake)
    messages = [liaison(phone) for phone in numbers(201)]
    calls = tencent.calls(messages)
    assert [len(call) for call in calls] == [200, 1]
    outcomes = [o for call in calls for o in tencent.send_batch(call)]
    assert [len(r.body["PhoneNumberSet"]) for r in fake.sends()] == [200, 1]
    assert all(isinstance(o, Sent) for o in outcomes)
    assert len(fake.accepted) == 201
    with pytest.raises(ValueError, match="200"):
        tencent.send_batch(messages)
    assert len(fake.sends()) == 2


def test_a_batch_calls_would_never_make_is_a_bug(fake: FakeTencent) -> None:
    with pytest.raises(ValueError, match="calls"):
        sender(fake).send_batch([invite(PHONE, "K7M4Q9PX"), invite(OTHER, "H3J8R2TW")])
    assert fake.requests == []
    assert sender(fake).send_batch([]) == []


def test_a_call_half_accepted_is_recorded_message_by_message(fake: FakeTencent) -> None:
    fake.bad.add(OTHER)
    fake.limited[THIRD] = "LimitExceeded.PhoneNumberOneHourLimit"
    fourth = "13612345678"
    outcomes = sender(fake).send_batch([liaison(PHONE), liaison(OTHER), liaison(THIRD), liaison(fourth)])
    assert len(fake.sends()) == 1
    assert isinstance(outcomes[0], Sent)
    assert isinstance(outcomes[1], PermanentSendError)
    assert outcomes[1].reason.startswith("腾讯云短信 InvalidParameterValue.IncorrectPhoneNumber：手机号码格式错误")
    assert "139****5678" in outcomes[1].reason  # Tencent's message quoted the number: masked
    assert isinstance(outcomes[2], HeldSendError) and outcomes[2].wait == timedelta(hours=1)
    assert isinstance(outcomes[3], Sent)
    assert [a.phone for a in fake.accepted] == [PHONE, fourth]
    for outcome in outcomes:
        assert_safe(outcome, fourth)


def test_a_number_twice_in_a_call_is_matched_by_order(fake: FakeTencent) -> None:
    outcomes = sender(fake).send_batch([liaison(PHONE, key="a"), liaison(OTHER, key="b"), liaison(PHONE, key="c")])
    serials = [a.serial_no for a in fake.accepted if a.phone == PHONE]
    assert len(serials) == 2
    assert isinstance(outcomes[0], Sent) and isinstance(outcomes[2], Sent)
    assert [outcomes[0].provider_id, outcomes[2].provider_id] == serials


# -- errors --------------------------------------------------------------------------------

PERMANENT = [
    "FailedOperation.TemplateIncorrectOrUnapproved", "FailedOperation.TemplateUnapprovedOrNotExist",
    "FailedOperation.SignatureIncorrectOrUnapproved", "InvalidParameterValue.IncorrectPhoneNumber",
    "InvalidParameterValue.TemplateParameterFormatError", "InvalidParameterValue.TemplateParameterLengthLimit",
    "FailedOperation.ContainSensitiveWord", "FailedOperation.PhoneNumberInBlacklist",
    "AuthFailure.SignatureFailure", "AuthFailure.SecretIdNotFound", "UnauthorizedOperation.RequestIpNotInWhitelist",
    "UnauthorizedOperation.SmsSdkAppIdVerifyFail", "LimitExceeded.PhoneNumberCountLimit", "FailedOperation.Unheard",
]
TRANSIENT = ["RequestLimitExceeded", "RequestLimitExceeded.UinLimitExceeded", "InternalError",
             "InternalError.Timeout", "InternalError.OtherError"]
HELD = {
    "LimitExceeded.PhoneNumberThirtySecondLimit": timedelta(seconds=30),
    "LimitExceeded.PhoneNumberOneHourLimit": timedelta(hours=1),
    "LimitExceeded.PhoneNumberDailyLimit": None,
    "LimitExceeded.PhoneNumberSameContentDailyLimit": None,
    "LimitExceeded.AppDailyLimit": None,
    "LimitExceeded.DeliveryFrequencyLimit": timedelta(hours=1),
    "FailedOperation.InsufficientBalanceInSmsPackage": timedelta(hours=1),
    "UnauthorizedOperation.ServiceSuspendDueToArrears": timedelta(hours=1),
}
SAID = f"号码 +86{PHONE} 的模板变量 {CODE} 有误"  # what Tencent may quote: a number, a value


@pytest.mark.parametrize("code", PERMANENT)
def test_permanent_codes(fake: FakeTencent, code: str) -> None:
    fake.fail_next(code, SAID)
    [outcome] = sender(fake).send_batch([invite()])
    assert type(outcome) is PermanentSendError
    assert outcome.reason.startswith(f"腾讯云短信 {code}：")
    assert "138****5678" in outcome.reason and "***" in outcome.reason
    assert_safe(outcome)


@pytest.mark.parametrize("code", TRANSIENT)
def test_transient_codes_and_no_retry_by_the_sdk(fake: FakeTencent, code: str) -> None:
    fake.fail_next(code, SAID)
    [outcome] = sender(fake).send_batch([invite()])
    assert type(outcome) is TransientSendError
    assert outcome.reason.startswith(f"腾讯云短信 {code}：")
    assert len(fake.requests) == 1  # the outbox retries, not the SDK
    assert_safe(outcome)


@pytest.mark.parametrize(("code", "wait"), list(HELD.items()))
def test_held_codes_for_the_whole_call(fake: FakeTencent, code: str, wait: timedelta | None) -> None:
    fake.fail_next(code, f"号码 +86{PHONE} 的模板变量 2021年度评议材料 有误")
    outcomes = sender(fake).send_batch([liaison(PHONE), liaison(OTHER)])
    for outcome in outcomes:
        assert type(outcome) is HeldSendError
        assert outcome.wait == wait
        assert outcome.reason.startswith(f"腾讯云短信 {code}：")
        assert_safe(outcome, "2021年度评议材料")
    assert outcomes[0] is not outcomes[1]


@pytest.mark.parametrize(("code", "wait"), [(c, w) for c, w in HELD.items() if ".PhoneNumber" in c])
def test_per_number_limits_hold_that_number_only(fake: FakeTencent, code: str, wait: timedelta | None) -> None:
    fake.limited[OTHER] = code
    first, held = sender(fake).send_batch([liaison(PHONE), liaison(OTHER)])
    assert isinstance(first, Sent)
    assert isinstance(held, HeldSendError) and held.wait == wait
    assert held.reason.startswith(f"腾讯云短信 {code}：")
    assert_safe(held)


def test_throttled_and_internal_errors_are_transient(fake: FakeTencent) -> None:
    tencent = sender(fake)
    fake.throttle_next(1)
    fake.internal_error_next(1)
    assert isinstance(tencent.send_batch([invite()])[0], TransientSendError)
    assert isinstance(tencent.send_batch([invite()])[0], TransientSendError)
    assert isinstance(tencent.send_batch([invite()])[0], Sent)
    assert [r.error for r in fake.requests] == ["RequestLimitExceeded", "InternalError.OtherError", None]


def test_a_too_long_value_is_refused_without_quoting_it(fake: FakeTencent) -> None:
    fake.param_max_length = 6
    [outcome] = sender(fake).send_batch([invite()])
    assert isinstance(outcome, PermanentSendError)
    assert outcome.reason.startswith("腾讯云短信 InvalidParameterValue.TemplateParameterLengthLimit：模板变量超过长度上限")
    assert "县行政审批服务局" not in outcome.reason  # Tencent quoted the value: blanked
    assert_safe(outcome)


def test_a_read_timeout_is_uncertain_and_fast(fake: FakeTencent) -> None:
    fake.delay_next(1.5)
    started = time.monotonic()
    [outcome] = sender(fake, timeout=0.3).send_batch([invite()])
    assert time.monotonic() - started < 1.2
    assert isinstance(outcome, UncertainSendError)
    assert "ReadTimeout" in outcome.reason
    assert [a.phone for a in fake.accepted] == [PHONE]  # it did go out
    assert len(fake.requests) == 1


def test_an_answer_broken_off_is_uncertain(fake: FakeTencent) -> None:
    fake.cut_next()
    [outcome] = sender(fake).send_batch([invite()])
    assert isinstance(outcome, UncertainSendError)
    assert "应答没有收完" in outcome.reason
    assert [a.phone for a in fake.accepted] == [PHONE]


def test_a_refused_connection_is_transient(fake: FakeTencent) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    tencent = TencentSender(SECRET_ID, SECRET_KEY, sdk_app_id=APP_ID, sign_name=SIGN, templates=TEMPLATES,
                            endpoint=f"127.0.0.1:{port}", scheme="http", timeout=2)
    [outcome] = tencent.send_batch([invite()])
    assert isinstance(outcome, TransientSendError)
    assert outcome.reason.startswith("腾讯云短信 ClientNetworkError：未连上腾讯云短信")


@pytest.mark.parametrize(("raised", "kind"), [
    (requests.exceptions.ConnectTimeout, TransientSendError),
    (requests.exceptions.ConnectionError, TransientSendError),
    (requests.exceptions.ReadTimeout, UncertainSendError),
])
def test_network_errors_through_the_sdk(fake: FakeTencent, monkeypatch: pytest.MonkeyPatch,
                                        raised: type[Exception], kind: type[SendError]) -> None:
    def fail(*args: Any, **kwargs: Any) -> None:
        raise raised("HTTPConnectionPool(host='127.0.0.1'): timed out")

    monkeypatch.setattr(requests.Session, "request", fail)
    [outcome] = sender(fake).send_batch([invite()])
    assert type(outcome) is kind


def test_a_missing_template_or_parameter_is_permanent_without_a_call(fake: FakeTencent) -> None:
    tencent = sender(fake, templates={LIAISON: TEMPLATES[LIAISON]})
    no_template = invite()
    [outcome] = tencent.send_batch([no_template])
    assert isinstance(outcome, PermanentSendError)
    assert "PINGYI_SMS_TEMPLATE_INVITATION" in outcome.reason and "调查邀请" in outcome.reason

    lacking = liaison(params={"sign": SIGN, "unit": "县住建局", "what": "材料", "due": "4月1日", "link": "x"})
    [outcome] = tencent.send_batch([lacking])
    assert isinstance(outcome, PermanentSendError)
    assert "缺少参数 missing" in outcome.reason and "第 4 个变量" in outcome.reason
    assert "PINGYI_SMS_TEMPLATE_LIAISON" in outcome.reason

    unknown = liaison(template="no_such_template")
    assert isinstance(tencent.send_batch([unknown])[0], PermanentSendError)
    assert fake.requests == []
    # Each goes alone; a good message with them still goes, in its own call.
    good = liaison(OTHER)
    assert tencent.calls([no_template, good, lacking, unknown]) == [[no_template], [good], [lacking], [unknown]]
    assert [type(o) for o in tencent.send_batch([no_template, good])] == [PermanentSendError, Sent]
    assert len(fake.sends()) == 1


def test_a_kind_named_as_the_template(fake: FakeTencent) -> None:
    message = liaison(template=LIAISON)
    assert isinstance(sender(fake).send_batch([message])[0], Sent)


@pytest.mark.parametrize("changes", [
    {"secret_key": ""}, {"secret_id": " AKID"}, {"sdk_app_id": ""}, {"sign_name": " "}, {"scheme": "ftp"},
    {"endpoint": "http://x/y"}, {"timeout": 0}, {"templates": {"nonsense": TEMPLATES[LIAISON]}},
])
def test_settings_that_cannot_work(fake: FakeTencent, changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        sender(fake, **changes)


# -- pulls -----------------------------------------------------------------------------------


def test_pull_receipts(fake: FakeTencent) -> None:
    tencent = sender(fake)
    tencent.send_batch([liaison(PHONE), liaison(OTHER)])
    serials = {a.phone: a.serial_no for a in fake.accepted}
    at = datetime(2021, 5, 11, 11, 56, 28, tzinfo=UTC)
    assert fake.queue_reports(failed={OTHER: "MK:0001"}, at=at) == 2
    first, second = tencent.pull_receipts()
    assert first == Receipt(provider_id=serials[PHONE], phone=PHONE, delivered=True, code="DELIVRD", reason="", at=at)
    assert second == Receipt(provider_id=serials[OTHER], phone=OTHER, delivered=False, code="MK:0001",
                             reason="MK:0001", at=at)
    assert tencent.pull_receipts() == []  # each pulled once
    assert fake.requests[-1].body == {"Limit": 100, "SmsSdkAppId": APP_ID}


def test_pull_receipts_limit(fake: FakeTencent) -> None:
    tencent = sender(fake)
    tencent.send_batch([liaison(phone) for phone in (PHONE, OTHER, THIRD)])
    fake.queue_reports()
    assert len(tencent.pull_receipts(limit=2)) == 2
    assert fake.requests[-1].body["Limit"] == 2
    assert [r.phone for r in tencent.pull_receipts(limit=2)] == [THIRD]
    for limit in (0, 101, True):
        with pytest.raises(ValueError):
            tencent.pull_receipts(limit=limit)


def test_pulled_items_that_cannot_be_read_are_skipped_not_fatal(fake: FakeTencent,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    tencent = sender(fake)
    tencent.send_batch([liaison(PHONE)])
    fake.queue_raw(receipt={"CountryCode": "1", "SubscriberNumber": "4155550100", "PhoneNumber": "+14155550100",
                            "SerialNo": "x", "ReportStatus": "SUCCESS", "Description": "DELIVRD",
                            "UserReceiveTime": 1620734188, "SessionContext": ""})
    fake.queue_raw(receipt={"CountryCode": "", "SubscriberNumber": OTHER, "PhoneNumber": "+86" + OTHER,
                            "SerialNo": "", "ReportStatus": "SUCCESS", "Description": "DELIVRD",
                            "UserReceiveTime": 1620734188, "SessionContext": ""})
    fake.queue_reports()
    fake.queue_raw(reply={"ExtendCode": "", "CountryCode": "", "PhoneNumber": "+86" + OTHER, "SignName": SIGN,
                          "ReplyContent": "3", "ReplyTime": "2021-05-11 19:56:28", "SubscriberNumber": ""})
    [receipt] = tencent.pull_receipts()
    assert (receipt.phone, receipt.provider_id) == (PHONE, fake.accepted[0].serial_no)
    [reply] = tencent.pull_replies()
    assert reply == Reply(phone=OTHER, text="3", at=datetime(2021, 5, 11, 19, 56, 28, tzinfo=BEIJING), ref="")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("第 1 条：不是中国大陆手机号码" in m for m in warnings)
    assert any("第 2 条：SerialNo 为空" in m for m in warnings)


def test_pull_replies(fake: FakeTencent) -> None:
    at = datetime(2021, 5, 11, 11, 56, 28, tzinfo=UTC)
    fake.queue_reply(PHONE, "1 K7M4Q9PX", at=at)
    fake.queue_reply(OTHER, "满意", at=at)
    tencent = sender(fake)
    assert tencent.pull_replies() == [Reply(phone=PHONE, text="1 K7M4Q9PX", at=at, ref=""),
                                      Reply(phone=OTHER, text="满意", at=at, ref="")]
    assert tencent.pull_replies() == []
    assert [r.action for r in fake.requests] == ["PullSmsReplyStatus", "PullSmsReplyStatus"]


def test_a_failed_pull_raises_its_kind(fake: FakeTencent) -> None:
    tencent = sender(fake)
    fake.throttle_next()
    with pytest.raises(TransientSendError, match="RequestLimitExceeded"):
        tencent.pull_receipts()
    with pytest.raises(PermanentSendError, match="AuthFailure.SignatureFailure"):
        sender(fake, secret_key="wrong-key-0000").pull_replies()


# -- callbacks --------------------------------------------------------------------------------


class _Receiver(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ReceiverHandler)
        self.receipts: list[Receipt] = []
        self.replies: list[Reply] = []

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


class _ReceiverHandler(BaseHTTPRequestHandler):
    """The platform's side of the callbacks, as its route would do it."""

    server: _Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            if self.path == "/sms/tencent/report":
                self.server.receipts.extend(parse_reports(body))
            else:
                self.server.replies.extend(parse_replies(body))
            status, answer = 200, CALLBACK_OK
        except CallbackError as error:
            status, answer = 400, {"result": 1, "errmsg": str(error)}
        data = json.dumps(answer, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - BaseHTTPRequestHandler's name
        pass


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    server = _Receiver()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_pushed_reports_and_replies(fake: FakeTencent, receiver: _Receiver) -> None:
    sender(fake).send_batch([liaison(PHONE), liaison(OTHER)])
    serials = {a.phone: a.serial_no for a in fake.accepted}
    status, answer = fake.push_reports(receiver.url("/sms/tencent/report"), failed={OTHER: "MK:0005"})
    assert (status, answer) == (200, {"result": 0, "errmsg": "OK"})
    ok, failed = receiver.receipts
    assert (ok.provider_id, ok.phone, ok.delivered, ok.code, ok.reason) == (serials[PHONE], PHONE, True, "DELIVRD", "")
    assert (failed.provider_id, failed.delivered, failed.code, failed.reason) == (
        serials[OTHER], False, "MK:0005", "用户短信接收失败")
    assert ok.at is not None and abs(ok.at - datetime.now(UTC)) < timedelta(minutes=1)

    at = datetime(2021, 5, 11, 11, 56, 28, tzinfo=UTC)
    assert fake.push_reply(receiver.url("/sms/tencent/reply"), PHONE, "2", at=at) == (200, CALLBACK_OK)
    assert receiver.replies == [Reply(phone=PHONE, text="2", at=at, ref="")]
    status, answer = fake.push_reply(receiver.url("/sms/tencent/reply"), "12345", "1")
    assert status == 400 and answer["result"] == 1 and "第 1 条：手机号码无效" in answer["errmsg"]


DOC_REPORT = [{  # «短信下发状态通知»'s sample, with a real-looking number
    "user_receive_time": "2015-10-17 08:03:04", "nationcode": "86", "mobile": PHONE, "report_status": "SUCCESS",
    "errmsg": "DELIVRD", "description": "用户短信送达成功", "sid": "xxxxxxx",
}]
DOC_REPLY = {  # «短信回复»'s sample
    "extend": "扩展码", "mobile": PHONE, "nationcode": "86", "sign": "短信签名", "text": "用户回复的内容",
    "time": 1457336869,
}


def test_parse_reports_on_the_documented_sample() -> None:
    [receipt] = parse_reports(json.dumps(DOC_REPORT).encode())
    assert receipt == Receipt(provider_id="xxxxxxx", phone=PHONE, delivered=True, code="DELIVRD", reason="",
                              at=datetime(2015, 10, 17, 8, 3, 4, tzinfo=BEIJING))
    assert receipt.at == datetime(2015, 10, 17, 0, 3, 4, tzinfo=UTC)
    failed = [{**DOC_REPORT[0], "report_status": "FAIL", "errmsg": "MK:0001",
               "description": f"号码 {OTHER} 停机", "mobile": "+86 139-1234-5678", "sid": "s2"}]
    [receipt] = parse_reports(json.dumps(failed, ensure_ascii=False).encode())
    assert (receipt.phone, receipt.delivered, receipt.code) == (OTHER, False, "MK:0001")
    assert receipt.reason == "号码 139****5678 停机"
    assert parse_reports(b"[]") == []


def test_parse_replies_on_the_documented_sample() -> None:
    at = datetime.fromtimestamp(1457336869, UTC)
    expected = Reply(phone=PHONE, text="用户回复的内容", at=at, ref="")
    assert parse_replies(json.dumps(DOC_REPLY).encode()) == [expected]
    assert parse_replies(json.dumps([DOC_REPLY, {**DOC_REPLY, "text": "1"}]).encode()) == [
        expected, Reply(phone=PHONE, text="1", at=at, ref="")]
    without_extend = {k: v for k, v in DOC_REPLY.items() if k != "extend"}
    assert parse_replies(json.dumps(without_extend).encode()) == [expected]


def _without(item: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k != name}


@pytest.mark.parametrize(("body", "message"), [
    (b"", "回调内容为空"),
    (b"\xff\xfe[", "不是 UTF-8"),
    (b"[{", "不是 JSON（第 1 行第 3 列"),
    (b"{}", "应为 JSON 数组，实为对象"),
    (b"[1]", "第 1 条：应为 JSON 对象，实为数字"),
    (json.dumps([DOC_REPORT[0], DOC_REPORT[0], _without(DOC_REPORT[0], "sid")]).encode(), "第 3 条：缺少 sid"),
    (json.dumps([{**DOC_REPORT[0], "sid": 5}]).encode(), "第 1 条：sid 应为字符串，实为数字"),
    (json.dumps([{**DOC_REPORT[0], "sid": ""}]).encode(), "第 1 条：sid 为空"),
    (json.dumps([{**DOC_REPORT[0], "report_status": "DONE"}]).encode(), "第 1 条：report_status 应为 SUCCESS 或 FAIL"),
    (json.dumps([{**DOC_REPORT[0], "user_receive_time": "yesterday"}]).encode(), "第 1 条：user_receive_time 不是"),
    (json.dumps([{**DOC_REPORT[0], "nationcode": "1", "mobile": "4155550100"}]).encode(),
     "第 1 条：不是中国大陆手机号码（国家码不是 86）"),
    (json.dumps([{**DOC_REPORT[0], "mobile": "10012345678"}]).encode(), "第 1 条：手机号码无效"),
    (json.dumps([{**DOC_REPORT[0], "mobile": None}]).encode(), "第 1 条：mobile 应为字符串，实为null"),
    (b"[" * 100000, "回调内容"),
])
def test_parse_reports_refuses_broken_bodies(body: bytes, message: str) -> None:
    with pytest.raises(CallbackError) as raised:
        parse_reports(body)
    assert message in str(raised.value)
    assert "4155550100" not in str(raised.value) and "10012345678" not in str(raised.value)


@pytest.mark.parametrize(("body", "message"), [
    (b"[]", None),
    (b"\"text\"", "应为 JSON 对象或数组，实为字符串"),
    (json.dumps(_without(DOC_REPLY, "text")).encode(), "第 1 条：缺少 text"),
    (json.dumps([DOC_REPLY, _without(DOC_REPLY, "sign")]).encode(), "第 2 条：缺少 sign"),
    (json.dumps({**DOC_REPLY, "time": "soon"}).encode(), "第 1 条：time 应为 UNIX 时间戳（秒）"),
    (json.dumps({**DOC_REPLY, "time": 1e300}).encode(), "第 1 条：time 应为 UNIX 时间戳（秒）"),
    (b'{"extend": "", "mobile": "13812345678", "nationcode": "86", "sign": "s", "text": "1", "time": NaN}',
     "第 1 条：time 应为 UNIX 时间戳（秒）"),
    (json.dumps({**DOC_REPLY, "nationcode": "852", "mobile": "91234567"}).encode(), "第 1 条：不是中国大陆手机号码"),
    (json.dumps({**DOC_REPLY, "extend": []}).encode(), "第 1 条：extend 应为字符串"),
])
def test_parse_replies_refuses_broken_bodies(body: bytes, message: str | None) -> None:
    if message is None:
        assert parse_replies(body) == []
        return
    with pytest.raises(CallbackError) as raised:
        parse_replies(body)
    assert message in str(raised.value)
    assert "91234567" not in str(raised.value)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300))
def test_arbitrary_bytes_only_ever_raise_callback_error(body: bytes) -> None:
    for parse in (parse_reports, parse_replies):
        with contextlib.suppress(CallbackError):
            parse(body)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
_REPORT_ITEM = st.fixed_dictionaries({}, optional={
    name: st.one_of(st.text(max_size=20), st.integers(), st.none(), st.just(value))
    for name, value in {**DOC_REPORT[0], **DOC_REPLY}.items()
})


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(_JSON, st.lists(_REPORT_ITEM, max_size=3), _REPORT_ITEM))
def test_arbitrary_json_is_read_or_refused_with_callback_error(data: Any) -> None:
    body = json.dumps(data, ensure_ascii=False).encode()
    for parse in (parse_reports, parse_replies):
        try:
            found = parse(body)
        except CallbackError as error:
            assert str(error)
        else:
            assert all(isinstance(item, Receipt | Reply) for item in found)
            assert all(len(item.phone) == 11 for item in found)
