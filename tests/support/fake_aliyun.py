"""A loopback fake of Alibaba Cloud's SMS API (Dysmsapi 2017-05-25), for the tests of
sms/aliyun.py through the official SDK.

`FakeAliyun` is an HTTP server on 127.0.0.1 (a free port) in a thread; use it as a
context manager and point the sender at `fake.endpoint` with protocol "http". What it
checks, as Alibaba's documents describe it:

* every request's ACS3-HMAC-SHA256 signature ("V3版本请求体&签名机制"), computed here
  from the published algorithm, not with the SDK's signer: the canonical request
  (method, canonical URI "/", the query sorted by name and RFC 3986-encoded, the signed
  headers lowercased and sorted as name:value lines, the signed header names, the
  payload's hex SHA-256), the string to sign "ACS3-HMAC-SHA256\\n" + hex(sha256(canonical
  request)), the signature hex(hmac_sha256(secret, string to sign)). The signed headers
  must include host, content-type when there is a body, and every x-acs-* header;
  x-acs-content-sha256 must be the body's hash, x-acs-date within 15 minutes, the nonce
  new. Refusals answer as the OpenAPI gateway does ("管控OpenAPI的客户端公用错误码"):
  IncompleteSignature / SignatureDoesNotMatch / SignatureNonceUsed /
  InvalidTimeStamp.Expired with 400, InvalidAccessKeyId.NotFound with 404.
* x-acs-action (SendSms, SendBatchSms, QuerySendDetails; else InvalidAction.NotFound,
  404) and x-acs-version 2017-05-25 (else InvalidVersion, 400).
* SendSms ("SendSms"): PhoneNumbers (comma separated, at most 1,000), SignName,
  TemplateCode, TemplateParam (a JSON object of strings with exactly the template's
  variables). SendBatchSms ("SendBatchSms - 批量发送短信"): PhoneNumberJson,
  SignNameJson, TemplateParamJson (JSON arrays of one length, at most 100),
  TemplateCode. QuerySendDetails ("QuerySendDetails - 查询短信发送详情"): PhoneNumber,
  SendDate (yyyyMMdd), PageSize (1–50), CurrentPage, BizId (optional).
* business refusals answer HTTP 200 with Alibaba's Code and Message ("API错误码"):
  isv.SMS_SIGNATURE_ILLEGAL, isv.SMS_TEMPLATE_ILLEGAL (unknown or not approved),
  isv.TEMPLATE_MISSING_PARAMETERS, isv.INVALID_JSON_PARAM, isv.INVALID_PARAMETERS,
  isv.PARAM_LENGTH_LIMIT (a value over `param_max_length`, 35 by default: "长变量短信
  发送与字符限制是什么?"), isv.MOBILE_NUMBER_ILLEGAL, isv.MOBILE_COUNT_OVER_LIMIT,
  isv.BUSINESS_LIMIT_CONTROL ("触发分钟级流控Permits:1" and the hour's and day's).
  A required parameter missing answers Missing<Name> with 400.

Scriptable faults: `bad_numbers` (isv.MOBILE_NUMBER_ILLEGAL; its message quotes the
number, to prove the sender masks it), `limited` (number: "minute" / "hour" / "day"),
`unapproved` template codes, `throttle_next(n)` (Throttling.User, 400), `fail_next(n)`
(InternalError, 500), `refuse_next(code, message, status=200, times=1)` (any code),
`delay_next(seconds)` (the next call is answered late, and still accepted: a client
that timed out cannot know). A call refused for one number sends nothing, as Alibaba.

It records `requests` (every call: action, parameters, status, code) and `accepted`
(number, template, values, BizId, state); `set_state` moves a message to delivered or
failed (what QuerySendDetails answers); `push_reports` and `push_reply` POST the
SmsReport and SmsUp pushes ("SmsReport", "SmsUp": JSON arrays) to a callback URL.
"""
from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.message import Message as Headers
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit
from zoneinfo import ZoneInfo

ACCESS_KEY_ID = "LTAI5tFakeAccessKeyId"
ACCESS_KEY_SECRET = "fake-access-key-secret-0123456789"
SIGN_NAME = "平阳县评议办"
VERSION = "2017-05-25"
ALGORITHM = "ACS3-HMAC-SHA256"
ACTIONS = ("SendSms", "SendBatchSms", "QuerySendDetails")
SEND_SMS_MAX = 1000
SEND_BATCH_SMS_MAX = 100
CLOCK_SKEW = timedelta(minutes=15)
BEIJING = ZoneInfo("Asia/Shanghai")
TEMPLATES: dict[str, tuple[str, ...]] = {
    "SMS_485930001": ("unit", "section", "address", "code", "closes"),  # an invitation (code mode)
    "SMS_485930002": ("unit", "section", "address", "code", "closes"),  # its reminder
    "SMS_485930003": ("year", "closes", "link", "login", "password"),  # an online evaluator's account
    "SMS_485930004": ("year", "closes", "link"),  # an evaluator's reminder (one text for all)
    "SMS_485930005": ("unit", "what", "missing", "due", "link"),  # a liaison's reminder
}
_MAINLAND = re.compile(r"(?:\+86|0086|86)?(1[3-9]\d{9})")
_LIMITS = {"minute": "触发分钟级流控Permits:1", "hour": "触发小时级流控Permits:5", "day": "触发天级流控Permits:10"}


@dataclass
class AcceptedMessage:
    biz_id: str
    phone: str  # the 11 digits
    template: str
    params: dict[str, str]
    sign_name: str
    action: str
    sent_at: datetime  # Beijing time
    status: int = 1  # QuerySendDetails' SendStatus: 1 waiting, 2 failed, 3 delivered
    err_code: str = ""
    received_at: datetime | None = None


@dataclass
class RecordedRequest:
    action: str
    params: dict[str, str]
    headers: dict[str, str]
    status: int
    code: str  # the answer's Code ("OK" or the refusal)


class _Refused(Exception):
    def __init__(self, code: str, message: str, status: int = 200) -> None:
        super().__init__(code)
        self.code, self.message, self.status = code, message, status


# -- the signature, as published -----------------------------------------------------------


def rfc3986(text: str) -> str:
    """A~Z a~z 0~9 - _ . ~ as they are, anything else %XX (space %20, * %2A)."""
    return quote(text, safe="-_.~", encoding="utf-8")


def canonical_query(raw_query: str) -> str:
    pairs = parse_qsl(raw_query, keep_blank_values=True)
    return "&".join(f"{rfc3986(name)}={rfc3986(value)}" for name, value in sorted(pairs))


def canonical_request(method: str, raw_query: str, headers: Mapping[str, str], signed: Sequence[str],
                      payload_hash: str) -> str:
    lines = "".join(f"{name}:{headers[name].strip()}\n" for name in signed)
    return "\n".join([method.upper(), "/", canonical_query(raw_query), lines, ";".join(signed), payload_hash])


def signature(secret: str, request: str) -> str:
    to_sign = f"{ALGORITHM}\n{hashlib.sha256(request.encode('utf-8')).hexdigest()}"
    return hmac.new(secret.encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


_AUTHORIZATION = re.compile(
    r"ACS3-HMAC-SHA256 Credential=(?P<key>[^,\s]+),\s*SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<sig>[0-9a-f]{64})")


# -- the fake ------------------------------------------------------------------------------


@dataclass
class _Faults:
    throttle: int = 0
    fail: int = 0
    delays: list[float] = field(default_factory=list)
    refusals: list[tuple[str, str, int]] = field(default_factory=list)


class FakeAliyun:
    def __init__(
        self,
        *,
        access_key_id: str = ACCESS_KEY_ID,
        access_key_secret: str = ACCESS_KEY_SECRET,
        sign_names: Iterable[str] = (SIGN_NAME,),
        templates: Mapping[str, Sequence[str]] | None = None,
        unapproved: Iterable[str] = (),
        param_max_length: int | None = 35,
    ) -> None:
        self.access_key_id = access_key_id
        self.access_key_secret = access_key_secret
        self.sign_names = set(sign_names)
        self.templates = {code: tuple(names) for code, names in (templates or TEMPLATES).items()}
        self.unapproved = set(unapproved)
        self.param_max_length = param_max_length
        self.bad_numbers: set[str] = set()
        self.limited: dict[str, str] = {}
        self.accepted: list[AcceptedMessage] = []
        self.requests: list[RecordedRequest] = []
        self._faults = _Faults()
        self._nonces: set[str] = set()
        self._biz = itertools.count(900619746936498)
        self._sequence = itertools.count(1234567890)
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # - life

    def start(self) -> FakeAliyun:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self._answer()

            def do_GET(self) -> None:
                self._answer()

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, answer = fake.handle(self.command, self.path, self.headers, body)
                data = json.dumps(answer, ensure_ascii=False).encode("utf-8")
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json;charset=utf-8")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (the read timeout test)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
                pass  # the request line holds the numbers

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-aliyun", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._closing.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeAliyun:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def endpoint(self) -> str:
        """"127.0.0.1:PORT", for the SDK's Config(endpoint=..., protocol="http")."""
        if self._server is None:
            raise RuntimeError("FakeAliyun is not started")
        return f"127.0.0.1:{self._server.server_address[1]}"

    # - faults

    def throttle_next(self, calls: int = 1) -> None:
        with self._lock:
            self._faults.throttle += calls

    def fail_next(self, calls: int = 1) -> None:
        with self._lock:
            self._faults.fail += calls

    def delay_next(self, seconds: float) -> None:
        with self._lock:
            self._faults.delays.append(seconds)

    def refuse_next(self, code: str, message: str, *, status: int = 200, times: int = 1) -> None:
        with self._lock:
            self._faults.refusals.extend([(code, message, status)] * times)

    # - what was sent

    def calls(self, action: str | None = None) -> list[RecordedRequest]:
        """The recorded requests of one action (all with None)."""
        return [request for request in self.requests if action is None or request.action == action]

    def set_state(self, phone: str, *, delivered: bool, err_code: str | None = None,
                  biz_id: str | None = None) -> list[AcceptedMessage]:
        """The accepted messages to `phone` (of `biz_id`) now delivered (SendStatus 3) or
        failed (2, with `err_code`)."""
        found = [m for m in self.accepted if m.phone == phone and (biz_id is None or m.biz_id == biz_id)]
        if not found:
            raise ValueError("no accepted message to that number")
        for message in found:
            message.status = 3 if delivered else 2
            message.err_code = err_code or ("DELIVERED" if delivered else "MK:0001")
            message.received_at = datetime.now(BEIJING)
        return found

    # - pushes

    def push_reports(self, url: str, *, delivered: Iterable[str] = (), failed: Mapping[str, str] | None = None,
                     country_code: bool = False) -> tuple[int, bytes]:
        """POST an SmsReport push ("SmsReport": a JSON array) for the accepted messages to
        these numbers (setting their states); the callback's status and body."""
        items = []
        failed = dict(failed or {})
        for phone, ok in [(p, True) for p in delivered] + [(p, False) for p in failed]:
            for message in self.set_state(phone, delivered=ok, err_code=None if ok else failed[phone]):
                items.append({
                    "phone_number": ("86" if country_code else "") + message.phone,
                    "send_time": message.sent_at.strftime("%Y-%m-%d %H:%M:%S"),
                    "report_time": (message.received_at or message.sent_at).strftime("%Y-%m-%d %H:%M:%S"),
                    "success": ok,
                    "err_code": message.err_code,
                    "err_msg": "用户接收成功" if ok else "用户关机或不在服务区",
                    "sms_size": "1",
                    "biz_id": message.biz_id,
                    "out_id": "",
                })
        return self._post(url, items)

    def push_reply(self, url: str, phone: str, content: str, *, country_code: bool = True,
                   sequence_id: int | str | None = None) -> tuple[int, bytes]:
        """POST an SmsUp push ("SmsUp": a JSON array of one reply)."""
        item = {
            "phone_number": ("86" if country_code else "") + phone,
            "send_time": datetime.now(BEIJING).strftime("%Y-%m-%d %H:%M:%S"),
            "content": content,
            "sign_name": next(iter(sorted(self.sign_names))),
            "dest_code": "1234",
            "sequence_id": next(self._sequence) if sequence_id is None else sequence_id,
        }
        return self._post(url, [item])

    @staticmethod
    def _post(url: str, items: list[dict[str, Any]]) -> tuple[int, bytes]:
        data = json.dumps(items, ensure_ascii=False).encode("utf-8")
        request = urllib.request.Request(url, data=data, method="POST",
                                         headers={"Content-Type": "application/json; charset=utf-8"})
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    # - requests

    def handle(self, method: str, target: str, headers: Headers, body: bytes) -> tuple[int, dict[str, Any]]:
        """One request: (HTTP status, JSON answer)."""
        with self._lock:
            delay = self._faults.delays.pop(0) if self._faults.delays else 0.0
        parts = urlsplit(target)
        action = headers.get("x-acs-action") or ""
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        if body and (headers.get("content-type") or "").startswith("application/x-www-form-urlencoded"):
            params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        request_id = str(uuid.uuid4()).upper()
        try:
            self._authenticate(method, parts.path, parts.query, headers, body)
            if headers.get("x-acs-version") != VERSION:
                raise _Refused("InvalidVersion", "Specified parameter Version is not valid.", 400)
            if action not in ACTIONS:
                raise _Refused("InvalidAction.NotFound", "Specified api is not found, please check your url and method.",
                               404)
            self._scripted()
            with self._lock:
                answer = getattr(self, "_" + action)(params)
            status = 200
        except _Refused as refused:
            status, answer = refused.status, {"Code": refused.code, "Message": refused.message}
            if status != 200:
                answer["HostId"] = "dysmsapi.aliyuncs.com"
        answer["RequestId"] = request_id
        with self._lock:
            self.requests.append(RecordedRequest(action, params, {k.lower(): v for k, v in headers.items()}, status,
                                                 str(answer["Code"])))
        if delay:  # taken, and answered late: the client may give up waiting (uncertain)
            self._closing.wait(delay)
        return status, answer

    def _authenticate(self, method: str, path: str, raw_query: str, headers: Headers, body: bytes) -> None:
        found = _AUTHORIZATION.fullmatch((headers.get("Authorization") or "").strip())
        if found is None:
            raise _Refused("IncompleteSignature", "The request signature does not conform to Aliyun standards.", 400)
        if found["key"] != self.access_key_id:
            raise _Refused("InvalidAccessKeyId.NotFound", "Specified access key is not found.", 404)
        signed = found["signed"].split(";")
        present = {name.lower() for name in headers}
        needed = {"host", "x-acs-action", "x-acs-content-sha256", "x-acs-date", "x-acs-signature-nonce",
                  "x-acs-version"} | {name for name in present if name.startswith("x-acs-")}
        if body:
            needed.add("content-type")
        if (signed != sorted(signed) or any(name != name.lower() for name in signed) or not needed <= set(signed)
                or not set(signed) <= present or path != "/"):
            raise _Refused("IncompleteSignature", "The request signature does not conform to Aliyun standards.", 400)
        payload_hash = hashlib.sha256(body).hexdigest()
        if (headers.get("x-acs-content-sha256") or "").lower() != payload_hash:
            raise _Refused("SignatureDoesNotMatch", "The x-acs-content-sha256 header is not the hash of the body.", 400)
        values = {name: ",".join(sorted(v.strip() for v in headers.get_all(name) or [])) for name in signed}
        expected = signature(self.access_key_secret, canonical_request(method, raw_query, values, signed, payload_hash))
        if not hmac.compare_digest(expected, found["sig"]):
            raise _Refused("SignatureDoesNotMatch", "Specified signature is not matched with our calculation.", 400)
        try:
            when = datetime.strptime(headers.get("x-acs-date") or "", "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        except ValueError:
            raise _Refused("InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted.",
                           400) from None
        if abs(datetime.now(timezone.utc) - when) > CLOCK_SKEW:
            raise _Refused("InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.", 400)
        nonce = headers.get("x-acs-signature-nonce") or ""
        with self._lock:
            if not nonce or nonce in self._nonces:
                raise _Refused("SignatureNonceUsed", "Specified signature nonce was used already.", 400)
            self._nonces.add(nonce)

    def _scripted(self) -> None:
        with self._lock:
            if self._faults.throttle:
                self._faults.throttle -= 1
                raise _Refused("Throttling.User", "Request was denied due to user flow control.", 400)
            if self._faults.fail:
                self._faults.fail -= 1
                raise _Refused("InternalError", "The request processing has failed due to some unknown error.", 500)
            if self._faults.refusals:
                code, message, status = self._faults.refusals.pop(0)
                raise _Refused(code, message, status)

    # - the actions (called with the lock held)

    @staticmethod
    def _required(params: Mapping[str, str], name: str) -> str:
        value = params.get(name)
        if value is None or value == "":
            raise _Refused(f"Missing{name}", f"{name} is mandatory for this action.", 400)
        return value

    def _template(self, params: Mapping[str, str]) -> tuple[str, tuple[str, ...]]:
        code = self._required(params, "TemplateCode")
        if code not in self.templates:
            raise _Refused("isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板")
        if code in self.unapproved:
            raise _Refused("isv.SMS_TEMPLATE_ILLEGAL", "模板未通过审核，不能使用")
        return code, self.templates[code]

    def _sign(self, name: Any) -> str:
        if not isinstance(name, str) or name not in self.sign_names:
            raise _Refused("isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名")
        return name

    def _values(self, variables: tuple[str, ...], given: Any) -> dict[str, str]:
        if given is None:
            if variables:
                raise _Refused("isv.TEMPLATE_MISSING_PARAMETERS", "模板变量缺少对应参数值")
            return {}
        if not isinstance(given, dict) or not all(isinstance(v, str) for v in given.values()):
            raise _Refused("isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值")
        if set(variables) - set(given):
            raise _Refused("isv.TEMPLATE_MISSING_PARAMETERS", "模板变量缺少对应参数值")
        if set(given) - set(variables):
            raise _Refused("isv.INVALID_PARAMETERS", "参数异常")
        if self.param_max_length is not None and any(len(v) > self.param_max_length for v in given.values()):
            raise _Refused("isv.PARAM_LENGTH_LIMIT", "参数超出长度限制")
        return dict(given)

    def _numbers(self, raw: Sequence[Any], most: int) -> list[str]:
        if len(raw) > most:
            raise _Refused("isv.MOBILE_COUNT_OVER_LIMIT", "手机号码数量超过限制")
        numbers = []
        for number in raw:
            found = _MAINLAND.fullmatch(number.strip()) if isinstance(number, str) else None
            if found is None or found[1] in self.bad_numbers:
                # Quotes the number: the sender must mask it (Alibaba's messages may quote their input).
                raise _Refused("isv.MOBILE_NUMBER_ILLEGAL", f"非法手机号：{number}")
            numbers.append(found[1])
        for number in numbers:
            if number in self.limited:
                raise _Refused("isv.BUSINESS_LIMIT_CONTROL", _LIMITS[self.limited[number]])
        return numbers

    def _accept(self, action: str, code: str, sends: list[tuple[str, str, dict[str, str]]]) -> dict[str, Any]:
        biz_id = f"{next(self._biz)}^0"
        now = datetime.now(BEIJING)
        for phone, sign, values in sends:
            self.accepted.append(AcceptedMessage(biz_id, phone, code, values, sign, action, now))
        return {"Code": "OK", "Message": "OK", "BizId": biz_id}

    @staticmethod
    def _json(text: str | None) -> Any:
        if text is None:
            return None
        try:
            return json.loads(text)
        except ValueError:
            raise _Refused("isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值") from None

    def _SendSms(self, params: Mapping[str, str]) -> dict[str, Any]:  # noqa: N802 - the action's name
        raw = self._required(params, "PhoneNumbers").split(",")
        sign = self._sign(self._required(params, "SignName"))
        code, variables = self._template(params)
        values = self._values(variables, self._json(params.get("TemplateParam")))
        numbers = self._numbers(raw, SEND_SMS_MAX)
        return self._accept("SendSms", code, [(number, sign, values) for number in numbers])

    def _SendBatchSms(self, params: Mapping[str, str]) -> dict[str, Any]:  # noqa: N802 - the action's name
        raw = self._json(self._required(params, "PhoneNumberJson"))
        signs = self._json(self._required(params, "SignNameJson"))
        code, variables = self._template(params)
        given = self._json(params.get("TemplateParamJson"))
        if not isinstance(raw, list) or not isinstance(signs, list) or len(signs) != len(raw):
            raise _Refused("isv.INVALID_PARAMETERS", "参数异常")
        if given is not None and (not isinstance(given, list) or len(given) != len(raw)):
            raise _Refused("isv.INVALID_PARAMETERS", "参数异常")
        numbers = self._numbers(raw, SEND_BATCH_SMS_MAX)
        sends = [(number, self._sign(sign), self._values(variables, None if given is None else given[i]))
                 for i, (number, sign) in enumerate(zip(numbers, signs))]
        return self._accept("SendBatchSms", code, sends)

    def _QuerySendDetails(self, params: Mapping[str, str]) -> dict[str, Any]:  # noqa: N802 - the action's name
        phone = self._required(params, "PhoneNumber")
        day = self._required(params, "SendDate")
        size, page = self._required(params, "PageSize"), self._required(params, "CurrentPage")
        found = _MAINLAND.fullmatch(phone.strip())
        if found is None:
            raise _Refused("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
        if not re.fullmatch(r"\d{8}", day) or not size.isdigit() or not 1 <= int(size) <= 50 or not page.isdigit() \
                or int(page) < 1:
            raise _Refused("isv.INVALID_PARAMETERS", "参数异常")
        biz_id = params.get("BizId") or None
        matching = [m for m in self.accepted if m.phone == found[1] and m.sent_at.strftime("%Y%m%d") == day
                    and (biz_id is None or m.biz_id == biz_id)]
        start = (int(page) - 1) * int(size)
        details = [{
            "PhoneNum": m.phone,
            "SendStatus": m.status,
            "ErrCode": m.err_code,
            "TemplateCode": m.template,
            "Content": f"【{m.sign_name}】" + "，".join(m.params.values()),
            "SendDate": m.sent_at.strftime("%Y-%m-%d %H:%M:%S"),
            "ReceiveDate": m.received_at.strftime("%Y-%m-%d %H:%M:%S") if m.received_at else "",
            "OutId": "",
        } for m in matching[start:start + int(size)]]
        return {"Code": "OK", "Message": "OK", "TotalCount": len(matching),
                "SmsSendDetailDTOs": {"SmsSendDetailDTO": details}}


def numbers(count: int, start: int = 0, prefix: str = "138") -> Iterator[str]:
    """`count` distinct valid mainland numbers (138 is China Mobile's)."""
    for n in range(start, start + count):
        yield f"{prefix}{n:08d}"
