"""Benchmark of the SMS dispatch worker (`voting.outbox.outbox.dispatch`) into the
console sender, against the floor any durable sender has: a bare loop inserting the
same console rows, one transaction each.

For each database (SQLite file; PostgreSQL at PINGYI_TEST_POSTGRES_URL in a schema of
its own, dropped afterwards, unless --no-postgres or unreachable), with --messages
outbox rows (default 5,000), best of --repeat runs:

* baseline: for each message, open a session, insert its `sms_console` row, commit
  (what the console "provider" itself does per message);
* dispatch: one worker draining the outbox with the console sender: claim batches
  with a lease, send each message in its own transaction, record the outcome.

It prints messages per second of each and the ratio. The dispatcher does about three
transactions per message (its claim is per batch), so a ratio near 3 means that the
worker adds nothing beyond its own bookkeeping.

Then, for each mainland provider (Alibaba Cloud, Tencent Cloud), with --provider-messages
code-mode invitations (default 2,000, each citizen's own code) against the provider's
loopback fake (tests/support/fake_aliyun.py, fake_tencent.py: every request's signature
checked) served by a process of its own, as a real provider is, on the same databases:

* bare SDK: a loop calling the official SDK directly with the same calls the sender
  makes of the messages (Alibaba: SendBatchSms of 100; Tencent: one SendSms each, as
  its calls share one set of values), no database;
* worker: the dispatch worker through the platform's sender (claim, hand-over and
  outcome per wave of calls), one call at a time and --parallel calls at once (4, the
  production default).

It prints messages per second of each and the worker's share of the bare loop's rate
(target: at least 60 %).

On PostgreSQL it also measures the floor of any worker that records each message's
state durably: the same three writes per message (claimed; handed over, in waves of
400; the outcome) as set-based statements in plain SQL, each committed, with no ORM,
no sender and no call, and prints the share of the bare loop a worker could reach at
best if the writes cost nothing more than that: bare / (bare + floor).

    .venv/bin/python bench/dispatch_bench.py
    .venv/bin/python bench/dispatch_bench.py --messages 1000 --repeat 1 --no-postgres
    .venv/bin/python bench/dispatch_bench.py --messages 0 --provider-messages 500   # providers only
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import uuid
from datetime import datetime, time as clock_time, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing

from sqlalchemy import create_engine, delete, insert, text  # noqa: E402
from sqlalchemy.orm import sessionmaker  # noqa: E402

from sms.senders import ConsoleSender, Message, Sender, sender_from_env  # noqa: E402
from sms.templates import INVITE_CODE, INVITE_LINK, render  # noqa: E402
from voting.core.db import make_engine  # noqa: E402
from voting.schema import Base  # noqa: E402
from voting.outbox.models import ConsoleMessage, OutboxMessage, OutboxStatus  # noqa: E402
from voting.outbox.outbox import DispatchSettings, console_sink, dispatch  # noqa: E402

POSTGRES_URL = os.environ.get("PINGYI_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def params(i: int) -> dict[str, str]:
    return {"sign": "平阳县评议办", "date": "5月12日", "unit": "县发改局", "section": "价格科",
            "matter": "咨询价格政策", "link": f"https://p.example.cn/v/{i:022d}", "reply_hint": "", "closes": "6月30日"}


def fill(sessions, n: int, first: int = 0, clear: bool = True) -> list[dict]:
    """n pending messages (keys invite:<first>… on), after emptying the outbox and the
    console table unless `clear` is false (bench/soak.py tops the outbox up)."""
    now = datetime.now(timezone.utc)
    rows = [{"key": f"invite:{i}", "phone": f"138{i:08d}", "template": INVITE_LINK, "params": params(i),
             "text": render(INVITE_LINK, params(i)), "status": OutboxStatus.pending, "attempts": 0,
             "not_before": now, "last_error": "", "created_at": now} for i in range(first, first + n)]
    with sessions() as session:
        if clear:
            session.execute(delete(ConsoleMessage))
            session.execute(delete(OutboxMessage))
        session.execute(insert(OutboxMessage), rows)
        session.commit()
    return rows


def baseline(sessions, rows: list[dict]) -> float:
    with sessions() as session:
        session.execute(delete(ConsoleMessage))
        session.commit()
    start = time.perf_counter()
    for row in rows:
        with sessions() as session:
            session.add(ConsoleMessage(key=row["key"], phone=row["phone"], text=row["text"]))
            session.commit()
    return time.perf_counter() - start


def run_dispatch(sessions, n: int) -> float:
    settings = DispatchSettings(window_start=clock_time(0), window_end=clock_time(0), daily_cap=0, batch=20)
    sender = ConsoleSender(console_sink(sessions, keep_secrets=True))
    start = time.perf_counter()
    report = dispatch(sessions, sender, "bench", settings, sleep=lambda s: None)
    elapsed = time.perf_counter() - start
    assert report.sent == n, report
    return elapsed


def bench(name: str, url: str, n: int, repeat: int, schema: str | None = None) -> tuple[float, float]:
    engine = make_engine(url, phone_key="dispatch bench phone key")
    Base.metadata.create_all(engine)
    sessions = sessionmaker(engine, expire_on_commit=False)
    best_base = best_dispatch = float("inf")
    for _ in range(repeat):
        rows = fill(sessions, n)
        best_base = min(best_base, baseline(sessions, rows))
        fill(sessions, n)
        best_dispatch = min(best_dispatch, run_dispatch(sessions, n))
    engine.dispose()
    return best_base, best_dispatch


# ---- the mainland providers -----------------------------------------------------------------

SIGN = "平阳县评议办"
VARIABLES = ("unit", "section", "code", "closes")


def code_params(i: int) -> dict[str, str]:
    return {"sign": SIGN, "date": "2021年上半年", "unit": "县发改局", "section": "价格科", "matter": "咨询价格政策",
            "address": "pingyi.example.gov.cn/p", "code": f"K{i:07d}"[-8:], "reply_hint": "", "closes": "6月30日"}


def fill_codes(sessions, n: int) -> list[Message]:
    """n pending code-mode invitations, each with its own code; the same as Messages."""
    now = datetime.now(timezone.utc)
    rows = [{"key": f"invite:{i}", "phone": f"138{i:08d}", "template": INVITE_CODE, "params": code_params(i),
             "text": render(INVITE_CODE, code_params(i)), "status": OutboxStatus.pending, "attempts": 0,
             "not_before": now, "last_error": "", "created_at": now} for i in range(n)]
    with sessions() as session:
        session.execute(delete(OutboxMessage))
        session.execute(insert(OutboxMessage), rows)
        session.commit()
    return [Message(to=r["phone"], template=INVITE_CODE, params=r["params"], text=r["text"], key=r["key"])
            for r in rows]


def aliyun_fake():
    from tests.support.fake_aliyun import FakeAliyun

    fake = FakeAliyun(sign_names=(SIGN,), templates={"SMS_460755001": VARIABLES}, param_max_length=None)
    env = {"PINGYI_SMS_SENDER": "aliyun", "ALIBABA_CLOUD_ACCESS_KEY_ID": fake.access_key_id,
           "ALIBABA_CLOUD_ACCESS_KEY_SECRET": fake.access_key_secret, "FLASK_SMS_SIGN": SIGN,
           "PINGYI_SMS_TEMPLATE_INVITATION": "SMS_460755001:" + ",".join(VARIABLES)}
    return fake, env, "PINGYI_ALIYUN_ENDPOINT"


def tencent_fake():
    from tests.support.fake_tencent import FakeTencent

    fake = FakeTencent(secret_id="AKIDbench", secret_key="bench key", sdk_app_id="1400787878", sign_name=SIGN,
                       templates={"1843201": len(VARIABLES)})
    env = {"PINGYI_SMS_SENDER": "tencent", "TENCENTCLOUD_SECRET_ID": fake.secret_id,
           "TENCENTCLOUD_SECRET_KEY": fake.secret_key, "PINGYI_TENCENT_SMS_APP_ID": fake.sdk_app_id,
           "FLASK_SMS_SIGN": SIGN, "PINGYI_SMS_TEMPLATE_INVITATION": "1843201:" + ",".join(VARIABLES)}
    return fake, env, "PINGYI_TENCENT_ENDPOINT"


def bare_aliyun(fake, calls: list[list[Message]]) -> float:
    """The same SendBatchSms calls through the official SDK, nothing else."""
    from alibabacloud_dysmsapi20170525 import models
    from alibabacloud_dysmsapi20170525.client import Client
    from alibabacloud_tea_openapi.models import Config
    from darabonba.runtime import RuntimeOptions

    client = Client(Config(access_key_id=fake.access_key_id, access_key_secret=fake.access_key_secret,
                           endpoint=fake.endpoint, protocol="http"))
    runtime = RuntimeOptions(autoretry=False, max_attempts=1)
    start = time.perf_counter()
    for call in calls:
        request = models.SendBatchSmsRequest(
            phone_number_json=json.dumps([m.to for m in call]), sign_name_json=json.dumps([SIGN] * len(call)),
            template_code="SMS_460755001",
            template_param_json=json.dumps([{v: m.params[v] for v in VARIABLES} for m in call], ensure_ascii=False))
        assert client.send_batch_sms_with_options(request, runtime).body.code == "OK"
    return time.perf_counter() - start


def bare_tencent(fake, calls: list[list[Message]]) -> float:
    """The same SendSms calls through the official SDK, nothing else."""
    from tencentcloud.common import credential
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile
    from tencentcloud.sms.v20210111 import models, sms_client

    profile = ClientProfile(httpProfile=HttpProfile(protocol="http", endpoint=fake.endpoint), retryer=None,
                            disable_region_breaker=True)
    client = sms_client.SmsClient(credential.Credential(fake.secret_id, fake.secret_key), "ap-guangzhou", profile)
    start = time.perf_counter()
    for call in calls:
        request = models.SendSmsRequest()
        request.PhoneNumberSet = ["+86" + m.to for m in call]
        request.SmsSdkAppId, request.SignName, request.TemplateId = fake.sdk_app_id, SIGN, "1843201"
        request.TemplateParamSet = [call[0].params[v] for v in VARIABLES]
        assert all(s.Code == "Ok" for s in client.SendSms(request).SendStatusSet)
    return time.perf_counter() - start


def _serve(name: str, connection) -> None:
    """A provider's fake in a process of its own (the bench's child): its address and
    credentials sent back, served until told to stop."""
    fake, env, endpoint = {"aliyun": aliyun_fake, "tencent": tencent_fake}[name]()
    with fake:
        facts = {key: getattr(fake, key) for key in ("access_key_id", "access_key_secret", "secret_id", "secret_key",
                                                      "sdk_app_id") if hasattr(fake, key)}
        connection.send((fake.endpoint, env, endpoint, facts))
        connection.recv()


class RemoteFake:
    """The provider's fake served by another process, as a real provider is: its CPU
    (checking every signature) is not the worker's, and calls made at once overlap."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> RemoteFake:
        import multiprocessing

        self._here, there = multiprocessing.Pipe()
        self._process = multiprocessing.get_context("fork").Process(target=_serve, args=(self.name, there),
                                                                   daemon=True)
        self._process.start()
        self.endpoint, self.env, self.endpoint_variable, facts = self._here.recv()
        for key, value in facts.items():
            setattr(self, key, value)
        return self

    def __exit__(self, *exc: object) -> None:
        self._here.send("stop")
        self._process.join(timeout=10)


def bench_provider(url: str, name: str, n: int, repeat: int, parallel: int) -> tuple[float, float]:
    """(bare SDK seconds, worker seconds), the best of `repeat` each."""
    engine = make_engine(url, phone_key="dispatch bench phone key")
    Base.metadata.create_all(engine)
    sessions = sessionmaker(engine, expire_on_commit=False)
    settings = DispatchSettings(window_start=clock_time(0), window_end=clock_time(0), daily_cap=0, batch=20,
                                parallel=parallel)
    best_bare = best_worker = float("inf")
    with RemoteFake(name) as fake:
        sender: Sender = sender_from_env({**fake.env, fake.endpoint_variable: "http://" + fake.endpoint})
        for _ in range(repeat):
            messages = fill_codes(sessions, n)
            calls = sender.calls(messages)
            best_bare = min(best_bare, (bare_aliyun if name == "aliyun" else bare_tencent)(fake, calls))
            fill_codes(sessions, n)
            start = time.perf_counter()
            report = dispatch(sessions, sender, "bench", settings, sleep=lambda s: None)
            best_worker = min(best_worker, time.perf_counter() - start)
            assert report.sent == n, report
    engine.dispose()
    return best_bare, best_worker


_FLOOR_CLAIM = text("""
    UPDATE sms_outbox SET status = 'sending', claimed_at = now(), claimed_by = 'floor'
    WHERE id IN (SELECT id FROM sms_outbox WHERE status = 'pending' AND not_before <= now()
                 ORDER BY not_before, id LIMIT 1000 FOR UPDATE SKIP LOCKED)
    RETURNING id, phone, params, text""")
_FLOOR_HAND_OVER = text("""
    UPDATE sms_outbox SET handed_at = now(), claimed_at = now(), provider = 'aliyun', attempts = attempts + 1
    WHERE id = ANY(:ids) AND claimed_by = 'floor' RETURNING id""")
_FLOOR_OUTCOME = text("""
    UPDATE sms_outbox SET status = 'sent', provider_id = o.provider_id, params = o.params::json, text = o.text,
           sent_at = now(), status_at = now(), last_error = '', claimed_at = NULL, claimed_by = NULL
    FROM unnest(CAST(:ids AS integer[]), CAST(:provider_ids AS text[]), CAST(:params AS text[]),
                CAST(:texts AS text[])) AS o(id, provider_id, params, text)
    WHERE sms_outbox.id = o.id AND sms_outbox.claimed_by = 'floor'""")


def database_floor(url: str, n: int, repeat: int) -> float:
    """Seconds for the three writes per message of n messages, set-based, plain SQL
    (PostgreSQL): the least any durable worker spends in the database."""
    engine = make_engine(url, phone_key="dispatch bench phone key")
    sessions = sessionmaker(engine, expire_on_commit=False)
    best = float("inf")
    for _ in range(repeat):
        fill_codes(sessions, n)
        start = time.perf_counter()
        with engine.connect() as connection:
            while True:
                claimed = connection.execute(_FLOOR_CLAIM).all()
                connection.commit()
                if not claimed:
                    break
                for first in range(0, len(claimed), 400):
                    wave = claimed[first:first + 400]
                    ids = [row.id for row in wave]
                    connection.execute(_FLOOR_HAND_OVER, {"ids": ids}).all()
                    connection.commit()
                    connection.execute(_FLOOR_OUTCOME, {
                        "ids": ids, "provider_ids": ["900619746936518^0"] * len(ids),
                        "params": [json.dumps(row.params) for row in wave], "texts": [row.text for row in wave]})
                connection.commit()
        best = min(best, time.perf_counter() - start)
    engine.dispose()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--provider-messages", type=int, default=2000)
    parser.add_argument("--parallel", type=int, nargs="+", default=[1, 4],
                        help="the worker's calls at once (SMS_PARALLEL; production's default is 4)")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"messages: {args.messages:,}, best of {args.repeat}")
    print()
    print(f"{'database':<12}{'baseline msg/s':>16}{'dispatch msg/s':>16}{'x baseline time':>17}")
    with tempfile.TemporaryDirectory() as folder:
        targets = [("SQLite", f"sqlite:///{Path(folder) / 'bench.sqlite'}", None)]
        if not args.no_postgres:
            schema = f"bench_{uuid.uuid4().hex[:12]}"
            try:
                admin = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
                with admin.begin() as connection:
                    connection.execute(text(f'CREATE SCHEMA "{schema}"'))
                targets.append(("PostgreSQL", f"{POSTGRES_URL}?options=-csearch_path%3D{schema}", schema))
            except Exception as error:  # noqa: BLE001
                print(f"(PostgreSQL skipped: {type(error).__name__})")
                admin = None
        for name, url, schema in targets if args.messages else []:
            base, sent = bench(name, url, args.messages, args.repeat, schema)
            print(f"{name:<12}{args.messages / base:>16,.0f}{args.messages / sent:>16,.0f}{sent / base:>17.2f}")
        n = args.provider_messages
        if n:
            print()
            print(f"providers: {n:,} code-mode invitations (each its own code), best of {args.repeat}")
            best_bare: dict[str, float] = {}  # PostgreSQL's runs: the floor's comparison
            print(f"{'database':<12}{'provider':<10}{'parallel':>9}{'bare SDK msg/s':>16}{'worker msg/s':>14}"
                  f"{'worker / bare':>15}")
            for name, url, _ in targets:
                for provider in ("aliyun", "tencent"):
                    for parallel in args.parallel:
                        bare, worker = bench_provider(url, provider, n, args.repeat, parallel)
                        print(f"{name:<12}{provider:<10}{parallel:>9}{n / bare:>16,.0f}{n / worker:>14,.0f}"
                              f"{bare / worker:>14.0%}")
                        if name == "PostgreSQL":
                            best_bare[provider] = min(best_bare.get(provider, bare), bare)
            postgres = [url for name, url, _ in targets if name == "PostgreSQL"]
            if postgres:
                floor = database_floor(postgres[0], n, args.repeat)
                print(f"\nPostgreSQL floor: the three writes per message, set-based plain SQL: {n / floor:,.0f} msg/s;")
                print("at best, a worker on it reaches " + ", ".join(
                    f"{provider} {bare / (bare + floor):.0%}" for provider, bare in best_bare.items()) + " of the bare loop")
        if not args.no_postgres and admin is not None:
            with admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


if __name__ == "__main__":
    main()
