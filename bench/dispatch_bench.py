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

    .venv/bin/python bench/dispatch_bench.py
    .venv/bin/python bench/dispatch_bench.py --messages 1000 --repeat 1 --no-postgres
"""
from __future__ import annotations

import argparse
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

from sms.senders import ConsoleSender  # noqa: E402
from sms.templates import INVITE_LINK, render  # noqa: E402
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--no-postgres", action="store_true")
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
        for name, url, schema in targets:
            base, sent = bench(name, url, args.messages, args.repeat, schema)
            print(f"{name:<12}{args.messages / base:>16,.0f}{args.messages / sent:>16,.0f}{sent / base:>17.2f}")
        if not args.no_postgres and admin is not None:
            with admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


if __name__ == "__main__":
    main()
