"""Tencent Cloud SMS (腾讯云短信): the sender, the pulls of receipts and replies, and the
reading of Tencent's callbacks (docs/rules.md §4.14), through the official SDK
(`tencentcloud-sdk-python-sms`, API 3.0, version 2021-01-11, signed TC3-HMAC-SHA256).

What the documentation says, and what this module makes of it:

- SendSms (腾讯云 API 文档「发送短信」, SendSms 2021-01-11): up to 200 numbers a call
  (`PhoneNumberSet`, E.164 "+86…"), one `TemplateId` and one `TemplateParamSet` for
  all of them ("模板参数的个数需要与 TemplateId 对应模板的变量个数保持一致"), the
  approved `SignName` and the `SmsSdkAppId`. So `calls` puts together the messages of
  one template with the same values (a liaison reminder to every unit of a section)
  and sends a citizen's own code alone. The answer's `SendStatusSet` has one
  `SendStatus` per number (SerialNo, PhoneNumber, Fee, SessionContext, Code "Ok" or an
  error code, Message, IsoCode): each message's outcome comes from its own.
- Errors («错误码», 短信 API 3.0 发送错误码, and 公共错误码): a failed call answers
  `{"Response": {"Error": {"Code", "Message"}, "RequestId"}}`, which the SDK raises as
  `TencentCloudSDKException(code, message, requestId)`. The legacy code table
  («错误码» 1022–1026) says what the limits are: 1023 "单个手机号30秒内下发短信条数
  超过设定的上限" (LimitExceeded.PhoneNumberThirtySecondLimit), 1024 "…1小时内…"
  (PhoneNumberOneHourLimit), 1025 "单个手机号日下发短信条数超过设定的上限"
  (PhoneNumberDailyLimit), 1026 "单个手机号下发相同内容超过设定的上限"
  (PhoneNumberSameContentDailyLimit), 1022 "业务短信日下发条数超过设定的上限"
  (AppDailyLimit), and 1008 / InternalError.Timeout "出现概率很低，可重试解决".
- Receipts and replies: PullSmsSendStatus and PullSmsReplyStatus («拉取短信下发状态»,
  «拉取短信回复状态»: `Limit` at most 100; "拉取过的内容不会再重复返回，可以理解为消息
  队列机制", so every pulled item is kept even when another is unreadable), or the
  callbacks pushed to the configured address («短信下发状态通知»: a JSON array of
  {user_receive_time "2015-10-17 08:03:04", nationcode, mobile, report_status
  SUCCESS/FAIL, errmsg "DELIVRD", description, sid = the SerialNo}; «短信回复»:
  {extend, mobile, nationcode, sign, text, time (UNIX seconds)}), each answered with
  {"result": 0, "errmsg": "OK"} (`CALLBACK_OK`).
- The SDK (tencentcloud/common): a network failure is `ClientNetworkError` with the
  `requests` exception as its context (a read timeout is `ReadTimeout`: the request went
  out); an HTTP status other than 200 is `ServerNetworkError`. No retryer is set (the
  SDK's `StandardRetryer` would resend on RequestLimitExceeded and network errors: the
  outbox retries with its own backoff, and resending after a read timeout could send a
  message twice), nor the region breaker (its code path swallows the exception).

Where the documentation leaves it open:

- LimitExceeded.DeliveryFrequencyLimit ("下发短信命中了频率限制策略") does not say which
  window: the message is held an hour (the middle one: longer than 30 s, and a daily
  limit only holds it again an hour later).
- FailedOperation.InsufficientBalanceInSmsPackage (套餐包余量不足) and
  UnauthorizedOperation.ServiceSuspendDueToArrears (欠费停服) are held an hour, not
  failed: the messages go out once the office tops up, and the reason on the outbox
  row says what to do. Every other refusal of the account (AuthFailure.*,
  UnauthorizedOperation.*) is permanent.
- A number missing from an answered call's SendStatusSet is uncertain (Tencent may
  have sent it); a 200 answer that is not Tencent's JSON is transient, as for Twilio.
- A status callback's time has no zone: it is Beijing time; the UNIX times are UTC.
- The reply callback's sample is one object, not an array: both are read. Tencent
  gives a reply no id, so `Reply.ref` is "".

No phone number and no template value reaches a log line or a reason: numbers are
masked (138****5678), the call's template values are blanked from Tencent's messages,
and the SDK's own DEBUG log of each request and answer (on `tencentcloud_sdk_common`,
with the body) is cut to its first line.
"""
from __future__ import annotations

import json
import logging
import math
import re
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final
from urllib.parse import urlsplit

import requests
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111 import models, sms_client

from sms.mainland import (
    KIND_LABELS,
    KIND_OF_TEMPLATE,
    KINDS,
    CallbackError,
    Receipt,
    Reply,
    TemplateSpec,
    template_variable,
)
from sms.phones import PhoneError, blank_values, mask_phone, mask_phones_in, normalize_phone
from sms.senders import (
    HeldSendError,
    Message,
    Outcome,
    PermanentSendError,
    SendError,
    Sent,
    TransientSendError,
    UncertainSendError,
)

_log = logging.getLogger(__name__)

MAX_NUMBERS = 200  # SendSms: "单次请求最多支持200个手机号"
PULL_MAX = 100  # PullSmsSendStatus / PullSmsReplyStatus: "拉取最大条数，最多100条"
REASON_MAX = 300
# What Tencent expects as the answer to a callback («短信下发状态通知», «短信回复»).
CALLBACK_OK: Final[dict[str, Any]] = {"result": 0, "errmsg": "OK"}
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")  # no daylight saving since 1991

# -- errors -------------------------------------------------------------------------------

# A limit per number or on the account: the message waits (None: until the next day).
_HELD: dict[str, timedelta | None] = {
    "LimitExceeded.PhoneNumberThirtySecondLimit": timedelta(seconds=30),
    "LimitExceeded.PhoneNumberOneHourLimit": timedelta(hours=1),
    "LimitExceeded.PhoneNumberDailyLimit": None,
    "LimitExceeded.PhoneNumberSameContentDailyLimit": None,
    "LimitExceeded.AppDailyLimit": None,
    "LimitExceeded.AppMainlandChinaDailyLimit": None,
    "LimitExceeded.DailyLimit": None,
    # Which window is not said: an hour (see the module's docstring).
    "LimitExceeded.DeliveryFrequencyLimit": timedelta(hours=1),
    # The account cannot pay for it now: held, not failed, until the office tops up.
    "FailedOperation.InsufficientBalanceInSmsPackage": timedelta(hours=1),
    "UnauthorizedOperation.ServiceSuspendDueToArrears": timedelta(hours=1),
}

# The short Chinese reason of each code the platform can meet (from «错误码»).
_REASONS: dict[str, str] = {
    "FailedOperation.TemplateIncorrectOrUnapproved": "模板未审核通过，或与审核通过的模板内容不符",
    "FailedOperation.TemplateUnapprovedOrNotExist": "模板未审核通过或不存在",
    "FailedOperation.TemplateIdNotExist": "模板编号不存在",
    "FailedOperation.TemplateParamSetNotMatchApprovedTemplate": "模板参数的个数与审核通过的模板不符",
    "FailedOperation.SignatureIncorrectOrUnapproved": "短信签名未审核通过或格式错误",
    "FailedOperation.MissingSignature": "没有可用的短信签名",
    "FailedOperation.ContainSensitiveWord": "短信内容含有敏感词",
    "FailedOperation.PhoneNumberInBlacklist": "号码在免打扰名单中（用户退订或运营商拦截）",
    "FailedOperation.PhoneNumberParseFail": "号码无法解析",
    "FailedOperation.FailResolvePacket": "请求包解析失败",
    "FailedOperation.JsonParseFail": "请求包解析失败",
    "FailedOperation.InsufficientBalanceInSmsPackage": "短信套餐包余量不足，购买套餐包后继续发送",
    "FailedOperation.MarketingSendTimeConstraint": "营销短信只能在 8 点到 22 点发送",
    "InvalidParameterValue.IncorrectPhoneNumber": "手机号码格式错误",
    "InvalidParameterValue.TemplateParameterFormatError": "模板变量的格式不符合要求（如验证码只能是数字）",
    "InvalidParameterValue.TemplateParameterLengthLimit": "模板变量超过长度上限",
    "InvalidParameterValue.ContentLengthLimit": "短信内容太长",
    "InvalidParameterValue.ProhibitedUseUrlInTemplateParameter": "模板变量中不能有网址",
    "InvalidParameterValue.SdkAppIdNotExist": "SdkAppId 不存在",
    "InvalidParameterValue.InvalidInternational": "不是国内短信的号码",
    "LimitExceeded.PhoneNumberThirtySecondLimit": "同一号码 30 秒内的条数已达上限，稍后发送",
    "LimitExceeded.PhoneNumberOneHourLimit": "同一号码 1 小时内的条数已达上限，稍后发送",
    "LimitExceeded.PhoneNumberDailyLimit": "同一号码当天的条数已达上限，次日发送",
    "LimitExceeded.PhoneNumberSameContentDailyLimit": "同一号码当天相同内容的条数已达上限，次日发送",
    "LimitExceeded.AppDailyLimit": "本应用当天的条数已达上限，次日发送",
    "LimitExceeded.AppMainlandChinaDailyLimit": "本应用当天发往大陆的条数已达上限，次日发送",
    "LimitExceeded.DailyLimit": "当天的条数已达上限，次日发送",
    "LimitExceeded.DeliveryFrequencyLimit": "命中了发送频率限制，稍后发送",
    "LimitExceeded.PhoneNumberCountLimit": "一次提交的号码超过 200 个",
    "RequestLimitExceeded": "请求过于频繁，稍后重试",
    "InternalError.Timeout": "腾讯云下发短信超时，稍后重试",
    "AuthFailure.SignatureFailure": "API 签名错误：SecretKey 不对",
    "AuthFailure.SecretIdNotFound": "SecretId 不存在或已停用",
    "AuthFailure.InvalidSecretId": "SecretId 无效",
    "AuthFailure.SignatureExpire": "签名过期：本机时钟与标准时间相差超过 5 分钟",
    "AuthFailure.InvalidAuthorization": "请求的 Authorization 不符合腾讯云标准",
    "AuthFailure.UnauthorizedOperation": "密钥没有发送短信的权限",
    "UnauthorizedOperation.RequestIpNotInWhitelist": "本机 IP 不在白名单中",
    "UnauthorizedOperation.RequestPermissionDeny": "请求没有权限",
    "UnauthorizedOperation.SdkAppIdIsDisabled": "SdkAppId 已停用",
    "UnauthorizedOperation.SmsSdkAppIdVerifyFail": "SdkAppId 校验失败",
    "UnauthorizedOperation.ServiceSuspendDueToArrears": "欠费被停止服务，缴清欠款后继续发送",
    "UnsupportedRegion": "接口不支持所填的地域",
}
# By the part of the code before its first dot, for a code not in the table.
_FAMILIES: dict[str, str] = {
    "AuthFailure": "身份验证失败",
    "UnauthorizedOperation": "没有权限",
    "InternalError": "腾讯云内部错误，稍后重试",
    "RequestLimitExceeded": "请求过于频繁，稍后重试",
    "LimitExceeded": "超过频率或数量限制",
    "FailedOperation": "操作失败",
    "InvalidParameter": "参数错误",
    "InvalidParameterValue": "参数取值错误",
    "MissingParameter": "缺少参数",
    "UnknownParameter": "未知参数",
    "UnsupportedOperation": "不支持的操作",
}
_CODE_CHARS = re.compile(r"[^A-Za-z0-9._]")
_SECRET_MIN = 4  # shorter template values ("1", "否") would blank ordinary words


def _redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` without the call's template values and with every phone-like run of digits
    masked (a mainland number as 138****5678)."""
    return mask_phones_in(blank_values(text, secrets, _SECRET_MIN))


def _short_reason(code: str) -> str:
    if code in _REASONS:
        return _REASONS[code]
    return _FAMILIES.get(code.split(".", 1)[0], "发送失败")


def _reason(code: str, short: str, said: str = "") -> str:
    """"腾讯云短信 <code>：<short>（<what Tencent said>）", at most REASON_MAX characters."""
    head = f"腾讯云短信 {code}：{short}"
    said = " ".join(said.split())
    if not said:
        return head[:REASON_MAX]
    room = REASON_MAX - len(head) - 2
    if room < 8:
        return head[:REASON_MAX]
    if len(said) > room:
        said = said[: room - 1] + "…"
    return f"{head}（{said}）"


def refusal(code: str, message: str = "", *, secrets: Iterable[str] = ()) -> SendError:
    """Tencent's error code (a whole call's Error.Code, or one number's SendStatus.Code)
    as the outbox's outcome; `message` (Tencent's) is redacted of numbers and `secrets`."""
    code = _CODE_CHARS.sub("", str(code))[:80] or "?"
    reason = _reason(code, _short_reason(code), _redact(str(message or ""), secrets))
    if code in _HELD:
        return HeldSendError(reason, wait=_HELD[code])
    family = code.split(".", 1)[0]
    if family in ("RequestLimitExceeded", "InternalError"):
        return TransientSendError(reason)
    return PermanentSendError(reason)


# Names of `requests` exceptions met while reading an answer that had begun (the SDK
# wraps them as TencentCloudSDKException(type(e).__name__, str(e))).
_BODY_ERRORS = frozenset({"ConnectionError", "ChunkedEncodingError", "ContentDecodingError", "ReadTimeout",
                          "ProtocolError", "ReadTimeoutError", "IncompleteRead"})


def _requests_cause(error: BaseException) -> BaseException | None:
    seen = 0
    cause = error.__cause__ or error.__context__
    while cause is not None and seen < 5:
        if isinstance(cause, requests.RequestException):
            return cause
        cause, seen = cause.__cause__ or cause.__context__, seen + 1
    return None


def sdk_failure(error: TencentCloudSDKException, *, secrets: Iterable[str] = ()) -> SendError:
    """A failed SDK call as the outbox's outcome. Tencent's own errors carry a RequestId;
    the SDK's (the network, an HTTP status, an unreadable answer) do not."""
    code = str(error.get_code() or "")
    if error.get_request_id():
        return refusal(code, str(error.get_message() or ""), secrets=secrets)
    cause = _requests_cause(error)
    if code == "ClientNetworkError":
        if isinstance(cause, requests.ReadTimeout) or (cause is None and "Read timed out" in str(error.get_message())):
            return UncertainSendError(_reason(code, "请求已发出，腾讯云短信没有按时应答，短信可能已发出（ReadTimeout）"))
        name = type(cause).__name__ if cause is not None else "网络错误"
        return TransientSendError(_reason(code, f"未连上腾讯云短信，稍后重试（{name}）"))
    if code in _BODY_ERRORS or cause is not None:
        return UncertainSendError(_reason(code, "腾讯云短信的应答没有收完，短信可能已发出"))
    if code == "ServerNetworkError":
        return TransientSendError(_reason(code, "腾讯云短信的应答不是 HTTP 200，稍后重试"))
    if code in ("InvalidCredential", "ClientError", "ClientParamsError"):
        return PermanentSendError(_reason(code, "SDK 拒绝了这次调用", _redact(str(error.get_message() or ""), secrets)))
    return TransientSendError(_reason(_CODE_CHARS.sub("", code)[:80] or "?", "腾讯云短信的应答无法读取，稍后重试"))


# -- the SDK's own log --------------------------------------------------------------------


class _QuietSdkLog(logging.Filter):
    """The SDK logs every request ("SendRequest: …" with its body: the numbers and the
    template values) and every answer ("GetResponse: …" with its body) at DEBUG on
    `tencentcloud_sdk_common`. Each of its records keeps its first line, redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 - a record that cannot be formatted: keep its template only
            text = str(record.msg)
        record.msg = _redact(text.split("\n", 1)[0])[:200] + (" …（内容已略去）" if "\n" in text else "")
        record.args = ()
        return True


_SDK_LOGGER = logging.getLogger("tencentcloud_sdk_common")
if not any(isinstance(f, _QuietSdkLog) for f in _SDK_LOGGER.filters):
    _SDK_LOGGER.addFilter(_QuietSdkLog())


# -- times ----------------------------------------------------------------------------------

_EARLIEST, _LATEST = 0, 253402300799  # 1970 to the end of 9999


def _unix_time(value: object) -> datetime | None:
    """A UNIX time in seconds (a number, or its digits as text) as an aware datetime."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and re.fullmatch(r"\d{1,12}", value.strip()):
        value = int(value.strip())
    if isinstance(value, int | float) and math.isfinite(value) and _EARLIEST <= value <= _LATEST:
        return datetime.fromtimestamp(value, tz=UTC)
    return None


def _beijing_time(value: object) -> datetime | None:
    """"2015-10-17 08:03:04" (Beijing time, as Tencent writes it) or a UNIX time."""
    if isinstance(value, str):
        try:
            return datetime.strptime(value.strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)
        except ValueError:
            pass
    return _unix_time(value)


# -- the sender -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    """How a message goes out: its template and the values of its variables, or why it
    cannot go through Tencent at all."""

    spec: TemplateSpec | None
    values: tuple[str, ...]
    problem: str | None

    @property
    def key(self) -> tuple[str, tuple[str, ...]] | None:
        return (self.spec.code, self.values) if self.spec is not None and self.problem is None else None


class TencentSender:
    """Sends through Tencent Cloud SMS (API 3.0 SendSms) with the official SDK.

    `templates` maps each kind (sms.mainland.KINDS) to its registered template: the
    template id and the platform's parameters for {1}, {2}, … in order. `sign_name` is
    the approved signature (Tencent adds it to the text). `endpoint` and `scheme` point
    the SDK elsewhere (a loopback fake in the tests); `timeout` is the SDK's request
    timeout in seconds (connect and read).
    """

    name = "tencent"
    max_batch = MAX_NUMBERS

    def __init__(
        self,
        secret_id: str,
        secret_key: str,
        *,
        sdk_app_id: str,
        sign_name: str,
        templates: Mapping[str, TemplateSpec],
        region: str = "ap-guangzhou",
        endpoint: str = "sms.tencentcloudapi.com",
        scheme: str = "https",
        timeout: float = 10,
    ) -> None:
        if not secret_id or not secret_key or secret_id.strip() != secret_id or secret_key.strip() != secret_key:
            raise ValueError("TencentSender needs a SecretId and a SecretKey (without spaces)")
        if not str(sdk_app_id).strip():
            raise ValueError("TencentSender needs the SmsSdkAppId (the application's id, like 1400006666)")
        if not sign_name.strip():
            raise ValueError("TencentSender needs the approved signature (SignName)")
        if scheme not in ("http", "https"):
            raise ValueError(f"scheme must be http or https, not {scheme!r}")
        parts = urlsplit(f"//{endpoint}")
        if not endpoint or not parts.hostname or parts.path or parts.query:
            raise ValueError(f"endpoint must be a host, like sms.tencentcloudapi.com or 127.0.0.1:8080, not {endpoint!r}")
        if not timeout or timeout <= 0:
            raise ValueError(f"timeout must be positive, not {timeout!r}")
        unknown = sorted(set(templates) - set(KINDS))
        if unknown:
            raise ValueError(f"templates for unknown kinds: {', '.join(unknown)} (kinds: {', '.join(KINDS)})")
        self._sdk_app_id = str(sdk_app_id).strip()
        self._sign_name = sign_name.strip()
        self._templates = dict(templates)
        http = HttpProfile(protocol=scheme, endpoint=endpoint, reqMethod="POST", reqTimeout=timeout)
        # No retryer and no region breaker (see the module's docstring); Chinese messages.
        profile = ClientProfile(httpProfile=http, language="zh-CN", disable_region_breaker=True, retryer=None)
        self._client = sms_client.SmsClient(credential.Credential(secret_id, secret_key), region, profile)

    # -- planning

    def _plan(self, message: Message) -> _Plan:
        # A platform template id ("invite_code"), or a kind itself for the kinds whose
        # messages have no template of their own in sms/templates.py ("verification").
        kind = KIND_OF_TEMPLATE.get(message.template) or (message.template if message.template in KINDS else None)
        if kind is None:
            return _Plan(None, (), f"短信模板 {message.template} 不属于任何短信类别，无法通过腾讯云短信发送")
        spec = self._templates.get(kind)
        if spec is None:
            return _Plan(None, (), f"未设置“{KIND_LABELS.get(kind, kind)}”的腾讯云短信模板：请设置环境变量 "
                                   f"{template_variable(kind)}（模板 ID 和变量，如 1843201:unit,section,address,code,closes）")
        try:
            values = tuple(value for _, value in spec.values(message.params))
        except KeyError as error:
            missing = str(error.args[0]) if error.args else "?"
            place = next((i for i, (_, ours) in enumerate(spec.variables, 1) if ours == missing), 0)
            return _Plan(spec, (), f"短信 {message.template} 缺少参数 {missing}：环境变量 {template_variable(kind)} "
                                   f"登记的腾讯云模板 {spec.code} 的第 {place} 个变量要用它")
        return _Plan(spec, values, None)

    def calls(self, messages: Sequence[Message]) -> list[list[Message]]:
        """Messages of one template with the same values go together, at most 200 a call
        (TemplateParamSet is shared by every number of a call); the others alone."""
        groups: dict[object, list[Message]] = {}
        for position, message in enumerate(messages):
            key = self._plan(message).key
            groups.setdefault(key if key is not None else ("alone", position), []).append(message)
        found: list[list[Message]] = []
        for group in groups.values():
            found.extend(group[start:start + MAX_NUMBERS] for start in range(0, len(group), MAX_NUMBERS))
        return found

    # -- sending

    def send_batch(self, messages: Sequence[Message]) -> list[Outcome]:
        """One SendSms call: each message's outcome from its own SendStatus. A message
        that cannot go (no template for its kind, a parameter missing) gets a permanent
        error without a call. Raises ValueError for a batch `calls` would never make."""
        plans = [self._plan(message) for message in messages]
        keys = {plan.key for plan in plans if plan.key is not None}
        if len(keys) > 1:
            raise ValueError("send_batch: the messages of one call must share the template and its values (use calls)")
        outcomes: list[Outcome | None] = [
            PermanentSendError(plan.problem) if plan.problem is not None else None for plan in plans
        ]
        sendable = [(i, message) for i, (message, plan) in enumerate(zip(messages, plans)) if plan.problem is None]
        if len(sendable) > MAX_NUMBERS:
            raise ValueError(f"send_batch: at most {MAX_NUMBERS} numbers a call, not {len(sendable)}")
        if sendable:
            plan = plans[sendable[0][0]]
            assert plan.spec is not None  # a plan without a problem has its spec
            sent = self._send([message for _, message in sendable], plan.spec, plan.values)
            for (i, _), outcome in zip(sendable, sent):
                outcomes[i] = outcome
        for message, plan in zip(messages, plans):
            if plan.problem is not None:
                _log.warning("tencent: %s to %s not sent (key %s): no template or parameter", message.template,
                             mask_phone(message.to), message.key)
        return [outcome for outcome in outcomes if outcome is not None]

    def _send(self, messages: list[Message], spec: TemplateSpec, values: tuple[str, ...]) -> list[Outcome]:
        request = models.SendSmsRequest()
        request.PhoneNumberSet = ["+86" + message.to for message in messages]
        request.SmsSdkAppId = self._sdk_app_id
        request.SignName = self._sign_name
        request.TemplateId = spec.code
        request.TemplateParamSet = list(values)
        template = messages[0].template
        try:
            response = self._client.SendSms(request)
        except TencentCloudSDKException as error:
            failure = sdk_failure(error, secrets=values)
            _log.warning("tencent: %s to %d number(s) not sent: %s %s (RequestId %s)", template, len(messages),
                         type(failure).__name__, _CODE_CHARS.sub("", str(error.get_code()))[:80],
                         error.get_request_id() or "-")
            # One error of its own for each message (never chained to the SDK's exception,
            # which holds Tencent's message unredacted).
            return [type(failure)(failure.reason, **_extra(failure)) for _ in messages]
        by_phone: defaultdict[str, deque[Any]] = defaultdict(deque)
        for status in response.SendStatusSet or []:
            try:
                by_phone[normalize_phone(str(status.PhoneNumber or ""))].append(status)
            except PhoneError:
                _log.warning("tencent: a SendStatus with an unreadable number (RequestId %s)", response.RequestId)
        outcomes: list[Outcome] = []
        for message in messages:
            queue = by_phone.get(message.to)
            status = queue.popleft() if queue else None
            outcome: Outcome
            if status is None:
                outcome = UncertainSendError(_reason(
                    "NoSendStatus", "腾讯云短信的应答里没有这个号码的发送状态，短信可能已发出"))
            elif str(status.Code or "").lower() == "ok":
                outcome = Sent(provider_id=str(status.SerialNo or "") or None, status="accepted")
            else:
                outcome = refusal(str(status.Code or ""), str(status.Message or ""), secrets=values)
            if isinstance(outcome, Sent):
                _log.info("tencent: %s to %s accepted as %s", template, mask_phone(message.to), outcome.provider_id)
            else:
                _log.warning("tencent: %s to %s not sent: %s", template, mask_phone(message.to), outcome)
            outcomes.append(outcome)
        _log.info("tencent: %s to %d number(s), template %s: %d accepted (RequestId %s)", template, len(messages),
                  spec.code, sum(isinstance(o, Sent) for o in outcomes), response.RequestId)
        return outcomes

    # -- pulls

    def _pull(self, action: str, request: Any) -> Any:
        try:
            return getattr(self._client, action)(request)
        except TencentCloudSDKException as error:
            outcome = sdk_failure(error)
            _log.warning("tencent: %s failed: %s", action, outcome)
            raise type(outcome)(outcome.reason, **_extra(outcome)) from None

    def pull_receipts(self, limit: int = PULL_MAX) -> list[Receipt]:
        """Delivery receipts not pulled yet (PullSmsSendStatus), at most `limit` (1–100).
        Tencent hands each one over once: an unreadable item is logged and skipped, the
        others kept. A failed pull raises the SendError of its kind (nothing was taken)."""
        request = models.PullSmsSendStatusRequest()
        request.Limit = _pull_limit(limit)
        request.SmsSdkAppId = self._sdk_app_id
        response = self._pull("PullSmsSendStatus", request)
        found: list[Receipt] = []
        for position, item in enumerate(response.PullSmsSendStatusSet or [], 1):
            try:
                phone = _phone(_country(item), item.SubscriberNumber or item.PhoneNumber, position)
                serial = _text(item.SerialNo, position, "SerialNo")
                status = _report_status(item.ReportStatus, position, "ReportStatus")
            except CallbackError as error:
                _log.warning("tencent: skipped a pulled receipt: %s", error)
                continue
            description = str(item.Description or "")
            delivered = status == "SUCCESS"
            found.append(Receipt(
                provider_id=serial, phone=phone, delivered=delivered, code=description or status,
                reason="" if delivered else _redact(description or "下发失败")[:REASON_MAX],
                at=_unix_time(item.UserReceiveTime),
            ))
        return found

    def pull_replies(self, limit: int = PULL_MAX) -> list[Reply]:
        """Citizens' replies not pulled yet (PullSmsReplyStatus), at most `limit` (1–100),
        each handed over once; an unreadable item is logged and skipped."""
        request = models.PullSmsReplyStatusRequest()
        request.Limit = _pull_limit(limit)
        request.SmsSdkAppId = self._sdk_app_id
        response = self._pull("PullSmsReplyStatus", request)
        found: list[Reply] = []
        for position, item in enumerate(response.PullSmsReplyStatusSet or [], 1):
            try:
                phone = _phone(_country(item), item.SubscriberNumber or item.PhoneNumber, position)
            except CallbackError as error:
                _log.warning("tencent: skipped a pulled reply: %s", error)
                continue
            found.append(Reply(phone=phone, text=str(item.ReplyContent or ""), at=_beijing_time(item.ReplyTime), ref=""))
        return found


def _country(item: Any) -> Any:
    """A pulled item's country code, or 86 when only its E.164 number says so."""
    if item.CountryCode not in (None, ""):
        return item.CountryCode
    return "86" if str(item.PhoneNumber or "").startswith("+86") else item.CountryCode


def _extra(outcome: SendError) -> dict[str, Any]:
    return {"wait": outcome.wait} if isinstance(outcome, HeldSendError) else {}


def _pull_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= PULL_MAX:
        raise ValueError(f"limit must be 1 to {PULL_MAX}, not {limit!r}")
    return limit


# -- callbacks --------------------------------------------------------------------------------

_JSON_TYPES = {dict: "对象", list: "数组", str: "字符串", int: "数字", float: "数字", bool: "布尔值", type(None): "null"}


def _json_type(value: object) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _load(body: bytes) -> Any:
    if not isinstance(body, bytes | bytearray):
        raise CallbackError(f"回调内容应为字节串，实为 {type(body).__name__}")
    try:
        text = bytes(body).decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise CallbackError(f"回调内容不是 UTF-8 文本（第 {error.start + 1} 个字节有误）") from None
    if not text.strip():
        raise CallbackError("回调内容为空")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise CallbackError(f"回调内容不是 JSON（第 {error.lineno} 行第 {error.colno} 列附近有误）") from None
    except RecursionError:
        raise CallbackError("回调内容的 JSON 嵌套过深") from None


def _items(data: Any, *, single: bool) -> list[dict[str, Any]]:
    """The items of a callback: a JSON array of objects (or, with `single`, one object)."""
    if single and isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise CallbackError(f"回调内容应为 JSON {'对象或' if single else ''}数组，实为{_json_type(data)}")
    for position, item in enumerate(data, 1):
        if not isinstance(item, dict):
            raise CallbackError(f"第 {position} 条：应为 JSON 对象，实为{_json_type(item)}")
    return data


def _field(item: Mapping[str, Any], position: int, name: str) -> Any:
    if name not in item:
        raise CallbackError(f"第 {position} 条：缺少 {name}")
    return item[name]


def _text(value: Any, position: int, name: str, *, empty: bool = False) -> str:
    if not isinstance(value, str):
        raise CallbackError(f"第 {position} 条：{name} 应为字符串，实为{_json_type(value)}")
    if not empty and not value.strip():
        raise CallbackError(f"第 {position} 条：{name} 为空")
    return value.strip()


def _report_status(value: Any, position: int, name: str) -> str:
    status = _text(value, position, name).upper()
    if status not in ("SUCCESS", "FAIL"):
        raise CallbackError(f"第 {position} 条：{name} 应为 SUCCESS 或 FAIL")
    return status


def _phone(nationcode: Any, mobile: Any, position: int) -> str:
    """The 11 national digits; a number that is not a mainland mobile is refused without
    being echoed."""
    if isinstance(nationcode, int) and not isinstance(nationcode, bool):
        nationcode = str(nationcode)
    if isinstance(mobile, int) and not isinstance(mobile, bool):
        mobile = str(mobile)
    code = _text(nationcode, position, "nationcode").lstrip("+")
    if code.startswith("00"):
        code = code[2:]
    if code != "86":
        raise CallbackError(f"第 {position} 条：不是中国大陆手机号码（国家码不是 86）")
    try:
        return normalize_phone(_text(mobile, position, "mobile"))
    except PhoneError as error:
        raise CallbackError(f"第 {position} 条：手机号码无效：{error}") from None


def parse_reports(body: bytes) -> list[Receipt]:
    """The status callback («短信下发状态通知»): a JSON array of {user_receive_time,
    nationcode, mobile, report_status, errmsg, description, sid}. CallbackError (Chinese,
    naming the item and the field) for a body not in that shape."""
    receipts: list[Receipt] = []
    for position, item in enumerate(_items(_load(body), single=False), 1):
        fields = {name: _field(item, position, name) for name in
                  ("user_receive_time", "nationcode", "mobile", "report_status", "errmsg", "description", "sid")}
        phone = _phone(fields["nationcode"], fields["mobile"], position)
        status = _report_status(fields["report_status"], position, "report_status")
        sid = _text(fields["sid"], position, "sid")
        errmsg = _text(fields["errmsg"], position, "errmsg", empty=True)
        description = _text(fields["description"], position, "description", empty=True)
        received = fields["user_receive_time"]
        at = None
        if received not in ("", None):
            at = _beijing_time(received)
            if at is None:
                raise CallbackError(f"第 {position} 条：user_receive_time 不是“年-月-日 时:分:秒”格式的时间")
        delivered = status == "SUCCESS"
        receipts.append(Receipt(
            provider_id=sid, phone=phone, delivered=delivered, code=errmsg or status,
            reason="" if delivered else _redact(description or errmsg or "下发失败")[:REASON_MAX], at=at,
        ))
    return receipts


def parse_replies(body: bytes) -> list[Reply]:
    """The reply callback («短信回复»): {extend, mobile, nationcode, sign, text, time}, one
    object as in Tencent's sample or an array of them. `ref` is "" (Tencent gives a reply
    no id). CallbackError (Chinese, naming the item and the field) otherwise."""
    replies: list[Reply] = []
    for position, item in enumerate(_items(_load(body), single=True), 1):
        fields = {name: _field(item, position, name) for name in ("mobile", "nationcode", "sign", "text", "time")}
        phone = _phone(fields["nationcode"], fields["mobile"], position)
        _text(fields["sign"], position, "sign", empty=True)
        text = _text(fields["text"], position, "text", empty=True)
        extend = item.get("extend", "")
        if extend is not None and not isinstance(extend, str | int):
            raise CallbackError(f"第 {position} 条：extend 应为字符串，实为{_json_type(extend)}")
        at = _unix_time(fields["time"])
        if at is None:
            raise CallbackError(f"第 {position} 条：time 应为 UNIX 时间戳（秒）")
        replies.append(Reply(phone=phone, text=text, at=at, ref=""))
    return replies
