"""Alibaba Cloud SMS (阿里云短信服务, Dysmsapi 2017-05-25) through the official SDK
`alibabacloud_dysmsapi20170525`: the sender, the delivery-receipt query and the readers of
Alibaba's HTTP batch pushes (SmsReport receipts, SmsUp replies).

What Alibaba's documents say, and what this module does with it:

* "SendSms": one template, one set of variable values (one `TemplateParam` JSON), up to
  1,000 numbers per call, comma separated in `PhoneNumbers`. Messages of one template
  with identical values go out this way.
* "SendBatchSms - 批量发送短信": one template, per-number signatures and values
  (`PhoneNumberJson` / `SignNameJson` / `TemplateParamJson` arrays of one length), at
  most 100 numbers per call. Messages of one template with values of their own go out
  this way; a call of one message is a SendSms.
* Both answer a whole call with one `Code` and, on "OK", one `BizId`: every message of
  the call is `Sent(provider_id=BizId, status="accepted")`, and a receipt is matched by
  the BizId and the phone number (so a call never holds a number twice).
* Neither is idempotent, and both recommend checking the receipt after a timeout
  rather than retrying: a read timeout is an `UncertainSendError`. The SDK's own retries
  are switched off; the outbox retries with its own backoff.
* "API错误码" (domestic API error codes) and the OpenAPI common error codes
  ("管控OpenAPI的客户端公用错误码": SignatureDoesNotMatch, InvalidAccessKeyId.NotFound,
  Throttling.User): business refusals come as HTTP 200 with a `Code`; gateway refusals
  (signature, key, throttling) as 4xx, server failures as 5xx. `_KINDS` maps each code
  to one of the four outcomes (see there for the choices made).
* "什么是短信发送流控限制?": the per-number limits (isv.BUSINESS_LIMIT_CONTROL, its
  message "触发分钟级流控" / "触发小时级流控" / "触发天级流控") hold a message 1 minute,
  1 hour, or to the next day (the document counts a day as 24 hours from the send; the
  outbox's next day is close enough, and a message held again simply waits again).
* "QuerySendDetails - 查询短信发送详情": one number, one date (yyyyMMdd, the last 30
  days), pages of 1–50; `SendStatus` 1 waiting, 2 failed, 3 delivered.
* "SmsReport" and "SmsUp" (HTTP 批量推送模式): a JSON array per push, answered with HTTP
  200 and {"code": 0, "msg": "接收成功"} (`CALLBACK_OK`); Alibaba pushes again after 1, 5
  and 10 minutes when the answer is not that.

A phone number or a template value (a link's token, a code, a password) never reaches a
log line or an error's `reason`: reasons are built from fixed text, Alibaba's code, and
Alibaba's message with digit runs masked and the call's values blanked; the HTTP
library's and the SDK's debug log lines have their query strings and dumps withheld.
"""
from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import requests
from alibabacloud_dysmsapi20170525 import models as sms_models
from alibabacloud_dysmsapi20170525.client import Client
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException
from alibabacloud_tea_openapi.utils_models import Config
from darabonba.policy.retry import RetryOptions
from darabonba.runtime import RuntimeOptions
from Tea.exceptions import TeaException, UnretryableException

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

SEND_SMS_MAX = 1000  # "SendSms": up to 1,000 numbers per call
SEND_BATCH_SMS_MAX = 100  # "SendBatchSms - 批量发送短信": at most 100 numbers per call
QUERY_PAGE_SIZE = 50  # "QuerySendDetails": PageSize 1–50
_QUERY_PAGES_MAX = 20  # one number's messages of one day: far fewer than 20 pages
REASON_MAX = 300
_BEIJING = ZoneInfo("Asia/Shanghai")  # Alibaba's times are Beijing time, without a zone

# The answer Alibaba expects to a push ("SmsReport", "SmsUp": it checks only that code is a number).
CALLBACK_OK = json.dumps({"code": 0, "msg": "接收成功"}, ensure_ascii=False).encode("utf-8")
CALLBACK_CONTENT_TYPE = "application/json; charset=utf-8"


# -- errors --------------------------------------------------------------------------------

TRANSIENT, PERMANENT, HELD = "transient", "permanent", "held"

# Alibaba's code: (what becomes of the message, a short Chinese reason).
# Choices where the documents leave it open:
# * a lack of balance (isv.AMOUNT_NOT_ENOUGH, isv.OUT_OF_SERVICE 业务停机) is held to the
#   next day, not failed: the office tops up the account and the messages go; failing
#   them would scrub their secrets and force the office to send the whole run again.
# * the account's own day and month limits (isv.DAY_LIMIT_CONTROL, isv.MONTH_LIMIT_CONTROL,
#   set in the console) are held to the next day as well.
# * a clock out by more than 15 minutes (InvalidTimeStamp.Expired) and a reused nonce are
#   transient: the next try has a new timestamp and nonce, and the clock may be fixed.
# * every other isv./gateway refusal is permanent: retrying the same request gets the
#   same answer (bad credentials and RAM permissions included: the office fixes the
#   setting, and messages already failed are sent again by the office).
_KINDS: dict[str, tuple[str, str]] = {
    # the template, the signature and the values
    "isv.SMS_TEMPLATE_ILLEGAL": (PERMANENT, "模板不存在或未通过审核"),
    "isv.SMS_SIGNATURE_ILLEGAL": (PERMANENT, "签名不存在或未通过审核"),
    "isv.SIGN_STATE_ILLEGAL": (PERMANENT, "签名状态为不可用"),
    "isv.SMS_SIGN_ILLEGAL": (PERMANENT, "签名禁止使用"),
    "isv.SMS_SIGNATURE_SCENE_ILLEGAL": (PERMANENT, "签名和模板类型不一致"),
    "isv.TEMPLATE_MISSING_PARAMETERS": (PERMANENT, "模板变量缺少对应的值"),
    "isv.INVALID_JSON_PARAM": (PERMANENT, "模板变量的值不是合法的 JSON 字符串"),
    "isv.INVALID_PARAMETERS": (PERMANENT, "请求参数异常"),
    "isv.PARAM_LENGTH_LIMIT": (PERMANENT, "模板变量的值超出长度限制"),
    "isv.PARAM_NOT_SUPPORT_URL": (PERMANENT, "模板变量不支持网址"),
    "isv.TEMPLATE_PARAMS_ILLEGAL": (PERMANENT, "模板变量的值不符合变量属性或含有违禁词"),
    "isv.SMS_CONTENT_ILLEGAL": (PERMANENT, "短信内容含有禁止发送的内容"),
    "isv.EXTEND_CODE_ERROR": (PERMANENT, "扩展码使用错误"),
    "isv.DOMESTIC_NUMBER_NOT_SUPPORTED": (PERMANENT, "该模板不能发往境内号码"),
    # the numbers
    "isv.MOBILE_NUMBER_ILLEGAL": (PERMANENT, "手机号码无效"),
    "isv.MOBILE_COUNT_OVER_LIMIT": (PERMANENT, "一次提交的号码数超过限制"),
    "isv.BLACK_KEY_CONTROL_LIMIT": (PERMANENT, "号码在黑名单中"),
    "isv.BUSINESS_LIMIT_CONTROL": (HELD, "该号码触发发送频率限制"),
    # the account
    "isv.DAY_LIMIT_CONTROL": (HELD, "已达控制台设置的日发送量限额，次日再发"),
    "isv.MONTH_LIMIT_CONTROL": (HELD, "已达控制台设置的月发送量限额，请提高限额"),
    "isv.AMOUNT_NOT_ENOUGH": (HELD, "账户余额不足，请充值"),
    "isv.OUT_OF_SERVICE": (HELD, "业务停机（余额不足），请充值"),
    "isv.PRODUCT_UN_SUBSCRIPT": (PERMANENT, "账号未开通短信服务"),
    "isv.PRODUCT_UNSUBSCRIBE": (PERMANENT, "账号未开通短信服务"),
    "isv.ACCOUNT_NOT_EXISTS": (PERMANENT, "账号不存在"),
    "isv.ACCOUNT_ABNORMAL": (PERMANENT, "账号异常"),
    "isv.DENY_IP_RANGE": (PERMANENT, "服务器 IP 所在地区被禁止发送"),
    "isp.RAM_PERMISSION_DENY": (PERMANENT, "RAM 权限不足，请为该 AccessKey 授予短信服务权限"),
    "Forbidden.RAM": (PERMANENT, "RAM 权限不足，请为该 AccessKey 授予短信服务权限"),
    # the credentials and the request's signature
    "InvalidAccessKeyId.NotFound": (PERMANENT, "AccessKey ID 不存在"),
    "InvalidAccessKeyId.Inactive": (PERMANENT, "AccessKey 已禁用"),
    "SignatureDoesNotMatch": (PERMANENT, "请求签名不符，请检查 AccessKey Secret"),
    "IncompleteSignature": (PERMANENT, "请求签名不完整"),
    "InvalidTimeStamp.Expired": (TRANSIENT, "服务器时钟与阿里云相差超过 15 分钟，请校准时钟"),
    "SignatureNonceUsed": (TRANSIENT, "请求的随机数重复"),
    # Alibaba's side
    "isp.SYSTEM_ERROR": (TRANSIENT, "阿里云系统错误"),
    "isv.SYSTEM_ERROR": (TRANSIENT, "阿里云系统错误"),
    "InternalError": (TRANSIENT, "阿里云内部错误"),
    "ServiceUnavailable": (TRANSIENT, "阿里云服务暂不可用"),
    "Throttling": (TRANSIENT, "调用过于频繁，被限流"),
    "Throttling.User": (TRANSIENT, "调用过于频繁，被限流"),
    "Throttling.Api": (TRANSIENT, "调用过于频繁，被限流"),
    "isv.THROTTLING": (TRANSIENT, "调用过于频繁，被限流"),
}
# Refusals of a whole call that belong to one of its numbers: the call is split in two
# and each half sent again, down to single messages, so that each message gets its own
# outcome in a few calls (a bad number among 1,000 costs about 20 calls, not 1,000).
_ONE_NUMBER = frozenset({"isv.MOBILE_NUMBER_ILLEGAL", "isv.BUSINESS_LIMIT_CONTROL", "isv.BLACK_KEY_CONTROL_LIMIT"})
# ...and, in a SendBatchSms, those that belong to one message's values.
_ONE_MESSAGE = _ONE_NUMBER | {"isv.PARAM_LENGTH_LIMIT", "isv.PARAM_NOT_SUPPORT_URL", "isv.TEMPLATE_PARAMS_ILLEGAL",
                              "isv.SMS_CONTENT_ILLEGAL"}
# isv.BUSINESS_LIMIT_CONTROL's message says which limit; one that does not is held an hour
# (a minute would call again and again for a day's limit, a day would hold a minute's).
_LIMIT_WAITS: tuple[tuple[re.Pattern[str], timedelta | None], ...] = (
    (re.compile(r"分钟|minute", re.IGNORECASE), timedelta(minutes=1)),
    (re.compile(r"小时|hour", re.IGNORECASE), timedelta(hours=1)),
    (re.compile(r"天级|日级|\bday\b|daily", re.IGNORECASE), None),
)
_UNKNOWN_LIMIT_WAIT = timedelta(hours=1)

def _scrub(text: str, values: Iterable[str] = ()) -> str:
    """Alibaba's message, safe for a reason: the call's values blanked, digit runs masked."""
    return mask_phones_in(" ".join(blank_values(text, values, 3).split()))


def _limit_wait(said: str) -> timedelta | None:
    for pattern, wait in _LIMIT_WAITS:
        if pattern.search(said):
            return wait
    return _UNKNOWN_LIMIT_WAIT


@dataclass(frozen=True)
class _Refusal:
    """Alibaba's refusal of a call, kept as data: each message gets its own error from it."""

    code: str
    said: str  # already scrubbed
    status: int | None

    @property
    def kind(self) -> str:
        known = _KINDS.get(self.code)
        if known:
            return known[0]
        if self.code.startswith(("Throttling", "isp.")) or (self.status is not None and
                                                             (self.status == 429 or self.status >= 500)):
            return TRANSIENT
        return PERMANENT

    def error(self) -> SendError:
        label = _KINDS.get(self.code, ("", ""))[1] or ("阿里云暂时无法处理" if self.kind == TRANSIENT else "阿里云拒绝发送")
        if self.status is not None and self.status != 200:
            label += f"（HTTP {self.status}）"
        reason = f"阿里云短信 {self.code or '（无错误码）'}：{label}"
        if self.said:
            reason += f"；阿里云的说明：{self.said}"
        reason = reason[:REASON_MAX]
        if self.kind == HELD:
            wait = _limit_wait(self.said) if self.code == "isv.BUSINESS_LIMIT_CONTROL" else None
            return HeldSendError(reason, wait=wait, status=self.status)
        kind = TransientSendError if self.kind == TRANSIENT else PermanentSendError
        return kind(reason, status=self.status)


def _refusal_of(error: AlibabaCloudException, values: Iterable[str]) -> _Refusal:
    """The SDK's exception for a 4xx/5xx answer."""
    data = error.data if isinstance(error.data, dict) else {}
    said = data.get("Message") or data.get("message") or ""
    status = error.status_code if isinstance(error.status_code, int) else None
    return _Refusal(str(error.code or ""), _scrub(str(said), values), status)


def _network_error(error: BaseException) -> requests.RequestException | None:
    """The `requests` exception under the SDK's UnretryableException (the SDK re-raises
    it as its RetryError, with the original as the context)."""
    seen: set[int] = set()
    current: BaseException | None = getattr(error, "inner_exception", None) or error
    while current is not None and id(current) not in seen:
        if isinstance(current, requests.RequestException):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _failure(error: Exception, values: Iterable[str], *, sent_once: bool, timeout: float) -> SendError | _Refusal:
    """What an exception from the SDK means for the messages of the call. The exception's
    own text is never used: it may hold the request's URL, with its numbers and values."""
    if isinstance(error, AlibabaCloudException):
        return _refusal_of(error, values)
    if isinstance(error, UnretryableException):
        network = _network_error(error)
        inner = getattr(error, "inner_exception", None)
        read_timeout = isinstance(network, requests.ReadTimeout) or (
            network is None and "Read timed out" in str(getattr(inner, "message", "")))
        if read_timeout:
            if sent_once:
                return UncertainSendError(
                    f"阿里云短信在 {timeout:g} 秒内没有回答，短信可能已经发出（ReadTimeout），请查询回执后再决定是否重发")
            return TransientSendError(f"阿里云短信在 {timeout:g} 秒内没有回答（ReadTimeout）")
        if network is not None or inner.__class__.__name__ == "RetryError":
            # ConnectTimeout, a refused or reset connection: retried with the outbox's backoff.
            name = type(network).__name__ if network is not None else "ConnectionError"
            return TransientSendError(f"未能连通阿里云短信（{name}）")
        # An answer the SDK could not read (a proxy's HTML page instead of Alibaba's JSON).
        return TransientSendError(f"阿里云短信的回答无法读取（{type(inner).__name__}）")
    if isinstance(error, TeaException):
        return TransientSendError(f"阿里云短信 SDK 出错（{type(error).__name__}）")
    raise error


# -- logs ----------------------------------------------------------------------------------

_QUERY_STRING = re.compile(r"\?[^\s\"']*")


class _NoQueryStrings(logging.Filter):
    """urllib3 logs each request's URL at DEBUG: its query (PhoneNumbers, TemplateParam)
    is withheld, and any other digit run masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        cleaned = _scrub(_QUERY_STRING.sub("?…", text))
        if cleaned != text:
            record.msg, record.args = cleaned, ()
        return True


class _NoDumps(logging.Filter):
    """The SDK's own loggers dump whole requests (headers, body) with DEBUG=sdk."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = "Alibaba Cloud SDK request/response dump withheld (it holds phone numbers)", ()
        return True


def _quiet_sdk_logs() -> None:
    for name, kind in (("urllib3.connectionpool", _NoQueryStrings), ("darabonba-core", _NoDumps),
                       ("alibabacloud-tea", _NoDumps)):
        logger = logging.getLogger(name)
        if not any(isinstance(existing, kind) for existing in logger.filters):
            logger.addFilter(kind())


# -- the sender ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Ready:
    """A message with its template and values (in the registered order)."""

    message: Message
    spec: TemplateSpec
    values: tuple[tuple[str, str], ...]


class AliyunSender:
    """Sends the platform's messages as Alibaba Cloud SMS templates.

    `templates` maps each kind (sms/mainland.py) to its registered template; `sign_name`
    is the approved signature, which Alibaba puts before the text (【平阳县评议办】), so
    the platform's `sign` parameter is never a template variable. `endpoint` and
    `protocol` point the client elsewhere (a loopback fake in the tests); `timeout` is
    the connect and read timeout in seconds.
    """

    name = "aliyun"
    max_batch = SEND_SMS_MAX

    def __init__(
        self,
        access_key_id: str,
        access_key_secret: str,
        *,
        sign_name: str,
        templates: Mapping[str, TemplateSpec],
        endpoint: str = "dysmsapi.aliyuncs.com",
        protocol: str = "https",
        timeout: float = 10.0,
    ) -> None:
        if not access_key_id or not access_key_secret:
            raise ValueError("AliyunSender needs an AccessKey ID and an AccessKey secret")
        if not sign_name or not sign_name.strip():
            raise ValueError("AliyunSender needs the approved signature name (sign_name)")
        if protocol not in ("http", "https"):
            raise ValueError(f"protocol must be http or https, not {protocol!r}")
        if not endpoint or "/" in endpoint:
            raise ValueError(f"endpoint must be a host (and port), like dysmsapi.aliyuncs.com, not {endpoint!r}")
        if not timeout > 0:
            raise ValueError(f"timeout must be positive, not {timeout!r}")
        for kind, spec in templates.items():
            if kind not in KINDS:
                raise ValueError(f"unknown kind of message {kind!r} (one of: {', '.join(KINDS)})")
            if any(ours == "sign" for _, ours in spec.variables):
                raise ValueError(f"{template_variable(kind)}：签名由阿里云加在短信前，sign 不能是模板变量")
        self.sign_name = sign_name.strip()
        self.templates = dict(templates)
        self.timeout = float(timeout)
        milliseconds = max(1, round(self.timeout * 1000))
        config = Config(
            access_key_id=access_key_id,
            access_key_secret=access_key_secret,
            endpoint=endpoint,
            protocol=protocol,
            read_timeout=milliseconds,
            connect_timeout=milliseconds,
            retry_options=RetryOptions({"retryable": False}),
        )
        self._client = Client(config)
        # No retries in the SDK: the outbox retries with its own backoff, and a send
        # retried blindly after a timeout may deliver twice (neither call is idempotent).
        self._runtime = RuntimeOptions(autoretry=False, max_attempts=1, read_timeout=milliseconds,
                                       connect_timeout=milliseconds)
        _quiet_sdk_logs()

    # - planning

    def _ready(self, message: Message) -> _Ready | PermanentSendError:
        kind = KIND_OF_TEMPLATE.get(message.template)
        if kind is None:
            return PermanentSendError(f"平台模板 {message.template} 不属于任何短信类别，无法经阿里云发送")
        spec = self.templates.get(kind)
        if spec is None:
            return PermanentSendError(
                f"没有登记“{KIND_LABELS.get(kind, kind)}”的阿里云短信模板：请设置环境变量 {template_variable(kind)}")
        try:
            values = tuple(spec.values(message.params))
        except KeyError as missing:
            name = missing.args[0] if missing.args else "?"
            return PermanentSendError(
                f"阿里云短信模板 {spec.code} 需要参数 {name}，消息中没有：请检查环境变量 {template_variable(kind)}")
        return _Ready(message, spec, values)

    def _plan(self, messages: Sequence[Message]) -> tuple[list[list[int]], dict[int, _Ready | PermanentSendError]]:
        """The calls, as positions in `messages`, and each message's template and values."""
        ready: dict[int, _Ready | PermanentSendError] = {}
        calls: list[list[int]] = []
        by_template: dict[str, dict[tuple[tuple[str, str], ...], list[int]]] = {}
        for position, message in enumerate(messages):
            found = ready[position] = self._ready(message)
            if isinstance(found, PermanentSendError):
                calls.append([position])
            else:
                by_template.setdefault(found.spec.code, {}).setdefault(found.values, []).append(position)
        for groups in by_template.values():
            singles: list[int] = []
            for positions in groups.values():
                if len(positions) > 1:
                    calls.extend(_chunks(positions, messages, SEND_SMS_MAX))
                else:
                    singles.extend(positions)
            calls.extend(_chunks(sorted(singles), messages, SEND_BATCH_SMS_MAX))
        return calls, ready

    def calls(self, messages: Sequence[Message]) -> list[list[Message]]:
        """Messages of one template with identical values: SendSms calls of up to 1,000
        numbers; with values of their own: SendBatchSms calls of up to 100; a message
        that cannot be sent (no template for its kind, a parameter missing): a call of
        its own, which `send_batch` fails without calling Alibaba. A call never holds a
        number twice (receipts are matched by BizId and number)."""
        planned, _ = self._plan(messages)
        return [[messages[position] for position in call] for call in planned]

    # - sending

    def send_batch(self, messages: Sequence[Message]) -> list[Outcome]:
        """One call's outcomes, in order. A group that is not one call (not from `calls`)
        is sent as the calls it makes."""
        planned, ready = self._plan(messages)
        outcomes: dict[int, Outcome] = {}
        for call in planned:
            first = ready[call[0]]
            if isinstance(first, PermanentSendError):
                outcomes[call[0]] = first
                continue
            items = [found for found in (ready[position] for position in call) if isinstance(found, _Ready)]
            for position, outcome in zip(call, self._send(items)):
                outcomes[position] = outcome
        return [outcomes[position] for position in range(len(messages))]

    def _send(self, items: list[_Ready]) -> list[Outcome]:
        """One provider call for `items` (one template), split in halves when Alibaba
        refuses it for one number's (or one message's) sake."""
        same = all(item.values == items[0].values for item in items)
        answer = self._call_send_sms(items) if same else self._call_send_batch_sms(items)
        if isinstance(answer, _Refusal):
            splittable = _ONE_NUMBER if same else _ONE_MESSAGE
            if len(items) > 1 and answer.code in splittable:
                _log.info("aliyun: %s refused %d messages (%s): sending them again in halves",
                          "SendSms" if same else "SendBatchSms", len(items), answer.code)
                middle = len(items) // 2
                return self._send(items[:middle]) + self._send(items[middle:])
            refused: list[Outcome] = [answer.error() for _ in items]
            return refused
        if isinstance(answer, SendError):
            failed: list[Outcome] = [answer]
            failed += [type(answer)(answer.reason, status=answer.status, code=answer.code) for _ in items[1:]]
            return failed
        return [Sent(provider_id=answer, status="accepted") for _ in items]

    def _call_send_sms(self, items: list[_Ready]) -> str | None | _Refusal | SendError:
        spec, values = items[0].spec, items[0].values
        request = sms_models.SendSmsRequest(
            phone_numbers=",".join(item.message.to for item in items),
            sign_name=self.sign_name,
            template_code=spec.code,
            template_param=json.dumps(dict(values), ensure_ascii=False) if values else None,
        )
        return self._call("SendSms", items, lambda: self._client.send_sms_with_options(request, self._runtime))

    def _call_send_batch_sms(self, items: list[_Ready]) -> str | None | _Refusal | SendError:
        spec = items[0].spec
        request = sms_models.SendBatchSmsRequest(
            phone_number_json=json.dumps([item.message.to for item in items]),
            sign_name_json=json.dumps([self.sign_name] * len(items), ensure_ascii=False),
            template_code=spec.code,
            template_param_json=json.dumps([dict(item.values) for item in items], ensure_ascii=False)
            if spec.variables else None,
        )
        return self._call("SendBatchSms", items, lambda: self._client.send_batch_sms_with_options(request, self._runtime))

    def _call(self, action: str, items: list[_Ready], call: Callable[[], Any]) -> str | None | _Refusal | SendError:
        """The BizId of an accepted call, or why not."""
        values = [value for item in items for _, value in item.values]
        code = items[0].spec.code
        try:
            response = call()
        except Exception as error:  # noqa: BLE001 - the SDK's errors are mapped; anything else is re-raised by _failure
            failure = _failure(error, values, sent_once=True, timeout=self.timeout)
            _log.warning("aliyun: %s of %d message(s), template %s: %s", action, len(items), code,
                         failure.code if isinstance(failure, _Refusal) else type(failure).__name__)
            return failure
        body = response.body
        answer_code = str(getattr(body, "code", "") or "")
        if answer_code != "OK":
            refusal = _Refusal(answer_code, _scrub(str(getattr(body, "message", "") or ""), values),
                               getattr(response, "status_code", None))
            _log.warning("aliyun: %s of %d message(s), template %s refused: %s", action, len(items), code, answer_code)
            return refusal
        biz_id = str(getattr(body, "biz_id", "") or "") or None
        _log.info("aliyun: %s of %d message(s), template %s accepted as %s", action, len(items), code, biz_id)
        return biz_id

    # - receipts

    def query_receipts(self, phone: str, biz_id: str, send_date: date | str) -> list[Receipt]:
        """The final receipts (delivered, or failed with the carrier's code) of the
        message(s) with this BizId to this number sent on `send_date` (a date, or
        "yyyyMMdd"; Alibaba keeps 30 days), through QuerySendDetails. A message still
        waiting for its receipt (SendStatus 1) is left out. Raises a SendError
        (transient or permanent, as for a send) when Alibaba cannot be asked."""
        national = normalize_phone(phone)
        if not biz_id or not biz_id.strip():
            raise ValueError("query_receipts needs the BizId of the call (Alibaba's details do not name it)")
        biz_id = biz_id.strip()
        day = send_date.strftime("%Y%m%d") if isinstance(send_date, date) else str(send_date)
        if not re.fullmatch(r"\d{8}", day):
            raise ValueError(f"send_date must be a date or yyyyMMdd, not {send_date!r}")
        receipts: list[Receipt] = []
        for page in range(1, _QUERY_PAGES_MAX + 1):
            request = sms_models.QuerySendDetailsRequest(
                phone_number=national, biz_id=biz_id, send_date=day,
                page_size=QUERY_PAGE_SIZE, current_page=page,
            )
            try:
                response = self._client.query_send_details_with_options(request, self._runtime)
            except Exception as error:  # noqa: BLE001 - mapped as for a send; a query may always be asked again
                failure = _failure(error, (), sent_once=False, timeout=self.timeout)
                raise (failure.error() if isinstance(failure, _Refusal) else failure) from None
            body = response.body
            if str(body.code or "") != "OK":
                raise _Refusal(str(body.code or ""), _scrub(str(body.message or "")),
                               getattr(response, "status_code", None)).error()
            details = body.sms_send_detail_dtos.sms_send_detail_dto if body.sms_send_detail_dtos else []
            for detail in details or []:
                receipt = _receipt_of(detail, biz_id, national)
                if receipt is not None:
                    receipts.append(receipt)
            try:
                total = int(body.total_count or 0)
            except (TypeError, ValueError):
                total = 0
            if len(details or []) < QUERY_PAGE_SIZE or page * QUERY_PAGE_SIZE >= total:
                break
        _log.info("aliyun: QuerySendDetails for %s (BizId %s): %d final receipt(s)", mask_phone(national), biz_id,
                  len(receipts))
        return receipts


def _chunks(positions: list[int], messages: Sequence[Message], size: int) -> list[list[int]]:
    """`positions` in calls of at most `size`, in order, none holding a number twice."""
    chunks: list[list[int]] = []
    numbers: list[set[str]] = []
    for position in positions:
        to = messages[position].to
        for chunk, held in zip(chunks, numbers):
            if len(chunk) < size and to not in held:
                chunk.append(position)
                held.add(to)
                break
        else:
            chunks.append([position])
            numbers.append({to})
    return chunks


def _beijing_time(text: Any) -> datetime | None:
    """"2017-01-01 00:00:00" (or "20170101000000") in Beijing time; None if not one."""
    if not isinstance(text, str):
        return None
    for pattern in ("%Y-%m-%d %H:%M:%S", "%Y%m%d%H%M%S"):
        try:
            return datetime.strptime(text.strip(), pattern).replace(tzinfo=_BEIJING)
        except ValueError:
            continue
    return None


def _receipt_of(detail: Any, biz_id: str, phone: str) -> Receipt | None:
    try:
        status = int(detail.send_status)
    except (TypeError, ValueError):
        return None
    if status not in (2, 3):
        return None  # 1: waiting for the carrier's receipt
    code = str(detail.err_code or "")
    delivered = status == 3
    return Receipt(
        provider_id=biz_id,
        phone=phone,
        delivered=delivered,
        code=code or ("DELIVERED" if delivered else "UNKNOWN"),
        reason="" if delivered else f"短信未送达（回执代码 {_scrub(code) or '无'}）",
        at=_beijing_time(detail.receive_date),
    )


# -- pushes --------------------------------------------------------------------------------


def _items(body: bytes, push: str) -> list[dict[str, Any]]:
    """The JSON array of objects a push holds, or CallbackError saying what is wrong."""
    if not isinstance(body, bytes | bytearray):
        raise CallbackError(f"{push}推送的内容应为字节串")
    try:
        text = bytes(body).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CallbackError(f"{push}推送的内容不是 UTF-8 编码") from None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise CallbackError(f"{push}推送的内容不是 JSON") from None
    if not isinstance(data, list):
        raise CallbackError(f"{push}推送的内容应为 JSON 数组（阿里云 HTTP 批量推送格式），实为{_json_type(data)}")
    for number, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            raise CallbackError(f"{push}第 {number} 条：应为 JSON 对象，实为{_json_type(item)}")
    return data


def _json_type(value: Any) -> str:
    if isinstance(value, dict):
        return "对象"
    if isinstance(value, list):
        return "数组"
    if isinstance(value, str):
        return "字符串"
    if isinstance(value, bool):
        return "布尔值"
    if value is None:
        return " null"
    return "数字"


def _text(item: Mapping[str, Any], field: str, number: int, *, required: bool = True) -> str | None:
    value = item.get(field)
    if value is None:
        if required:
            raise CallbackError(f"第 {number} 条：缺少 {field}")
        return None
    if not isinstance(value, str):
        raise CallbackError(f"第 {number} 条：{field} 应为字符串，实为{_json_type(value)}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise CallbackError(f"第 {number} 条：{field} 含有无效字符") from None
    return value


def _phone(item: Mapping[str, Any], number: int) -> str:
    raw = _text(item, "phone_number", number) or ""
    try:
        return normalize_phone(raw)
    except PhoneError as problem:
        raise CallbackError(f"第 {number} 条：phone_number 不是大陆手机号码（{problem}）") from None


def _time(item: Mapping[str, Any], field: str, number: int) -> datetime | None:
    text = _text(item, field, number, required=False)
    if text is None or not text.strip():
        return None
    at = _beijing_time(text)
    if at is None:
        raise CallbackError(f"第 {number} 条：{field} 应为“yyyy-MM-dd HH:mm:ss”格式的时间")
    return at


def parse_reports(body: bytes) -> list[Receipt]:
    """Alibaba's SmsReport push ("SmsReport", HTTP 批量推送模式): a JSON array of
    {phone_number, send_time, report_time, success, err_code, err_msg, sms_size, biz_id,
    out_id}, as receipts (the number with or without 86 becomes its 11 digits). Raises
    CallbackError (Chinese, naming the item: "第 3 条：缺少 biz_id") for any other shape,
    without echoing a number."""
    receipts = []
    for number, item in enumerate(_items(body, "短信状态报告"), start=1):
        phone = _phone(item, number)
        success = item.get("success")
        if success is None:
            raise CallbackError(f"第 {number} 条：缺少 success")
        if not isinstance(success, bool):
            raise CallbackError(f"第 {number} 条：success 应为 true 或 false，实为{_json_type(success)}")
        biz_id = _text(item, "biz_id", number) or ""
        if not biz_id.strip():
            raise CallbackError(f"第 {number} 条：biz_id 为空")
        code = _text(item, "err_code", number) or ""
        said = _text(item, "err_msg", number, required=False) or ""
        receipts.append(Receipt(
            provider_id=biz_id.strip(),
            phone=phone,
            delivered=success,
            code=code or ("DELIVERED" if success else "UNKNOWN"),
            reason="" if success else (_scrub(said)[:REASON_MAX] or f"短信未送达（回执代码 {_scrub(code) or '无'}）"),
            at=_time(item, "report_time", number),
        ))
    return receipts


def parse_replies(body: bytes) -> list[Reply]:
    """Alibaba's SmsUp push ("SmsUp", HTTP 批量推送模式): a JSON array of {phone_number,
    send_time, content, sign_name, dest_code, sequence_id}, as replies (`ref` is the
    sequence_id, a number in older documents and a string in newer ones: both are read).
    Raises CallbackError as `parse_reports` does."""
    replies = []
    for number, item in enumerate(_items(body, "上行短信"), start=1):
        phone = _phone(item, number)
        content = _text(item, "content", number)
        sequence = item.get("sequence_id")
        if sequence is None:
            raise CallbackError(f"第 {number} 条：缺少 sequence_id")
        if isinstance(sequence, bool) or not isinstance(sequence, int | str) or not str(sequence).strip():
            raise CallbackError(f"第 {number} 条：sequence_id 应为数字或字符串，实为{_json_type(sequence)}")
        ref = _text({"sequence_id": str(sequence)}, "sequence_id", number) or ""
        replies.append(Reply(phone=phone, text=content or "", at=_time(item, "send_time", number), ref=ref.strip()))
    return replies
