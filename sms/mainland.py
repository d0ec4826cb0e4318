"""What the mainland providers' senders share (docs/rules.md §4.15): message kinds and
their registered templates, delivery receipts and replies as the platform reads them.

Mainland carriers deliver an application's SMS only through a licensed provider, with a
registered signature (签名) and an approved template per kind of message; the message
carries the template's code and the values of its variables, never free text. The
platform's templates (sms/templates.py) map onto five kinds, each registered once with
the provider: `TemplateSpec` is a kind's template code and the names of its variables
in the registered order (Tencent numbers its variables {1}, {2}, …; Alibaba names them
${unit}, …), each the platform's parameter of that name, or `provider=platform` where
the registered name differs.

A receipt or a reply reaches the platform in the provider's shape (a push to its
callback address, or a pull); each provider's module reads it into `Receipt` and
`Reply`, and the platform records them the same way whoever sent them.
"""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sms.senders import Sender
from sms.templates import (
    FOLLOWUP_VERDICT,
    INVITE_CODE,
    INVITE_CODE_SHORT,
    INVITE_LINK,
    LIAISON_REMINDER,
    ONLINE_ACCOUNT,
    ONLINE_REMINDER,
    REMINDER_CODE,
    REMINDER_CODE_SHORT,
    REMINDER_LINK,
    VERIFICATION_CODE,
)

# The kinds of message a county registers a template for, and the environment variable
# that names each one's template (PINGYI_SMS_TEMPLATE_INVITATION=SMS_485930123:unit,section,…).
INVITATION = "invitation"  # a citizen's survey invitation (code mode: address and code)
REMINDER = "reminder"  # its reminder
ACCOUNT = "account"  # an online round's evaluator: account and one-time password
ACCOUNT_REMINDER = "account_reminder"  # an evaluator who has not voted yet (never the password)
LIAISON = "liaison"  # a unit's liaison: what the unit still owes the office
VERIFICATION = "verification"  # a 6-digit code confirming a phone (the window ratings)
FOLLOW_UP = "follow_up"  # a poor rating's follow-up: the citizen rates its handling
KINDS = (INVITATION, REMINDER, ACCOUNT, ACCOUNT_REMINDER, LIAISON, VERIFICATION, FOLLOW_UP)
KIND_LABELS = {
    INVITATION: "调查邀请", REMINDER: "调查提醒", ACCOUNT: "评议代表账号和密码", ACCOUNT_REMINDER: "评议代表提醒",
    LIAISON: "联络员提醒", VERIFICATION: "验证码", FOLLOW_UP: "差评回访",
}
# The platform's templates by kind; a kind's own name stands for it too (a test message).
KIND_OF_TEMPLATE = {
    INVITE_LINK: INVITATION, INVITE_CODE: INVITATION, INVITE_CODE_SHORT: INVITATION,
    REMINDER_LINK: REMINDER, REMINDER_CODE: REMINDER, REMINDER_CODE_SHORT: REMINDER,
    ONLINE_ACCOUNT: ACCOUNT, ONLINE_REMINDER: ACCOUNT_REMINDER, LIAISON_REMINDER: LIAISON,
    VERIFICATION_CODE: VERIFICATION, FOLLOWUP_VERDICT: FOLLOW_UP,
    **{kind: kind for kind in KINDS},
}
# The kinds the platform sends (all of them): `pingyi check-config` names any without a template.
SENT_KINDS = KINDS
# Values for a test message (`pingyi sms test-send`), by the platform's parameter name.
SAMPLE_VALUES = {
    "unit": "县行政审批局", "section": "综合窗口", "place": "县行政审批局综合窗口", "date": "2021年上半年",
    "matter": "营业执照办理", "address": "pingyi.example.gov.cn/p", "code": "K7M4Q9PX", "closes": "6月30日18:00",
    "year": "2021", "login": "PY000123", "password": "8KQ2MX7A", "what": "服务对象名单", "missing": "2个科室",
    "due": "5月20日", "link": "pingyi.example.gov.cn/e", "reply_hint": "", "token": "WzEyLCJrN3F4In0.Zm9sbG93dXA",
}


def template_variable(kind: str) -> str:
    return f"PINGYI_SMS_TEMPLATE_{kind.upper()}"


class SettingError(ValueError):
    """A mainland sender's setting that cannot work; the message names the variable."""


_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")
_CODE = re.compile(r"[A-Za-z0-9_\-]{1,64}")


@dataclass(frozen=True)
class TemplateSpec:
    """A registered template: its code with the provider and its variables in order,
    each as (the provider's name, the platform's parameter)."""

    code: str
    variables: tuple[tuple[str, str], ...]

    @classmethod
    def parse(cls, variable: str, text: str) -> TemplateSpec:
        """"SMS_485930123:unit,section,address,code,closes" (Alibaba) or
        "1843201:unit,section,address,code,closes" (Tencent); "dept=unit" where the
        registered variable has another name than the platform's parameter."""
        code, _, names = text.strip().partition(":")
        code = code.strip()
        if not _CODE.fullmatch(code):
            raise SettingError(f"{variable} 的模板编号“{code}”无效：应为服务商给出的模板编号，如 SMS_485930123 或 1843201")
        variables = []
        for item in filter(None, (part.strip() for part in names.split(","))):
            provider, renamed, ours = item.partition("=")
            provider, ours = provider.strip(), (ours.strip() if renamed else provider.strip())
            if not _NAME.fullmatch(provider) or not _NAME.fullmatch(ours):
                raise SettingError(f"{variable} 的变量名“{item}”无效：应为字母开头的字母、数字或下划线")
            variables.append((provider, ours))
        if len({provider for provider, _ in variables}) != len(variables):
            raise SettingError(f"{variable} 中有重复的变量名")
        return cls(code, tuple(variables))

    def values(self, params: Mapping[str, str]) -> list[tuple[str, str]]:
        """The variables' values from a message's parameters, in order. A parameter the
        registered template needs and the message lacks raises KeyError (its name)."""
        return [(provider, str(params[ours])) for provider, ours in self.variables]


def templates_from_env(environ: Mapping[str, str]) -> dict[str, TemplateSpec]:
    """Each configured kind's template (a kind not configured is left out: a message of
    that kind fails with a reason naming the variable to set)."""
    found = {}
    for kind in KINDS:
        text = (environ.get(template_variable(kind)) or "").strip()
        if text:
            found[kind] = TemplateSpec.parse(template_variable(kind), text)
    return found


@dataclass(frozen=True)
class Receipt:
    """A delivery receipt: the message the provider knows by `provider_id` (Alibaba's
    BizId with the number, Tencent's SerialNo) reached the phone, or did not and why."""

    provider_id: str
    phone: str  # the 11 national digits
    delivered: bool
    code: str  # the carrier's or provider's status code ("DELIVERED", "MK:0001", …)
    reason: str  # what the provider said (no phone number in it), "" when delivered
    at: datetime | None  # when the phone got it, or the carrier gave up


@dataclass(frozen=True)
class Reply:
    """A citizen's reply (上行): the number it came from and its text."""

    phone: str  # the 11 national digits
    text: str
    at: datetime | None
    ref: str  # the provider's id of the reply, "" when it gives none


class CallbackError(ValueError):
    """A push the platform cannot read; the message (Chinese) says what is wrong."""


# The callbacks' settings, for both providers: the secret in the callback addresses
# (neither provider signs its pushes) and, where the county knows them, the networks
# the provider pushes from.
CALLBACK_SECRET = "PINGYI_SMS_CALLBACK_SECRET"
CALLBACK_NETWORKS = "PINGYI_SMS_CALLBACK_NETWORKS"
SIGN_NAME = "FLASK_SMS_SIGN"  # the same signature the rendered texts carry (voting/core/config.py SMS_SIGN)
PROVIDER_VARIABLES = {
    "aliyun": ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
    "tencent": ("TENCENTCLOUD_SECRET_ID", "TENCENTCLOUD_SECRET_KEY", "PINGYI_TENCENT_SMS_APP_ID"),
}
MAINLAND = tuple(PROVIDER_VARIABLES)


def callback_networks(environ: Mapping[str, str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The networks PINGYI_SMS_CALLBACK_NETWORKS names (empty: not checked)."""
    found = []
    for item in filter(None, (part.strip() for part in (environ.get(CALLBACK_NETWORKS) or "").split(","))):
        try:
            found.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise SettingError(f"{CALLBACK_NETWORKS} 中的“{item}”不是网段（应写成 203.0.113.0/24 这样的网段，以逗号分隔）") from None
    return found


def _endpoint(variable: str, text: str | None, default: str) -> tuple[str, str]:
    """An endpoint setting as (scheme, host[:port]): "sms.tencentcloudapi.com" or, for a
    local fake, "http://127.0.0.1:4010"."""
    if not text:
        return "https", default
    scheme, found, rest = text.partition("://")
    if not found:
        scheme, rest = "https", text
    if scheme not in ("http", "https") or not rest or "/" in rest.rstrip("/"):
        raise SettingError(f"{variable} 应为服务商接口的主机名，如 {default}，不是“{text}”")
    return scheme, rest.rstrip("/")


def mainland_sender(chosen: str, environ: Mapping[str, str]) -> Sender:
    """The Alibaba Cloud or Tencent Cloud sender configured by `environ`. Raises
    SettingError naming every variable that is missing or wrong. The SDKs are imported
    here, so that a platform on another sender never loads them."""

    def value(name: str) -> str:
        return (environ.get(name) or "").strip()

    missing = [name for name in (*PROVIDER_VARIABLES[chosen], SIGN_NAME) if not value(name)]
    if missing:
        raise SettingError(f"短信发送方式 {chosen} 缺少环境变量：{'、'.join(missing)}")
    callback_networks(environ)  # refused at start-up, not at the first push
    templates = templates_from_env(environ)
    if not templates:
        raise SettingError(f"短信发送方式 {chosen} 没有配置任何短信模板：请至少设置 {template_variable(INVITATION)}")
    if chosen == "aliyun":
        from sms.aliyun import AliyunSender

        scheme, host = _endpoint("PINGYI_ALIYUN_ENDPOINT", value("PINGYI_ALIYUN_ENDPOINT"), "dysmsapi.aliyuncs.com")
        return AliyunSender(value("ALIBABA_CLOUD_ACCESS_KEY_ID"), value("ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
                            sign_name=value(SIGN_NAME), templates=templates, endpoint=host, protocol=scheme)
    from sms.tencent import TencentSender

    scheme, host = _endpoint("PINGYI_TENCENT_ENDPOINT", value("PINGYI_TENCENT_ENDPOINT"), "sms.tencentcloudapi.com")
    return TencentSender(value("TENCENTCLOUD_SECRET_ID"), value("TENCENTCLOUD_SECRET_KEY"),
                         sdk_app_id=value("PINGYI_TENCENT_SMS_APP_ID"), sign_name=value(SIGN_NAME),
                         templates=templates, region=value("PINGYI_TENCENT_REGION") or "ap-guangzhou",
                         endpoint=host, scheme=scheme)
