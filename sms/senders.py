"""SMS senders: the interface the outbox worker calls, and the console and Twilio senders
(the mainland providers' are in sms/aliyun.py and sms/tencent.py).

The worker hands a sender the messages that are due, and the sender says how they go
out: `calls` splits them into provider calls (one message each for a sender without
batches), and `send_batch` makes one such call and gives each message its own outcome:
`Sent` (the provider took it) or a `SendError`: `TransientSendError` (429, 5xx, a
timeout or a broken connection: retry later with backoff), `PermanentSendError` (any
other refusal: never retry), `HeldSendError` (a provider limit per number or per day:
hold the message to the next allowed time, never fail it) or `UncertainSendError` (the
request may have reached the provider and no answer came: never resend it blindly). A
message carries a template id and its parameters as well as the rendered text, because
mainland carriers want registered templates and block many messages with a URL in them;
a sender that needs free text (Twilio) sends `text`.

Links carry one-time tokens, so neither the text nor the full phone number reaches a
log or an error's `reason`; at most the masked number (138****5678) does.

`ConsoleSender` sends nothing (the demo shows the messages on the review office's
outbox page); `TwilioSender` goes through the official `twilio` client. Credentials
come in as arguments; `sender_from_env` reads them from a mapping at start-up and
refuses to start without them.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import requests
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from sms.phones import mask_phone, mask_phones_in, phone_problem

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Message:
    to: str  # the 11-digit mainland mobile number as stored ("13812345678")
    template: str  # a template id, e.g. "invite_link"
    params: Mapping[str, str]
    text: str  # the free text rendered from the template (for senders that need it)
    key: str  # the outbox row's dedupe key (idempotency); never empty

    def __post_init__(self) -> None:
        # A number with its +86 already on would go out as +86+86…: refuse it here,
        # without echoing it.
        problem = phone_problem(self.to)
        if problem:
            raise ValueError(f"Message.to is not a stored mainland number: {problem}")
        if not self.key:
            raise ValueError("Message.key (the outbox dedupe key) is empty")


@dataclass(frozen=True)
class Sent:
    provider_id: str | None  # the provider's message id (Twilio's SID)
    status: str  # the provider's status ("queued", "accepted", "sent", ...)


class SendError(Exception):
    """A message that was not sent. `reason` is short and safe to store on the outbox
    row: it never holds the phone number or the message text."""

    def __init__(self, reason: str, *, status: int | None = None, code: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status  # the HTTP status, when there was an answer
        self.code = code  # the provider's error code, when it gave one


class TransientSendError(SendError):
    """429, 5xx, a timeout or a connection error: retry with backoff."""


class PermanentSendError(SendError):
    """Any other refusal (4xx, a request the API's spec rejects): never retry."""


class HeldSendError(SendError):
    """A provider limit per number (so many a minute, an hour, a day) or on the account
    per day: the message waits and goes later, it is never failed for it. `wait` is how
    long the limit lasts when the provider says so; None means until the next day."""

    def __init__(self, reason: str, *, wait: timedelta | None = None, status: int | None = None,
                 code: int | None = None) -> None:
        super().__init__(reason, status=status, code=code)
        self.wait = wait


class UncertainSendError(SendError):
    """The request reached the provider and no answer came (a read timeout): the
    message may have been sent. Twilio's API has no idempotency key, so sending it
    again may deliver it twice: never resend it blindly."""


Outcome = Sent | SendError


class Sender(Protocol):
    name: str
    # The most messages the worker hands over at once (it claims at least this many rows).
    max_batch: int

    def calls(self, messages: Sequence[Message]) -> list[list[Message]]:
        """`messages` split into the provider's calls, each sent with one `send_batch`."""
        ...

    def send_batch(self, messages: Sequence[Message]) -> list[Outcome]:
        """One provider call: each message's outcome, in order. Raises nothing but for a
        bug: a failure of the whole call is every message's outcome."""
        ...


class OneAtATime:
    """The base of a sender without batches: each message its own call, through `send`
    (which raises a SendError for a message not sent)."""

    name = "?"
    max_batch = 1

    def send(self, message: Message) -> Sent:
        raise NotImplementedError

    def calls(self, messages: Sequence[Message]) -> list[list[Message]]:
        return [[message] for message in messages]

    def send_batch(self, messages: Sequence[Message]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for message in messages:
            try:
                outcomes.append(self.send(message))
            except SendError as error:
                outcomes.append(error)
        return outcomes


class ConsoleSender(OneAtATime):
    """Sends nothing: hands each message to `sink` (the platform stores it for the review
    office's outbox page, where a newcomer can click the citizens' links)."""

    name = "console"

    def __init__(self, sink: Callable[[Message], None] | None = None) -> None:
        self._sink = sink

    def send(self, message: Message) -> Sent:
        if self._sink is not None:
            self._sink(message)
        _log.info("console sender: %s to %s not sent (key %s)", message.template, mask_phone(message.to), message.key)
        return Sent(provider_id="console-" + message.key, status="delivered")


_http_log = logging.getLogger(__name__ + ".twilio_http")


class _TwilioHttp(TwilioHttpClient):
    """The client's HTTP layer, with two changes. Its own request log (INFO on
    `twilio.http_client`) writes the URL, query and headers of every request; here only
    the method, path and status are logged, at DEBUG. And with `base_url`, every URL
    goes to that scheme and host instead (a local mock in the tests); the rewrite
    happens after the client has applied TWILIO_EDGE / TWILIO_REGION, so it wins."""

    def __init__(self, *, timeout: float, base_url: str | None) -> None:
        super().__init__(timeout=timeout, logger=_http_log)
        self._base = _base_url_parts(base_url) if base_url is not None else None

    def request(self, method: str, url: str, *args: Any, **kwargs: Any):
        if self._base is not None:
            scheme, netloc = self._base
            url = urlunsplit(urlsplit(url)._replace(scheme=scheme, netloc=netloc))
        return super().request(method, url, *args, **kwargs)

    def log_request(self, kwargs: dict[str, Any]) -> None:
        self.logger.debug("Twilio request: %s %s", kwargs["method"], urlsplit(kwargs["url"]).path)

    def log_response(self, status_code: int, response: requests.Response) -> None:
        self.logger.debug("Twilio response: %s", status_code)


def _base_url_parts(base_url: str) -> tuple[str, str]:
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/") or parts.query:
        raise ValueError(f"base_url must be a scheme and a host, like http://127.0.0.1:4010, not {base_url!r}")
    return parts.scheme, parts.netloc


def _refusal(error: TwilioRestException | TwilioServiceException) -> SendError:
    """The client's exception for an HTTP error answer, as the worker's outcome."""
    try:
        status = int(error.status)
    except (TypeError, ValueError):
        status = 0
    said = (error.detail or error.title) if isinstance(error, TwilioServiceException) else error.msg
    code = error.code if isinstance(error.code, int) and error.code != status else None
    # Twilio's messages may quote the number ("The 'To' number +8613812345678 is not ...").
    reason = f"Twilio HTTP {status}" + (f" error {code}" if code else "") + f": {mask_phones_in(str(said))}"
    kind = TransientSendError if status == 429 or status >= 500 else PermanentSendError
    return kind(reason[:300], status=status, code=code)


class TwilioSender(OneAtATime):
    """Sends through Twilio's Messages API with the official client.

    Twilio takes free text, so `Message.text` goes out as the body; the number gets +86.
    `messaging_service_sid`, `from_number` or both (a given sender of the service's pool)
    say who sends. A timeout after Twilio received the request can still mean a sent
    message: the Messages API has no idempotency key, so a retry may send it twice.
    """

    name = "twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        messaging_service_sid: str | None = None,
        from_number: str | None = None,
        status_callback: str | None = None,
        base_url: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        if not account_sid or not auth_token:
            raise ValueError("TwilioSender needs an account SID and an auth token")
        if not messaging_service_sid and not from_number:
            raise ValueError("TwilioSender needs a messaging_service_sid or a from_number (who sends the messages)")
        if status_callback is not None:
            callback = urlsplit(status_callback)
            if callback.scheme not in ("http", "https") or not callback.netloc:
                raise ValueError(f"status_callback must be an http(s) URL, not {status_callback!r}")
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, not {timeout!r}")
        self._sender_params: dict[str, str] = {}
        if messaging_service_sid:
            self._sender_params["messaging_service_sid"] = messaging_service_sid
        if from_number:
            self._sender_params["from_"] = from_number
        if status_callback:
            self._sender_params["status_callback"] = status_callback
        self._client = Client(account_sid, auth_token, http_client=_TwilioHttp(timeout=timeout, base_url=base_url))

    def send(self, message: Message) -> Sent:
        try:
            created = self._client.messages.create(to="+86" + message.to, body=message.text, **self._sender_params)
        except (TwilioRestException, TwilioServiceException) as error:
            # Not chained: the client's exception holds Twilio's message unredacted.
            raise _refusal(error) from None
        except requests.ReadTimeout as error:
            # Sent, and no answer in time: Twilio may well have taken it.
            raise UncertainSendError(f"Twilio did not answer in time: {type(error).__name__}") from error
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as error:
            # ConnectTimeout is both a ConnectionError and a Timeout; either way, retry.
            raise TransientSendError(f"Twilio not reached: {type(error).__name__}") from error
        except json.JSONDecodeError:
            # A 2xx that is not Twilio's JSON (a proxy's page): nothing says it was sent.
            raise TransientSendError("Twilio's answer was not JSON") from None
        _log.info("twilio: %s to %s sent as %s (%s)", message.template, mask_phone(message.to), created.sid, created.status)
        return Sent(provider_id=created.sid, status=str(created.status or ""))


class SenderConfigError(ValueError):
    """The environment does not say how to send; the message names what is missing."""


SENDERS = ("console", "twilio", "aliyun", "tencent")


def sender_from_env(environ: Mapping[str, str], *, sink: Callable[[Message], None] | None = None) -> Sender:
    """The sender `PINGYI_SMS_SENDER` names (`console` by default; `twilio`, or the
    mainland providers `aliyun` and `tencent`: sms/mainland.py), configured from
    `environ`; `sink` goes to the console sender. Raises SenderConfigError at start-up
    rather than failing on the first message."""

    def value(name: str) -> str | None:
        return (environ.get(name) or "").strip() or None

    chosen = (value("PINGYI_SMS_SENDER") or "console").lower()
    if chosen == "console":
        return ConsoleSender(sink)
    if chosen in ("aliyun", "tencent"):
        from sms.mainland import SettingError, mainland_sender  # mainland imports this module

        try:
            return mainland_sender(chosen, environ)
        except SettingError as error:
            raise SenderConfigError(str(error)) from error
    if chosen != "twilio":
        raise SenderConfigError(
            f"未知的短信发送方式 / unknown SMS sender: PINGYI_SMS_SENDER={chosen!r} (可选 / one of: {', '.join(SENDERS)})"
        )
    missing = [name for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN") if value(name) is None]
    if value("TWILIO_MESSAGING_SERVICE_SID") is None and value("TWILIO_FROM_NUMBER") is None:
        missing.append("TWILIO_MESSAGING_SERVICE_SID 或 / or TWILIO_FROM_NUMBER")
    if missing:
        raise SenderConfigError(
            "短信发送方式 twilio 缺少环境变量 / the twilio SMS sender is missing environment variables: " + ", ".join(missing)
        )
    try:
        return TwilioSender(
            value("TWILIO_ACCOUNT_SID") or "",
            value("TWILIO_AUTH_TOKEN") or "",
            messaging_service_sid=value("TWILIO_MESSAGING_SERVICE_SID"),
            from_number=value("TWILIO_FROM_NUMBER"),
            status_callback=value("TWILIO_STATUS_CALLBACK"),
            base_url=value("PINGYI_TWILIO_BASE_URL"),
        )
    except ValueError as error:
        variable = next((env for param, env in _SETTING_VARIABLES.items() if str(error).startswith(param)), "")
        raise SenderConfigError(
            f"短信发送方式 twilio 的设置无效 / the twilio SMS sender's settings are invalid: {variable} {error}".replace("  ", " ")
        ) from error


# TwilioSender's errors start with the argument's name; sender_from_env names the variable.
_SETTING_VARIABLES = {"status_callback": "TWILIO_STATUS_CALLBACK", "base_url": "PINGYI_TWILIO_BASE_URL"}
