"""No token, password or full phone number in any log line, on SQLite and
PostgreSQL; the JSON format; gunicorn's access log.

The full flow runs in-process at DEBUG with the root logger's handler made by
voting.core.logs.configure (what production installs: the redaction and request filters,
the text format) writing into a buffer: a failed and a good staff login, the sections
and service-object lists uploaded, a link round and a code round opened, an online
round's accounts issued, the outbox dispatched by the console sender, a citizen's link
and vote, a typed code and vote, a signed SMS reply, an evaluator's wrong and right
one-time password and ballot. Then every secret of the run (each phone number stored
anywhere, read through the ORM; every link token, code and nonce; the passwords) is
looked for in what was logged. caplog keeps the raw records: the dev server's request
line with a token shows the filter doing the work.
"""
from __future__ import annotations

import io
import json
import logging
import random
import re
from contextlib import contextmanager
from datetime import timedelta
from types import SimpleNamespace

import pandas as pd
import pytest
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from tests.support.ballots import form, marks
from tests.conftest import PASSWORD, SECTIONS_CSV, make_app
from tests.support.online_pool import ANY_TIME, fix_candidates, reps_frame, upload_lists
from tests.security.common import staff_login
from voting import sms_sender
from voting.core.config import ConfigError
from voting.core import logs
from voting.demo.campaign import synth_objects
from voting.schema import Base
from voting.lists.models import Campaign, ServiceObject
from voting.outbox.models import ConsoleMessage, OutboxMessage
from voting.online.models import Evaluator, OnlineRound
from voting.survey.models import Invitation, SurveyRound, Vote
from voting.online import ballots
from voting.lists import history
from voting.outbox import outbox
from tests.support.web import text

PUBLIC_URL = "https://pingyi.example.cn"
TWILIO_TOKEN = "0123456789abcdef0123456789abcdef"
INBOUND = "http://localhost/sms/inbound"
WRONG_STAFF_PASSWORD = "wrong horse staple 77"
WRONG_EVALUATOR_PASSWORD = "WRONGPASS9"
LINK = re.compile(re.escape(PUBLIC_URL) + r"(/v/[^\s/?#]+)")
CODE = re.compile(r"评价码 ([A-Z0-9]{8})")


@pytest.fixture
def app_config() -> dict:
    return {"PUBLIC_URL": PUBLIC_URL, "SMS_ENV": {"PINGYI_SMS_SENDER": "console", "TWILIO_AUTH_TOKEN": TWILIO_TOKEN}}


@contextmanager
def root_logger(fmt: str = "text"):
    """The root logger as production has it (voting.core.logs.configure), at DEBUG, into a
    buffer; removed afterwards. Its handler filters a copy of each record: caplog's,
    beside it, keeps the raw log."""
    root = logging.getLogger()
    level = root.level
    buffer = io.StringIO()
    handler = logs.configure(fmt, "DEBUG", stream=buffer)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def upload_sections(client) -> None:
    page = client.post("/office/import/sections", content_type="multipart/form-data",
                       data={"file": (io.BytesIO(SECTIONS_CSV.read_bytes()), "sections.csv")})
    payload = re.search(r'name="payload" type="hidden" value="([^"]+)"', text(page)).group(1)
    assert client.post("/office/import/sections/confirm", data={"payload": payload}).status_code == 302


def upload_objects(client, db, kind: str, seed: int, skip: int = 0) -> None:
    """Three service objects in each of two ordinary sections, for round `kind`."""
    db.rollback()
    statuses = history.section_statuses(db, db.scalar(select(Campaign)))
    chosen = statuses[~statuses["is_enforcement"]].iloc[skip:skip + 2]
    rng = random.Random(seed)
    parts = []
    for row in chosen.to_dict("records"):
        part = synth_objects(rng, 3)
        part.insert(0, "科室", row["section"])
        part.insert(0, "单位名称", row["unit"])
        parts.append(part)
    data = pd.concat(parts).to_csv(index=False).encode("utf-8")
    response = client.post("/office/import/objects", content_type="multipart/form-data",
                           data={"round_kind": kind, "section": "0", "file": (io.BytesIO(data), f"{kind}.csv")})
    assert response.status_code == 302, text(response)


def open_survey(client, db, kind: str, mode: str) -> SurveyRound:
    response = client.post("/office/rounds/", data={"kind": kind, "closes_at": "2099-06-30T18:00", "sample_size": "3",
                                                    "mode": mode, "reminder_after_hours": "48"})
    assert response.status_code == 303, text(response)
    db.rollback()
    survey = db.scalar(select(SurveyRound).where(SurveyRound.kind == kind))
    assert client.post(f"/office/rounds/{survey.id}/open",
                       data={"confirmed": "1", "acknowledged": "y"}).status_code == 303
    return survey


def candidates(db) -> None:
    """Three sections as the fixed candidate list, their service-object lists loaded."""
    db.rollback()
    campaign = db.scalar(select(Campaign))
    upload_lists(db, campaign, fix_candidates(db, campaign, 3, skip=10), 10)


def open_online(client, db) -> tuple[OnlineRound, dict[str, str]]:
    """An online round over the candidates (`candidates`), its pool and accounts made through the office's pages; each login's
    one-time password, read from the outbox before it is sent."""
    assert client.post("/office/online/", data={"closes_at": "2099-06-30T18:00"}).status_code == 303
    reps = reps_frame(3).to_csv(index=False).encode("utf-8")
    response = client.post("/office/online/pool", content_type="multipart/form-data",
                           data={"file": (io.BytesIO(reps), "reps.csv")})
    assert response.status_code == 303, text(response)
    assert client.post("/office/online/sample").status_code == 303
    assert client.post("/office/online/accounts", data={"confirmed": "1"}).status_code == 303
    db.rollback()
    db.expire_all()
    online = db.scalar(select(OnlineRound))
    rows = db.execute(select(Evaluator.login, OutboxMessage.params)
                      .join(OutboxMessage, Evaluator.message_id == OutboxMessage.id)
                      .where(Evaluator.round_id == online.id)).all()
    return online, {login: params["password"] for login, params in rows}


def inbound(client, phone: str, body: str):
    params = {"From": "+86" + phone, "To": "+8610690000", "Body": body, "MessageSid": "SM" + "b" * 32}
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(INBOUND, params)
    return client.post("/sms/inbound", data=params, headers={"X-Twilio-Signature": signature})


def secrets_of_the_run(db) -> dict[str, set[str]]:
    """Every phone number stored anywhere (through the models: the numbers may be
    encrypted at rest), every link token, code and nonce handed out."""
    db.rollback()
    db.expire_all()
    phones: set[str] = set()
    for model in (ServiceObject, Invitation, Evaluator, OutboxMessage, ConsoleMessage):
        phones |= {row.phone for row in db.scalars(select(model)) if row.phone}
    texts = [m.text for m in db.scalars(select(ConsoleMessage))]
    texts += [m.text for m in db.scalars(select(OutboxMessage))]
    texts += [str((m.params or {}).get("link", "")) for m in db.scalars(select(OutboxMessage))]
    tokens = {path.removeprefix("/v/") for t in texts for path in LINK.findall(t)}
    invitations = list(db.scalars(select(Invitation)))
    codes = {i.code for i in invitations if i.code} | {c for t in texts for c in CODE.findall(t)}
    nonces = {i.nonce for i in invitations if i.nonce}
    return {"phones": phones, "tokens": tokens, "codes": codes, "nonces": nonces}


def test_a_full_run_logs_no_token_password_or_phone_number(app, db, admin, caplog):
    caplog.set_level(logging.DEBUG)
    with root_logger() as captured:
        passwords, path = run_everything(app, db)
        logged = captured.getvalue()
    secrets = secrets_of_the_run(db)
    assert secrets["phones"] and secrets["tokens"] and secrets["codes"] and len(secrets["nonces"]) >= 6
    for kind, values in secrets.items():
        leaked = sorted(v for v in values if v in logged)
        assert not leaked, f"{kind} in the log: {leaked}"
    for word in (PASSWORD, WRONG_STAFF_PASSWORD, WRONG_EVALUATOR_PASSWORD, *passwords, TWILIO_TOKEN):
        assert word not in logged and word.lower() not in logged
    # The log did see the run: the console sender's lines (masked numbers), the reply,
    # the dev server's line with the token taken out; and caplog's raw records show
    # that the last one needed the filter.
    assert "console sender:" in logged and "****" in logged
    assert "SMS reply recorded the vote" in logged
    assert "GET /v/[已隐去] HTTP/1.1" in logged
    assert path in caplog.text and any(path in r.getMessage() for r in caplog.records)


def run_everything(app, db) -> tuple[list[str], str]:
    """The flow; the evaluators' passwords and the path of the citizen's link."""
    client = app.test_client()
    # Staff: a wrong password, then the right one; the lists; two survey rounds.
    wrong = client.post("/login", data={"username": "admin", "password": WRONG_STAFF_PASSWORD})
    assert wrong.status_code != 302
    staff_login(client, "admin")
    assert client.post("/office/campaigns", data={"year": "2021"}).status_code == 302
    upload_sections(client)
    upload_objects(client, db, "H1", seed=4)
    upload_objects(client, db, "H2", seed=5, skip=2)
    candidates(db)
    link_round = open_survey(client, db, "H1", "link")
    code_round = open_survey(client, db, "H2", "code")
    online, passwords = open_online(client, db)
    assert passwords and all(passwords.values())

    # The outbox, sent by the console sender (its copies hold the texts citizens get).
    report = outbox.dispatch(app.extensions["pingyi.sessions"], sms_sender(app), "log-test", ANY_TIME)
    assert report.sent >= 12 and not report.failed
    db.rollback()
    console = list(db.scalars(select(ConsoleMessage).order_by(ConsoleMessage.id)))
    by_round = {}
    for invitation in db.scalars(select(Invitation).order_by(Invitation.id)):
        by_round.setdefault(invitation.round_id, []).append(invitation)
    text_of = {m.key: m.text for m in console}

    # A citizen opens the SMS link and votes.
    first = by_round[link_round.id][0]
    path = LINK.search(text_of[f"invite:{first.round_id}:{first.id}"]).group(1)
    citizen = app.test_client()
    assert citizen.get(path).status_code == 303
    assert citizen.get("/v").status_code == 200
    assert citizen.post("/v", data={"choice": "satisfied", "comment": "服务很好"}).status_code == 303

    # Code mode: the code typed with the phone's last four digits.
    typed = by_round[code_round.id][0]
    code = CODE.search(text_of[f"invite:{typed.round_id}:{typed.id}"]).group(1)
    other = app.test_client()
    assert other.post("/c", data={"code": code, "phone_tail": typed.phone[-4:]}).status_code == 303
    assert other.post("/v", data={"choice": "basic"}).status_code == 303

    # An SMS reply, signed as Twilio signs it.
    replying = by_round[link_round.id][1]
    answer = text(inbound(app.test_client(), replying.phone, f"{replying.code} 3"))
    assert "已收到您对" in answer

    # An evaluator: a wrong password, the right one, a ballot.
    login, password = sorted(passwords.items())[0]
    evaluator = app.test_client()
    assert evaluator.post("/e/login", data={"login": login, "password": WRONG_EVALUATOR_PASSWORD}).status_code == 401
    assert evaluator.post("/e/login", data={"login": login, "password": password}).status_code == 303
    assert evaluator.get("/e/ballot").status_code == 200
    found = ballots.ballot_candidates(db, online.campaign_id)
    rules = ballots.ballot_rules(db.get(Campaign, online.campaign_id).rules, len(found))
    assert evaluator.post("/e/ballot", data=form(marks(found, rules.satisfied, rules.unsatisfied))).status_code == 303

    # The dev server's own request line, as werkzeug writes it: the raw record has the token.
    logging.getLogger("werkzeug").info('%s - - [%s] "%s" %s %s', "127.0.0.1", "05/Dec/2026 04:40:00",
                                       f"GET {path} HTTP/1.1", "303", "-")

    db.rollback()
    assert len(db.scalars(select(Vote)).all()) == 3
    return list(passwords.values()), path


def test_a_rate_limit_breach_is_logged_without_the_sender(database_url, tmp_path, caplog):
    # Flask-Limiter logs the key of a breached limit (and keeps it in its storage): for
    # SMS replies, the keyed hash of the sender's number, never the number.
    app = make_app(database_url, tmp_path, RATELIMIT_ENABLED=True,
                   SMS_ENV={"PINGYI_SMS_SENDER": "console", "TWILIO_AUTH_TOKEN": TWILIO_TOKEN})
    Base.metadata.create_all(app.extensions["pingyi.engine"])
    caplog.set_level(logging.DEBUG)
    try:
        with root_logger() as captured:
            client = app.test_client()
            statuses = [inbound(client, "13812345678", "1").status_code for _ in range(21)]
    finally:
        app.extensions["pingyi.engine"].dispose()
    assert statuses[:20] == [200] * 20 and statuses[20] == 429
    with app.app_context():
        from voting.core.db import get_session
        from voting.core.vault import vault_of

        hashed = vault_of(get_session()).lookup("13812345678")
    assert f"sms-from:{hashed}" in caplog.text and "13812345678" not in caplog.text  # the raw record
    logged = captured.getvalue()
    assert f"sms-from:{hashed}" in logged and "13812345678" not in logged


def test_the_redaction():
    token = "WzEsMiwiYWJjIiwxNzAwMDAwMDAwXQ.Xy-z_09"
    assert logs.redact(f"GET /v/{token} HTTP/1.1") == "GET /v/[已隐去] HTTP/1.1"
    assert logs.redact(f"{PUBLIC_URL}/v/{token} 也可") == f"{PUBLIC_URL}/v/[已隐去] 也可"
    assert logs.redact("/v/thanks /v/seen /v") == "/v/thanks /v/seen /v"
    assert logs.redact(f"POST /r/{token}/confirm HTTP/1.1") == "POST /r/[已隐去]/confirm HTTP/1.1"
    assert logs.redact(f"{PUBLIC_URL}/r/case/{token} 评价") == f"{PUBLIC_URL}/r/case/[已隐去] 评价"
    assert logs.redact("POST /sms/aliyun/Sx-9_q.Zz/report HTTP/1.1") == "POST /sms/aliyun/[已隐去]/report HTTP/1.1"
    assert logs.redact("https://p.cn/sms/tencent/abc/reply?x=1") == "https://p.cn/sms/tencent/[已隐去]/reply?x=1"
    assert logs.redact("/sms/inbound /sms/status") == "/sms/inbound /sms/status"
    assert logs.redact("to +86 138-1234-5678, 13912345678 and 8613712345678") == \
        "to 138****5678, 139****5678 and 137****5678"
    assert logs.redact("To=%2B8613812345678&Body=1") == "To=[已隐去]&Body=[已隐去]"
    assert logs.redact("/e/login?login=AB&password=x1&token=t2&code=K7M4Q9PX") == \
        "/e/login?login=AB&password=[已隐去]&token=[已隐去]&code=[已隐去]"
    assert logs.redact("请打开 p.cn/c 输入评价码 K7M4Q9PX 为服务打分") == "请打开 p.cn/c 输入评价码 [已隐去] 为服务打分"
    assert logs.redact("账号 LOGIN001 密码 K7M3P9QX2H（仅限本人使用") == "账号 LOGIN001 密码 [已隐去]（仅限本人使用"
    assert logs.redact("密码见此前的短信") == "密码见此前的短信"
    assert logs.redact("[SQL: INSERT ...]\n[parameters: ('13812345678', 'K7M4Q9PX')]\n") == \
        "[SQL: INSERT ...]\n[parameters: [已隐去]]\n"
    # Not a phone: a longer run of digits (a timestamp in milliseconds).
    assert logs.redact("at 1733378000123") == "at 1733378000123"


def test_the_filter_rewrites_message_arguments_and_traceback():
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "sent %s to %s", ("/v/abc.def", "13812345678"), None)
    try:
        raise ValueError("bad number 13812345678 in /v/abc.def")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    assert logs.RedactFilter().filter(record)
    assert record.getMessage() == "sent /v/[已隐去] to 138****5678"
    assert "13812345678" not in record.exc_text and "/v/[已隐去]" in record.exc_text
    line = logs.TextFormatter().format(record)
    assert "13812345678" not in line and "abc.def" not in line and "[-]" in line


def test_json_lines_carry_the_request_id(database_url, tmp_path):
    app = make_app(database_url, tmp_path)
    Base.metadata.create_all(app.extensions["pingyi.engine"])
    token = "WzEsMiwiYWJjIl0.sig"

    @app.get("/_log_something")
    def log_something():
        logging.getLogger("voting.test").warning("link /v/%s for %s", token, "13812345678")
        return "ok"

    buffer = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = logs.configure("json", "DEBUG", stream=buffer)
    try:
        client = app.test_client()
        given = client.get("/_log_something?code=K7M4Q9PX", headers={"X-Request-ID": "lb-1234.abcd"})
        made = client.get("/_log_something")
        insane = client.get("/_log_something", headers={"X-Request-ID": "13812345678 or <script>"})
        assert client.get(f"/v/{token}").status_code == 400
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        app.extensions["pingyi.engine"].dispose()
    assert given.headers["X-Request-ID"] == "lb-1234.abcd"
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["X-Request-ID"])
    assert re.fullmatch(r"[0-9a-f]{32}", insane.headers["X-Request-ID"])
    lines = [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]
    ours = [line for line in lines if line["logger"] == "voting.test"]
    assert [line["request_id"] for line in ours] == [r.headers["X-Request-ID"] for r in (given, made, insane)]
    first = ours[0]
    assert first["level"] == "WARNING" and first["method"] == "GET" and first["path"] == "/_log_something?code=[已隐去]"
    assert first["message"] == "link /v/[已隐去] for 138****5678"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["time"])
    assert token not in buffer.getvalue() and "13812345678" not in buffer.getvalue()
    assert "K7M4Q9PX" not in buffer.getvalue()


def test_init_app_configures_the_root_logger_once(database_url, tmp_path):
    root = logging.getLogger()
    level = root.level
    try:
        for _ in range(3):
            app = make_app(database_url, tmp_path, LOG_CONFIGURE=True, LOG_FORMAT="json", LOG_LEVEL="warning")
            app.extensions["pingyi.engine"].dispose()
        ours = [h for h in root.handlers if getattr(h, "_pingyi", False)]
        assert len(ours) == 1 and isinstance(ours[0].formatter, logs.JsonFormatter)
        assert root.level == logging.WARNING
        assert {type(f) for f in ours[0].filters} == {logs.RedactFilter, logs.RequestFilter}
    finally:
        for handler in [h for h in root.handlers if getattr(h, "_pingyi", False)]:
            root.removeHandler(handler)
        root.setLevel(level)
    # A TESTING app leaves the root logger alone.
    app = make_app(database_url, tmp_path)
    app.extensions["pingyi.engine"].dispose()
    assert not [h for h in root.handlers if getattr(h, "_pingyi", False)]
    for bad in ({"LOG_FORMAT": "xml"}, {"LOG_LEVEL": "LOUD"}):
        with pytest.raises(ConfigError):
            make_app(database_url, tmp_path, **bad)


# ---- gunicorn ----------------------------------------------------------------------------

TOKEN_PATH = "/v/WzEsMiwiYWJjIiwxNzAwMDAwMDAwXQ.Xy-z_09"


def access_call(path: str = TOKEN_PATH):
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": path + "?code=K7M4Q9PX", "PATH_INFO": path,
               "QUERY_STRING": "code=K7M4Q9PX", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "10.0.0.7",
               "HTTP_USER_AGENT": "Mozilla/5.0", "HTTP_REFERER": f"{PUBLIC_URL}{path}"}
    response = SimpleNamespace(status="303 SEE OTHER", headers=[("X-Request-ID", "rid-42")], sent=0)
    request = SimpleNamespace(headers=[("User-Agent", "Mozilla/5.0"), ("Referer", f"{PUBLIC_URL}{path}")])
    return response, request, environ, timedelta(milliseconds=12)


def test_gunicorn_filter_redacts_an_access_record():
    pytest.importorskip("gunicorn")
    from gunicorn.glogging import SafeAtoms

    from voting import gunicorn_conf

    response, request, environ, took = access_call()
    atoms = {"h": "10.0.0.7", "r": f"GET {environ['RAW_URI']} HTTP/1.1", "s": "303", "b": "0", "M": 12,
             "a": "Mozilla/5.0", "{x-request-id}o": "rid-42"}
    record = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, gunicorn_conf.access_log_format,
                               (SafeAtoms(atoms),), None)
    assert TOKEN_PATH in record.getMessage()  # the raw line
    assert gunicorn_conf.redact_filter().filter(record)
    line = record.getMessage()
    assert TOKEN_PATH not in line and "K7M4Q9PX" not in line
    assert '"GET /v/[已隐去]?code=[已隐去] HTTP/1.1" 303' in line and "request_id=rid-42" in line


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_gunicorn_access_lines_have_no_token(fmt, monkeypatch):
    pytest.importorskip("gunicorn")
    from gunicorn.config import Config

    from voting import gunicorn_conf

    monkeypatch.setattr(gunicorn_conf.RedactingLogger, "json", fmt == "json")
    cfg = Config()
    for name in ("accesslog", "errorlog", "access_log_format", "loglevel"):
        cfg.set(name, getattr(gunicorn_conf, name))
    # pytest's own capture handlers sit on gunicorn's loggers too (they do not
    # propagate): the logger gives them the filters, taken off again afterwards.
    foreign = {h: list(h.filters) for name in ("gunicorn.access", "gunicorn.error")
               for h in logging.getLogger(name).handlers}
    logger = gunicorn_conf.RedactingLogger(cfg)
    buffer = io.StringIO()
    try:
        for handler in logger.access_log.handlers + logger.error_log.handlers:
            if getattr(handler, "_gunicorn", False):
                handler.setStream(buffer)
        logger.access(*access_call())
        logger.error("Error handling request %s", TOKEN_PATH)
    finally:
        for log in (logger.access_log, logger.error_log):
            for handler in [h for h in log.handlers if getattr(h, "_gunicorn", False)]:
                log.removeHandler(handler)
        for handler, filters in foreign.items():
            handler.filters[:] = filters
    written = buffer.getvalue()
    assert TOKEN_PATH not in written and "K7M4Q9PX" not in written and "/v/[已隐去]" in written
    if fmt == "json":
        access, error = (json.loads(line) for line in written.splitlines())
        assert access["status"] == 303 and access["method"] == "GET" and access["request_id"] == "rid-42"
        assert access["path"] == "/v/[已隐去]?code=[已隐去]" and access["logger"] == "gunicorn.access"
        assert error["level"] == "ERROR" and error["message"] == "Error handling request /v/[已隐去]"
    else:
        assert '"GET /v/[已隐去]?code=[已隐去] HTTP/1.1" 303' in written and "request_id=rid-42" in written
