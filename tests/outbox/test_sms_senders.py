"""SMS senders, for real: the official `twilio` client against Twilio's own OpenAPI
description served by Stoplight Prism (tests/twilio/), and against a small local HTTP
server for the answers Prism cannot give (429, 5xx, silence, a closed connection)."""
from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl

import pytest

from sms.senders import (
    ConsoleSender,
    Message,
    PermanentSendError,
    SendError,
    Sent,
    SenderConfigError,
    TransientSendError,
    TwilioSender,
    UncertainSendError,
    sender_from_env,
)
from tests.conftest import missing

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "tests" / "twilio" / "twilio_api_v2010.json"
PRISM_START_SECONDS = 60

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "test-auth-token"
SERVICE_SID = "MG" + "fedcba9876543210" * 2
FROM_NUMBER = "+14155550100"
PHONE = "13812345678"
TOKEN = "Xk9-one-time-token"
TEXT = f"【平阳县评议办】请为本年度服务评价：https://pingyi.example/v/{TOKEN}"


def message(**changes) -> Message:
    fields = {
        "to": PHONE,
        "template": "invite_link",
        "params": {"token": TOKEN},
        "text": TEXT,
        "key": "invite:2021:H1:42",
    }
    fields.update(changes)
    return Message(**fields)


def spec_example() -> dict:
    """The 201 example of `POST .../Messages.json` that Prism answers with."""
    spec = json.loads(SPEC.read_text(encoding="utf-8"))
    created = spec["paths"]["/2010-04-01/Accounts/{AccountSid}/Messages.json"]["post"]["responses"]["201"]
    return created["content"]["application/json"]["examples"]["create"]["value"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def assert_nothing_secret(text: str) -> None:
    assert PHONE not in text
    assert TOKEN not in text
    assert AUTH_TOKEN not in text


# -- Prism ------------------------------------------------------------------------------


def prism_executable() -> str:
    configured = os.environ.get("PINGYI_PRISM")
    if configured:
        if not os.access(configured, os.X_OK):
            missing(f"PINGYI_PRISM={configured} is not an executable")
        return configured
    local = ROOT / ".ci" / "node" / "node_modules" / ".bin" / "prism"
    if os.access(local, os.X_OK):
        return str(local)
    found = shutil.which("prism")
    if found:
        return found
    missing("Stoplight Prism is not installed (npm install @stoplight/prism-cli)")
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def prism(tmp_path_factory) -> Iterator[str]:
    """Base URL of Prism mocking Twilio's API on loopback, for the whole session."""
    executable = prism_executable()
    port = free_port()
    log_path = tmp_path_factory.mktemp("prism") / "prism.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [executable, "mock", str(SPEC), "-h", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + PRISM_START_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"Prism exited with {process.returncode}:\n{log_path.read_text(errors='replace')[-2000:]}")
            try:
                urllib.request.urlopen(base_url + "/", timeout=1)
                break
            except urllib.error.HTTPError:
                break  # any HTTP answer (404 for "/") means it is serving
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"Prism did not answer within {PRISM_START_SECONDS} s:\n"
                        f"{log_path.read_text(errors='replace')[-2000:]}"
                    )
                time.sleep(0.2)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_the_spec_copy_is_the_one_its_readme_describes():
    digest = hashlib.sha256(SPEC.read_bytes()).hexdigest()
    readme = (SPEC.parent / "README.md").read_text(encoding="utf-8")
    assert digest in readme
    assert "d50069b44ea8cd23141385bdb6db48f16ff75bb5" in readme and "MIT" in readme


@pytest.mark.parametrize(
    "who",
    [
        {"messaging_service_sid": SERVICE_SID},
        {"from_number": FROM_NUMBER},
        {"messaging_service_sid": SERVICE_SID, "from_number": FROM_NUMBER},
        {"messaging_service_sid": SERVICE_SID, "status_callback": "https://pingyi.example/sms/status"},
    ],
    ids=["messaging-service", "from-number", "both", "status-callback"],
)
def test_prism_accepts_well_formed_sends(prism, who):
    sender = TwilioSender(ACCOUNT_SID, AUTH_TOKEN, base_url=prism, **who)
    example = spec_example()
    assert sender.send(message()) == Sent(provider_id=example["sid"], status=example["status"])
    assert example["sid"].startswith("SM") and example["status"] == "queued"


@pytest.mark.parametrize(
    ("account_sid", "who"),
    [
        ("AC1234", {"messaging_service_sid": SERVICE_SID}),  # AccountSid must be AC + 32 hex digits
        (ACCOUNT_SID, {"messaging_service_sid": "MG-not-a-service"}),  # so must MessagingServiceSid
    ],
    ids=["account-sid", "messaging-service-sid"],
)
def test_prism_rejections_are_permanent(prism, account_sid, who):
    sender = TwilioSender(account_sid, AUTH_TOKEN, base_url=prism, **who)
    with pytest.raises(PermanentSendError) as raised:
        sender.send(message())
    assert raised.value.status == 422
    assert raised.value.reason.startswith("Twilio HTTP 422")
    assert_nothing_secret(str(raised.value))


def test_base_url_wins_over_twilio_edge_and_region(prism, monkeypatch):
    # The client turns api.twilio.com into api.sydney.au1.twilio.com; the sender's http
    # client still sends to Prism.
    monkeypatch.setenv("TWILIO_EDGE", "sydney")
    monkeypatch.setenv("TWILIO_REGION", "au1")
    sender = TwilioSender(ACCOUNT_SID, AUTH_TOKEN, messaging_service_sid=SERVICE_SID, base_url=prism)
    assert sender.send(message()).provider_id == spec_example()["sid"]


# -- a local server for what Prism cannot answer ------------------------------------------


class FakeTwilio(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _FakeTwilioHandler)
        self.received: list[dict] = []
        # (status, body); status None closes the connection without an answer
        self.reply: tuple[int | None, str] = (201, json.dumps(spec_example()))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _FakeTwilioHandler(BaseHTTPRequestHandler):
    server: FakeTwilio

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        self.server.received.append(
            {"path": self.path, "form": dict(parse_qsl(body)), "authorization": self.headers.get("Authorization")}
        )
        status, payload = self.server.reply
        if status is None:
            self.close_connection = True
            return
        data = payload.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args) -> None:  # noqa: A002 (the base class's name)
        pass


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    server = FakeTwilio()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_the_request_is_what_twilio_expects(fake_twilio):
    sender = TwilioSender(
        ACCOUNT_SID,
        AUTH_TOKEN,
        messaging_service_sid=SERVICE_SID,
        status_callback="https://pingyi.example/sms/status",
        base_url=fake_twilio.url,
    )
    sent = sender.send(message())
    assert sent == Sent(provider_id=spec_example()["sid"], status="queued")
    [request] = fake_twilio.received
    assert request["path"] == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request["form"] == {
        "To": "+86" + PHONE,
        "Body": TEXT,
        "MessagingServiceSid": SERVICE_SID,
        "StatusCallback": "https://pingyi.example/sms/status",
    }
    expected_auth = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert request["authorization"] == f"Basic {expected_auth}"


def test_a_from_number_goes_out_as_from(fake_twilio):
    TwilioSender(ACCOUNT_SID, AUTH_TOKEN, from_number=FROM_NUMBER, base_url=fake_twilio.url).send(message())
    [request] = fake_twilio.received
    assert request["form"] == {"To": "+86" + PHONE, "Body": TEXT, "From": FROM_NUMBER}


def _legacy(status: int, code: int, text: str) -> str:
    return json.dumps({"status": status, "code": code, "message": text, "more_info": f"https://www.twilio.com/docs/errors/{code}"})


def _problem(status: int, code: int, detail: str) -> str:  # RFC 9457, newer Twilio APIs
    return json.dumps({"type": f"https://www.twilio.com/docs/errors/{code}", "title": "Refused", "status": status, "code": code, "detail": detail})


@pytest.mark.parametrize(
    ("status", "body", "kind", "code"),
    [
        (500, _legacy(500, 20500, "Internal Server Error"), TransientSendError, 20500),
        (503, "Service Unavailable", TransientSendError, None),
        (429, _legacy(429, 20429, "Too Many Requests"), TransientSendError, 20429),
        (503, _problem(503, 20503, "Service Unavailable"), TransientSendError, 20503),
        (400, _legacy(400, 21211, f"The 'To' number +86{PHONE} is not a valid phone number."), PermanentSendError, 21211),
        (401, _legacy(401, 20003, "Authenticate"), PermanentSendError, 20003),
        (404, "<html>not found</html>", PermanentSendError, None),
        (400, _problem(400, 21211, f"Invalid 'To' Phone Number: +86{PHONE}"), PermanentSendError, 21211),
    ],
    ids=["500", "503-text", "429", "503-rfc9457", "400", "401", "404-html", "400-rfc9457"],
)
def test_http_errors_are_transient_or_permanent(fake_twilio, caplog, status, body, kind, code):
    caplog.set_level(logging.DEBUG)
    fake_twilio.reply = (status, body)
    sender = TwilioSender(ACCOUNT_SID, AUTH_TOKEN, messaging_service_sid=SERVICE_SID, base_url=fake_twilio.url)
    with pytest.raises(SendError) as raised:
        sender.send(message())
    assert type(raised.value) is kind
    assert (raised.value.status, raised.value.code) == (status, code)
    assert raised.value.reason.startswith(f"Twilio HTTP {status}")
    # Twilio's message may quote the number: the reason keeps only its masked form, and
    # the client's exception (which has it whole) is not chained on.
    assert_nothing_secret(raised.value.reason)
    assert raised.value.__cause__ is None
    if "+86" + PHONE in body:
        assert "138****5678" in raised.value.reason
    assert_nothing_secret(caplog.text)
    assert len(fake_twilio.received) == 1  # the client itself does not retry


def test_a_2xx_that_is_not_json_is_transient(fake_twilio):
    fake_twilio.reply = (200, "<html>captive portal</html>")
    sender = TwilioSender(ACCOUNT_SID, AUTH_TOKEN, messaging_service_sid=SERVICE_SID, base_url=fake_twilio.url)
    with pytest.raises(TransientSendError, match="not JSON"):
        sender.send(message())


def test_a_connection_closed_without_an_answer_is_transient(fake_twilio):
    fake_twilio.reply = (None, "")
    sender = TwilioSender(ACCOUNT_SID, AUTH_TOKEN, messaging_service_sid=SERVICE_SID, base_url=fake_twilio.url)
    with pytest.raises(TransientSendError, match="ConnectionError") as raised:
        sender.send(message())
    assert raised.value.status is None
    assert len(fake_twilio.received) == 1


def test_nothing_listening_is_transient():
    port = free_port()  # bound and released: nothing listens there now
    sender = TwilioSender(ACCOUNT_SID, AUTH_TOKEN, from_number=FROM_NUMBER, base_url=f"http://127.0.0.1:{port}", timeout=0.5)
    with pytest.raises(TransientSendError, match="ConnectionError"):
        sender.send(message())


def test_a_server_that_never_answers_is_uncertain():
    # A listening socket nobody accepts from: the kernel completes the handshake and
    # takes the request, and no answer ever comes. The request went out: the message
    # may have been sent, so it is not to be retried blindly.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        base_url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        sender = TwilioSender(ACCOUNT_SID, AUTH_TOKEN, from_number=FROM_NUMBER, base_url=base_url, timeout=0.5)
        started = time.monotonic()
        with pytest.raises(UncertainSendError, match="ReadTimeout"):
            sender.send(message())
        assert time.monotonic() - started < 5


def test_requests_are_not_logged_with_the_number_or_the_text(fake_twilio, caplog):
    caplog.set_level(logging.DEBUG)
    sender = TwilioSender(ACCOUNT_SID, AUTH_TOKEN, messaging_service_sid=SERVICE_SID, base_url=fake_twilio.url)
    sender.send(message())
    assert fake_twilio.received[0]["form"]["To"] == "+86" + PHONE
    http_lines = [r.getMessage() for r in caplog.records if r.name == "sms.senders.twilio_http"]
    assert http_lines == [f"Twilio request: POST /2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json", "Twilio response: 201"]
    assert not [r for r in caplog.records if r.name == "twilio.http_client"]
    assert "138****5678" in caplog.text  # the sender's own line, with the masked number
    assert_nothing_secret(caplog.text)


def test_the_stock_http_client_would_log_on_twilio_http_client(fake_twilio, caplog):
    # The control for the test above: at DEBUG, caplog does see the client's own logger.
    from twilio.rest import Client

    caplog.set_level(logging.DEBUG)
    client = Client(ACCOUNT_SID, AUTH_TOKEN)
    client.request("GET", f"{fake_twilio.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json", params={"To": "+86" + PHONE})
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "twilio.http_client")
    assert "8613812345678" in logged


# -- the constructor --------------------------------------------------------------------


def test_twilio_sender_needs_someone_to_send_as():
    with pytest.raises(ValueError, match="messaging_service_sid or a from_number"):
        TwilioSender(ACCOUNT_SID, AUTH_TOKEN)


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"status_callback": "not a url"}, "status_callback must be an http"),
        ({"base_url": "127.0.0.1:4010"}, "base_url must be a scheme and a host"),
        ({"base_url": "http://127.0.0.1:4010/api"}, "base_url must be a scheme and a host"),
        ({"timeout": 0}, "timeout must be positive"),
    ],
)
def test_twilio_sender_refuses_bad_settings_at_once(changes, says):
    with pytest.raises(ValueError, match=says):
        TwilioSender(ACCOUNT_SID, AUTH_TOKEN, **{"messaging_service_sid": SERVICE_SID, **changes})


@pytest.mark.parametrize("to", ["+8613812345678", "1381234567", "14012345678", ""])
def test_a_message_takes_only_a_stored_mainland_number(to):
    with pytest.raises(ValueError, match="Message.to") as raised:
        message(to=to)
    assert "13812345678" not in str(raised.value)


def test_a_message_needs_its_dedupe_key():
    with pytest.raises(ValueError, match="dedupe key"):
        message(key="")


# -- the console sender -----------------------------------------------------------------


def test_console_sender_hands_the_message_to_its_sink_and_sends_nothing(caplog, capsys):
    caplog.set_level(logging.DEBUG)
    stored: list[Message] = []
    sender = ConsoleSender(sink=stored.append)
    sent = sender.send(message())
    assert sent == Sent(provider_id="console-invite:2021:H1:42", status="delivered")
    assert stored == [message()]
    assert sender.name == "console"
    assert "138****5678" in caplog.text and "invite_link" in caplog.text
    assert_nothing_secret(caplog.text)
    out, err = capsys.readouterr()
    assert_nothing_secret(out + err)


def test_console_sender_without_a_sink():
    assert ConsoleSender().send(message(key="k1")) == Sent(provider_id="console-k1", status="delivered")


# -- configuration from the environment -------------------------------------------------

TWILIO_ENV = {
    "PINGYI_SMS_SENDER": "twilio",
    "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
    "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
    "TWILIO_MESSAGING_SERVICE_SID": SERVICE_SID,
}


def test_console_is_the_default_sender():
    stored: list[Message] = []
    sender = sender_from_env({}, sink=stored.append)
    assert isinstance(sender, ConsoleSender)
    sender.send(message())
    assert stored == [message()]
    assert isinstance(sender_from_env({"PINGYI_SMS_SENDER": "console"}), ConsoleSender)


def test_twilio_from_the_environment_sends_with_it(fake_twilio):
    environ = {
        **TWILIO_ENV,
        "TWILIO_STATUS_CALLBACK": "https://pingyi.example/sms/status",
        "PINGYI_TWILIO_BASE_URL": fake_twilio.url,
    }
    sender = sender_from_env(environ)
    assert isinstance(sender, TwilioSender) and sender.name == "twilio"
    assert sender.send(message()).provider_id == spec_example()["sid"]
    [request] = fake_twilio.received
    assert request["form"]["MessagingServiceSid"] == SERVICE_SID
    assert request["form"]["StatusCallback"] == "https://pingyi.example/sms/status"
    assert request["path"] == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"


def test_a_from_number_is_enough_in_the_environment(fake_twilio):
    environ = {k: v for k, v in TWILIO_ENV.items() if k != "TWILIO_MESSAGING_SERVICE_SID"}
    sender = sender_from_env({**environ, "TWILIO_FROM_NUMBER": FROM_NUMBER, "PINGYI_TWILIO_BASE_URL": fake_twilio.url})
    sender.send(message())
    assert fake_twilio.received[0]["form"]["From"] == FROM_NUMBER
    assert "MessagingServiceSid" not in fake_twilio.received[0]["form"]


@pytest.mark.parametrize(
    ("absent", "named"),
    [
        ("TWILIO_ACCOUNT_SID", ["TWILIO_ACCOUNT_SID"]),
        ("TWILIO_AUTH_TOKEN", ["TWILIO_AUTH_TOKEN"]),
        ("TWILIO_MESSAGING_SERVICE_SID", ["TWILIO_MESSAGING_SERVICE_SID", "TWILIO_FROM_NUMBER"]),
    ],
)
def test_each_missing_variable_is_named(absent, named):
    environ = {k: v for k, v in TWILIO_ENV.items() if k != absent}
    with pytest.raises(SenderConfigError) as raised:
        sender_from_env(environ)
    for name in named:
        assert name in str(raised.value)
    assert "缺少环境变量" in str(raised.value) and "missing" in str(raised.value)
    others = {"TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_MESSAGING_SERVICE_SID"} - {absent}
    assert not [name for name in others if name in str(raised.value)]


def test_every_missing_variable_is_named_at_once():
    with pytest.raises(SenderConfigError) as raised:
        sender_from_env({"PINGYI_SMS_SENDER": "twilio", "TWILIO_AUTH_TOKEN": "  "})  # blank is missing
    assert isinstance(raised.value, ValueError)
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_MESSAGING_SERVICE_SID", "TWILIO_FROM_NUMBER"):
        assert name in str(raised.value)


def test_an_unknown_sender_is_refused():
    with pytest.raises(SenderConfigError, match="unknown SMS sender.*yunpian.*console, twilio, aliyun, tencent"):
        sender_from_env({"PINGYI_SMS_SENDER": "yunpian"})


def test_a_bad_twilio_setting_is_a_config_error():
    with pytest.raises(SenderConfigError, match="PINGYI_TWILIO_BASE_URL base_url must be"):
        sender_from_env({**TWILIO_ENV, "PINGYI_TWILIO_BASE_URL": "localhost"})
    with pytest.raises(SenderConfigError, match="TWILIO_STATUS_CALLBACK status_callback must be"):
        sender_from_env({**TWILIO_ENV, "TWILIO_STATUS_CALLBACK": "/sms/status"})


# -- layering ---------------------------------------------------------------------------


def test_senders_do_not_load_the_web_app():
    code = "import sys, sms.senders; print(sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'voting', 'scoring')))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert loaded.strip() == "[]"
