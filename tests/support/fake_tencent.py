"""A loopback fake of Tencent Cloud's SMS API 3.0 (version 2021-01-11), for the official
SDK: SendSms, PullSmsSendStatus and PullSmsReplyStatus, and the two callbacks Tencent
pushes (delivery status, replies).

Every request is checked the way Tencent documents it, by code written here (not the
SDK's signer): the TC3-HMAC-SHA256 Authorization («签名方法 v3»: the canonical request
"POST\\n/\\n\\n<content-type:…\\nhost:…\\n>\\ncontent-type;host\\n<sha256(body)>", the
string to sign "TC3-HMAC-SHA256\\n<timestamp>\\n<date>/sms/tc3_request\\n<sha256(canonical
request)>", and the key derived HMAC("TC3"+SecretKey, date) → service → "tc3_request"),
X-TC-Action / X-TC-Version / X-TC-Timestamp (within 5 minutes: AuthFailure.SignatureExpire)
/ X-TC-Region, and each action's fields («发送短信», «拉取短信下发状态», «拉取短信回复状态»).
Answers take the documented shapes: {"Response": {…, "RequestId"}} and
{"Response": {"Error": {"Code", "Message"}, "RequestId"}} (HTTP 200 both, as Tencent does).

Faults to script: `bad` numbers (per-number InvalidParameterValue.IncorrectPhoneNumber),
`limited` numbers (a per-number LimitExceeded.… code), `unapproved` templates,
`param_max_length`, `throttle_next(n)` (RequestLimitExceeded), `internal_error_next(n)`,
`fail_next(code, message, n)` (any whole-call error), `delay_next(seconds)` (the next call
is taken, then answered late) and `skew` (the fake's clock, in seconds). Tencent's
per-number messages here quote the number, and the length error quotes the value, so
that a test sees the sender redact them.
"""
from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

VERSION = "2021-01-11"
SERVICE = "sms"
REGIONS = frozenset({"ap-guangzhou", "ap-beijing", "ap-nanjing"})
ACTIONS = frozenset({"SendSms", "PullSmsSendStatus", "PullSmsReplyStatus"})
MAX_NUMBERS = 200
PULL_MAX = 100
SIGNATURE_WINDOW = 300  # seconds either way («公共错误码»: AuthFailure.SignatureExpire)
BEIJING = timezone(timedelta(hours=8))
_AUTHORIZATION = re.compile(
    r"TC3-HMAC-SHA256 Credential=(?P<id>[^/\s]+)/(?P<date>\d{4}-\d{2}-\d{2})/(?P<service>[a-z0-9]+)/tc3_request,"
    r"\s*SignedHeaders=(?P<signed>[a-z0-9\-;]+),\s*Signature=(?P<signature>[0-9a-f]{64})"
)
_E164_MAINLAND = re.compile(r"\+861[3-9]\d{9}")
_SEND_FIELDS = frozenset({"PhoneNumberSet", "SmsSdkAppId", "TemplateId", "SignName", "TemplateParamSet",
                          "ExtendCode", "SessionContext", "SenderId"})
_PULL_FIELDS = frozenset({"Limit", "SmsSdkAppId"})


class ApiError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Accepted:
    """A message the fake took: the number (11 digits), the template, its values."""

    phone: str
    template_id: str
    params: tuple[str, ...]
    serial_no: str
    session_context: str = ""


@dataclass
class Recorded:
    """A request as received, and the error code it was answered with (None: accepted)."""

    action: str
    headers: dict[str, str]
    body: Any
    error: str | None = None


@dataclass
class _Faults:
    whole: deque[tuple[str, str]] = field(default_factory=deque)  # (code, message) for the next calls
    delays: deque[float] = field(default_factory=deque)
    cuts: int = 0  # answers to cut off halfway


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def tc3_signature(secret_key: str, *, date: str, service: str, timestamp: str, canonical_request: str) -> str:
    """The hex signature of «签名方法 v3» (TC3-HMAC-SHA256)."""
    string_to_sign = "\n".join([
        "TC3-HMAC-SHA256", timestamp, f"{date}/{service}/tc3_request",
        hashlib.sha256(canonical_request.encode("utf-8")).hexdigest(),
    ])
    secret_date = _hmac(("TC3" + secret_key).encode("utf-8"), date)
    secret_service = _hmac(secret_date, service)
    secret_signing = _hmac(secret_service, "tc3_request")
    return hmac.new(secret_signing, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


class FakeTencent:
    """Tencent Cloud SMS API 3.0 on 127.0.0.1 (a ThreadingHTTPServer in a thread, port 0).

    `templates` maps each registered template id to its number of variables;
    `unapproved` are registered but not approved. Use as a context manager (or call
    `start` and `close`). `endpoint` is "127.0.0.1:PORT" for the SDK's HttpProfile.
    """

    def __init__(
        self,
        *,
        secret_id: str,
        secret_key: str,
        sdk_app_id: str,
        sign_name: str,
        templates: Mapping[str, int],
        unapproved: Iterable[str] = (),
        region: str = "ap-guangzhou",
    ) -> None:
        self.secret_id = secret_id
        self.secret_key = secret_key
        self.sdk_app_id = sdk_app_id
        self.sign_name = sign_name
        self.templates = dict(templates)
        self.unapproved = set(unapproved)
        self.region = region
        self.bad: set[str] = set()  # numbers (11 digits) answered IncorrectPhoneNumber
        self.limited: dict[str, str] = {}  # number → a LimitExceeded.PhoneNumber… code
        self.param_max_length: int | None = None
        self.skew = 0.0  # seconds added to the fake's clock
        self.requests: list[Recorded] = []
        self.accepted: list[Accepted] = []
        self._reported = 0  # accepted messages already reported (pushed or queued)
        self._receipts: deque[dict[str, Any]] = deque()
        self._replies: deque[dict[str, Any]] = deque()
        self._faults = _Faults()
        self._serials = itertools.count(1)
        self._lock = threading.Lock()
        fake = self

        class Handler(_Handler):
            owner = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False  # close() does not wait for a delayed answer
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    # -- life

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- scripting

    def fail_next(self, code: str, message: str = "", times: int = 1) -> None:
        """Answer the next `times` calls (after their signature is checked) with this error."""
        with self._lock:
            self._faults.whole.extend([(code, message or f"{code} (fake)")] * times)

    def throttle_next(self, times: int = 1) -> None:
        self.fail_next("RequestLimitExceeded", "请求的次数超过了频率限制。", times)

    def internal_error_next(self, times: int = 1, code: str = "InternalError.OtherError") -> None:
        self.fail_next(code, "内部错误，请稍后重试。", times)

    def delay_next(self, seconds: float) -> None:
        """Take the next call as usual, then wait `seconds` before answering it."""
        with self._lock:
            self._faults.delays.append(seconds)

    def cut_next(self, times: int = 1) -> None:
        """Take the next call as usual, then break its answer off halfway."""
        with self._lock:
            self._faults.cuts += times

    def sends(self) -> list[Recorded]:
        return [r for r in self.requests if r.action == "SendSms"]

    # -- receipts and replies

    def _unreported(self, failed: Mapping[str, str] | None) -> list[tuple[Accepted, str | None]]:
        failed = dict(failed or {})
        with self._lock:
            fresh = self.accepted[self._reported:]
            self._reported = len(self.accepted)
        return [(message, failed.get(message.phone)) for message in fresh]

    def queue_reports(self, failed: Mapping[str, str] | None = None, *, at: datetime | None = None) -> int:
        """Put a receipt for each accepted message not reported yet into the queue that
        PullSmsSendStatus answers from (`failed`: number → the carrier's code)."""
        when = int((at or datetime.now(UTC)).timestamp())
        items = [{
            "UserReceiveTime": when, "CountryCode": "86", "SubscriberNumber": message.phone,
            "PhoneNumber": "+86" + message.phone, "SerialNo": message.serial_no,
            "ReportStatus": "FAIL" if code else "SUCCESS", "Description": code or "DELIVRD",
            "SessionContext": message.session_context,
        } for message, code in self._unreported(failed)]
        with self._lock:
            self._receipts.extend(items)
        return len(items)

    def queue_raw(self, receipt: dict[str, Any] | None = None, reply: dict[str, Any] | None = None) -> None:
        """Put an item as given (a malformed one, say) into a pull queue."""
        with self._lock:
            if receipt is not None:
                self._receipts.append(receipt)
            if reply is not None:
                self._replies.append(reply)

    def queue_reply(self, phone: str, text: str, *, at: datetime | None = None) -> None:
        """A citizen's reply, for PullSmsReplyStatus."""
        with self._lock:
            self._replies.append({
                "ExtendCode": "", "CountryCode": "86", "PhoneNumber": "+86" + phone, "SignName": self.sign_name,
                "ReplyContent": text, "ReplyTime": int((at or datetime.now(UTC)).timestamp()),
                "SubscriberNumber": phone,
            })

    def report_items(self, failed: Mapping[str, str] | None = None, *, at: datetime | None = None) -> list[dict[str, str]]:
        """The status callback's items («短信下发状态通知») for what was accepted and not
        reported yet."""
        when = (at or datetime.now(UTC)).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")
        return [{
            "user_receive_time": when, "nationcode": "86", "mobile": message.phone,
            "report_status": "FAIL" if code else "SUCCESS", "errmsg": code or "DELIVRD",
            "description": "用户短信接收失败" if code else "用户短信送达成功", "sid": message.serial_no,
        } for message, code in self._unreported(failed)]

    def push_reports(self, url: str, failed: Mapping[str, str] | None = None) -> tuple[int, Any]:
        """POST the status callback (a JSON array) to `url`: (HTTP status, its JSON answer)."""
        return _post(url, self.report_items(failed))

    def push_reply(self, url: str, phone: str, text: str, *, at: datetime | None = None) -> tuple[int, Any]:
        """POST the reply callback («短信回复»: one object) to `url`."""
        return _post(url, {
            "extend": "", "mobile": phone, "nationcode": "86", "sign": self.sign_name, "text": text,
            "time": int((at or datetime.now(UTC)).timestamp()),
        })

    # -- the API

    def handle(self, headers: Mapping[str, str], path: str, body: bytes) -> tuple[dict[str, Any], float, bool]:
        """The answer to one request, how long to wait before giving it, and whether to
        break it off halfway."""
        action = headers.get("x-tc-action", "")
        try:
            data: Any = json.loads(body.decode("utf-8")) if body else {}
        except (UnicodeDecodeError, json.JSONDecodeError):
            data = None
        record = Recorded(action=action, headers=dict(headers), body=data)
        with self._lock:
            self.requests.append(record)
            delay = self._faults.delays.popleft() if self._faults.delays else 0.0
            cut = self._faults.cuts > 0
            self._faults.cuts = max(0, self._faults.cuts - 1)
        request_id = str(uuid.uuid4())
        try:
            self._check_headers(headers, path, body)
            with self._lock:
                fault = self._faults.whole.popleft() if self._faults.whole else None
            if fault is not None:
                raise ApiError(*fault)
            if not isinstance(data, dict):
                raise ApiError("FailedOperation.JsonParseFail", "请求包体不是 JSON 对象。")
            if action == "SendSms":
                answer = self._send_sms(data)
            elif action == "PullSmsSendStatus":
                answer = {"PullSmsSendStatusSet": self._pull(data, self._receipts)}
            else:
                answer = {"PullSmsReplyStatusSet": self._pull(data, self._replies)}
        except ApiError as error:
            record.error = error.code
            error_answer = {"Error": {"Code": error.code, "Message": error.message}, "RequestId": request_id}
            return {"Response": error_answer}, delay, cut
        return {"Response": {**answer, "RequestId": request_id}}, delay, cut

    def _check_headers(self, headers: Mapping[str, str], path: str, body: bytes) -> None:
        found = _AUTHORIZATION.fullmatch(headers.get("authorization", "").strip())
        if not found:
            raise ApiError("AuthFailure.InvalidAuthorization", "请求头部的 Authorization 不符合腾讯云标准。")
        if found["id"] != self.secret_id:
            raise ApiError("AuthFailure.SecretIdNotFound", "密钥不存在。")
        stamp = headers.get("x-tc-timestamp", "")
        if not stamp.isdigit():
            raise ApiError("MissingParameter", "缺少 X-TC-Timestamp。")
        if abs(time.time() + self.skew - int(stamp)) > SIGNATURE_WINDOW:
            raise ApiError("AuthFailure.SignatureExpire", "签名过期。Timestamp 和服务器时间相差不得超过五分钟。")
        day = datetime.fromtimestamp(int(stamp), UTC).strftime("%Y-%m-%d")
        if found["date"] != day or found["service"] != SERVICE:
            raise ApiError("AuthFailure.SignatureFailure", "凭证范围的日期或服务不对。")
        signed = found["signed"].split(";")
        if "content-type" not in signed or "host" not in signed or signed != sorted(signed):
            raise ApiError("AuthFailure.SignatureFailure", "SignedHeaders 应至少含 content-type 和 host，按字母排序。")
        if any(name not in headers for name in signed):
            raise ApiError("AuthFailure.SignatureFailure", "签名的头部不在请求中。")
        canonical_headers = "".join(f"{name}:{headers[name].strip().lower()}\n" for name in signed)
        uri, _, query = path.partition("?")
        canonical_request = "\n".join([
            "POST", uri or "/", query, canonical_headers, found["signed"], hashlib.sha256(body).hexdigest(),
        ])
        expected = tc3_signature(self.secret_key, date=found["date"], service=found["service"], timestamp=stamp,
                                 canonical_request=canonical_request)
        if not hmac.compare_digest(expected, found["signature"]):
            raise ApiError("AuthFailure.SignatureFailure",
                           "The provided credentials could not be validated. Please check your signature is correct.")
        if not headers.get("content-type", "").startswith("application/json"):
            raise ApiError("InvalidParameter", "POST 请求应为 Content-Type: application/json。")
        action = headers.get("x-tc-action", "")
        if action not in ACTIONS:
            raise ApiError("InvalidAction", f"接口 {action} 不存在。")
        if headers.get("x-tc-version") != VERSION:
            raise ApiError("NoSuchVersion", "接口版本不存在。")
        region = headers.get("x-tc-region")
        if not region:
            raise ApiError("MissingParameter", "缺少 Region。")
        if region not in REGIONS or region != self.region:
            raise ApiError("UnsupportedRegion", f"接口不支持地域 {region}。")

    def _app(self, data: Mapping[str, Any], allowed: frozenset[str]) -> None:
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ApiError("UnknownParameter", f"未知参数 {unknown[0]}。")
        app = data.get("SmsSdkAppId")
        if not app:
            raise ApiError("MissingParameter", "缺少 SmsSdkAppId。")
        if app != self.sdk_app_id:
            raise ApiError("InvalidParameterValue.SdkAppIdNotExist", "SdkAppId 不存在。")

    def _send_sms(self, data: Mapping[str, Any]) -> dict[str, Any]:
        self._app(data, _SEND_FIELDS)
        numbers = data.get("PhoneNumberSet")
        if not isinstance(numbers, list) or not numbers:
            raise ApiError("MissingParameter.EmptyPhoneNumberSet", "号码为空。")
        if len(numbers) > MAX_NUMBERS:
            raise ApiError("LimitExceeded.PhoneNumberCountLimit", "单次提交的号码超过 200 个。")
        template = data.get("TemplateId")
        if not isinstance(template, str) or not template:
            raise ApiError("MissingParameter", "缺少 TemplateId。")
        if data.get("SignName") != self.sign_name:
            raise ApiError("FailedOperation.SignatureIncorrectOrUnapproved", "签名未审批或格式错误。")
        if template not in self.templates:
            raise ApiError("FailedOperation.TemplateUnapprovedOrNotExist", "模板不存在或未审核通过。")
        if template in self.unapproved:
            raise ApiError("FailedOperation.TemplateIncorrectOrUnapproved", "模板未审批或内容不匹配。")
        params = data.get("TemplateParamSet", [])
        if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
            raise ApiError("InvalidParameterValue.TemplateParameterFormatError", "模板参数应为字符串数组。")
        if len(params) != self.templates[template]:
            raise ApiError("FailedOperation.TemplateParamSetNotMatchApprovedTemplate",
                           f"模板参数个数 {len(params)} 与模板的变量个数 {self.templates[template]} 不符。")
        if self.param_max_length is not None:
            for value in params:
                if len(value) > self.param_max_length:
                    raise ApiError("InvalidParameterValue.TemplateParameterLengthLimit",
                                   f"模板变量“{value}”超过 {self.param_max_length} 个字符。")
        context = data.get("SessionContext", "") or ""
        statuses = []
        for number in numbers:
            national = number[3:] if isinstance(number, str) and _E164_MAINLAND.fullmatch(number) else None
            status = {"SerialNo": "", "PhoneNumber": number if isinstance(number, str) else "", "Fee": 0,
                      "SessionContext": context, "IsoCode": "CN"}
            if national is None or national in self.bad:
                status.update(Code="InvalidParameterValue.IncorrectPhoneNumber", Message=f"手机号 {number} 格式错误")
            elif national in self.limited:
                code = self.limited[national]
                status.update(Code=code, Message=f"号码 {number} 触发 {code.rsplit('.', 1)[-1]} 频率限制")
            else:
                serial = f"2433:{next(self._serials):030d}"
                status.update(SerialNo=serial, Fee=1, Code="Ok", Message="send success")
                with self._lock:
                    self.accepted.append(Accepted(national, template, tuple(params), serial, context))
            statuses.append(status)
        return {"SendStatusSet": statuses}

    def _pull(self, data: Mapping[str, Any], queue: deque[dict[str, Any]]) -> list[dict[str, Any]]:
        self._app(data, _PULL_FIELDS)
        limit = data.get("Limit")
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise ApiError("MissingParameter", "缺少 Limit。")
        if not 1 <= limit <= PULL_MAX:
            raise ApiError("InvalidParameterValue.LimitVerifyFail", "Limit 应为 1 到 100。")
        with self._lock:
            return [queue.popleft() for _ in range(min(limit, len(queue)))]


class _Handler(BaseHTTPRequestHandler):
    owner: FakeTencent
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {name.lower(): value for name, value in self.headers.items()}
        answer, delay, cut = self.owner.handle(headers, self.path, body)
        if delay:
            time.sleep(delay)
        data = json.dumps(answer, ensure_ascii=False).encode("utf-8")
        try:
            self.send_response(200)
            # Exactly this: the SDK reads an Error only from "application/json" or "text/plain".
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data[: len(data) // 2] if cut else data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (a delayed answer)
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - BaseHTTPRequestHandler's name
        pass


def _post(url: str, payload: Any) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
                                     headers={"Content-Type": "application/json"}, method="POST")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy
    try:
        with opener.open(request, timeout=5) as answer:
            status, text = answer.status, answer.read()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read()
    try:
        return status, json.loads(text)
    except json.JSONDecodeError:
        return status, text.decode("utf-8", "replace")
