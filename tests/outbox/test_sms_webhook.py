"""Inbound SMS: the Twilio signature (made by twilio's own RequestValidator), the
reading of a citizen's reply, and the TwiML answer; and the message templates."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from twilio.request_validator import RequestValidator

from sms import templates
from sms.webhook import BASIC, NOT_UNDERSTOOD, SATISFIED, UNSATISFIED, parse_reply, twiml, twiml_empty, valid_signature

TOKEN = "12345678901234567890123456789012"
URL = "https://pingyi.example.gov.cn/sms/inbound"
PARAMS = {"From": "+8613812345678", "To": "+15005550006", "Body": "1", "MessageSid": "SM" + "a" * 32}


def signed(params=PARAMS, url=URL, token=TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, params)


def test_a_request_twilio_signed_is_accepted():
    assert valid_signature(TOKEN, URL, PARAMS, signed())


@pytest.mark.parametrize(
    ("params", "url", "signature"),
    [
        ({**PARAMS, "Body": "3"}, URL, signed()),  # the body changed after signing
        (PARAMS, URL.replace("https", "http"), signed()),  # another URL (a proxy not fixed)
        (PARAMS, URL, signed(token="another auth token 0000000000000")),  # another account
        (PARAMS, URL, ""),
        (PARAMS, URL, None),
        (PARAMS, URL, signed()[:-2]),
    ],
)
def test_anything_else_is_refused(params, url, signature):
    assert not valid_signature(TOKEN, url, params, signature)


def test_no_auth_token_configured_refuses_everything():
    assert not valid_signature("", URL, PARAMS, signed(token=""))


@pytest.mark.parametrize(
    ("body", "choice", "code"),
    [
        ("1", SATISFIED, None), ("２", BASIC, None), (" 3 ", UNSATISFIED, None),
        ("满意", SATISFIED, None), ("基本满意", BASIC, None), ("不满意", UNSATISFIED, None),
        ("1 满意", SATISFIED, None), ("3。", UNSATISFIED, None),
        ("2 K7M4Q9PX", BASIC, "K7M4Q9PX"), ("k7m4-q9px,3", UNSATISFIED, "K7M4Q9PX"),
        ("K7M4Q9PX 不满意", UNSATISFIED, "K7M4Q9PX"), ("ｋ７ｍ４ｑ９ｐｘ １", SATISFIED, "K7M4Q9PX"),
    ],
)
def test_replies_that_are_votes(body, choice, code):
    reply = parse_reply(body)
    assert (reply.choice, reply.code, reply.problem) == (choice, code, None)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("", NOT_UNDERSTOOD), (None, NOT_UNDERSTOOD), ("好", NOT_UNDERSTOOD), ("4", NOT_UNDERSTOOD),
        ("12", NOT_UNDERSTOOD), ("1 2", "请只选择一项"), ("满意 不满意", "请只选择一项"),
        ("K7M4Q9PX", NOT_UNDERSTOOD), ("K7M4Q9PX K7M4Q9PY 1", "多个评价码"), ("1" * 200, NOT_UNDERSTOOD),
        ("1; DROP TABLE vote", NOT_UNDERSTOOD), ("1\u202e", NOT_UNDERSTOOD),
    ],
)
def test_replies_that_are_not(body, problem):
    reply = parse_reply(body)
    assert reply.choice is None and problem in reply.problem


def test_a_code_with_several_choices_keeps_the_code_for_the_answer():
    reply = parse_reply("K7M4Q9PX 1 3")
    assert (reply.choice, reply.code) == (None, "K7M4Q9PX")


def test_twiml_answers():
    root = ET.fromstring(twiml("已收到您的评价：满意。谢谢！<&>"))
    assert root.tag == "Response" and root.find("Message").text == "已收到您的评价：满意。谢谢！<&>"
    assert ET.fromstring(twiml_empty()).findall("*") == []


PARAMS_LINK = {"sign": "平阳县评议办", "date": "5月12日", "unit": "县市场监管局", "section": "登记注册科",
               "matter": "个体工商户设立登记", "link": "https://p.example.cn/v/abc", "reply_hint": "",
               "closes": "6月30日"}


def test_templates_render_with_their_parameters():
    text = templates.render(templates.INVITE_LINK, PARAMS_LINK)
    assert text.startswith("【平阳县评议办】") and "https://p.example.cn/v/abc" in text
    assert "回复 1 满意、2 基本满意、3 不满意" in text and "{" not in text
    code = templates.render(templates.INVITE_CODE, {**{k: v for k, v in PARAMS_LINK.items() if k != "link"},
                                                    "address": "p.example.cn/v", "code": "K7M4Q9PX",
                                                    "reply_hint": "（请带上评价码 K7M4Q9PX）"})
    assert "K7M4Q9PX" in code and "http" not in code
    for template in templates.TEMPLATES.values():
        assert template.text.startswith("【{sign}】")


def test_a_missing_or_extra_parameter_is_refused_by_name():
    with pytest.raises(templates.TemplateError) as caught:
        templates.render(templates.INVITE_LINK, {k: v for k, v in PARAMS_LINK.items() if k != "unit"} | {"x": "1"})
    assert "缺少参数 unit" in str(caught.value) and "多余参数 x" in str(caught.value)
    with pytest.raises(templates.TemplateError):
        templates.render("no_such_template", {})


def test_parameters_are_cleaned_and_a_long_matter_shortened():
    text = templates.render(templates.INVITE_LINK, {**PARAMS_LINK, "unit": "县市场\u202e监管局\n",
                                                    "matter": "关于" + "某某" * 30 + "的行政处罚案"})
    assert "\u202e" not in text and "\n" not in text
    matter = text.split("“")[1].split("”")[0]
    assert len(matter) == templates.MATTER_MAX and matter.endswith("…")
