"""Logs: one line per record, as text or as JSON, each carrying its request's
id; and no secret in any of them.

- `LOG_FORMAT` "text" (default) or "json" (one JSON object a line: time in ISO-8601
  UTC, level, logger, message, request_id, method and path when in a request, status
  where known, exc_info with the traceback's text) and `LOG_LEVEL` (default INFO).
- Every request gets an id: the client's `X-Request-ID` when it is a short, plain token
  (a load balancer's), else a new one; it goes back on the response's `X-Request-ID`
  and into every record logged during the request.
- `RedactFilter`, on every handler this module makes (and on gunicorn's, see
  voting/gunicorn_conf.py), rewrites each record before it is written: citizens' link
  tokens in paths (`/v/<token>` → `/v/[已隐去]`), mainland mobile numbers (138****5678),
  query or form parameters that carry a token, password, code or number, what follows
  评价码 / 密码 in an SMS text, and the parameters SQLAlchemy puts in its error messages.
  The message, its arguments, the traceback and the stack are all rewritten.

`init_app` configures the root logger (a handler of its own, replaced, never doubled,
when create_app runs again) unless the app is TESTING; `LOG_CONFIGURE` True or False
decides explicitly.
"""
from __future__ import annotations

import copy
import json
import logging
import re
import sys
import uuid
from datetime import datetime, timezone
from typing import IO, Any

from flask import Flask, g, has_request_context, request

from sms.phones import mask_phone

HIDDEN = "[已隐去]"
FORMATS = ("text", "json")

# ---- redaction -------------------------------------------------------------------------

# /v/<token>: the citizens' one-time link (voting/survey/citizen_views.py), also inside a full
# URL in an SMS text. /v/thanks and /v/seen are pages, not tokens.
_LINK = re.compile(r"(/v/)(?!(?:thanks|seen)(?![^\s?#\"'<>/\\]))[^\s?#\"'<>/\\]+")
# /r/<token> and /r/case/<token>: a rating address (a case's is sent to one citizen) and a
# 差评 verdict link (voting/ratings/citizen_views.py, verdict_views.py).
_RATING = re.compile(r"(/r/(?:case/)?)[^\s?#\"'<>/\\]+")
# /sms/<provider>/<secret>/report|reply: the mainland providers' callback addresses
# (voting/outbox/callback_views.py), whose secret is what authenticates a push.
_CALLBACK = re.compile(r"(/sms/[A-Za-z0-9_-]+/)[^\s?#\"'<>/\\]+(?=/(?:report|reply)\b)")
# 11-digit mainland mobile numbers, with +86 / 0086 / 86 (or %2B86 url-encoded) before
# them, and written 138-1234-5678 or 138 1234 5678; not inside a longer run of digits.
_PHONE = re.compile(r"(?<![0-9])(?:(?:\+|%2[Bb]|00)?86[\s-]?)?(1[3-9][0-9])[\s-]?([0-9]{4})[\s-]?([0-9]{4})(?![0-9])")
# key=value in a query string or a form body, and "key": "value" in JSON.
_SECRET_KEYS = r"token|t|password|passwd|pwd|pass|code|otp|nonce|secret|signature|phone|phone_tail|mobile|tel|from|to|body"
_PARAM = re.compile(r"(?i)(?<![\w-])((?:" + _SECRET_KEYS + r")=)[^&\s\"'#<>]*")
_JSON_PARAM = re.compile(r"(?i)(\"(?:token|password|code|phone|body|otp|nonce|secret)\"\s*:\s*\")[^\"]*")
# What an SMS text puts after 评价码 / 密码 (a code to type, a one-time password), and
# a receipt code written in groups.
_AFTER_WORD = re.compile(r"((?:评价码|密码|回执码|验证码|口令)[\s::为是]*)[A-Za-z0-9](?:[A-Za-z0-9 \-]*[A-Za-z0-9])?")
# SQLAlchemy's error messages: "[parameters: (...)]" holds the row's values.
_SQL_PARAMS = re.compile(r"\[parameters: [^\n]*")


def _mask(found: re.Match[str]) -> str:
    return mask_phone("".join(found.groups()))


def redact(text: str) -> str:
    """`text` without link tokens (votes, ratings, verdicts), callback secrets, phone numbers (masked), secret parameters, codes and
    passwords after their words, and SQL parameters."""
    if not text:
        return text
    text = _LINK.sub(r"\1" + HIDDEN, text)
    text = _RATING.sub(r"\1" + HIDDEN, text)
    text = _CALLBACK.sub(r"\1" + HIDDEN, text)
    text = _PARAM.sub(r"\1" + HIDDEN, text)
    text = _JSON_PARAM.sub(r"\1" + HIDDEN, text)
    text = _AFTER_WORD.sub(r"\1" + HIDDEN, text)
    text = _SQL_PARAMS.sub("[parameters: " + HIDDEN + "]", text)
    return _PHONE.sub(_mask, text)


_plain = logging.Formatter()


class RedactFilter(logging.Filter):
    """Rewrites a record's message (formatted with its arguments), traceback and stack
    with `redact`; installed on handlers, so that every record they write passes it,
    whichever logger it came from (werkzeug's request lines, gunicorn's access log,
    a library's debug output)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format: still write it, redacted
            message = f"{record.msg!r} {record.args!r}"
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = _plain.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


# ---- request ids -----------------------------------------------------------------------

_SANE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
HEADER = "X-Request-ID"


def request_id() -> str:
    """This request's id (in a request context): the client's X-Request-ID when it is
    a short plain token that redaction leaves alone, else a new random one."""
    found = g.get("request_id")
    if found is None:
        given = request.headers.get(HEADER, "")
        found = given if _SANE_ID.fullmatch(given) and redact(given) == given else uuid.uuid4().hex
        g.request_id = found
    return found


class RequestFilter(logging.Filter):
    """Adds `request_id`, `method` and `path` (redacted) to a record logged during a
    request; `request_id` None outside one (fields given with `extra=` are kept)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = None
            if has_request_context():
                record.request_id = request_id()
                if getattr(record, "method", None) is None:
                    record.method = request.method
                if getattr(record, "path", None) is None:
                    query = request.query_string.decode("latin-1")
                    record.path = redact(request.path + ("?" + query if query else ""))
        return True


# ---- formats ---------------------------------------------------------------------------


def _utc(created: float) -> str:
    return datetime.fromtimestamp(created, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TextFormatter(logging.Formatter):
    """`2026-05-12T08:00:00.123Z INFO voting.outbox.views [request id] message`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return _utc(record.created)

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, "request_id", None) is None:
            record.request_id = "-"
            try:
                return super().format(record)
            finally:
                record.request_id = None
        return super().format(record)


# Fields a record may carry (from RequestFilter, or `extra=` as gunicorn's access log
# gives them), written when present.
JSON_FIELDS = ("method", "path", "status", "duration_ms", "bytes", "remote_addr", "user_agent")


# The dev server colours its request lines.
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class JsonFormatter(logging.Formatter):
    """One JSON object a line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _utc(record.created), "level": record.levelname, "logger": record.name,
            "message": _ANSI.sub("", record.getMessage()), "request_id": getattr(record, "request_id", None),
        }
        for name in JSON_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = redact(value) if name == "path" and isinstance(value, str) else value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc_info"] = record.exc_text
        if record.stack_info:
            entry["stack_info"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=str)


def formatter(fmt: str) -> logging.Formatter:
    if fmt not in FORMATS:
        raise ValueError(f"LOG_FORMAT 应为 {' 或 '.join(FORMATS)}，而不是 {fmt!r}")
    return JsonFormatter() if fmt == "json" else TextFormatter()


def protect(handler: logging.Handler) -> logging.Handler:
    """Give `handler` the redaction and request filters (once)."""
    kinds = {type(f) for f in handler.filters}
    for kind in (RedactFilter, RequestFilter):
        if kind not in kinds:
            handler.addFilter(kind())
    return handler


class Handler(logging.StreamHandler):
    """A stream handler whose filters and formatter work on a copy of each record (the
    other handlers get it as it was logged), writing to `stream`, or by default to
    `sys.stderr` as it is when the record comes (not when the handler was made)."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        logging.Handler.__init__(self)
        self._stream = stream

    @property
    def stream(self) -> IO[str]:  # type: ignore[override]
        return self._stream if self._stream is not None else sys.stderr

    @stream.setter
    def stream(self, value: IO[str] | None) -> None:
        self._stream = value

    def handle(self, record: logging.LogRecord) -> bool:  # type: ignore[override]
        return bool(super().handle(copy.copy(record)))


def make_handler(fmt: str = "text", stream: IO[str] | None = None) -> logging.Handler:
    """A stream handler (stderr by default) in `fmt`, with the filters: what the root
    logger gets in production."""
    handler = Handler(stream)
    handler.setFormatter(formatter(fmt))
    handler._pingyi = True  # type: ignore[attr-defined]
    return protect(handler)


def level_of(value: str | int) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    level = logging.getLevelName(str(value).strip().upper())
    if not isinstance(level, int):
        raise ValueError(f"LOG_LEVEL 应为 DEBUG、INFO、WARNING、ERROR 或 CRITICAL，而不是 {value!r}")
    return level


def configure(fmt: str = "text", level: str | int = "INFO", stream: IO[str] | None = None) -> logging.Handler:
    """The root logger writes `fmt` at `level` through one handler of this module (a
    previous one is replaced: calling this again never doubles the lines). SQL
    statements are not logged whatever the level (their parameters hold numbers, codes
    and texts): the `sqlalchemy` logger stays at WARNING unless set otherwise."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_pingyi", False)]:
        root.removeHandler(old)
    handler = make_handler(fmt, stream)
    root.addHandler(handler)
    root.setLevel(level_of(level))
    if logging.getLogger("sqlalchemy").level == logging.NOTSET:
        logging.getLogger("sqlalchemy").setLevel(logging.WARNING)
    return handler


def init_app(app: Flask) -> None:
    from flask.logging import default_handler

    from voting.core.config import ConfigError

    fmt = str(app.config.get("LOG_FORMAT") or "text").strip().lower()
    try:
        formatter(fmt)
        level = level_of(app.config.get("LOG_LEVEL") or "INFO")
    except ValueError as error:
        raise ConfigError(str(error)) from None
    # Flask's own handler (on app.logger when nothing else is configured) redacts too.
    protect(default_handler)
    wanted = app.config.get("LOG_CONFIGURE")
    if wanted or (wanted is None and not app.testing):
        configure(fmt, level)
        logging.getLogger(app.import_name).removeHandler(default_handler)

    @app.before_request
    def _start() -> None:
        request_id()

    @app.after_request
    def _tag(response):
        response.headers[HEADER] = request_id()
        return response
