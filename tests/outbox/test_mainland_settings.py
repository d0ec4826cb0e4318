"""A mainland provider's settings, read from the environment at start-up
(sms.senders.sender_from_env → sms.mainland.mainland_sender): what is missing or wrong
is named by its variable, before any message is sent; the registered templates'
settings; the kinds of message."""
from __future__ import annotations

import pytest

from sms.aliyun import AliyunSender
from sms.mainland import (
    KIND_OF_TEMPLATE,
    KINDS,
    SAMPLE_VALUES,
    SettingError,
    TemplateSpec,
    templates_from_env,
)
from sms.senders import SenderConfigError, sender_from_env
from sms.templates import TEMPLATES
from sms.tencent import TencentSender

ALIYUN = {
    "PINGYI_SMS_SENDER": "aliyun", "ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAI5tTest", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "s",
    "FLASK_SMS_SIGN": "平阳县评议办", "PINGYI_SMS_TEMPLATE_INVITATION": "SMS_460755001:unit,section,code,closes",
}
TENCENT = {
    "PINGYI_SMS_SENDER": "tencent", "TENCENTCLOUD_SECRET_ID": "AKIDtest", "TENCENTCLOUD_SECRET_KEY": "k",
    "PINGYI_TENCENT_SMS_APP_ID": "1400787878", "FLASK_SMS_SIGN": "平阳县评议办",
    "PINGYI_SMS_TEMPLATE_INVITATION": "1843201:unit,section,code,closes",
}


def test_each_provider_is_one_variable_away():
    assert isinstance(sender_from_env(ALIYUN), AliyunSender)
    assert isinstance(sender_from_env(TENCENT), TencentSender)
    assert sender_from_env({**TENCENT, "PINGYI_SMS_SENDER": "console"}).name == "console"


@pytest.mark.parametrize(("env", "missing"), [
    (ALIYUN, ["ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "FLASK_SMS_SIGN"]),
    (TENCENT, ["TENCENTCLOUD_SECRET_ID", "TENCENTCLOUD_SECRET_KEY", "PINGYI_TENCENT_SMS_APP_ID", "FLASK_SMS_SIGN"]),
])
def test_every_missing_variable_is_named_at_once(env, missing):
    with pytest.raises(SenderConfigError) as refused:
        sender_from_env({name: value for name, value in env.items() if name not in missing})
    assert all(name in str(refused.value) for name in missing)
    assert "缺少环境变量" in str(refused.value)


@pytest.mark.parametrize("env", [ALIYUN, TENCENT])
def test_a_provider_with_no_template_is_refused(env):
    with pytest.raises(SenderConfigError, match="PINGYI_SMS_TEMPLATE_INVITATION"):
        sender_from_env({name: value for name, value in env.items() if not name.startswith("PINGYI_SMS_TEMPLATE")})


@pytest.mark.parametrize(("text", "said"), [
    ("SMS 460755001:unit", "模板编号"),
    (":unit,code", "模板编号"),
    ("SMS_460755001:unit,1code", "变量名"),
    ("SMS_460755001:unit,unit", "重复"),
    ("SMS_460755001:unit=", "变量名"),
])
def test_a_template_setting_that_cannot_work_names_its_variable(text, said):
    with pytest.raises(SenderConfigError) as refused:
        sender_from_env({**ALIYUN, "PINGYI_SMS_TEMPLATE_REMINDER": text})
    assert "PINGYI_SMS_TEMPLATE_REMINDER" in str(refused.value) and said in str(refused.value)


def test_a_template_names_its_variables_in_order_and_may_rename_them():
    spec = TemplateSpec.parse("PINGYI_SMS_TEMPLATE_INVITATION", " 1843201 : unit , dept=section,code ")
    assert spec.code == "1843201"
    assert spec.variables == (("unit", "unit"), ("dept", "section"), ("code", "code"))
    assert spec.values({"unit": "县发改局", "section": "价格科", "code": "K7M4Q9PX", "sign": "x"}) == [
        ("unit", "县发改局"), ("dept", "价格科"), ("code", "K7M4Q9PX")]
    with pytest.raises(KeyError, match="code"):
        spec.values({"unit": "u", "section": "s"})
    assert set(templates_from_env({**ALIYUN, "PINGYI_SMS_TEMPLATE_LIAISON": "SMS_1:unit"})) == {"invitation", "liaison"}


@pytest.mark.parametrize(("variable", "value"), [
    ("PINGYI_SMS_CALLBACK_NETWORKS", "203.0.113.0/24, not-a-network"),
    ("PINGYI_ALIYUN_ENDPOINT", "http://127.0.0.1:4010/path"),
    ("PINGYI_ALIYUN_ENDPOINT", "ftp://dysmsapi.aliyuncs.com"),
])
def test_callback_networks_and_endpoints_are_checked_at_start_up(variable, value):
    with pytest.raises(SenderConfigError, match=variable):
        sender_from_env({**ALIYUN, variable: value})


def test_every_platform_template_has_a_kind_and_the_samples_fill_it():
    """A new template of the platform must be given its kind (and so its registered
    template), and `pingyi sms test-send` must be able to fill every kind's variables."""
    assert set(TEMPLATES) <= set(KIND_OF_TEMPLATE)
    assert set(KIND_OF_TEMPLATE.values()) == set(KINDS)
    for template in TEMPLATES.values():
        assert template.params - {"sign"} <= set(SAMPLE_VALUES), template.id


def test_a_sample_value_fits_the_providers_variable_limit():
    """Alibaba caps a variable at 35 characters by default (长变量短信发送与字符限制)."""
    assert all(len(value) <= 35 for value in SAMPLE_VALUES.values())
    with pytest.raises(SettingError):
        TemplateSpec.parse("X", "bad code:unit")
